"""HTTP route modules, one per concern; each only translates HTTP to API calls."""

__all__: list[str] = []
