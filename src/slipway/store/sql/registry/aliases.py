"""Aliases and stages in SQL: point an alias at a version, delete it, roll it back along
the audit trail, and move a version between stages (archiving the others on request)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select, update

from slipway.entities import AuditAction, ModelVersion, now_ms
from slipway.errors import InvalidState
from slipway.store import schema
from slipway.store.sql.registry.audit import Change, audited_delete, audited_set, record
from slipway.store.sql.registry.lookups import (
    alias_version,
    model_row,
    no_alias,
    touch_model,
    version_row,
)
from slipway.store.sql.registry.versions import version_entity

aliases = schema.registered_model_aliases
model_versions = schema.model_versions
audit_events = schema.audit_events


def point_alias(
    conn: Connection,
    model: Any,
    alias: str,
    version: int,
    actor: str,
    reason: str | None,
    action: AuditAction = AuditAction.ALIAS_SET,
) -> int | None:
    """Point the alias at an existing `version` (recorded); returns the version it held."""
    version_row(conn, model, version)
    row_key = {"registered_model_id": model.id, "alias": alias}
    change = Change(action, actor, field=alias, version=version, reason=reason)
    return audited_set(conn, aliases, row_key, "version", version, model, change)


def set_alias(
    conn: Connection, name: str, alias: str, version: int, actor: str, reason: str | None
) -> None:
    point_alias(conn, model_row(conn, name), alias, version, actor, reason)


def delete_alias(conn: Connection, name: str, alias: str, actor: str, reason: str | None) -> None:
    model = model_row(conn, name)
    old = alias_version(conn, model, alias)
    if old is None:
        raise no_alias(conn, model, alias)
    row_key = {"registered_model_id": model.id, "alias": alias}
    change = Change(AuditAction.ALIAS_DELETED, actor, field=alias, version=old, reason=reason)
    audited_delete(conn, aliases, row_key, "version", model, change, touch=True)


def rollback_alias(
    conn: Connection, name: str, alias: str, actor: str, reason: str | None
) -> ModelVersion:
    """Point `alias` back at the version it held before the current one."""
    model = model_row(conn, name)
    current = alias_version(conn, model, alias)
    if current is None:
        raise InvalidState(
            f"Alias '@{alias}' is not set on model '{name}', so there is nothing to roll "
            f"back. Point it at a version with `slipway models set-alias {name} {alias} "
            "<version>`."
        )
    held = _alias_history(conn, model, alias)
    existing = set(
        conn.execute(
            select(model_versions.c.version).where(model_versions.c.registered_model_id == model.id)
        ).scalars()
    )
    target = next((v for v in reversed(held) if v != current and v in existing), None)
    if target is None:
        raise InvalidState(
            f"Alias '@{alias}' of model '{name}' has no earlier version to roll back to "
            f"(it has only held version {current}, or the earlier ones were deleted)."
        )
    why = reason or f"rollback from version {current}"
    point_alias(conn, model, alias, target, actor, why, AuditAction.ALIAS_ROLLBACK)
    return version_entity(conn, model, target)


def _alias_history(conn: Connection, model: Any, alias: str) -> list[int]:
    """The versions an alias held, oldest first, with rolled-back ones taken off.

    Replays the audit trail as a stack: setting pushes the new version; a rollback pops
    back down to its target, so rolling back twice goes two versions back.
    """
    stack: list[int] = []
    events = conn.execute(
        select(audit_events.c.action, audit_events.c.new_value)
        .where(
            audit_events.c.registered_model_id == model.id,
            audit_events.c.field == alias,
            audit_events.c.action.in_(
                [AuditAction.ALIAS_SET.value, AuditAction.ALIAS_ROLLBACK.value]
            ),
        )
        .order_by(audit_events.c.id)
    )
    for action, new in events:
        version = int(new)
        if action == AuditAction.ALIAS_ROLLBACK.value:
            while stack and stack[-1] != version:
                stack.pop()
            if not stack:
                stack.append(version)
        else:
            stack.append(version)
    return stack


def move_to_stage(
    conn: Connection,
    model: Any,
    version: int,
    stage: str,
    archive_existing: bool,
    actor: str,
    reason: str | None,
) -> str:
    """Move a version to `stage` (recorded), archiving the others there on request;
    returns the stage it had."""
    row = version_row(conn, model, version)
    now = now_ms()
    if row.current_stage != stage:
        _set_stage(conn, model, version, stage, now)
        change = Change(
            AuditAction.STAGE_TRANSITION, actor, field="stage", version=version, reason=reason
        )
        record(conn, model, change, old=row.current_stage, new=stage)
    if archive_existing:
        others = conn.execute(
            select(model_versions.c.version).where(
                model_versions.c.registered_model_id == model.id,
                model_versions.c.current_stage == stage,
                model_versions.c.version != version,
            )
        ).scalars()
        for other in others.all():
            _set_stage(conn, model, other, "Archived", now)
            change = Change(
                AuditAction.STAGE_TRANSITION,
                actor,
                field="stage",
                version=other,
                reason=f"archived because version {version} moved to {stage}",
            )
            record(conn, model, change, old=stage, new="Archived")
    touch_model(conn, model, now)
    return row.current_stage


def transition_stage(
    conn: Connection,
    name: str,
    version: int,
    stage: str,
    archive_existing: bool,
    actor: str,
    reason: str | None,
) -> ModelVersion:
    model = model_row(conn, name)
    move_to_stage(conn, model, version, stage, archive_existing, actor, reason)
    return version_entity(conn, model, version)


def _set_stage(conn: Connection, model: Any, version: int, stage: str, now: int) -> None:
    conn.execute(
        update(model_versions)
        .where(
            model_versions.c.registered_model_id == model.id,
            model_versions.c.version == version,
        )
        .values(current_stage=stage, last_updated_time=now)
    )


__all__ = [
    "delete_alias",
    "move_to_stage",
    "point_alias",
    "rollback_alias",
    "set_alias",
    "transition_stage",
]
