"""Pick the store transport from a tracking URI: SQL in-process, or REST to a server."""

from __future__ import annotations

from slipway import config
from slipway.store.interface import TrackingStore


def open_tracking_store(uri: str | None = None, artifact_root: str | None = None) -> TrackingStore:
    """Open the tracking store behind `uri` (default: `config.default_tracking_uri()`).

    `artifact_root` is where new experiments put artifacts when the SQL store is used
    in-process; a server decides that itself.
    """
    uri = uri or config.default_tracking_uri()
    if config.is_rest_uri(uri):
        from slipway.store.rest import RestTrackingStore

        return RestTrackingStore(uri)
    from slipway.store.sql import SqlTrackingStore

    return SqlTrackingStore(
        config.normalize_db_uri(uri), artifact_root or config.default_artifact_root()
    )
