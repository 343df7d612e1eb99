"""Runs in SQL beyond the hot paths: reading whole runs, delete/restore, tags, dataset
inputs, model outputs and metric history.

A page of runs is built in a handful of batched `IN` queries (params, tags, latest
metrics, inputs, outputs of all its runs at once), on the bare DBAPI cursor.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, insert, select, update

from slipway.entities import (
    Dataset,
    DatasetInput,
    LifecycleStage,
    Metric,
    PagedList,
    Run,
    RunData,
    RunInfo,
    now_ms,
)
from slipway.errors import InvalidState, ResourceDoesNotExist
from slipway.store import schema
from slipway.store.search import encode_page_token
from slipway.store.sql import experiments
from slipway.store.sql.metric_values import decode_metric_value
from slipway.store.sql.rows import dialect_insert, fetch_in
from slipway.store.sql.validation import check_run_active

RUN_NAME_TAG = "mlflow.runName"
RUN_COLUMNS = (
    schema.runs.c.run_uuid,
    schema.runs.c.name,
    schema.runs.c.experiment_id,
    schema.runs.c.user_id,
    schema.runs.c.status,
    schema.runs.c.start_time,
    schema.runs.c.end_time,
    schema.runs.c.artifact_uri,
    schema.runs.c.lifecycle_stage,
)


def run_info(row: Any) -> RunInfo:
    """RunInfo from a row of `RUN_COLUMNS` (unpacked by position: named access is slow)."""
    run_uuid, name, exp_id, user_id, status, start, end, artifact_uri, stage = row
    return RunInfo(
        run_id=run_uuid,
        experiment_id=str(exp_id),
        run_name=name or "",
        user_id=user_id or "",
        status=status,
        start_time=start,
        end_time=end,
        artifact_uri=artifact_uri or "",
        lifecycle_stage=stage,
    )


def run_row(conn: Connection, run_id: str) -> Any:
    """The run's row of `RUN_COLUMNS`, active or deleted; RESOURCE_DOES_NOT_EXIST if none."""
    row = conn.execute(select(*RUN_COLUMNS).where(schema.runs.c.run_uuid == str(run_id))).first()
    if row is None:
        raise ResourceDoesNotExist(f"Run with id={run_id} not found.")
    return row


def active_run_row(conn: Connection, run_id: str) -> Any:
    """(run_uuid, lifecycle_stage) of a run that exists and is active."""
    row = conn.execute(
        select(schema.runs.c.run_uuid, schema.runs.c.lifecycle_stage).where(
            schema.runs.c.run_uuid == str(run_id)
        )
    ).first()
    check_run_active(run_id, row.lifecycle_stage if row else None)
    return row


def runs_from_rows(conn: Connection, rows: Sequence[Any]) -> list[Run]:
    """Whole Run objects for a page of run rows, in a handful of batched queries."""
    ids = [row[0] for row in rows]
    params: dict[str, dict[str, str]] = defaultdict(dict)
    tags: dict[str, dict[str, str]] = defaultdict(dict)
    metrics: dict[str, list[Metric]] = defaultdict(list)
    outputs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for run_id, key, value in fetch_in(
        conn, "SELECT run_uuid, key, value FROM params WHERE run_uuid IN ({ids})", ids
    ):
        params[run_id][key] = value
    for run_id, key, value in fetch_in(
        conn, "SELECT run_uuid, key, value FROM tags WHERE run_uuid IN ({ids})", ids
    ):
        tags[run_id][key] = value if value is not None else ""
    for run_id, key, value, is_nan, stamp, step in fetch_in(
        conn,
        "SELECT run_uuid, key, value, is_nan, timestamp, step FROM latest_metrics "
        "WHERE run_uuid IN ({ids})",
        ids,
    ):
        metrics[run_id].append(Metric(key, decode_metric_value(value, is_nan), stamp, step))
    inputs = _dataset_inputs(conn, ids)
    for run_id, model_id, step in fetch_in(
        conn,
        "SELECT run_uuid, model_id, step FROM run_outputs WHERE run_uuid IN ({ids}) "
        "ORDER BY run_uuid, step, model_id",
        ids,
    ):
        outputs[run_id].append({"model_id": model_id, "step": step})
    out = []
    for row in rows:
        rid = row[0]
        latest = metrics.get(rid, [])
        data = RunData(
            metrics={m.key: m.value for m in latest},
            params=params.get(rid, {}),
            tags=tags.get(rid, {}),
            latest_metrics=latest,
        )
        out.append(
            Run(
                info=run_info(row),
                data=data,
                inputs=inputs.get(rid, []),
                model_outputs=outputs.get(rid, []),
            )
        )
    return out


def _dataset_inputs(conn: Connection, run_ids: Sequence[str]) -> dict[str, list[DatasetInput]]:
    inputs: dict[str, list[DatasetInput]] = defaultdict(list)
    input_rows = fetch_in(
        conn,
        "SELECT i.destination_id, i.input_uuid, d.name, d.digest, d.source_type, d.source, "
        "d.schema, d.profile FROM inputs i JOIN datasets d ON d.dataset_uuid = i.source_id "
        "WHERE i.destination_type = 'RUN' AND i.destination_id IN ({ids}) "
        "ORDER BY i.destination_id, d.name, d.digest",
        run_ids,
    )
    if not input_rows:
        return inputs
    input_tags: dict[str, dict[str, str]] = defaultdict(dict)
    for input_uuid, name, value in fetch_in(
        conn,
        "SELECT input_uuid, name, value FROM input_tags WHERE input_uuid IN ({ids})",
        [r[1] for r in input_rows],
    ):
        input_tags[input_uuid][name] = value
    for run_id, input_uuid, name, digest, source_type, source, ds_schema, profile in input_rows:
        dataset = Dataset(
            name=name,
            digest=digest,
            source_type=source_type or "",
            source=source or "",
            schema=ds_schema or "",
            profile=profile or "",
        )
        inputs[run_id].append(
            DatasetInput(dataset=dataset, tags=dict(input_tags.get(input_uuid, {})))
        )
    return inputs


def get_run(conn: Connection, run_id: str) -> Run:
    run = runs_from_rows(conn, [run_row(conn, run_id)])[0]
    run.model_inputs = _model_inputs(conn, run_id)
    return run


# A logged model a run used as input is an `inputs` row from the run to the model, as in
# MLflow's schema (its datasets are rows from the dataset to the run).
_RUN_INPUT, _MODEL_INPUT = "RUN_INPUT", "MODEL_INPUT"


def _model_inputs(conn: Connection, run_id: str) -> list[dict[str, Any]]:
    inputs = schema.inputs
    rows = conn.execute(
        select(inputs.c.destination_id)
        .where(
            inputs.c.source_type == _RUN_INPUT,
            inputs.c.source_id == run_id,
            inputs.c.destination_type == _MODEL_INPUT,
        )
        .order_by(inputs.c.destination_id)
    )
    return [{"model_id": model_id} for (model_id,) in rows]


DATASET_CONTEXT_TAG = "mlflow.data.context"
MAX_DATASET_SUMMARIES = 1000


def dataset_summaries(conn: Connection, experiment_ids: Sequence[int]) -> list[dict[str, Any]]:
    """Distinct (experiment, dataset name, digest, context) of the experiments' run inputs."""
    datasets, inputs, input_tags = schema.datasets, schema.inputs, schema.input_tags
    rows = conn.execute(
        select(datasets.c.experiment_id, datasets.c.name, datasets.c.digest, input_tags.c.value)
        .distinct()
        .select_from(datasets)
        .join(inputs, inputs.c.source_id == datasets.c.dataset_uuid)
        .outerjoin(
            input_tags,
            and_(
                input_tags.c.input_uuid == inputs.c.input_uuid,
                input_tags.c.name == DATASET_CONTEXT_TAG,
            ),
        )
        .where(datasets.c.experiment_id.in_(experiment_ids))
        .order_by(datasets.c.experiment_id, datasets.c.name, datasets.c.digest, input_tags.c.value)
        .limit(MAX_DATASET_SUMMARIES)
    )
    out = []
    for exp_id, name, digest, context in rows:
        item = {"experiment_id": str(exp_id), "name": name, "digest": digest}
        if context is not None:
            item["context"] = context
        out.append(item)
    return out


def log_model_inputs(conn: Connection, run_id: str, model_ids: Sequence[str]) -> None:
    """Link logged models to an active run as its inputs (each once)."""
    if not model_ids:
        return
    active_run_row(conn, run_id)
    inputs = schema.inputs
    known = {m["model_id"] for m in _model_inputs(conn, run_id)}
    rows = [
        {
            "input_uuid": uuid.uuid4().hex,
            "source_type": _RUN_INPUT,
            "source_id": run_id,
            "destination_type": _MODEL_INPUT,
            "destination_id": model_id,
        }
        for model_id in model_ids
        if model_id not in known
    ]
    if rows:
        conn.execute(insert(inputs), rows)


def delete_run(conn: Connection, run_id: str) -> None:
    run_row(conn, run_id)
    conn.execute(
        update(schema.runs)
        .where(schema.runs.c.run_uuid == run_id)
        .values(lifecycle_stage=LifecycleStage.DELETED.value, deleted_time=now_ms())
    )


def restore_run(conn: Connection, run_id: str) -> None:
    row = run_row(conn, run_id)
    exp = experiments.experiment_row(conn, row.experiment_id)
    if exp.lifecycle_stage != LifecycleStage.ACTIVE.value:
        raise InvalidState(
            f"Cannot restore run {run_id}: its experiment {exp.experiment_id} is "
            "deleted. Restore the experiment (which restores its runs) instead."
        )
    conn.execute(
        update(schema.runs)
        .where(schema.runs.c.run_uuid == run_id)
        .values(lifecycle_stage=LifecycleStage.ACTIVE.value, deleted_time=None)
    )


def delete_tag(conn: Connection, run_id: str, key: str) -> None:
    active_run_row(conn, run_id)
    tags = schema.tags
    deleted = conn.execute(tags.delete().where(tags.c.run_uuid == run_id, tags.c.key == key))
    if not deleted.rowcount:
        raise ResourceDoesNotExist(f"No tag with name: {key} in run with id {run_id}.")


def log_inputs(conn: Connection, run_id: str, items: Sequence[DatasetInput]) -> None:
    """Link checked dataset inputs to an active run, each dataset stored once per experiment."""
    datasets, inputs, input_tags = schema.datasets, schema.inputs, schema.input_tags
    active_run_row(conn, run_id)
    exp_id = conn.execute(
        select(schema.runs.c.experiment_id).where(schema.runs.c.run_uuid == run_id)
    ).scalar_one()
    for item in items:
        ds = item.dataset
        dataset_uuid = conn.execute(
            select(datasets.c.dataset_uuid).where(
                datasets.c.experiment_id == exp_id,
                datasets.c.name == ds.name,
                datasets.c.digest == ds.digest,
            )
        ).scalar()
        if dataset_uuid is None:
            dataset_uuid = uuid.uuid4().hex
            conn.execute(
                insert(datasets).values(
                    dataset_uuid=dataset_uuid,
                    experiment_id=exp_id,
                    name=ds.name,
                    digest=ds.digest,
                    source_type=ds.source_type,
                    source=ds.source,
                    schema=ds.schema,
                    profile=ds.profile,
                )
            )
        linked = conn.execute(
            select(inputs.c.input_uuid).where(
                inputs.c.source_id == dataset_uuid, inputs.c.destination_id == run_id
            )
        ).first()
        if linked:
            continue
        input_uuid = uuid.uuid4().hex
        conn.execute(
            insert(inputs).values(
                input_uuid=input_uuid,
                source_type="DATASET",
                source_id=dataset_uuid,
                destination_type="RUN",
                destination_id=run_id,
            )
        )
        if item.tags:
            conn.execute(
                insert(input_tags),
                [
                    {"input_uuid": input_uuid, "name": k, "value": str(v)}
                    for k, v in item.tags.items()
                ],
            )


def log_outputs(conn: Connection, run_id: str, rows: list[dict[str, Any]]) -> None:
    """Record checked `run_outputs` rows of an active run (a model's step is updated)."""
    active_run_row(conn, run_id)
    outputs = schema.run_outputs
    stmt = dialect_insert(conn, outputs)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[outputs.c.run_uuid, outputs.c.model_id],
            set_={"step": stmt.excluded.step},
        ),
        rows,
    )


def metric_history(
    conn: Connection, run_id: str, key: str, offset: int, limit: int | None
) -> PagedList[Metric]:
    """One metric's points in (step, timestamp, value) order, a page of `limit` if given."""
    run_row(conn, run_id)
    metrics = schema.metrics
    query = (
        select(
            metrics.c.key, metrics.c.value, metrics.c.is_nan, metrics.c.timestamp, metrics.c.step
        )
        .where(metrics.c.run_uuid == run_id, metrics.c.key == key)
        .order_by(metrics.c.step, metrics.c.timestamp, metrics.c.value, metrics.c.is_nan)
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit + 1)
    rows = conn.execute(query).all()
    token = None
    if limit is not None and len(rows) > limit:
        rows = rows[:limit]
        token = encode_page_token(offset + limit)
    return PagedList(
        [Metric(k, decode_metric_value(v, nan), ts, st) for k, v, nan, ts, st in rows], token
    )


__all__ = [
    "RUN_COLUMNS",
    "RUN_NAME_TAG",
    "active_run_row",
    "delete_run",
    "delete_tag",
    "get_run",
    "dataset_summaries",
    "log_inputs",
    "log_model_inputs",
    "log_outputs",
    "metric_history",
    "restore_run",
    "run_info",
    "run_row",
    "runs_from_rows",
]
