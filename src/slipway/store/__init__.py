"""Metadata persistence: the only code that speaks SQL (and its REST twin)."""

__all__: list[str] = []
