"""The SQL transport of the metadata store (SQLite by default, PostgreSQL).

    SqlTrackingStore   experiments, runs and what is logged to them   (tracking.py)
    SqlRegistryStore   registered models, versions, aliases, audit    (registry/store.py)
    SqlMonitorStore    monitors, their windows and events             (monitors.py)
    join_uri           how artifact locations are joined              (locations.py)

The facades check input and run one transaction per call; the SQL lives by concern in
the other modules: `experiments`, `runs`, `run_search`, `hot_paths` (the writes every run
makes, on the bare DBAPI cursor), `filters` (search conditions shared with the registry),
`rows`, `validation`, `metric_values`, and `registry/`.
"""

from slipway.store.sql.locations import join_uri
from slipway.store.sql.monitors import SqlMonitorStore
from slipway.store.sql.registry.store import SqlRegistryStore
from slipway.store.sql.tracking import SqlTrackingStore

__all__ = ["SqlMonitorStore", "SqlRegistryStore", "SqlTrackingStore", "join_uri"]
