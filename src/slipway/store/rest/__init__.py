"""The REST transport of the metadata store: talks to `slipway server` (or MLflow's).

    RestSession         HTTP to one server: keep-alive, retries, auth, typed errors (session.py)
    shared_session      the process's session per server, shared with the artifact proxy
    RestTrackingStore   the tracking store over HTTP                             (tracking.py)
    RestRegistryStore   the registry over HTTP                                   (registry.py)
    RestMonitorStore    monitors, their windows and events over HTTP             (monitors.py)

`protocol.py` holds the MLflow protocol's shapes both stores use.
"""

from slipway.store.rest.monitors import RestMonitorStore
from slipway.store.rest.registry import ACTOR_HEADER, RestRegistryStore
from slipway.store.rest.session import RestSession, shared_session
from slipway.store.rest.tracking import RestTrackingStore

__all__ = [
    "ACTOR_HEADER",
    "RestMonitorStore",
    "RestRegistryStore",
    "RestSession",
    "RestTrackingStore",
    "shared_session",
]
