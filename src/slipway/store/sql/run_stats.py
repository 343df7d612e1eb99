"""Counts and summaries over runs and metric histories, answered by the database.

The web UI's experiments list (runs and last activity per experiment), the total behind
its paged runs table, and a long metric thinned to min/max buckets for a chart: each is
one aggregate query instead of reading every row into Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, func, select

from slipway.entities import Metric
from slipway.store import schema
from slipway.store.sampling import Bucket, bucket_width, points_of_buckets
from slipway.store.sql.metric_values import DBL_MAX, decode_metric_value
from slipway.store.sql.runs import run_row

runs = schema.runs
metrics = schema.metrics


def count_query(query: Any) -> Any:
    """`SELECT count(*)` over the rows of a search query (its ordering dropped)."""
    return select(func.count()).select_from(query.order_by(None).subquery())


def run_summaries(
    conn: Connection, experiment_ids: Sequence[int]
) -> dict[str, tuple[int, int | None]]:
    """Active runs and the latest start time of each experiment (absent ones: 0, None)."""
    query = (
        select(runs.c.experiment_id, func.count(), func.max(runs.c.start_time))
        .where(runs.c.experiment_id.in_(list(experiment_ids)), runs.c.lifecycle_stage == "active")
        .group_by(runs.c.experiment_id)
    )
    out: dict[str, tuple[int, int | None]] = {str(e): (0, None) for e in experiment_ids}
    for experiment_id, count, latest in conn.execute(query):
        out[str(experiment_id)] = (int(count), None if latest is None else int(latest))
    return out


def thinned_history(conn: Connection, run_id: str, key: str, max_points: int) -> list[Metric]:
    """Every finite point of a metric, or its min/max buckets when there are more than
    `max_points` (two aggregate queries on the (run, key, step) index)."""
    run_row(conn, run_id)
    of_metric = (metrics.c.run_uuid == run_id, metrics.c.key == key, metrics.c.is_nan.is_(False))
    count, first, last = conn.execute(
        select(func.count(), func.min(metrics.c.step), func.max(metrics.c.step)).where(*of_metric)
    ).one()
    if not count:
        return []
    if count <= max_points:
        rows = conn.execute(
            select(metrics.c.value, metrics.c.timestamp, metrics.c.step)
            .where(*of_metric)
            .order_by(metrics.c.step, metrics.c.timestamp)
        ).all()
        return [Metric(key, decode_metric_value(v, False), ts, st) for v, ts, st in rows]
    width = bucket_width(int(first), int(last), max_points)
    # Infinite values (stored as +/-DBL_MAX) would flatten the chart; they are left out.
    index = ((metrics.c.step - int(first)) // width).label("bucket")
    query = (
        select(
            index,
            func.min(metrics.c.step),
            func.max(metrics.c.step),
            func.min(metrics.c.value),
            func.max(metrics.c.value),
            func.avg(metrics.c.value),
            func.max(metrics.c.timestamp),
        )
        .where(*of_metric, metrics.c.value < DBL_MAX, metrics.c.value > -DBL_MAX)
        .group_by(index)
        .order_by(index)
    )
    buckets = [
        Bucket(int(s0), int(s1), float(lo), float(hi), float(mean), int(ts))
        for _, s0, s1, lo, hi, mean, ts in conn.execute(query)
    ]
    return points_of_buckets(key, buckets)


__all__ = ["count_query", "run_summaries", "thinned_history"]
