"""Thinning a long metric history for a chart: min/max buckets that keep every spike.

A curve of 1,000,000 points cannot be drawn usefully on 1,000 pixels; sending it costs
seconds. The steps are cut into equal buckets and each bucket keeps its lowest and its
highest point, in the order they follow the curve's trend, so a spike or a dip never
disappears (unlike sampling every n-th step) and a smooth curve stays smooth. Stores
that must read the history thin what they read with `thin_history`; the SQL store computes
the buckets in the database, and for very long histories takes the first point of each
bucket by index seeks instead (`slipway.store.sql.run_stats`), so the cost stays flat.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from slipway.entities import Metric

DEFAULT_MAX_POINTS = 2000


@dataclass(frozen=True, slots=True)
class Bucket:
    """One bucket of steps: its first and last step, lowest, highest and mean value."""

    first_step: int
    last_step: int
    low: float
    high: float
    mean: float
    timestamp: int


def bucket_width(first_step: int, last_step: int, max_points: int) -> int:
    """Steps per bucket so that two points per bucket stay within `max_points`."""
    buckets = max(1, max_points // 2)
    return max(1, math.ceil((last_step - first_step + 1) / buckets))


def points_of_buckets(key: str, buckets: Sequence[Bucket]) -> list[Metric]:
    """Two points per bucket (one if low == high), low first when the trend rises."""
    out: list[Metric] = []
    for i, b in enumerate(buckets):
        if b.low == b.high or b.first_step == b.last_step:
            out.append(Metric(key, b.mean, b.timestamp, b.first_step))
            continue
        before = buckets[i - 1].mean if i else b.mean
        after = buckets[i + 1].mean if i + 1 < len(buckets) else b.mean
        rising = after >= before
        first, second = (b.low, b.high) if rising else (b.high, b.low)
        out.append(Metric(key, first, b.timestamp, b.first_step))
        out.append(Metric(key, second, b.timestamp, b.last_step))
    return out


def thin_history(points: Sequence[Metric], max_points: int = DEFAULT_MAX_POINTS) -> list[Metric]:
    """`points` (ordered by step) thinned to about `max_points`; NaN points are dropped."""
    finite = [p for p in points if not math.isnan(p.value)]
    if len(finite) <= max_points:
        return list(finite)
    lo, hi = finite[0].step, finite[-1].step
    width = bucket_width(lo, hi, max_points)
    buckets: list[Bucket] = []
    group: list[Metric] = []
    current = None
    for p in [*finite, None]:
        index = None if p is None else (p.step - lo) // width
        if group and index != current:
            values = [g.value for g in group]
            buckets.append(
                Bucket(
                    group[0].step,
                    group[-1].step,
                    min(values),
                    max(values),
                    sum(values) / len(values),
                    group[-1].timestamp,
                )
            )
            group = []
        if p is not None:
            group.append(p)
            current = index
    return points_of_buckets(points[0].key, buckets)


__all__ = ["DEFAULT_MAX_POINTS", "Bucket", "bucket_width", "points_of_buckets", "thin_history"]
