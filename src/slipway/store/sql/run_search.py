"""`search_runs` compiled to SQL: the parsed filter and order_by of `slipway.store.search`.

Filters on metrics, params and tags join their tables (a metric compares its latest
value); datasets are an EXISTS on the run's inputs. Ties are broken by start_time DESC,
then run id, as in MLflow.

On SQLite the join order is chosen here, not by the planner: its statistics cannot tell
a tag shared by half the runs (`team = 'a'`) from one unique per run (`mlflow.runName`),
so it may start from the filter matching the most rows. `cached_query` counts (capped)
the rows each key/value filter matches through its covering index and the query starts
from the smallest, with the other filters as primary-key probes (`CROSS JOIN` keeps that
order in SQLite). PostgreSQL plans from its own statistics, which the store keeps fresh.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    Select,
    and_,
    bindparam,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.selectable import Join

from slipway.store import schema
from slipway.store.search import (
    ATTRIBUTE,
    DATASET,
    METRIC,
    PARAM,
    TAG,
    Comparison,
    OrderKey,
    parse_filter,
    parse_order_by_list,
)
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


class _OrderedJoin(Join):
    """An inner join that SQLite must run in the written order (`CROSS JOIN ... ON`)."""

    inherit_cache = True


@compiles(_OrderedJoin, "sqlite")
def _sqlite_ordered_join(join: _OrderedJoin, compiler: Any, **kw: Any) -> str:
    kw["asfrom"] = True
    left = join.left._compiler_dispatch(compiler, **kw)
    right = join.right._compiler_dispatch(compiler, **kw)
    kw.pop("asfrom")
    return f"{left} CROSS JOIN {right} ON {join.onclause._compiler_dispatch(compiler, **kw)}"


@compiles(_OrderedJoin)
def _ordered_join(join: _OrderedJoin, compiler: Any, **kw: Any) -> str:
    return compiler.visit_join(join, **kw)


def _key_value_filters(comparisons: Sequence[Comparison]) -> list[int]:
    """Positions of the filters that join a key/value table (candidates to drive from)."""
    return [
        n
        for n, cmp in enumerate(comparisons)
        if cmp.entity_type in _KEY_VALUE_TABLES and cmp.op not in ("IS NULL", "IS NOT NULL")
    ]


def _filter_match(kv: Any, cmp: Comparison, dialect: str) -> ColumnElement[bool]:
    """The rows of key/value table `kv` that satisfy `cmp` (key and value)."""
    if cmp.entity_type == METRIC:
        return and_(kv.c.key == cmp.key, _metric_condition(kv, cmp, dialect))
    return and_(kv.c.key == cmp.key, compare(kv.c.value, cmp, dialect))


def _count_query(cmp: Comparison, dialect: str) -> Select[Any]:
    """How many rows of its table match `cmp`, up to the bound parameter `cap`."""
    kv = _KEY_VALUE_TABLES[cmp.entity_type]
    matching = select(literal(1)).select_from(kv).where(_filter_match(kv, cmp, dialect))
    capped = matching.limit(bindparam("cap", type_=Integer)).subquery()
    return select(func.count()).select_from(capped)


@functools.lru_cache(maxsize=256)
def cached_search(
    experiment_ids: tuple[int, ...],
    filter_string: str,
    order_by: tuple[str, ...],
    stages: tuple[str, ...],
    dialect: str,
) -> tuple[list[Comparison], list[OrderKey], list[Select[Any] | None], dict[Any, Select[Any]]]:
    """The parsed search and its count queries, kept for the next identical search.

    Building SQLAlchemy statements costs about as much as a small search itself, and
    dashboards repeat the same search. Returns the comparisons, the order keys, one count
    query per comparison (None where it cannot drive), and a dict the caller fills with the
    search query per driver.
    """
    comparisons = parse_filter(filter_string, target="runs")
    order_keys = parse_order_by_list(list(order_by), target="runs")
    drivable = set(_key_value_filters(comparisons))
    counts = [
        _count_query(cmp, dialect) if n in drivable else None for n, cmp in enumerate(comparisons)
    ]
    return comparisons, order_keys, counts, {}


def cached_query(
    experiment_ids: tuple[int, ...],
    filter_string: str,
    order_by: tuple[str, ...],
    stages: tuple[str, ...],
    dialect: str,
    conn: Connection,
    cap: int = 20_000,
) -> Select[Any]:
    """The search query for these arguments, starting from the best driver (see above)."""
    comparisons, order_keys, counts, queries = cached_search(
        experiment_ids, filter_string, order_by, stages, dialect
    )
    driver = None
    candidates = [n for n, q in enumerate(counts) if q is not None]
    if dialect == "sqlite" and len(candidates) >= 2:
        best_rows = cap + 1
        for n in candidates:
            rows = conn.execute(counts[n], {"cap": best_rows}).scalar_one()
            if rows < best_rows:
                driver, best_rows = n, rows
    query = queries.get(driver)
    if query is None:
        query = queries[driver] = search_runs_query(
            list(experiment_ids), comparisons, order_keys, list(stages), dialect, driver
        )
    return query


def search_runs_query(
    experiment_ids: Sequence[int],
    comparisons: Sequence[Comparison],
    order_keys: Sequence[OrderKey],
    stages: Sequence[str],
    dialect: str,
    driver: int | None = None,
) -> Select[Any]:
    """The runs (rows of `RUN_COLUMNS`) of `experiment_ids` in `stages` that match, in order.

    With `driver` (see `cached_query`), the query starts from that filter's rows.
    """
    conds: list[ColumnElement[bool]] = [
        runs.c.experiment_id.in_(list(experiment_ids)),
        runs.c.lifecycle_stage.in_(list(stages)),
    ]
    joined = [n for n in _key_value_filters(comparisons)]
    from_: Any = runs
    anchor: Any = runs.c.run_uuid
    if driver is not None and driver in joined:
        first = comparisons[driver]
        lead = _KEY_VALUE_TABLES[first.entity_type].alias(f"f{driver}")
        conds.append(_filter_match(lead, first, dialect))
        from_, anchor = lead, lead.c.run_uuid
        for n in joined:
            if n != driver:
                cmp = comparisons[n]
                kv = _KEY_VALUE_TABLES[cmp.entity_type].alias(f"f{n}")
                belongs = kv.c.run_uuid == anchor
                from_ = _OrderedJoin(from_, kv, and_(belongs, _filter_match(kv, cmp, dialect)))
        from_ = _OrderedJoin(from_, runs, runs.c.run_uuid == anchor)
        joined = []
    for n, cmp in enumerate(comparisons):
        if cmp.entity_type == ATTRIBUTE:
            conds.append(compare(_ATTRIBUTE_COLUMNS[cmp.key], cmp, dialect))
        elif cmp.entity_type == DATASET:
            conds.append(_dataset_condition(cmp, dialect))
        elif cmp.op in ("IS NULL", "IS NOT NULL"):
            kv = _KEY_VALUE_TABLES[cmp.entity_type].alias(f"f{n}")
            conds.append(key_value_condition(kv, kv.c.run_uuid == runs.c.run_uuid, cmp, dialect))
        elif n in joined:
            kv = _KEY_VALUE_TABLES[cmp.entity_type].alias(f"f{n}")
            belongs = kv.c.run_uuid == runs.c.run_uuid
            from_ = from_.join(kv, and_(belongs, _filter_match(kv, cmp, dialect)))
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


__all__ = ["cached_query", "search_runs_query"]
