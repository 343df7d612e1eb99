"""Counts and summaries over runs and metric histories, answered by the database.

The web UI's experiments list (runs and last activity per experiment), the total behind
its paged runs table, and a long metric thinned for a chart: each is one or two queries
instead of reading every row into Python.
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
# Up to this many steps, a thinned history keeps each bucket's extremes (a scan of them).
MINMAX_SCAN_STEPS = 50_000


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


def thinned_history(
    conn: Connection, run_id: str, key: str, max_points: int, mark: str = "?"
) -> list[Metric]:
    """A metric's history for a chart, at a cost that does not grow with its length.

    The step range comes from two index seeks. A range of at most `max_points` steps is
    read whole; up to `MINMAX_SCAN_STEPS` steps, each bucket keeps its lowest and highest
    value (one aggregate scan); beyond that, each bucket is represented by its first point,
    found by an index seek (`max_points` seeks in one statement), so 1,000,000 points cost
    what 2,000 do. Only that last tier can hide a spike inside a bucket.
    """
    run_row(conn, run_id)
    of_metric = (metrics.c.run_uuid == run_id, metrics.c.key == key)
    first = conn.execute(select(func.min(metrics.c.step)).where(*of_metric)).scalar()
    if first is None:
        return []
    last = conn.execute(select(func.max(metrics.c.step)).where(*of_metric)).scalar()
    span = int(last) - int(first) + 1
    if span <= max_points:
        limit = max_points * 4
        rows = conn.execute(
            select(metrics.c.value, metrics.c.is_nan, metrics.c.timestamp, metrics.c.step)
            .where(*of_metric)
            .order_by(metrics.c.step, metrics.c.timestamp)
            .limit(limit + 1)
        ).all()
        if len(rows) <= limit:
            return [Metric(key, decode_metric_value(v, n), ts, st) for v, n, ts, st in rows]
    if span <= MINMAX_SCAN_STEPS:
        return _min_max_buckets(conn, run_id, key, int(first), int(last), max_points)
    return _first_of_buckets(conn, run_id, key, int(first), int(last), max_points, mark)


def _min_max_buckets(
    conn: Connection, run_id: str, key: str, first: int, last: int, max_points: int
) -> list[Metric]:
    width = bucket_width(first, last, max_points)
    index = ((metrics.c.step - first) // width).label("bucket")
    # NaN and infinite values (stored as +/-DBL_MAX) would flatten the chart: left out.
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
        .where(
            metrics.c.run_uuid == run_id,
            metrics.c.key == key,
            metrics.c.is_nan.is_(False),
            metrics.c.value < DBL_MAX,
            metrics.c.value > -DBL_MAX,
        )
        .group_by(index)
        .order_by(index)
    )
    buckets = [
        Bucket(int(s0), int(s1), float(lo), float(hi), float(mean), int(ts))
        for _, s0, s1, lo, hi, mean, ts in conn.execute(query)
    ]
    return points_of_buckets(key, buckets)


def _first_of_buckets(
    conn: Connection, run_id: str, key: str, first: int, last: int, max_points: int, mark: str
) -> list[Metric]:
    """The first point at or after the start of each of `max_points` equal step buckets."""
    width = max(1, (last - first + 1) // max_points)
    starts = list(range(first, last + 1, width))[:max_points]
    targets = ", ".join(f"({mark})" for _ in starts)
    sql = (
        f"WITH targets(s) AS (VALUES {targets}) "
        "SELECT step, value, is_nan, timestamp FROM metrics "
        f"WHERE run_uuid = {mark} AND key = {mark} AND step IN ("
        "SELECT (SELECT min(step) FROM metrics "
        f"WHERE run_uuid = {mark} AND key = {mark} AND step >= targets.s) FROM targets) "
        "ORDER BY step, timestamp"
    )
    rows = conn.exec_driver_sql(sql, (*starts, run_id, key, run_id, key)).all()
    return [Metric(key, decode_metric_value(v, n), ts, st) for st, v, n, ts in rows]


__all__ = ["count_query", "run_summaries", "thinned_history"]
