"""Pick the store transport from a tracking URI: SQL in-process, or REST to a server."""

from __future__ import annotations

from slipway.config import (
    default_artifact_root,
    default_tracking_uri,
    is_rest_uri,
    normalize_db_uri,
)
from slipway.store.interface import MonitorStore, RegistryStore, TrackingStore


def open_tracking_store(uri: str | None = None, artifact_root: str | None = None) -> TrackingStore:
    """Open the tracking store behind `uri` (default: `config.default_tracking_uri()`).

    `artifact_root` is where new experiments put artifacts when the SQL store is used
    in-process; a server decides that itself.
    """
    uri = uri or default_tracking_uri()
    if is_rest_uri(uri):
        from slipway.store.rest import RestTrackingStore

        return RestTrackingStore(uri)
    from slipway.store.sql import SqlTrackingStore

    return SqlTrackingStore(normalize_db_uri(uri), artifact_root or default_artifact_root())


def open_registry_store(
    uri: str | None = None,
    artifact_root: str | None = None,
    *,
    tracking_store: TrackingStore | None = None,
) -> RegistryStore:
    """Open the model registry behind `uri`, the same database or server as tracking.

    Given the `tracking_store` already open on that URI, the registry shares its database
    engine (SQL) or HTTP session (REST) instead of opening a second one. `artifact_root`
    is accepted for symmetry with `open_tracking_store`: logged models take their
    location from their experiment.
    """
    uri = uri or default_tracking_uri()
    if is_rest_uri(uri):
        from slipway.store.rest import RestRegistryStore

        return RestRegistryStore(uri, session=getattr(tracking_store, "session", None))
    from slipway.store.sql import SqlRegistryStore

    engine = getattr(tracking_store, "engine", None)
    if engine is not None:
        return SqlRegistryStore(engine=engine)
    return SqlRegistryStore(normalize_db_uri(uri))


def open_monitor_store(
    uri: str | None = None, *, tracking_store: TrackingStore | None = None
) -> MonitorStore:
    """Open the monitors behind `uri`, the same database or server as tracking (sharing
    the `tracking_store`'s engine or HTTP session when given)."""
    uri = uri or default_tracking_uri()
    if is_rest_uri(uri):
        from slipway.store.rest import RestMonitorStore

        return RestMonitorStore(uri, session=getattr(tracking_store, "session", None))
    from slipway.store.sql import SqlMonitorStore

    engine = getattr(tracking_store, "engine", None)
    if engine is not None:
        return SqlMonitorStore(engine=engine)
    return SqlMonitorStore(normalize_db_uri(uri))


__all__ = [
    "open_monitor_store",
    "open_registry_store",
    "open_tracking_store",
]
