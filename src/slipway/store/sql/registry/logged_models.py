"""MLflow 3 logged models in SQL: a model's files, params and tags, logged from a run into
an experiment, before (or without) being registered as a version."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Select, and_, delete, exists, insert, or_, select, update

from slipway.entities import (
    LifecycleStage,
    LoggedModel,
    LoggedModelMetric,
    LoggedModelStatus,
    Metric,
    now_ms,
)
from slipway.errors import InvalidParameterValue, ResourceDoesNotExist
from slipway.store import schema
from slipway.store.search import METRIC, PARAM, TAG, Comparison
from slipway.store.sql.experiments import active_experiment_row
from slipway.store.sql.filters import compare, order_terms
from slipway.store.sql.locations import join_uri
from slipway.store.sql.metric_values import decode_metric_value, sanitize
from slipway.store.sql.registry.lookups import active_logged_model_row, logged_model_row
from slipway.store.sql.registry.search import LOGGED_MODELS
from slipway.store.sql.rows import key_values

logged_models = schema.logged_models
logged_model_tags = schema.logged_model_tags
logged_model_params = schema.logged_model_params
logged_model_metrics = schema.logged_model_metrics


def from_rows(conn: Connection, rows: Sequence[Any]) -> list[LoggedModel]:
    ids = [r.model_id for r in rows]
    tags = key_values(conn, logged_model_tags, "model_id", ids)
    params = key_values(conn, logged_model_params, "model_id", ids)
    metrics = _metrics_of(conn, ids)
    return [
        LoggedModel(
            model_id=r.model_id,
            experiment_id=str(r.experiment_id),
            name=r.name,
            artifact_location=r.artifact_location,
            creation_timestamp=r.creation_time,
            last_updated_timestamp=r.last_updated_time,
            status=r.status,
            status_message=r.status_message,
            source_run_id=r.source_run_id,
            model_type=r.model_type,
            tags=tags.get(r.model_id, {}),
            params=params.get(r.model_id, {}),
            metrics=metrics.get(r.model_id, []),
        )
        for r in rows
    ]


def _metrics_of(conn: Connection, ids: Sequence[str]) -> dict[str, list[LoggedModelMetric]]:
    if not ids:
        return {}
    t = logged_model_metrics
    rows = conn.execute(
        select(t)
        .where(t.c.model_id.in_(ids))
        .order_by(t.c.model_id, t.c.key, t.c.step, t.c.timestamp)
    )
    out: dict[str, list[LoggedModelMetric]] = {}
    for r in rows:
        out.setdefault(r.model_id, []).append(
            LoggedModelMetric(
                key=r.key,
                value=decode_metric_value(r.value, r.is_nan),
                timestamp=r.timestamp,
                step=r.step,
                model_id=r.model_id,
                run_id=r.run_uuid,
                dataset_name=r.dataset_name,
                dataset_digest=r.dataset_digest,
            )
        )
    return out


def link_metrics(
    conn: Connection, run_id: str, points: Sequence[LoggedModelMetric]
) -> list[Metric]:
    """Record `points` against their logged models; return those not yet in the run's history.

    The mlflow client re-logs a run's metrics with the model's id after logging a model: a
    point the run already has is linked, not written to the run twice.
    """
    for model_id in {p.model_id for p in points}:
        logged_model_row(conn, model_id)
    t, history = logged_model_metrics, schema.metrics
    rows = []
    for p in points:
        value, is_nan = sanitize(p.value)
        linked = conn.execute(
            select(t.c.model_id).where(
                t.c.model_id == p.model_id,
                t.c.key == p.key,
                t.c.timestamp == p.timestamp,
                t.c.step == p.step,
                t.c.run_uuid == run_id,
            )
        ).first()
        if linked is None:
            rows.append(
                {
                    "model_id": p.model_id,
                    "key": p.key,
                    "value": value,
                    "is_nan": is_nan,
                    "timestamp": p.timestamp,
                    "step": p.step,
                    "run_uuid": run_id,
                    "dataset_name": p.dataset_name,
                    "dataset_digest": p.dataset_digest,
                }
            )
    if rows:
        conn.execute(insert(t), rows)
    new = []
    for p in dict.fromkeys(points):
        value, is_nan = sanitize(p.value)
        same = conn.execute(
            select(history.c.key).where(
                history.c.run_uuid == run_id,
                history.c.key == p.key,
                history.c.timestamp == p.timestamp,
                history.c.step == p.step,
                history.c.is_nan == is_nan,
                *(() if is_nan else (history.c.value == value,)),
            )
        ).first()
        if same is None:
            new.append(Metric(p.key, p.value, p.timestamp, p.step))
    return new


def get(conn: Connection, model_id: str, allow_deleted: bool = False) -> LoggedModel:
    return from_rows(conn, [logged_model_row(conn, model_id, allow_deleted)])[0]


def create(
    conn: Connection,
    experiment_id: int,
    name: str,
    source_run_id: str | None,
    tags: dict[str, str],
    params: dict[str, str],
    model_type: str | None,
) -> LoggedModel:
    """A PENDING logged model in an active experiment, its files below the experiment's."""
    try:
        exp = active_experiment_row(conn, experiment_id)
    except ResourceDoesNotExist:
        raise ResourceDoesNotExist(
            f"Experiment '{experiment_id}' does not exist; log the model into an existing one."
        ) from None
    model_id = f"m-{uuid.uuid4().hex}"
    now = now_ms()
    conn.execute(
        insert(logged_models).values(
            model_id=model_id,
            experiment_id=experiment_id,
            name=name,
            artifact_location=join_uri(exp.artifact_location, "models", model_id, "artifacts"),
            status=LoggedModelStatus.PENDING.value,
            source_run_id=source_run_id or None,
            model_type=model_type or None,
            lifecycle_stage=LifecycleStage.ACTIVE.value,
            creation_time=now,
            last_updated_time=now,
        )
    )
    _upsert(conn, logged_model_tags, model_id, tags)
    _upsert(conn, logged_model_params, model_id, params)
    return get(conn, model_id)


def delete_model(conn: Connection, model_id: str) -> None:
    """Mark the logged model deleted (a no-op if it already is)."""
    row = logged_model_row(conn, model_id, allow_deleted=True)
    if row.lifecycle_stage != LifecycleStage.ACTIVE.value:
        return
    conn.execute(
        update(logged_models)
        .where(logged_models.c.model_id == model_id)
        .values(lifecycle_stage=LifecycleStage.DELETED.value, last_updated_time=now_ms())
    )


def finalize(conn: Connection, model_id: str, status: LoggedModelStatus) -> LoggedModel:
    active_logged_model_row(conn, model_id)
    conn.execute(
        update(logged_models)
        .where(logged_models.c.model_id == model_id)
        .values(status=status.value, last_updated_time=now_ms())
    )
    return get(conn, model_id)


def set_tags(conn: Connection, model_id: str, tags: dict[str, str]) -> None:
    active_logged_model_row(conn, model_id)
    _upsert(conn, logged_model_tags, model_id, tags)


def log_params(conn: Connection, model_id: str, params: dict[str, str]) -> None:
    active_logged_model_row(conn, model_id)
    _upsert(conn, logged_model_params, model_id, params)


def delete_tag(conn: Connection, model_id: str, key: str) -> None:
    active_logged_model_row(conn, model_id)
    where = (logged_model_tags.c.model_id == model_id, logged_model_tags.c.key == key)
    if not conn.execute(delete(logged_model_tags).where(*where)).rowcount:
        raise ResourceDoesNotExist(f"No tag with key {key!r} found for model with ID {model_id!r}.")


def search_query(
    experiment_ids: Sequence[int],
    filter_string: str | None,
    order_by: Sequence[dict[str, Any]] | None,
    dialect: str,
    datasets: Sequence[dict[str, str]] | None = None,
) -> Select[Any]:
    """Active logged models of the experiments that match; newest first by default.

    `order_by` items are `{"field_name": ..., "ascending": bool}` as in MLflow. A metric
    filter holds when a point of that metric does; with `datasets` (`{"dataset_name",
    "dataset_digest"?}` each) only points measured on one of those datasets count, and
    only models with such a point are found.
    """
    spec = LOGGED_MODELS
    comparisons = spec.parse_filter(filter_string)
    where = spec.conditions(
        [c for c in comparisons if c.entity_type != METRIC],
        {TAG: (logged_model_tags, _belongs), PARAM: (logged_model_params, _belongs)},
        dialect,
    )
    on_datasets = _on_datasets(datasets)
    where += [
        _metric_condition(c, on_datasets, dialect) for c in comparisons if c.entity_type == METRIC
    ]
    if on_datasets is not None:
        t = logged_model_metrics
        where.append(exists().where(t.c.model_id == logged_models.c.model_id, on_datasets))
    order = []
    for item in order_by or ():
        field_name = str(item.get("field_name") or "")
        col = spec.column(field_name)
        if col is None:
            raise InvalidParameterValue(
                f"Invalid order_by field {field_name!r} for logged models; use one of "
                f"{spec.attribute_names()}."
            )
        order += order_terms(col, bool(item.get("ascending", True)), dialect)
    order += [logged_models.c.creation_time.desc(), logged_models.c.model_id]
    return (
        select(logged_models)
        .where(
            logged_models.c.experiment_id.in_(experiment_ids),
            logged_models.c.lifecycle_stage == LifecycleStage.ACTIVE.value,
            *where,
        )
        .order_by(*order)
    )


def _on_datasets(datasets: Sequence[dict[str, str]] | None) -> Any:
    """The condition a metric point meets when measured on one of `datasets` (None: any)."""
    if not datasets:
        return None
    t = logged_model_metrics
    terms = []
    for item in datasets:
        name = item.get("dataset_name")
        if not name:
            raise InvalidParameterValue(
                "Missing value for required parameter 'datasets.dataset_name'."
            )
        digest = item.get("dataset_digest")
        terms.append(
            and_(t.c.dataset_name == name, t.c.dataset_digest == digest)
            if digest
            else t.c.dataset_name == name
        )
    return or_(*terms)


def _metric_condition(cmp: Comparison, on_datasets: Any, dialect: str) -> Any:
    t = logged_model_metrics
    return exists().where(
        t.c.model_id == logged_models.c.model_id,
        t.c.key == cmp.key,
        compare(t.c.value, cmp, dialect),
        *(() if on_datasets is None else (on_datasets,)),
    )


def _belongs(table: Any) -> Any:
    return table.c.model_id == logged_models.c.model_id


def _upsert(conn: Connection, table: Any, model_id: str, items: dict[str, str]) -> None:
    for key, value in items.items():
        where = (table.c.model_id == model_id, table.c.key == key)
        if conn.execute(update(table).where(*where).values(value=value)).rowcount == 0:
            conn.execute(insert(table).values(model_id=model_id, key=key, value=value))


__all__ = [
    "create",
    "delete_model",
    "delete_tag",
    "finalize",
    "from_rows",
    "get",
    "link_metrics",
    "log_params",
    "search_query",
    "set_tags",
]
