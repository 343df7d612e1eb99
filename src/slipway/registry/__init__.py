"""The model registry: versions, aliases and stages, quality gates, model cards, audit trail.

Users reach it through `slipway.Client` (which extends `RegistryClient`) and
`slipway.register_model`. Modules: `client.py` (RegistryClient), `uri.py` (model URIs →
artifact URIs), `gates.py` (promotion conditions), `cards.py` (model cards), `lineage.py`.
"""

__all__: list[str] = []
