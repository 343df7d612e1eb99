"""`slipway server`: the MLflow REST protocol, the artifact proxy and our own API."""

__all__: list[str] = []
