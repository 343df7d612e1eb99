"""Monitor routes under `/api/2.0/slipway/monitors`: the REST twin of `SqlMonitorStore`,
and `/metrics` with the monitors' latest numbers as Prometheus gauges.

Each route translates HTTP to one call of the monitor store (opened on the tracking
store's database the first time it is needed).
"""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import PlainTextResponse, Response

from slipway.entities import MonitorWindow
from slipway.errors import InvalidParameterValue
from slipway.server.protocol import Fields, json_response
from slipway.server.routes.mlflow_registry import RegistryFields
from slipway.store.interface import MonitorStore

router = APIRouter()
metrics_router = APIRouter()
_open_lock = threading.Lock()


def monitor_store(request: Request) -> MonitorStore:
    """The app's monitor store (`app.state.monitors`), opened on first use."""
    state = request.app.state
    store = getattr(state, "monitors", None)
    if store is None:
        with _open_lock:
            store = getattr(state, "monitors", None)
            if store is None:
                from slipway.store.factory import open_monitor_store

                tracking = state.store
                store = open_monitor_store(
                    getattr(tracking, "db_uri", None), tracking_store=tracking
                )
                state.monitors = store
    return store


Monitors = Annotated[MonitorStore, Depends(monitor_store)]


def _object(fields: Fields, name: str) -> dict[str, Any] | None:
    value = fields.raw(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidParameterValue(f"Parameter '{name}' must be a JSON object.")
    return value


def _name(fields: Fields) -> str:
    return fields.string("name", required=True)  # type: ignore[return-value]


@router.post("/monitors/create")
def create_monitor(fields: RegistryFields, store: Monitors) -> Response:
    monitor = store.create_monitor(
        _name(fields),
        fields.string("model_name", required=True),  # type: ignore[arg-type]
        _object(fields, "spec") or {},
    )
    return json_response({"monitor": monitor.to_dict()})


@router.get("/monitors/get")
def get_monitor(fields: RegistryFields, store: Monitors) -> Response:
    return json_response({"monitor": store.get_monitor(_name(fields)).to_dict()})


@router.get("/monitors/list")
def list_monitors(store: Monitors) -> Response:
    return json_response({"monitors": [m.to_dict() for m in store.list_monitors()]})


@router.post("/monitors/update")
def update_monitor(fields: RegistryFields, store: Monitors) -> Response:
    monitor = store.update_monitor(
        _name(fields), spec=_object(fields, "spec"), state=_object(fields, "state")
    )
    return json_response({"monitor": monitor.to_dict()})


@router.post("/monitors/delete")
def delete_monitor(fields: RegistryFields, store: Monitors) -> Response:
    store.delete_monitor(_name(fields))
    return json_response({})


@router.post("/monitors/windows/put")
def put_monitor_window(fields: RegistryFields, store: Monitors) -> Response:
    data = _object(fields, "window")
    if data is None:
        raise InvalidParameterValue("Missing value for required parameter 'window'.")
    try:
        window = MonitorWindow.from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidParameterValue(f"Invalid window: {exc}") from None
    return json_response({"window": store.put_monitor_window(window).to_dict()})


@router.get("/monitors/windows/list")
def get_monitor_windows(fields: RegistryFields, store: Monitors) -> Response:
    found = store.get_monitor_windows(
        _name(fields), since=fields.integer("since"), limit=fields.integer("limit", minimum=1)
    )
    return json_response({"windows": [w.to_dict() for w in found]})


@router.post("/monitors/events/create")
def append_monitor_event(fields: RegistryFields, store: Monitors) -> Response:
    event = store.append_monitor_event(
        _name(fields),
        fields.string("kind", required=True),  # type: ignore[arg-type]
        condition=fields.string("condition"),
        message=fields.string("message"),
        details=_object(fields, "details"),
    )
    return json_response({"event": event.to_dict()})


@router.get("/monitors/events/list")
def get_monitor_events(fields: RegistryFields, store: Monitors) -> Response:
    found = store.get_monitor_events(
        _name(fields), kind=fields.string("kind"), limit=fields.integer("limit", minimum=1)
    )
    return json_response({"events": [e.to_dict() for e in found]})


_GAUGES = {
    "slipway_monitor_drift_share": "Share of drifted columns in the monitor's latest window.",
    "slipway_monitor_column_drift": "Drift statistic of a column in the latest window.",
    "slipway_monitor_performance": "Performance in the latest window (measured or estimated).",
    "slipway_monitor_window_rows": "Rows (and labelled rows) in the latest window.",
    "slipway_monitor_alert_active": "1 while an alert condition is firing, else 0.",
}


def _label(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@metrics_router.get("/metrics")
def metrics(store: Monitors) -> Response:
    """The monitors' latest numbers as Prometheus gauges (text exposition format)."""
    samples: dict[str, list[str]] = {name: [] for name in _GAUGES}

    def add(gauge: str, value: Any, **labels: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            return
        text = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
        samples[gauge].append(f"{gauge}{{{text}}} {float(value)!r}")

    for monitor in store.list_monitors():
        base = {"monitor": monitor.name, "model": monitor.model_name}
        for condition, entry in sorted(monitor.state.get("alerts", {}).items()):
            add(
                "slipway_monitor_alert_active",
                int(bool(entry.get("active"))),
                **base,
                condition=condition,
            )
        latest = store.get_monitor_windows(monitor.name, limit=1)
        if not latest:
            continue
        m = latest[0].metrics
        add("slipway_monitor_drift_share", m.get("drift_share"), **base)
        add("slipway_monitor_window_rows", m.get("rows"), **base, kind="all")
        add("slipway_monitor_window_rows", m.get("labelled_rows"), **base, kind="labelled")
        for key, value in m.items():
            parts = key.split(".")
            if parts[0] == "column" and parts[-1] == "statistic":
                add("slipway_monitor_column_drift", value, **base, column=".".join(parts[1:-1]))
            elif parts[0] in ("performance", "estimated") and len(parts) == 2:
                kind = "measured" if parts[0] == "performance" else "estimated"
                add("slipway_monitor_performance", value, **base, metric=parts[1], kind=kind)
    lines = []
    for gauge, help_text in _GAUGES.items():
        lines += [f"# HELP {gauge} {help_text}", f"# TYPE {gauge} gauge", *samples[gauge]]
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")


__all__ = ["Monitors", "metrics_router", "monitor_store", "router"]
