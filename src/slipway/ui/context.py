"""What a page handler works with: a `Client` on the server's own stores, and who acts.

The server hands the UI its stores and helpers when it mounts it (`slipway.ui.mount_ui`),
so pages read and change exactly what the REST API does, through the same `Client`,
registry and monitoring functions, and never open a second connection pool.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from slipway.artifacts import ArtifactRepository
from slipway.store.interface import MonitorStore, RegistryStore
from slipway.tracking.client import Client

StoreOf = Callable[[Request], Any]


@dataclass(frozen=True)
class UiServices:
    """The server's hooks: its registry and monitor stores (opened on first use), the acting
    user of a request, and where an artifact URI lives (`mlflow-artifacts:/` included)."""

    registry_store: Callable[[Request], RegistryStore]
    monitor_store: Callable[[Request], MonitorStore]
    actor: Callable[[Request], str]
    resolve_artifact_uri: Callable[[str], tuple[ArtifactRepository, str]]


def services(request: Request) -> UiServices:
    return request.app.state.ui_services


def client(request: Request) -> Client:
    """A `Client` over the server's stores (cheap: it wraps them, it opens nothing)."""
    store = request.app.state.store
    return Client(
        getattr(store, "db_uri", None),
        store=store,
        registry_store=services(request).registry_store(request),
    )


def monitor_store(request: Request) -> MonitorStore:
    return services(request).monitor_store(request)


def actor(request: Request) -> str:
    return services(request).actor(request)


def artifact_location(request: Request, uri: str) -> tuple[ArtifactRepository, str]:
    """The repository holding artifact URI `uri` and the path inside it."""
    return services(request).resolve_artifact_uri(uri)


__all__ = [
    "UiServices",
    "actor",
    "artifact_location",
    "client",
    "monitor_store",
    "services",
]
