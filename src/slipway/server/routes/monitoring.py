"""Monitor routes under `/api/2.0/slipway/monitors`: the REST twin of `SqlMonitorStore`,
and `/metrics` with the monitors' latest numbers as Prometheus gauges.

Each route translates HTTP to one call of the monitor store (opened on the tracking
store's database the first time it is needed).
"""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from slipway.entities import MonitorWindow
from slipway.errors import InvalidParameterValue
from slipway.server.protocol import Fields, json_response
from slipway.server.routes.mlflow_registry import RegistryFields
from slipway.store.interface import MonitorStore

router = APIRouter()
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


__all__ = ["Monitors", "monitor_store", "router"]
