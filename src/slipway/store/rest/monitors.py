"""`RestMonitorStore`: the `MonitorStore` over HTTP, slipway's `/api/2.0/slipway/monitors`
routes (a server answers from its own database, see `server/routes/monitoring.py`)."""

from __future__ import annotations

from typing import Any

from slipway.entities import Monitor, MonitorEvent, MonitorWindow
from slipway.store.interface import MonitorStore
from slipway.store.rest.protocol import SLIPWAY, without_none
from slipway.store.rest.session import RestSession, shared_session

_PREFIX = SLIPWAY + "/monitors"


class RestMonitorStore(MonitorStore):
    """The monitors behind a `slipway server` URL."""

    def __init__(self, base_url: str, session: RestSession | None = None) -> None:
        """Talk to `base_url` through `session`, else the process's shared session to it."""
        self.session = session or shared_session(base_url)

    def close(self) -> None:
        """Nothing to release: the session belongs to whoever made it (see `shared_session`)."""

    def _call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        return self.session.call(
            method,
            _PREFIX + path,
            None if body is None else without_none(body),
            None if params is None else without_none(params),
        )

    def create_monitor(self, name: str, model_name: str, spec: dict[str, Any]) -> Monitor:
        body = {"name": name, "model_name": model_name, "spec": spec}
        return Monitor.from_dict(self._call("POST", "/create", body)["monitor"])

    def get_monitor(self, name: str) -> Monitor:
        return Monitor.from_dict(self._call("GET", "/get", params={"name": name})["monitor"])

    def list_monitors(self) -> list[Monitor]:
        return [Monitor.from_dict(m) for m in self._call("GET", "/list").get("monitors", [])]

    def update_monitor(
        self,
        name: str,
        *,
        spec: dict[str, Any] | None = None,
        state: dict[str, Any] | None = None,
    ) -> Monitor:
        body = {"name": name, "spec": spec, "state": state}
        return Monitor.from_dict(self._call("POST", "/update", body)["monitor"])

    def delete_monitor(self, name: str) -> None:
        self._call("POST", "/delete", {"name": name})

    def put_monitor_window(self, window: MonitorWindow) -> MonitorWindow:
        answer = self._call("POST", "/windows/put", {"window": window.to_dict()})
        return MonitorWindow.from_dict(answer["window"])

    def get_monitor_windows(
        self, name: str, since: int | None = None, limit: int | None = None
    ) -> list[MonitorWindow]:
        params = {"name": name, "since": since, "limit": limit}
        answer = self._call("GET", "/windows/list", params=params)
        return [MonitorWindow.from_dict(w) for w in answer.get("windows", [])]

    def append_monitor_event(
        self,
        name: str,
        kind: str,
        condition: str | None = None,
        message: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> MonitorEvent:
        body = {
            "name": name,
            "kind": kind,
            "condition": condition,
            "message": message,
            "details": details,
        }
        return MonitorEvent.from_dict(self._call("POST", "/events/create", body)["event"])

    def get_monitor_events(
        self, name: str, kind: str | None = None, limit: int | None = None
    ) -> list[MonitorEvent]:
        params = {"name": name, "kind": kind, "limit": limit}
        answer = self._call("GET", "/events/list", params=params)
        return [MonitorEvent.from_dict(e) for e in answer.get("events", [])]


__all__ = ["RestMonitorStore"]
