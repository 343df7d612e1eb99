"""Model versions in SQL: register (resolving `models:/` and `runs:/` sources), read,
search, describe, delete, and their tags.

Versions are numbered from a counter on the model's row (`last_version`), which also
serialises concurrent registrations of one model on PostgreSQL (row lock) and SQLite
(`BEGIN IMMEDIATE`), and never reuses a deleted version's number. A version keeps a
snapshot of its run's metrics and params as they were when it was registered.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Select, and_, delete, insert, select, update

from slipway.entities import (
    AuditAction,
    LifecycleStage,
    ModelUri,
    ModelVersion,
    decode_float,
    encode_float,
    now_ms,
)
from slipway.errors import InvalidParameterValue, InvalidState
from slipway.store import schema
from slipway.store.search import ATTRIBUTE, TAG, OrderKey
from slipway.store.sql.filters import order_terms
from slipway.store.sql.locations import join_uri
from slipway.store.sql.metric_values import decode_metric_value
from slipway.store.sql.registry.audit import Change, audited_delete, audited_set, record
from slipway.store.sql.registry.lookups import (
    aliases_of,
    logged_model_row,
    model_row,
    resolve_version_row,
    touch_model,
    version_row,
)
from slipway.store.sql.registry.search import MODEL_VERSIONS
from slipway.store.sql.rows import key_values

registered_models = schema.registered_models
model_versions = schema.model_versions
model_version_tags = schema.model_version_tags
_NEWEST_FIRST = OrderKey(ATTRIBUTE, "last_updated_timestamp", False)
MODEL_VERSIONS_TAG = "mlflow.modelVersions"


def versions_from_rows(conn: Connection, pairs: Sequence[tuple[Any, str]]) -> list[ModelVersion]:
    """Entities for (version row, model name) pairs, with tags and aliases."""
    if not pairs:
        return []
    model_ids = sorted({row.registered_model_id for row, _ in pairs})
    tags = key_values(
        conn,
        model_version_tags,
        "registered_model_id",
        model_ids,
        group_by=("registered_model_id", "version"),
    )
    aliases: dict[tuple[int, int], list[str]] = defaultdict(list)
    for model_id, alias, version in aliases_of(conn, model_ids):
        aliases[(model_id, version)].append(alias)
    out = []
    for row, name in pairs:
        key = (row.registered_model_id, row.version)
        metrics, params = _snapshot(row.run_snapshot)
        out.append(
            ModelVersion(
                name=name,
                version=row.version,
                creation_timestamp=row.creation_time,
                last_updated_timestamp=row.last_updated_time,
                source=row.source,
                run_id=row.run_id,
                run_link=row.run_link,
                status=row.status,
                status_message=row.status_message,
                description=row.description,
                user_id=row.user_id,
                current_stage=row.current_stage,
                tags=tags.get(key, {}),
                aliases=aliases.get(key, []),
                model_id=row.logged_model_id,
                metrics=metrics,
                params=params,
            )
        )
    return out


def version_entity(conn: Connection, model: Any, version: int) -> ModelVersion:
    return versions_from_rows(conn, [(version_row(conn, model, version), model.name)])[0]


def get_by_uri(conn: Connection, uri: ModelUri) -> ModelVersion:
    """The version a `models:/name/<version | @alias | stage>` URI names."""
    model, row = resolve_version_row(conn, uri)
    return versions_from_rows(conn, [(row, model.name)])[0]


def download_uri(conn: Connection, uri: ModelUri) -> str:
    _, row = resolve_version_row(conn, uri)
    return row.storage_location or row.source


def run_metrics(conn: Connection, run_id: str | None) -> dict[str, float]:
    """The latest metrics of a run in this database ({} for none)."""
    if not run_id:
        return {}
    latest = schema.latest_metrics
    rows = conn.execute(
        select(latest.c.key, latest.c.value, latest.c.is_nan).where(latest.c.run_uuid == run_id)
    )
    return {key: decode_metric_value(value, is_nan) for key, value, is_nan in rows}


def gate_metrics(conn: Connection, row: Any) -> dict[str, float]:
    """A version's metrics for gates: the snapshot, updated by what its run has now."""
    snapshot, _ = _snapshot(row.run_snapshot)
    return {**snapshot, **run_metrics(conn, row.run_id)}


def create(
    conn: Connection,
    name: str,
    source: str,
    run_id: str | None,
    tag_rows: list[tuple[str, str]],
    run_link: str | None,
    description: str | None,
    model_id: str | None,
    actor: str,
) -> ModelVersion:
    """Register the next version of `name` from `source`, with a snapshot of its run."""
    model = model_row(conn, name)
    location, run, logged = _resolve_source(conn, source, run_id or None, model_id)
    snapshot = None
    if run:
        params = schema.params
        run_params = dict(
            conn.execute(select(params.c.key, params.c.value).where(params.c.run_uuid == run)).all()
        )
        snapshot = _snapshot_json(run_metrics(conn, run), run_params)
    now = now_ms()
    version = conn.execute(
        update(registered_models)
        .where(registered_models.c.id == model.id)
        .values(last_version=registered_models.c.last_version + 1, last_updated_time=now)
        .returning(registered_models.c.last_version)
    ).scalar_one()
    conn.execute(
        insert(model_versions).values(
            registered_model_id=model.id,
            version=version,
            source=source,
            storage_location=location,
            run_id=run,
            run_link=run_link or None,
            logged_model_id=logged,
            status="READY",
            description=description or None,
            user_id=actor,
            current_stage="None",
            creation_time=now,
            last_updated_time=now,
            run_snapshot=snapshot,
        )
    )
    if tag_rows:
        conn.execute(
            insert(model_version_tags),
            [
                {"registered_model_id": model.id, "version": version, "key": k, "value": v}
                for k, v in tag_rows
            ],
        )
    change = Change(AuditAction.VERSION_CREATED, actor, field="source", version=version)
    record(conn, model, change, new=source)
    if logged:
        _tag_logged_model(conn, logged, name, version)
    return version_entity(conn, model, version)


def _tag_logged_model(conn: Connection, model_id: str, name: str, version: int) -> None:
    """Add the version to the logged model's `mlflow.modelVersions` tag (a JSON list of
    `{"name", "version"}`), as MLflow does, so the model shows where it was registered."""
    if (
        conn.execute(
            select(schema.logged_models.c.model_id).where(
                schema.logged_models.c.model_id == model_id
            )
        ).first()
        is None
    ):
        return  # an id of a model this database does not hold: nothing to tag
    tags = schema.logged_model_tags
    where = (tags.c.model_id == model_id, tags.c.key == MODEL_VERSIONS_TAG)
    current = conn.execute(select(tags.c.value).where(*where)).scalar()
    entries = json.loads(current) if current else []
    entry = {"name": name, "version": str(version)}
    if entry in entries:
        return
    entries.append(entry)
    if current is None:
        conn.execute(
            insert(tags).values(
                model_id=model_id, key=MODEL_VERSIONS_TAG, value=json.dumps(entries)
            )
        )
    else:
        conn.execute(update(tags).where(*where).values(value=json.dumps(entries)))


def update_description(
    conn: Connection, name: str, version: int, description: str | None, actor: str
) -> ModelVersion:
    model = model_row(conn, name)
    row = version_row(conn, model, version)
    if row.description != description:
        conn.execute(
            update(model_versions)
            .where(_is_version(model, version))
            .values(description=description, last_updated_time=now_ms())
        )
        change = Change(
            AuditAction.DESCRIPTION_UPDATED, actor, field="description", version=version
        )
        record(conn, model, change, old=row.description, new=description)
    return version_entity(conn, model, version)


def delete_version(
    conn: Connection, name: str, version: int, force: bool, actor: str, reason: str | None
) -> None:
    """Delete a version and its tags; refused while an alias points at it, unless `force`,
    which deletes those aliases too (each recorded)."""
    model = model_row(conn, name)
    row = version_row(conn, model, version)
    aliases = [alias for _, alias, held in aliases_of(conn, [model.id]) if held == version]
    if aliases and not force:
        shown = ", ".join(f"@{a}" for a in aliases)
        raise InvalidState(
            f"Version {version} of model '{name}' is what {shown} points to; deleting it "
            "would break every models:/ URI using that alias. Move or delete the alias "
            "first, or delete with --force (force=True), which also removes the alias."
        )
    for alias in aliases:
        change = Change(
            AuditAction.ALIAS_DELETED,
            actor,
            field=alias,
            version=version,
            reason=reason or f"version {version} deleted with force",
        )
        row_key = {"registered_model_id": model.id, "alias": alias}
        audited_delete(conn, schema.registered_model_aliases, row_key, "version", model, change)
    conn.execute(
        delete(model_version_tags).where(
            model_version_tags.c.registered_model_id == model.id,
            model_version_tags.c.version == version,
        )
    )
    conn.execute(delete(model_versions).where(_is_version(model, version)))
    touch_model(conn, model)
    change = Change(AuditAction.VERSION_DELETED, actor, version=version, reason=reason)
    record(conn, model, change, old=f"stage={row.current_stage} source={row.source}")


def search_query(
    filter_string: str | None, order_by: Sequence[str] | None, dialect: str
) -> Select[Any]:
    """Versions (with `model_name`) that match; newest change first by default."""
    spec = MODEL_VERSIONS
    where = spec.conditions(
        spec.parse_filter(filter_string), {TAG: (model_version_tags, _tag_belongs)}, dialect
    )
    order = spec.order(spec.parse_order_by(order_by) or [_NEWEST_FIRST], dialect)
    order += order_terms(registered_models.c.name, True, dialect)
    order.append(model_versions.c.version.desc())
    return (
        select(model_versions, registered_models.c.name.label("model_name"))
        .join(registered_models, registered_models.c.id == model_versions.c.registered_model_id)
        .where(*where)
        .order_by(*order)
    )


def from_search_rows(conn: Connection, rows: Sequence[Any]) -> list[ModelVersion]:
    return versions_from_rows(conn, [(r, r.model_name) for r in rows])


def set_tag(conn: Connection, name: str, version: int, key: str, value: str, actor: str) -> None:
    model = model_row(conn, name)
    version_row(conn, model, version)
    row_key = {"registered_model_id": model.id, "version": version, "key": key}
    change = Change(AuditAction.TAG_SET, actor, field=key, version=version)
    audited_set(conn, model_version_tags, row_key, "value", value, model, change, touch=False)


def delete_tag(conn: Connection, name: str, version: int, key: str, actor: str) -> None:
    model = model_row(conn, name)
    version_row(conn, model, version)
    row_key = {"registered_model_id": model.id, "version": version, "key": key}
    change = Change(AuditAction.TAG_DELETED, actor, field=key, version=version)
    audited_delete(conn, model_version_tags, row_key, "value", model, change)


def _is_version(model: Any, version: int) -> Any:
    return and_(
        model_versions.c.registered_model_id == model.id, model_versions.c.version == version
    )


def _tag_belongs(tags: Any) -> Any:
    return and_(
        tags.c.registered_model_id == model_versions.c.registered_model_id,
        tags.c.version == model_versions.c.version,
    )


def _resolve_source(
    conn: Connection, source: str, run_id: str | None, model_id: str | None
) -> tuple[str, str | None, str | None]:
    """(storage location, run id, logged model id) of a version's `source`."""
    if source.startswith("models:/"):
        uri = ModelUri.parse(source)
        if uri.model_id is not None:
            logged = logged_model_row(conn, uri.model_id)
            location = logged.artifact_location
            location = join_uri(location, uri.path) if uri.path else location
            return location, run_id or logged.source_run_id, model_id or logged.model_id
        _, row = resolve_version_row(conn, uri)
        location = row.storage_location or row.source
        location = join_uri(location, uri.path) if uri.path else location
        return location, run_id or row.run_id, model_id or row.logged_model_id
    if source.startswith("runs:/"):
        return _resolve_runs_source(conn, source, run_id, model_id)
    if model_id:
        logged = logged_model_row(conn, model_id)
        return source, run_id or logged.source_run_id, model_id
    return source, run_id, model_id


def _resolve_runs_source(
    conn: Connection, source: str, run_id: str | None, model_id: str | None
) -> tuple[str, str | None, str | None]:
    rest = source[len("runs:/") :].strip("/")
    source_run, _, path = rest.partition("/")
    if not source_run:
        raise InvalidParameterValue(
            f"Invalid runs URI {source!r}: use runs:/<run_id>/<path to the model>."
        )
    runs = schema.runs
    run = conn.execute(select(runs.c.artifact_uri).where(runs.c.run_uuid == source_run)).first()
    if run is None:
        # The registry may live apart from tracking (as MLflow allows): keep the URI as given.
        return source, run_id or source_run, model_id
    head, _, rest = path.partition("/")
    # MLflow 3 keeps a model logged in a run outside the run's folder, as a logged model
    # named after the path: runs:/<run>/model means that model.
    logged_models = schema.logged_models
    logged = (
        conn.execute(
            select(logged_models)
            .where(
                logged_models.c.source_run_id == source_run,
                logged_models.c.name == head,
                logged_models.c.lifecycle_stage == LifecycleStage.ACTIVE.value,
            )
            .order_by(logged_models.c.creation_time.desc())
            .limit(1)
        ).first()
        if head
        else None
    )
    if logged is not None:
        location = logged.artifact_location
        location = join_uri(location, rest) if rest else location
        return location, run_id or source_run, model_id or logged.model_id
    location = join_uri(run.artifact_uri, path) if path else run.artifact_uri
    return location, run_id or source_run, model_id


def _snapshot_json(metrics: dict[str, float], params: dict[str, str]) -> str:
    return json.dumps(
        {"metrics": {k: encode_float(v) for k, v in metrics.items()}, "params": params}
    )


def _snapshot(text: str | None) -> tuple[dict[str, float], dict[str, str]]:
    if not text:
        return {}, {}
    data = json.loads(text)
    metrics = {k: decode_float(v) for k, v in (data.get("metrics") or {}).items()}
    return metrics, dict(data.get("params") or {})


__all__ = [
    "create",
    "delete_tag",
    "delete_version",
    "download_uri",
    "from_search_rows",
    "gate_metrics",
    "get_by_uri",
    "run_metrics",
    "search_query",
    "set_tag",
    "update_description",
    "version_entity",
    "versions_from_rows",
]
