"""`SqlMonitorStore`: monitors, their windows and events in the metadata database.

Same database, engine and migrations as the tracking store. The spec, state, metrics and
results are JSON text (the monitoring layer owns their shape). Writing a window with a
start that is already stored replaces that row, so re-evaluating a window is idempotent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from slipway.entities import Monitor, MonitorEvent, MonitorWindow, now_ms
from slipway.errors import InvalidParameterValue, ResourceAlreadyExists, ResourceDoesNotExist
from slipway.store import schema
from slipway.store.db import create_engine_for, run_in_transaction, upgrade
from slipway.store.interface import MonitorStore

T = TypeVar("T")
monitors = schema.monitors
windows = schema.monitor_windows
events = schema.monitor_events

_NAME_RE = re.compile(r"^[A-Za-z0-9][\w.\-]{0,255}$")
_WINDOW_STATUSES = ("ok", "drift", "concept_drift", "not_enough_data", "no_reference")


def validate_monitor_name(name: Any) -> str:
    """Letters, digits, `_`, `.`, `-` (starting with a letter or digit), at most 256."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise InvalidParameterValue(
            f"Invalid monitor name {name!r}: use letters, digits, '_', '.' and '-' "
            "(at most 256 characters, starting with a letter or digit)."
        )
    return name


def _dump(value: dict[str, Any] | None) -> str:
    try:
        return json.dumps(value or {}, allow_nan=False, sort_keys=True, default=str)
    except ValueError:
        raise InvalidParameterValue("Monitor data must be JSON without NaN or Infinity.") from None


def _monitor(row: Any) -> Monitor:
    return Monitor(
        name=row.name,
        model_name=row.model_name,
        spec=json.loads(row.spec),
        state=json.loads(row.state),
        creation_time=row.creation_time,
        last_updated_time=row.last_updated_time,
    )


def _window(row: Any) -> MonitorWindow:
    return MonitorWindow(
        monitor_name=row.monitor_name,
        window_start=row.window_start,
        window_end=row.window_end,
        status=row.status,
        rows=row.rows,
        labelled_rows=row.labelled_rows,
        model_version=row.model_version,
        metrics=json.loads(row.metrics),
        result=json.loads(row.result),
        evaluated_time=row.evaluated_time,
    )


def _event(row: Any) -> MonitorEvent:
    return MonitorEvent(
        event_id=row.id,
        monitor_name=row.monitor_name,
        timestamp=row.timestamp,
        kind=row.kind,
        condition=row.condition,
        message=row.message,
        details=json.loads(row.details) if row.details else {},
    )


def _get(conn: Connection, name: str) -> Monitor:
    row = conn.execute(select(monitors).where(monitors.c.name == name)).first()
    if row is None:
        raise ResourceDoesNotExist(f"Monitor '{name}' does not exist.")
    return _monitor(row)


class SqlMonitorStore(MonitorStore):
    """Monitors in SQL (SQLite or PostgreSQL), beside the tracking and registry tables."""

    def __init__(self, db_uri: str | None = None, *, engine: Engine | None = None) -> None:
        """Open `db_uri` (an SQLAlchemy URL), or share the `engine` of a tracking store."""
        if engine is None:
            if not db_uri:
                raise InvalidParameterValue("SqlMonitorStore needs a database URL or an engine.")
            engine = create_engine_for(db_uri)
            self._owns_engine = True
        else:
            self._owns_engine = False
        self.engine = engine
        upgrade(engine)

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()

    def _write(self, fn: Callable[[Connection], T]) -> T:
        return run_in_transaction(self.engine, fn, write=True)

    def _read(self, fn: Callable[[Connection], T]) -> T:
        return run_in_transaction(self.engine, fn, write=False)

    # --- monitors ----------------------------------------------------------------------
    def create_monitor(self, name: str, model_name: str, spec: dict[str, Any]) -> Monitor:
        name = validate_monitor_name(name)
        if not isinstance(model_name, str) or not model_name:
            raise InvalidParameterValue("A monitor needs the name of the model it watches.")
        now = now_ms()
        values = {
            "name": name,
            "model_name": model_name,
            "spec": _dump(spec),
            "state": "{}",
            "creation_time": now,
            "last_updated_time": now,
        }

        def create(conn: Connection) -> Monitor:
            if conn.execute(select(monitors.c.name).where(monitors.c.name == name)).first():
                raise ResourceAlreadyExists(f"Monitor '{name}' already exists.")
            conn.execute(insert(monitors).values(**values))
            return _get(conn, name)

        try:
            return self._write(create)
        except IntegrityError:
            raise ResourceAlreadyExists(f"Monitor '{name}' already exists.") from None

    def get_monitor(self, name: str) -> Monitor:
        name = validate_monitor_name(name)
        return self._read(lambda conn: _get(conn, name))

    def list_monitors(self) -> list[Monitor]:
        query = select(monitors).order_by(monitors.c.name)
        return self._read(lambda conn: [_monitor(r) for r in conn.execute(query)])

    def update_monitor(
        self,
        name: str,
        *,
        spec: dict[str, Any] | None = None,
        state: dict[str, Any] | None = None,
    ) -> Monitor:
        name = validate_monitor_name(name)
        values: dict[str, Any] = {"last_updated_time": now_ms()}
        if spec is not None:
            values["spec"] = _dump(spec)
        if state is not None:
            values["state"] = _dump(state)

        def change(conn: Connection) -> Monitor:
            _get(conn, name)
            conn.execute(update(monitors).where(monitors.c.name == name).values(**values))
            return _get(conn, name)

        return self._write(change)

    def delete_monitor(self, name: str) -> None:
        name = validate_monitor_name(name)

        def remove(conn: Connection) -> None:
            _get(conn, name)
            conn.execute(delete(events).where(events.c.monitor_name == name))
            conn.execute(delete(windows).where(windows.c.monitor_name == name))
            conn.execute(delete(monitors).where(monitors.c.name == name))

        self._write(remove)

    # --- windows -----------------------------------------------------------------------
    def put_monitor_window(self, window: MonitorWindow) -> MonitorWindow:
        name = validate_monitor_name(window.monitor_name)
        if window.status not in _WINDOW_STATUSES:
            raise InvalidParameterValue(
                f"Invalid window status {window.status!r}; use one of {_WINDOW_STATUSES}."
            )
        if window.window_end <= window.window_start:
            raise InvalidParameterValue("A window must end after it starts.")
        values = {
            "window_end": int(window.window_end),
            "status": window.status,
            "rows": int(window.rows),
            "labelled_rows": int(window.labelled_rows),
            "model_version": window.model_version,
            "metrics": _dump(window.metrics),
            "result": _dump(window.result),
            "evaluated_time": int(window.evaluated_time or now_ms()),
        }
        key = (windows.c.monitor_name == name, windows.c.window_start == int(window.window_start))

        def put(conn: Connection) -> MonitorWindow:
            _get(conn, name)
            if conn.execute(update(windows).where(*key).values(**values)).rowcount == 0:
                conn.execute(
                    insert(windows).values(
                        monitor_name=name, window_start=int(window.window_start), **values
                    )
                )
            return _window(conn.execute(select(windows).where(*key)).one())

        return self._write(put)

    def get_monitor_windows(
        self, name: str, since: int | None = None, limit: int | None = None
    ) -> list[MonitorWindow]:
        name = validate_monitor_name(name)
        query = select(windows).where(windows.c.monitor_name == name)
        if since is not None:
            query = query.where(windows.c.window_start >= int(since))
        query = query.order_by(windows.c.window_start.desc())
        if limit is not None:
            query = query.limit(int(limit))

        def read(conn: Connection) -> list[MonitorWindow]:
            _get(conn, name)
            return [_window(r) for r in reversed(conn.execute(query).all())]

        return self._read(read)

    # --- events ------------------------------------------------------------------------
    def append_monitor_event(
        self,
        name: str,
        kind: str,
        condition: str | None = None,
        message: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> MonitorEvent:
        name = validate_monitor_name(name)
        if not isinstance(kind, str) or not kind or len(kind) > 32:
            raise InvalidParameterValue(f"Invalid monitor event kind {kind!r}.")
        values = {
            "monitor_name": name,
            "timestamp": now_ms(),
            "kind": kind,
            "condition": None if condition is None else str(condition)[:256],
            "message": message,
            "details": _dump(details),
        }

        def append(conn: Connection) -> MonitorEvent:
            _get(conn, name)
            event_id = conn.execute(
                insert(events).values(**values).returning(events.c.id)
            ).scalar_one()
            return _event(conn.execute(select(events).where(events.c.id == event_id)).one())

        return self._write(append)

    def get_monitor_events(
        self, name: str, kind: str | None = None, limit: int | None = None
    ) -> list[MonitorEvent]:
        name = validate_monitor_name(name)
        query = select(events).where(events.c.monitor_name == name)
        if kind is not None:
            query = query.where(events.c.kind == kind)
        query = query.order_by(events.c.id.desc())
        if limit is not None:
            query = query.limit(int(limit))

        def read(conn: Connection) -> list[MonitorEvent]:
            _get(conn, name)
            return [_event(r) for r in reversed(conn.execute(query).all())]

        return self._read(read)


__all__ = ["SqlMonitorStore", "validate_monitor_name"]
