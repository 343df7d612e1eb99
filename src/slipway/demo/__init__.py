"""The end-to-end demo on synthetic churn data (what `make demo` runs)."""

__all__: list[str] = []
