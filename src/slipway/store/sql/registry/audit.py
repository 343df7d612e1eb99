"""The audit trail: every registry change appends an event in the change's transaction.

The table is append-only down to database triggers; nothing here updates or deletes an
event. `audited_set` and `audited_delete` are the change-and-record steps that tags and
aliases share; `append` records an event from outside the registry (e.g. serving).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, delete, insert, select, update

from slipway.entities import AuditEvent, now_ms
from slipway.errors import ResourceDoesNotExist
from slipway.store import schema
from slipway.store.sql.registry.lookups import model_row, touch_model

audit_events = schema.audit_events
# The columns an `AuditEvent` is read from (besides its id), by the entity's field names.
_EVENT_FIELDS = (
    "timestamp",
    "actor",
    "model_name",
    "version",
    "action",
    "field",
    "old_value",
    "new_value",
    "reason",
)


@dataclass(frozen=True, slots=True)
class Change:
    """What an event says about a change: which action, by whom, on which field."""

    action: str
    actor: str
    field: str | None = None
    version: int | None = None
    reason: str | None = None


def record(
    conn: Connection, model: Any, change: Change, *, old: Any = None, new: Any = None
) -> AuditEvent:
    """Append the event of `change` to `model` (old and new values as text)."""
    values = {
        "timestamp": now_ms(),
        "actor": change.actor,
        "model_name": model.name,
        "version": change.version,
        "action": str(change.action),
        "field": change.field,
        "old_value": None if old is None else str(old),
        "new_value": None if new is None else str(new),
        "reason": change.reason or None,
    }
    event_id = conn.execute(
        insert(audit_events)
        .values(registered_model_id=model.id, **values)
        .returning(audit_events.c.id)
    ).scalar_one()
    return AuditEvent(event_id=event_id, **values)


def audited_set(
    conn: Connection,
    table: Table,
    row_key: dict[str, Any],
    column: str,
    value: Any,
    model: Any,
    change: Change,
    *,
    touch: bool = True,
) -> Any:
    """Set `column` of the row at `row_key` (inserting it if missing) to `value`.

    Unless it held that value already: touch the model's `last_updated_time` (with
    `touch`) and record `change` with the old and new value. Returns the old value.
    """
    where = [table.c[name] == key for name, key in row_key.items()]
    found = conn.execute(select(table.c[column]).where(*where)).first()
    old = None if found is None else found[0]
    if found is not None and old == value:
        return old
    if found is None:
        conn.execute(insert(table).values(**row_key, **{column: value}))
    else:
        conn.execute(update(table).where(*where).values(**{column: value}))
    if touch:
        touch_model(conn, model)
    record(conn, model, change, old=old, new=value)
    return old


def audited_delete(
    conn: Connection,
    table: Table,
    row_key: dict[str, Any],
    column: str,
    model: Any,
    change: Change,
    *,
    touch: bool = False,
) -> Any:
    """Delete the row at `row_key` and record `change` with its old `column` value.

    Nothing happens (and None is returned) when there is no such row; otherwise the
    model is touched (with `touch`) and the old value returned.
    """
    where = [table.c[name] == key for name, key in row_key.items()]
    old = conn.execute(select(table.c[column]).where(*where)).scalar()
    if not conn.execute(delete(table).where(*where)).rowcount:
        return None
    if touch:
        touch_model(conn, model)
    record(conn, model, change, old=old)
    return old


def append(
    conn: Connection,
    name: str,
    change: Change,
    old_value: str | None,
    new_value: str | None,
) -> AuditEvent:
    """Record an event about model `name` that the registry did not make itself."""
    return record(conn, model_row(conn, name), change, old=old_value, new=new_value)


def events(conn: Connection, name: str) -> list[AuditEvent]:
    """Every event of the model called `name`, oldest first; also once it was renamed
    (found by its id) or deleted (found by the name it had)."""
    registered_models = schema.registered_models
    model = conn.execute(
        select(registered_models.c.id).where(registered_models.c.name == name)
    ).first()
    where = (
        audit_events.c.registered_model_id == model.id
        if model is not None
        else audit_events.c.model_name == name
    )
    rows = conn.execute(select(audit_events).where(where).order_by(audit_events.c.id)).all()
    if model is None and not rows:
        raise ResourceDoesNotExist(
            f"Registered model '{name}' does not exist and has no recorded history."
        )
    return [AuditEvent(event_id=r.id, **{f: getattr(r, f) for f in _EVENT_FIELDS}) for r in rows]


__all__ = ["Change", "append", "audited_delete", "audited_set", "events", "record"]
