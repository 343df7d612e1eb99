"""Registered models in SQL: create, read (with tags, aliases and the latest version per
stage), search, rename, describe, delete, and their tags."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Select, and_, delete, func, insert, select, update

from slipway.entities import STAGES, AuditAction, ModelVersion, RegisteredModel, now_ms
from slipway.errors import ResourceAlreadyExists
from slipway.store import schema
from slipway.store.search import TAG
from slipway.store.sql.filters import order_terms
from slipway.store.sql.registry.audit import Change, audited_delete, audited_set, record
from slipway.store.sql.registry.lookups import aliases_of, model_row
from slipway.store.sql.registry.search import REGISTERED_MODELS
from slipway.store.sql.registry.versions import versions_from_rows
from slipway.store.sql.rows import chunks, key_values

registered_models = schema.registered_models
registered_model_tags = schema.registered_model_tags
model_versions = schema.model_versions


def models_from_rows(conn: Connection, rows: Sequence[Any]) -> list[RegisteredModel]:
    """Entities for registered-model rows, with tags, aliases and latest versions."""
    if not rows:
        return []
    ids = [r.id for r in rows]
    names = {r.id: r.name for r in rows}
    tags = key_values(conn, registered_model_tags, "registered_model_id", ids)
    aliases: dict[int, dict[str, int]] = defaultdict(dict)
    for model_id, alias, version in aliases_of(conn, ids):
        aliases[model_id][alias] = version
    latest_rows = []
    for chunk in chunks(ids):
        newest = (
            select(
                model_versions.c.registered_model_id.label("rid"),
                func.max(model_versions.c.version).label("version"),
            )
            .where(model_versions.c.registered_model_id.in_(chunk))
            .group_by(model_versions.c.registered_model_id, model_versions.c.current_stage)
            .subquery()
        )
        latest_rows.extend(
            conn.execute(
                select(model_versions)
                .join(
                    newest,
                    and_(
                        model_versions.c.registered_model_id == newest.c.rid,
                        model_versions.c.version == newest.c.version,
                    ),
                )
                .order_by(model_versions.c.version)
            ).all()
        )
    latest: dict[int, list[ModelVersion]] = defaultdict(list)
    pairs = [(row, names[row.registered_model_id]) for row in latest_rows]
    for (row, _), entity in zip(pairs, versions_from_rows(conn, pairs), strict=True):
        latest[row.registered_model_id].append(entity)
    return [
        RegisteredModel(
            name=r.name,
            creation_timestamp=r.creation_time,
            last_updated_timestamp=r.last_updated_time,
            description=r.description,
            user_id=r.user_id,
            tags=tags.get(r.id, {}),
            aliases=aliases.get(r.id, {}),
            latest_versions=latest.get(r.id, []),
        )
        for r in rows
    ]


def get(conn: Connection, name: str) -> RegisteredModel:
    return models_from_rows(conn, [model_row(conn, name)])[0]


def create(
    conn: Connection,
    name: str,
    tag_rows: list[tuple[str, str]],
    description: str | None,
    actor: str,
) -> RegisteredModel:
    taken = conn.execute(
        select(registered_models.c.id).where(registered_models.c.name == name)
    ).first()
    if taken is not None:
        raise ResourceAlreadyExists(f"Registered Model (name={name}) already exists.")
    now = now_ms()
    model_id = conn.execute(
        insert(registered_models)
        .values(
            name=name,
            description=description,
            user_id=actor,
            creation_time=now,
            last_updated_time=now,
            last_version=0,
        )
        .returning(registered_models.c.id)
    ).scalar_one()
    if tag_rows:
        conn.execute(
            insert(registered_model_tags),
            [{"registered_model_id": model_id, "key": k, "value": v} for k, v in tag_rows],
        )
    model = model_row(conn, name)
    record(conn, model, Change(AuditAction.MODEL_CREATED, actor), new=name)
    return models_from_rows(conn, [model])[0]


def search_query(
    filter_string: str | None, order_by: Sequence[str] | None, dialect: str
) -> Select[Any]:
    """Registered models that match, in order (then by name)."""
    spec = REGISTERED_MODELS
    where = spec.conditions(
        spec.parse_filter(filter_string),
        {TAG: (registered_model_tags, _tag_belongs)},
        dialect,
    )
    order = spec.order(spec.parse_order_by(order_by), dialect)
    order += order_terms(registered_models.c.name, True, dialect)
    return select(registered_models).where(*where).order_by(*order)


def rename(conn: Connection, name: str, new_name: str, actor: str) -> RegisteredModel:
    model = model_row(conn, name)
    if new_name == name:
        return models_from_rows(conn, [model])[0]
    taken = conn.execute(
        select(registered_models.c.id).where(registered_models.c.name == new_name)
    ).first()
    if taken is not None:
        raise ResourceAlreadyExists(f"Registered Model (name={new_name}) already exists.")
    conn.execute(
        update(registered_models)
        .where(registered_models.c.id == model.id)
        .values(name=new_name, last_updated_time=now_ms())
    )
    renamed = model_row(conn, new_name)
    change = Change(AuditAction.MODEL_RENAMED, actor, field="name")
    record(conn, renamed, change, old=name, new=new_name)
    return models_from_rows(conn, [renamed])[0]


def update_description(
    conn: Connection, name: str, description: str | None, actor: str
) -> RegisteredModel:
    model = model_row(conn, name)
    if model.description != description:
        conn.execute(
            update(registered_models)
            .where(registered_models.c.id == model.id)
            .values(description=description, last_updated_time=now_ms())
        )
        change = Change(AuditAction.DESCRIPTION_UPDATED, actor, field="description")
        record(conn, model, change, old=model.description, new=description)
    return models_from_rows(conn, [model_row(conn, name)])[0]


def delete_model(conn: Connection, name: str, actor: str, reason: str | None) -> None:
    """Delete the model with its versions, aliases and tags; its events stay."""
    model = model_row(conn, name)
    versions = conn.execute(
        select(func.count()).where(model_versions.c.registered_model_id == model.id)
    ).scalar_one()
    aliases = [f"@{a}={v}" for _, a, v in aliases_of(conn, [model.id])]
    summary = f"{versions} version(s)" + (f", aliases {' '.join(aliases)}" if aliases else "")
    for table in (
        schema.registered_model_aliases,
        schema.model_version_tags,
        model_versions,
        registered_model_tags,
    ):
        conn.execute(delete(table).where(table.c.registered_model_id == model.id))
    conn.execute(delete(registered_models).where(registered_models.c.id == model.id))
    change = Change(AuditAction.MODEL_DELETED, actor, reason=reason)
    record(conn, model, change, old=summary)


def set_tag(conn: Connection, name: str, key: str, value: str, actor: str) -> None:
    model = model_row(conn, name)
    row_key = {"registered_model_id": model.id, "key": key}
    change = Change(AuditAction.TAG_SET, actor, field=key)
    audited_set(conn, registered_model_tags, row_key, "value", value, model, change)


def delete_tag(conn: Connection, name: str, key: str, actor: str) -> None:
    model = model_row(conn, name)
    row_key = {"registered_model_id": model.id, "key": key}
    change = Change(AuditAction.TAG_DELETED, actor, field=key)
    audited_delete(conn, registered_model_tags, row_key, "value", model, change)


def latest_versions(conn: Connection, name: str, stages: Sequence[str]) -> list[ModelVersion]:
    """The newest version in each of `stages` (every stage when empty)."""
    wanted = list(stages) or list(STAGES)
    model = model_row(conn, name)
    newest = (
        select(func.max(model_versions.c.version).label("version"))
        .where(
            model_versions.c.registered_model_id == model.id,
            model_versions.c.current_stage.in_(wanted),
        )
        .group_by(model_versions.c.current_stage)
        .subquery()
    )
    rows = conn.execute(
        select(model_versions)
        .where(
            model_versions.c.registered_model_id == model.id,
            model_versions.c.version.in_(select(newest)),
        )
        .order_by(model_versions.c.version)
    ).all()
    return versions_from_rows(conn, [(r, model.name) for r in rows])


def _tag_belongs(tags: Any) -> Any:
    return tags.c.registered_model_id == registered_models.c.id


__all__ = [
    "create",
    "delete_model",
    "delete_tag",
    "get",
    "latest_versions",
    "models_from_rows",
    "rename",
    "search_query",
    "set_tag",
    "update_description",
]
