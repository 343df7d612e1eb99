"""The model registry on SQL, by concern; `SqlRegistryStore` (store.py) is its facade."""

__all__: list[str] = []
