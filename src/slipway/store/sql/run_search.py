"""`search_runs` compiled to SQL: the parsed filter and order_by of `slipway.store.search`.

Filters on metrics, params and tags join their tables (a metric compares its latest
value); datasets are an EXISTS on the run's inputs. Ties are broken by start_time DESC,
then run id, as in MLflow.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, false, literal, or_, select, true

from slipway.store import schema
from slipway.store.search import ATTRIBUTE, DATASET, METRIC, PARAM, TAG, Comparison, OrderKey
from slipway.store.sql.filters import compare, key_value_condition, order_terms
from slipway.store.sql.runs import RUN_COLUMNS

DATASET_CONTEXT_TAG = "mlflow.data.context"

runs = schema.runs
_ATTRIBUTE_COLUMNS = {
    "run_id": runs.c.run_uuid,
    "run_name": runs.c.name,
    "status": runs.c.status,
    "user_id": runs.c.user_id,
    "artifact_uri": runs.c.artifact_uri,
    "lifecycle_stage": runs.c.lifecycle_stage,
    "start_time": runs.c.start_time,
    "end_time": runs.c.end_time,
    "experiment_id": runs.c.experiment_id,
}
_KEY_VALUE_TABLES = {METRIC: schema.latest_metrics, PARAM: schema.params, TAG: schema.tags}


def search_runs_query(
    experiment_ids: Sequence[int],
    comparisons: Sequence[Comparison],
    order_keys: Sequence[OrderKey],
    stages: Sequence[str],
    dialect: str,
) -> Select[Any]:
    """The runs (rows of `RUN_COLUMNS`) of `experiment_ids` in `stages` that match, in order."""
    from_: Any = runs
    conds: list[ColumnElement[bool]] = [
        runs.c.experiment_id.in_(list(experiment_ids)),
        runs.c.lifecycle_stage.in_(list(stages)),
    ]
    for n, cmp in enumerate(comparisons):
        if cmp.entity_type == ATTRIBUTE:
            conds.append(compare(_ATTRIBUTE_COLUMNS[cmp.key], cmp, dialect))
        elif cmp.entity_type == DATASET:
            conds.append(_dataset_condition(cmp, dialect))
        else:
            kv = _KEY_VALUE_TABLES[cmp.entity_type].alias(f"f{n}")
            belongs = kv.c.run_uuid == runs.c.run_uuid
            match = and_(belongs, kv.c.key == cmp.key)
            if cmp.op in ("IS NULL", "IS NOT NULL"):
                conds.append(key_value_condition(kv, belongs, cmp, dialect))
            elif cmp.entity_type == METRIC:
                from_ = from_.join(kv, and_(match, _metric_condition(kv, cmp, dialect)))
            else:
                from_ = from_.join(kv, and_(match, compare(kv.c.value, cmp, dialect)))
    order: list[Any] = []
    for n, key in enumerate(order_keys):
        if key.entity_type == ATTRIBUTE:
            order.extend(order_terms(_ATTRIBUTE_COLUMNS[key.key], key.ascending, dialect))
            continue
        kv = _KEY_VALUE_TABLES[key.entity_type].alias(f"o{n}")
        from_ = from_.outerjoin(kv, and_(kv.c.run_uuid == runs.c.run_uuid, kv.c.key == key.key))
        nan = kv.c.is_nan if key.entity_type == METRIC else None
        order.extend(order_terms(kv.c.value, key.ascending, dialect, nan))
    order.extend([runs.c.start_time.desc(), runs.c.run_uuid.asc()])
    return select(*RUN_COLUMNS).select_from(from_).where(*conds).order_by(*order)


def _metric_condition(latest: Any, cmp: Comparison, dialect: str) -> ColumnElement[bool]:
    """A comparison of the latest value; NaN equals nothing and differs from everything."""
    base = compare(latest.c.value, cmp, dialect)
    if cmp.op == "!=":
        return or_(base, latest.c.is_nan == true())
    return and_(base, latest.c.is_nan == false())


def _dataset_condition(cmp: Comparison, dialect: str) -> ColumnElement[bool]:
    inputs, datasets = schema.inputs.alias(), schema.datasets.alias()
    input_tags = schema.input_tags.alias()
    sub = (
        select(literal(1))
        .select_from(inputs.join(datasets, datasets.c.dataset_uuid == inputs.c.source_id))
        .where(inputs.c.destination_type == "RUN", inputs.c.destination_id == runs.c.run_uuid)
    )
    if cmp.key == "context":
        sub = sub.join(
            input_tags,
            and_(
                input_tags.c.input_uuid == inputs.c.input_uuid,
                input_tags.c.name == DATASET_CONTEXT_TAG,
            ),
        ).where(compare(input_tags.c.value, cmp, dialect))
    else:
        sub = sub.where(compare(datasets.c[cmp.key], cmp, dialect))
    return exists(sub)


__all__ = ["search_runs_query"]
