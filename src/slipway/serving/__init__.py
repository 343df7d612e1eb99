"""`slipway serve`: the inference server, its prediction log and batch scoring.

    from slipway.serving import ServeConfig, create_app, run
    run(ServeConfig(["models:/churn@champion"], port=8000))     # what the CLI does
    app = create_app(ServeConfig(["./model"]))                    # an ASGI app, for tests

Modules: `app` (ASGI app, running and draining), `protocols/` (MLflow scoring, Open
Inference Protocol v2, `/predict`), `registry` (loaded versions, alias following),
`model` (one loaded version), `inputs` (payloads checked against the signature),
`batching` (the adaptive batcher), `metrics` (Prometheus), `config` (settings);
`predlog`, `export` and `batch` hold the prediction log and batch scoring.
"""

from __future__ import annotations

from typing import Any

from slipway.serving.config import ServeConfig

__all__ = ["ServeConfig", "create_app", "run"]


def __getattr__(name: str) -> Any:
    # The server pulls in uvicorn and prometheus-client: import it only when used.
    if name in ("create_app", "run"):
        from slipway.serving import app

        return getattr(app, name)
    raise AttributeError(f"module 'slipway.serving' has no attribute {name!r}")
