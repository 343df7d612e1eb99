"""The UI's pages, one module per thing a person looks at; each exposes a `router`."""

__all__: list[str] = []
