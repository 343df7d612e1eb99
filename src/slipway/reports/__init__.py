"""Pieces shared by the self-contained HTML reports (model cards now; monitoring later)."""

__all__: list[str] = []
