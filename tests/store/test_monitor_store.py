"""Monitor definitions, windows and events round-trip over SQLite, PostgreSQL and REST."""

from __future__ import annotations

import pytest

from slipway.entities import MonitorWindow
from slipway.errors import InvalidParameterValue, ResourceAlreadyExists, ResourceDoesNotExist
from slipway.store.factory import open_monitor_store


def _window(start: int, status: str = "ok", share: float = 0.0) -> MonitorWindow:
    return MonitorWindow(
        monitor_name="churn",
        window_start=start,
        window_end=start + 3_600_000,
        status=status,
        rows=10,
        labelled_rows=3,
        model_version=2,
        metrics={"drift_share": share, "column.age": 0.5},
        result={"columns": {"age": {"drifted": False}}},
        evaluated_time=0,
    )


def test_monitor_round_trip(tracking_uri: str) -> None:
    store = open_monitor_store(tracking_uri)
    spec = {"model": "churn-classifier@champion", "window": "1h", "min_rows": 500}
    created = store.create_monitor("churn", "churn-classifier", spec)
    assert created.spec == spec and created.state == {}
    with pytest.raises(ResourceAlreadyExists):
        store.create_monitor("churn", "churn-classifier", spec)
    with pytest.raises(ResourceDoesNotExist):
        store.get_monitor("nope")
    with pytest.raises(InvalidParameterValue):
        store.create_monitor("bad name!", "m", {})

    updated = store.update_monitor("churn", state={"active": {"dataset_drift": 1}})
    assert updated.spec == spec and updated.state == {"active": {"dataset_drift": 1}}
    assert [m.name for m in store.list_monitors()] == ["churn"]

    first = store.put_monitor_window(_window(1000))
    assert first.metrics["column.age"] == 0.5 and first.model_version == 2
    again = store.put_monitor_window(_window(1000, "drift", 0.6))  # same window: replaced
    store.put_monitor_window(_window(0, "not_enough_data"))
    windows = store.get_monitor_windows("churn")
    stored = [(w.window_start, w.status) for w in windows]
    assert stored == [(0, "not_enough_data"), (1000, "drift")]
    assert again.metrics["drift_share"] == 0.6
    assert [w.window_start for w in store.get_monitor_windows("churn", limit=1)] == [1000]
    assert store.get_monitor_windows("churn", since=500)[0].window_start == 1000

    store.append_monitor_event("churn", "alert", "dataset_drift", "drift", {"share": 0.6})
    store.append_monitor_event("churn", "delivery_failed", "dataset_drift", "down")
    events = store.get_monitor_events("churn")
    assert [e.kind for e in events] == ["alert", "delivery_failed"]
    assert events[0].details == {"share": 0.6} and events[0].condition == "dataset_drift"
    assert [e.kind for e in store.get_monitor_events("churn", kind="alert")] == ["alert"]

    store.delete_monitor("churn")
    with pytest.raises(ResourceDoesNotExist):
        store.get_monitor_windows("churn")
    assert store.list_monitors() == []
    store.close()
