"""`slipway server`: one FastAPI app speaking the MLflow REST protocol over a SQL store.

`create_app()` builds it (tests run it in-process); `app_from_env()` is the factory
uvicorn calls in each worker process (`--factory`, settings in `SLIPWAY_SERVER_*`
variables); `run_server()` is what the CLI calls. When the server proxies artifacts, new
experiments get `mlflow-artifacts:/<id>` locations, so clients upload through it and need
no storage credentials; the server maps those URIs to `<artifacts_destination>/<path>`.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from slipway import __version__, config
from slipway.errors import InvalidParameterValue
from slipway.server.dispatch import DirectDispatch, direct_routes
from slipway.server.errors import install_error_handlers
from slipway.server.limits import DEFAULT_MAX_BODY_SIZE, BodySizeLimitMiddleware
from slipway.server.routes import (
    artifacts,
    graphql,
    logged_models,
    meta,
    mlflow_registry,
    mlflow_tracking,
    mlflow_ui,
    monitoring,
    multipart,
    slipway_api,
)
from slipway.server.routes.artifacts import ArtifactRoots
from slipway.store.factory import open_tracking_store

BACKEND_STORE_URI_ENV = "SLIPWAY_SERVER_BACKEND_STORE_URI"
ARTIFACTS_DESTINATION_ENV = "SLIPWAY_SERVER_ARTIFACTS_DESTINATION"
SERVE_ARTIFACTS_ENV = "SLIPWAY_SERVER_SERVE_ARTIFACTS"
PROXY_ARTIFACT_ROOT = "mlflow-artifacts:/"


def create_app(
    backend_store_uri: str | None = None,
    artifacts_destination: str | None = None,
    serve_artifacts: bool = True,
    *,
    max_body_size: int | None = DEFAULT_MAX_BODY_SIZE,
    max_artifact_size: int | None = None,
) -> FastAPI:
    """Build the server app over the SQL store at `backend_store_uri`.

    Defaults come from `slipway.config`. The store is opened here, so a bad URI fails at
    once rather than on the first request, and closed when the app shuts down.
    """
    store_uri = backend_store_uri or config.default_tracking_uri()
    if config.is_rest_uri(store_uri):
        raise InvalidParameterValue(
            f"The server's backend store must be a database (a path, sqlite:///… or "
            f"postgresql://…), not another server ({store_uri!r})."
        )
    destination = artifacts_destination or config.default_artifact_root()
    store = open_tracking_store(
        store_uri, artifact_root=PROXY_ARTIFACT_ROOT if serve_artifacts else destination
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            for opened in ("registry", "monitors"):  # each opened on its first call
                extra = getattr(app.state, opened, None)
                if extra is not None:
                    extra.close()
            app.state.store.close()

    app = FastAPI(
        title="slipway server",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.store = store
    app.state.artifact_roots = ArtifactRoots(destination, serve_artifacts)
    install_error_handlers(app)
    # Routes are matched in this order. The bulk endpoint first: it carries the most traffic.
    mounts = [
        ("/api/2.0/slipway", slipway_api.router),
        ("/api/2.0/slipway", mlflow_registry.slipway_router),
        ("/api/2.0/slipway", monitoring.router),
    ]
    for prefix in ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow"):
        mounts += [
            (prefix, logged_models.router),
            (prefix, mlflow_ui.logged_model_router),
            (prefix, mlflow_registry.router),
            (prefix, mlflow_tracking.router),
        ]
    mounts.append(("/ajax-api/2.0/mlflow", mlflow_ui.ajax_router))
    mounts.append(("", mlflow_ui.router))
    mounts.append(("", graphql.router))
    if serve_artifacts:
        for prefix in ("/api/2.0/mlflow-artifacts", "/ajax-api/2.0/mlflow-artifacts"):
            mounts.append((prefix, multipart.router))
            mounts.append((prefix, artifacts.router))
    mounts.append(("", meta.router))
    mounts.append(("", monitoring.metrics_router))
    for prefix, router in mounts:
        app.include_router(router, prefix=prefix)
    # The plain protocol routes skip FastAPI's routing; the body limit applies first.
    app.add_middleware(DirectDispatch, table=direct_routes(mounts))
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_body_size=max_body_size,
        artifact_max_body_size=max_artifact_size,
    )
    return app


def app_from_env() -> FastAPI:
    """The app as configured by `SLIPWAY_SERVER_*` variables (uvicorn `--factory`)."""
    serve = os.environ.get(SERVE_ARTIFACTS_ENV, "1").lower() not in ("0", "false", "no")
    return create_app(
        os.environ.get(BACKEND_STORE_URI_ENV) or None,
        os.environ.get(ARTIFACTS_DESTINATION_ENV) or None,
        serve_artifacts=serve,
    )


def run_server(
    backend_store_uri: str | None = None,
    artifacts_destination: str | None = None,
    host: str = "127.0.0.1",
    port: int = 5000,
    workers: int = 1,
    *,
    serve_artifacts: bool = True,
    log_level: str = "info",
    access_log: bool = True,
) -> None:
    """Serve until interrupted; with `workers > 1` each worker process builds its own app."""
    import uvicorn

    store_uri = backend_store_uri or config.default_tracking_uri()
    destination = artifacts_destination or config.default_artifact_root()
    # Open (and migrate) the database once here, so workers do not race to upgrade it.
    open_tracking_store(store_uri, artifact_root=PROXY_ARTIFACT_ROOT).close()
    os.environ[BACKEND_STORE_URI_ENV] = store_uri
    os.environ[ARTIFACTS_DESTINATION_ENV] = destination
    os.environ[SERVE_ARTIFACTS_ENV] = "1" if serve_artifacts else "0"
    uvicorn.run(
        "slipway.server.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=access_log,
    )


__all__ = ["app_from_env", "create_app", "run_server"]
