"""The writes every run makes (create, log params/metrics/tags, end) as fixed driver SQL.

These run on the bare DBAPI cursor (`run_in_cursor_transaction`): building and compiling
SQLAlchemy statements costs several times what SQLite spends on them. Each statement is
written once with `?` placeholders (see `sql_text`); `{values}` stands for a list of row
groups. Each write returns what it wrote instead of reading it back.

Metric points go in as multi-row INSERTs of `ROWS_PER_INSERT` points (COPY for large
batches on PostgreSQL), and `latest_metrics` moves forward with one conditional upsert
per key. Input checks that need no database (`prepare_*`) run before the transaction.
"""

from __future__ import annotations

import functools
import math
import sqlite3
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain, repeat
from typing import Any

from slipway.entities import LifecycleStage, Metric, Param, RunInfo, RunStatus, Tag
from slipway.errors import InvalidParameterValue, ResourceDoesNotExist
from slipway.store.interface import (
    MAX_METRICS_PER_BATCH,
    MAX_PARAM_VAL_LENGTH,
    MAX_PARAMS_TAGS_PER_BATCH,
    MAX_TAG_VAL_LENGTH,
)
from slipway.store.sql.locations import join_uri
from slipway.store.sql.metric_values import sanitize
from slipway.store.sql.rows import chunks
from slipway.store.sql.runs import RUN_NAME_TAG, run_info
from slipway.store.sql.validation import (
    check_run_active,
    validate_key,
    validate_metric,
    validate_run_name,
    validate_value,
)

# Rows per multi-row INSERT (up to 6 variables each; older SQLite allows only 999).
ROWS_PER_INSERT = 1000 if sqlite3.sqlite_version_info >= (3, 32) else 160

_SELECT_RUN = (
    "SELECT run_uuid, name, experiment_id, user_id, status, start_time, end_time, "
    "artifact_uri, lifecycle_stage FROM runs WHERE run_uuid = ?"
)
_SELECT_RUN_STAGE = "SELECT lifecycle_stage FROM runs WHERE run_uuid = ?"
_SELECT_EXPERIMENT_FOR_RUN = (
    "SELECT artifact_location, lifecycle_stage FROM experiments WHERE experiment_id = ?"
)
_INSERT_RUN = (
    "INSERT INTO runs (run_uuid, name, experiment_id, user_id, status, start_time, end_time, "
    "deleted_time, artifact_uri, lifecycle_stage) VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?)"
)
_INSERT_TAGS = "INSERT INTO tags (run_uuid, key, value) VALUES {values}"
_UPSERT_TAGS = _INSERT_TAGS + " ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value"
_SET_RUN_NAME = "UPDATE runs SET name = ? WHERE run_uuid = ?"
_INSERT_PARAMS = "INSERT INTO params (run_uuid, key, value) VALUES {values} ON CONFLICT DO NOTHING"
_SELECT_PARAMS = "SELECT key, value FROM params WHERE run_uuid = ? AND key IN {values}"
_INSERT_METRICS = (
    "INSERT INTO metrics (run_uuid, key, value, is_nan, timestamp, step) VALUES {values}"
)
_COPY_METRICS = "COPY metrics (run_uuid, key, value, is_nan, timestamp, step) FROM STDIN"
# Moves each key's latest point forward only when the new one is greater in (step,
# timestamp, value), as MLflow orders them.
_UPSERT_LATEST_METRICS = (
    "INSERT INTO latest_metrics (run_uuid, key, value, is_nan, timestamp, step) VALUES {values} "
    "ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value, "
    "is_nan = excluded.is_nan, timestamp = excluded.timestamp, step = excluded.step "
    "WHERE (excluded.step, excluded.timestamp, excluded.value) > "
    "(latest_metrics.step, latest_metrics.timestamp, latest_metrics.value)"
)


@functools.lru_cache(maxsize=256)
def sql_text(text: str, mark: str, rows: int = 0, width: int = 0) -> str:
    """A statement above in the driver's placeholder style (`mark`: `?` or psycopg's `%s`).

    With `rows`, its `{values}` becomes that many `(?, ...)` groups of `width` (a multi-row
    VALUES, or one group as an IN list). Cached: the same few strings are asked for on
    every call.
    """
    if rows:
        group = "(" + ",".join("?" * width) + ")"
        text = text.replace("{values}", ",".join([group] * rows))
    return text if mark == "?" else text.replace("?", mark)


@dataclass(slots=True)
class MetricPoints:
    """Checked metric points of one run, as columns, with each key's latest point."""

    keys: Sequence[str]
    values: Sequence[float]
    nan_flags: Sequence[bool] | None  # None: no value is NaN
    stamps: Sequence[int]
    steps: Sequence[int]
    latest_idx: dict[str, int]


@dataclass(slots=True)
class Batch:
    """A checked log_batch: params, tags and metric points of one run."""

    params: dict[str, str]
    tags: dict[str, str]
    points: MetricPoints | None


# --- checks before the transaction ------------------------------------------------------


def prepare_batch(metrics: Sequence[Metric], params: Sequence[Param], tags: Sequence[Tag]) -> Batch:
    """Check a log_batch against MLflow's limits and rules."""
    metrics, params, tags = list(metrics), list(params), list(tags)
    if len(metrics) > MAX_METRICS_PER_BATCH:
        raise InvalidParameterValue(
            f"A batch may hold at most {MAX_METRICS_PER_BATCH} metrics, got {len(metrics)}; "
            "split it (or use log_metric_columns for bulk points)."
        )
    for kind, items in (("params", params), ("tags", tags)):
        if len(items) > MAX_PARAMS_TAGS_PER_BATCH:
            raise InvalidParameterValue(
                f"A batch may hold at most {MAX_PARAMS_TAGS_PER_BATCH} {kind}, got "
                f"{len(items)}; split it into several batches."
            )
    param_map: dict[str, str] = {}
    for p in params:
        key = validate_key("Param", p.key)
        value = validate_value("Param", key, p.value, MAX_PARAM_VAL_LENGTH)
        if key in param_map and param_map[key] != value:
            raise InvalidParameterValue(
                f"Param {key!r} appears twice in one batch with different values "
                f"({param_map[key]!r} and {value!r}); params take one value per run."
            )
        param_map[key] = value
    tag_map = {
        validate_key("Tag", t.key): validate_value("Tag", t.key, t.value, MAX_TAG_VAL_LENGTH)
        for t in tags
    }
    if RUN_NAME_TAG in tag_map:
        validate_run_name(tag_map[RUN_NAME_TAG])
    points = list(
        dict.fromkeys(
            validate_metric(m, f" (metrics[{n}])" if len(metrics) > 1 else "")
            for n, m in enumerate(metrics)
        )
    )
    if not points:
        return Batch(param_map, tag_map, None)
    keys = [pt[0] for pt in points]
    stamps = [pt[2] for pt in points]
    steps = [pt[3] for pt in points]
    sanitized = [sanitize(pt[1]) for pt in points]
    values = [s[0] for s in sanitized]
    nan_flags = [s[1] for s in sanitized]
    latest_idx = _latest_per_key(keys, steps, stamps, values)
    return Batch(
        param_map, tag_map, MetricPoints(keys, values, nan_flags, stamps, steps, latest_idx)
    )


def prepare_metric_columns(
    keys: Sequence[str],
    values: Sequence[float],
    timestamps: Sequence[int],
    steps: Sequence[int],
) -> MetricPoints | None:
    """Check metric columns (lists or NumPy arrays) of equal length; None when empty."""
    keys, values, timestamps, steps = (
        _as_list(keys),
        _as_list(values),
        _as_list(timestamps),
        _as_list(steps),
    )
    n = len(keys)
    if not (len(values) == len(timestamps) == len(steps) == n):
        raise InvalidParameterValue(
            f"Metric columns differ in length: {n} keys, {len(values)} values, "
            f"{len(timestamps)} timestamps, {len(steps)} steps; they must be equal."
        )
    if n == 0:
        return None
    try:
        unique_keys = set(keys)
    except TypeError:
        raise InvalidParameterValue("Metric keys must be strings.") from None
    for key in unique_keys:
        validate_key("Metric", key)
    try:
        vals = list(map(float, values))
    except (TypeError, ValueError):
        bad = next(v for v in values if not _is_number(v))
        raise InvalidParameterValue(
            f"Metric values must be numbers; got {bad!r} at position {values.index(bad)}."
        ) from None
    try:
        stamps = (
            timestamps if all(type(x) is int for x in timestamps) else list(map(int, timestamps))
        )
        stps = steps if all(type(x) is int for x in steps) else list(map(int, steps))
    except (TypeError, ValueError):
        raise InvalidParameterValue(
            "Metric timestamps and steps must be integers (timestamps in epoch ms)."
        ) from None
    if min(stamps) < 0:
        raise InvalidParameterValue(
            f"Metric timestamps must be >= 0 (epoch ms); got {min(stamps)}."
        )
    nan_flags: list[bool] | None = None
    if not all(map(math.isfinite, vals)):
        sanitized = [sanitize(v) for v in vals]
        vals = [s[0] for s in sanitized]
        nan_flags = [s[1] for s in sanitized]
    return MetricPoints(
        keys, vals, nan_flags, stamps, stps, _latest_per_key(keys, stps, stamps, vals)
    )


def _as_list(column: Any) -> list[Any]:
    """NumPy arrays and other sequences as a plain list (NumPy scalars do not bind)."""
    if hasattr(column, "tolist"):
        return column.tolist()
    return column if isinstance(column, list) else list(column)


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _latest_per_key(
    keys: list[str], steps: Sequence[int], stamps: Sequence[int], values: Sequence[float]
) -> dict[str, int]:
    """Index of the latest point of each key: greatest (step, timestamp, value), as MLflow."""
    first = keys[0]
    if keys.count(first) == len(keys):  # one key: the common case, done in C
        return {first: max(zip(steps, stamps, values, range(len(keys)), strict=True))[3]}
    best_at: dict[str, tuple[tuple[int, int, float], int]] = {}
    get = best_at.get
    for i, (k, s, t, v) in enumerate(zip(keys, steps, stamps, values, strict=True)):
        cur = get(k)
        if cur is None or (s, t, v) > cur[0]:
            best_at[k] = ((s, t, v), i)
    return {k: v[1] for k, v in best_at.items()}


# --- the writes (each `fn(cursor, ...)` runs inside one transaction) ---------------------


def create_run(
    cur: Any,
    mark: str,
    experiment_id: int,
    name: str,
    user_id: str,
    start_time: int,
    tags: dict[str, str],
) -> RunInfo:
    """Insert a RUNNING run with its tags into an active experiment; its info as written."""
    cur.execute(sql_text(_SELECT_EXPERIMENT_FOR_RUN, mark), (experiment_id,))
    exp = cur.fetchone()
    if exp is None:
        raise ResourceDoesNotExist(f"No Experiment with id={experiment_id} exists.")
    artifact_location, stage = exp
    if stage != LifecycleStage.ACTIVE.value:
        raise InvalidParameterValue(
            f"The experiment {experiment_id} must be in the 'active' state to create "
            f"runs in it. Current state is {stage}; restore it first."
        )
    run_id = uuid.uuid4().hex
    info = RunInfo(
        run_id=run_id,
        experiment_id=str(experiment_id),
        run_name=name,
        user_id=user_id,
        status=RunStatus.RUNNING.value,
        start_time=start_time,
        end_time=None,
        artifact_uri=join_uri(artifact_location, run_id, "artifacts"),
        lifecycle_stage=LifecycleStage.ACTIVE.value,
    )
    cur.execute(
        sql_text(_INSERT_RUN, mark),
        (
            run_id,
            name,
            experiment_id,
            user_id,
            info.status,
            start_time,
            info.artifact_uri,
            info.lifecycle_stage,
        ),
    )
    _execute_rows(cur, mark, _INSERT_TAGS, [(run_id, k, v) for k, v in tags.items()])
    return info


def update_run(cur: Any, mark: str, dialect: str, run_id: str, values: dict[str, Any]) -> RunInfo:
    """Set `values` (status, end_time, name) of an active run; its info as it is now."""
    select_run = _SELECT_RUN
    if values and dialect == "postgresql":
        select_run += " FOR UPDATE"  # nobody changes the row between read and write
    cur.execute(sql_text(select_run, mark), (run_id,))
    row = cur.fetchone()
    check_run_active(run_id, row[8] if row else None)
    if not values:
        return run_info(row)
    update_sql = "UPDATE runs SET " + ", ".join(f"{c} = ?" for c in values) + " WHERE run_uuid = ?"
    cur.execute(sql_text(update_sql, mark), (*values.values(), run_id))
    name = values.get("name")
    if name:
        _execute_rows(cur, mark, _UPSERT_TAGS, [(run_id, RUN_NAME_TAG, name)])
    # The row as it is now, from the values just written (no read back).
    run_uuid, old_name, exp_id, user, old_status, start, old_end, uri, stage = row
    return run_info(
        (
            run_uuid,
            values.get("name", old_name),
            exp_id,
            user,
            values.get("status", old_status),
            start,
            values.get("end_time", old_end),
            uri,
            stage,
        )
    )


def log_batch(cur: Any, mark: str, dialect: str, run_id: str, batch: Batch) -> None:
    """Write a checked batch to an active run."""
    check_active_run(cur, mark, run_id)
    if batch.params:
        _insert_params(cur, mark, run_id, batch.params)
    if batch.points is not None:
        _insert_metrics(cur, mark, dialect, run_id, batch.points)
    if batch.tags:
        _upsert_tags(cur, mark, run_id, batch.tags)


def log_metric_points(cur: Any, mark: str, dialect: str, run_id: str, points: MetricPoints) -> None:
    """Write checked metric points to an active run."""
    check_active_run(cur, mark, run_id)
    _insert_metrics(cur, mark, dialect, run_id, points)


def check_active_run(cur: Any, mark: str, run_id: str) -> None:
    cur.execute(sql_text(_SELECT_RUN_STAGE, mark), (run_id,))
    row = cur.fetchone()
    check_run_active(run_id, row[0] if row else None)


def _execute_rows(cur: Any, mark: str, text: str, rows: Sequence[tuple[Any, ...]]) -> int:
    """`text` (holding `{values}`) for all `rows` as multi-row statements; rows changed."""
    width = len(rows[0])
    changed = 0
    for chunk in chunks(rows, ROWS_PER_INSERT):
        cur.execute(sql_text(text, mark, len(chunk), width), list(chain.from_iterable(chunk)))
        changed += cur.rowcount
    return changed


def _upsert_tags(cur: Any, mark: str, run_id: str, tags: dict[str, str]) -> None:
    _execute_rows(cur, mark, _UPSERT_TAGS, [(run_id, k, v) for k, v in tags.items()])
    if RUN_NAME_TAG in tags:
        cur.execute(sql_text(_SET_RUN_NAME, mark), (tags[RUN_NAME_TAG], run_id))


def _insert_params(cur: Any, mark: str, run_id: str, params: dict[str, str]) -> None:
    """Insert new params; keys already logged must hold the same value (params are
    immutable), also when another writer logged them a moment ago."""
    inserted = _execute_rows(cur, mark, _INSERT_PARAMS, [(run_id, k, v) for k, v in params.items()])
    if inserted == len(params):  # all new: the common case, one statement
        return
    existing: dict[str, str] = {}
    for chunk in chunks(list(params)):
        cur.execute(sql_text(_SELECT_PARAMS, mark, 1, len(chunk)), (run_id, *chunk))
        existing.update(cur.fetchall())
    changed = [(k, existing[k], v) for k, v in params.items() if existing.get(k, v) != v]
    if changed:
        detail = "; ".join(f"{k!r}: logged {old!r}, now {new!r}" for k, old, new in changed)
        raise InvalidParameterValue(
            f"Changing param values is not allowed. Params were already logged for run "
            f"{run_id} with other values ({detail}). Log a new run instead."
        )


def _insert_metrics(cur: Any, mark: str, dialect: str, run_id: str, points: MetricPoints) -> None:
    """Append metric points and move `latest_metrics` forward where they are newer."""
    keys, values, nan_flags = points.keys, points.values, points.nan_flags
    stamps, steps = points.stamps, points.steps
    flags: Iterable[bool] = nan_flags if nan_flags is not None else repeat(False)
    rows = zip(repeat(run_id), keys, values, flags, stamps, steps)
    if dialect == "sqlite" or len(keys) <= ROWS_PER_INSERT:
        # Multi-row VALUES binds the same values as executemany but steps the statement
        # once per chunk instead of once per row. A few points go this way on PostgreSQL
        # too: COPY takes extra round trips.
        flat = list(chain.from_iterable(rows))
        per = ROWS_PER_INSERT * 6
        for start in range(0, len(flat), per):
            part = flat[start : start + per]
            cur.execute(sql_text(_INSERT_METRICS, mark, len(part) // 6, 6), part)
    else:
        with cur.copy(_COPY_METRICS) as copy:
            for row in rows:
                copy.write_row(row)
    _execute_rows(
        cur,
        mark,
        _UPSERT_LATEST_METRICS,
        [
            (
                run_id,
                key,
                values[idx],
                bool(nan_flags[idx]) if nan_flags is not None else False,
                stamps[idx],
                steps[idx],
            )
            for key, idx in sorted(points.latest_idx.items())
        ],
    )


__all__ = [
    "ROWS_PER_INSERT",
    "Batch",
    "MetricPoints",
    "check_active_run",
    "create_run",
    "log_batch",
    "log_metric_points",
    "prepare_batch",
    "prepare_metric_columns",
    "sql_text",
    "update_run",
]
