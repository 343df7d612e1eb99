"""Finding one registry row: a model by name, a version, what an alias points at, the
version a `models:/` URI names, a logged model. Each raises RESOURCE_DOES_NOT_EXIST with
a message that says what to do when there is none."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, func, select, update

from slipway.entities import LifecycleStage, ModelUri, now_ms
from slipway.errors import InvalidState, ResourceDoesNotExist
from slipway.store import schema
from slipway.store.sql.registry.validation import validate_model_name
from slipway.store.sql.rows import chunks

registered_models = schema.registered_models
model_versions = schema.model_versions
aliases = schema.registered_model_aliases


def model_row(conn: Connection, name: str) -> Any:
    row = conn.execute(select(registered_models).where(registered_models.c.name == name)).first()
    if row is None:
        # MLflow's wording, which its users match on.
        raise ResourceDoesNotExist(f"Registered Model with name={name} not found")
    return row


def version_row(conn: Connection, model: Any, version: int) -> Any:
    row = conn.execute(
        select(model_versions).where(
            model_versions.c.registered_model_id == model.id, model_versions.c.version == version
        )
    ).first()
    if row is None:
        raise ResourceDoesNotExist(
            f"Model Version (name={model.name}, version={version}) not found"
        )
    return row


def alias_version(conn: Connection, model: Any, alias: str) -> int | None:
    """The version `alias` points at, or None."""
    return conn.execute(
        select(aliases.c.version).where(
            aliases.c.registered_model_id == model.id, aliases.c.alias == alias
        )
    ).scalar()


def no_alias(conn: Connection, model: Any, alias: str) -> ResourceDoesNotExist:
    """The error for an alias the model does not have, listing those it has."""
    names = conn.execute(
        select(aliases.c.alias)
        .where(aliases.c.registered_model_id == model.id)
        .order_by(aliases.c.alias)
    ).scalars()
    known = ", ".join(f"@{a}" for a in names) or "none"
    return ResourceDoesNotExist(
        f"Model '{model.name}' has no alias '@{alias}' (its aliases: {known})."
    )


def aliases_of(conn: Connection, model_ids: Sequence[int]) -> list[Any]:
    """(model id, alias, version) of every alias of these models, by alias."""
    out: list[Any] = []
    for chunk in chunks(model_ids):
        out.extend(
            conn.execute(
                select(aliases.c.registered_model_id, aliases.c.alias, aliases.c.version)
                .where(aliases.c.registered_model_id.in_(chunk))
                .order_by(aliases.c.alias)
            ).all()
        )
    return out


def resolve_version_row(conn: Connection, uri: ModelUri) -> tuple[Any, Any]:
    """(model row, version row) that a `models:/name/...` URI names."""
    model = model_row(conn, validate_model_name(uri.name))
    if uri.version is not None:
        return model, version_row(conn, model, uri.version)
    if uri.alias is not None:
        version = alias_version(conn, model, uri.alias)
        if version is None:
            raise no_alias(conn, model, uri.alias)
        return model, version_row(conn, model, version)
    query = select(func.max(model_versions.c.version)).where(
        model_versions.c.registered_model_id == model.id
    )
    if uri.stage is not None:
        query = query.where(model_versions.c.current_stage == uri.stage)
    version = conn.execute(query).scalar()
    if version is None:
        where = f" in stage {uri.stage}" if uri.stage else ""
        raise ResourceDoesNotExist(f"Model '{model.name}' has no version{where}.")
    return model, version_row(conn, model, version)


def logged_model_row(conn: Connection, model_id: str, allow_deleted: bool = False) -> Any:
    """A logged model's row; a deleted one only with `allow_deleted` (reading a deleted
    one is RESOURCE_DOES_NOT_EXIST, as in MLflow)."""
    logged_models = schema.logged_models
    row = conn.execute(select(logged_models).where(logged_models.c.model_id == model_id)).first()
    if row is None or (not allow_deleted and row.lifecycle_stage == LifecycleStage.DELETED.value):
        raise ResourceDoesNotExist(f"Logged model with ID '{model_id}' not found.")
    return row


def active_logged_model_row(conn: Connection, model_id: str) -> Any:
    """The row of a logged model to change: it must exist (else RESOURCE_DOES_NOT_EXIST)
    and not be deleted (else INVALID_STATE)."""
    row = logged_model_row(conn, model_id, allow_deleted=True)
    if row.lifecycle_stage == LifecycleStage.DELETED.value:
        raise InvalidState(f"Logged model '{model_id}' is deleted; it cannot be changed.")
    return row


def touch_model(conn: Connection, model: Any, now: int | None = None) -> None:
    """Move the model's `last_updated_time` to now."""
    conn.execute(
        update(registered_models)
        .where(registered_models.c.id == model.id)
        .values(last_updated_time=now_ms() if now is None else now)
    )


__all__ = [
    "active_logged_model_row",
    "alias_version",
    "aliases_of",
    "logged_model_row",
    "model_row",
    "no_alias",
    "resolve_version_row",
    "touch_model",
    "version_row",
]
