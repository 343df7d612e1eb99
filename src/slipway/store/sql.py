"""The tracking store on SQL (SQLite by default, PostgreSQL): the only code that speaks SQL.

Semantics follow MLflow's SqlAlchemyStore so that an mlflow client sees the same answers:
experiment "0" is "Default", params are immutable, metric NaN is stored as `is_nan` and
+/-inf as +/-DBL_MAX, `latest_metrics` keeps the point with the greatest (step, timestamp,
value) per key. Every write is one transaction (see `slipway.store.db`), so a batch lands
whole or not at all.

Speed comes from Core statements and plain DBAPI calls instead of ORM objects: metric
columns go in as multi-row INSERTs of 1000 points (COPY on PostgreSQL), `latest_metrics` is
moved forward with one conditional upsert per key, and a search fetches the params, metrics
and tags of its whole page in a few `IN` queries. The calls every run makes (create, log,
end) run hand-written SQL on the bare DBAPI cursor (`run_in_cursor_transaction`): building
and compiling SQLAlchemy statements cost several times what SQLite spends on them. They
return what they wrote instead of reading it back.

The registry store (`sql_registry.py`) shares this module's public helpers `join_uri`,
`decode_metric_value` and `like_to_glob`.
"""

from __future__ import annotations

import functools
import math
import posixpath
import re
import sqlite3
import sys
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from itertools import chain, repeat
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    exists,
    false,
    insert,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError

from slipway.entities import (
    Dataset,
    DatasetInput,
    Experiment,
    LifecycleStage,
    Metric,
    PagedList,
    Param,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    Tag,
    ViewType,
    now_ms,
)
from slipway.errors import (
    InvalidParameterValue,
    InvalidState,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
)
from slipway.store import schema
from slipway.store.db import (
    create_engine_for,
    run_in_cursor_transaction,
    run_in_transaction,
    upgrade,
)
from slipway.store.interface import (
    MAX_ENTITY_KEY_LENGTH,
    MAX_EXPERIMENT_NAME_LENGTH,
    MAX_METRICS_PER_BATCH,
    MAX_PARAM_VAL_LENGTH,
    MAX_PARAMS_TAGS_PER_BATCH,
    MAX_TAG_VAL_LENGTH,
    SEARCH_MAX_RESULTS_DEFAULT,
    SEARCH_MAX_RESULTS_THRESHOLD,
    TrackingStore,
)
from slipway.store.names import generate_run_name
from slipway.store.search import (
    ATTRIBUTE,
    DATASET,
    METRIC,
    PARAM,
    TAG,
    Comparison,
    OrderKey,
    decode_page_token,
    encode_page_token,
    parse_filter,
    parse_order_by_list,
)

T = TypeVar("T")

RUN_NAME_TAG = "mlflow.runName"
DATASET_CONTEXT_TAG = "mlflow.data.context"
DEFAULT_EXPERIMENT_ID = 0
DEFAULT_EXPERIMENT_NAME = "Default"
MAX_RUN_NAME_LENGTH = 250
MAX_ARTIFACT_LOCATION_LENGTH = 2000
MAX_DATASET_NAME_LENGTH = 500
MAX_DATASET_DIGEST_LENGTH = 36
MAX_DATASET_SOURCE_TYPE_LENGTH = 36
MAX_INPUT_TAG_KEY_LENGTH = 255
MAX_INPUT_TAG_VALUE_LENGTH = 500
MAX_MODEL_ID_LENGTH = 64
_DBL_MAX = sys.float_info.max
# Bind-parameter budget per IN query (SQLite allows 32766 variables).
_IN_CHUNK = 900
# Rows per multi-row INSERT (up to 6 variables each; older SQLite allows only 999).
_ROWS_PER_INSERT = 1000 if sqlite3.sqlite_version_info >= (3, 32) else 160
# SQLite planner statistics are refreshed from this many runs on (see _refresh_planner_stats).
_ANALYZE_MIN_RUNS = 1000
_KEY_RE = re.compile(r"^[\w\-. /:]*$")

_e, _r = schema.experiments, schema.runs
_RUN_ATTRIBUTE_COLUMNS = {
    "run_id": _r.c.run_uuid,
    "run_name": _r.c.name,
    "status": _r.c.status,
    "user_id": _r.c.user_id,
    "artifact_uri": _r.c.artifact_uri,
    "lifecycle_stage": _r.c.lifecycle_stage,
    "start_time": _r.c.start_time,
    "end_time": _r.c.end_time,
    "experiment_id": _r.c.experiment_id,
}
_EXPERIMENT_ATTRIBUTE_COLUMNS = {
    "name": _e.c.name,
    "creation_time": _e.c.creation_time,
    "last_update_time": _e.c.last_update_time,
    "experiment_id": _e.c.experiment_id,
}
_RUN_COLUMNS = (
    _r.c.run_uuid,
    _r.c.name,
    _r.c.experiment_id,
    _r.c.user_id,
    _r.c.status,
    _r.c.start_time,
    _r.c.end_time,
    _r.c.artifact_uri,
    _r.c.lifecycle_stage,
)
# The statements every run makes (create, log params/metrics/tags, end), written for the
# DBAPI cursor: SQLAlchemy's per-statement work costs more than SQLite's here. `?` is a
# placeholder (see `_sql`); `{values}` a list of row groups.
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
# Moves each key's latest point forward only when the new one is greater in (step,
# timestamp, value), as MLflow orders them.
_UPSERT_LATEST_METRICS = (
    "INSERT INTO latest_metrics (run_uuid, key, value, is_nan, timestamp, step) VALUES {values} "
    "ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value, "
    "is_nan = excluded.is_nan, timestamp = excluded.timestamp, step = excluded.step "
    "WHERE (excluded.step, excluded.timestamp, excluded.value) > "
    "(latest_metrics.step, latest_metrics.timestamp, latest_metrics.value)"
)


# --- small pure helpers ----------------------------------------------------------------


def join_uri(base: str, *parts: str) -> str:
    """Append path parts to a local path or URL without doubling slashes.

    `mlflow-artifacts:/` + `0` gives `mlflow-artifacts:/0`; `s3://b/x/` + `0` gives `s3://b/x/0`.
    """
    out = base
    for part in parts:
        out = out + part if out.endswith("/") else f"{out}/{part}"
    return out


def _normalize_root(root: str) -> str:
    """A plain local path becomes absolute; a URL (`s3://`, `mlflow-artifacts:/`) is kept."""
    if re.match(r"^[A-Za-z][A-Za-z0-9+.\-]+:", root):
        return root
    return str(Path(root).expanduser().absolute())


def _sanitize(value: float) -> tuple[float, bool]:
    """(stored value, is_nan): NaN is stored as 0 with is_nan, +/-inf as +/-DBL_MAX."""
    if math.isnan(value):
        return 0.0, True
    if math.isinf(value):
        return (_DBL_MAX if value > 0 else -_DBL_MAX), False
    return value, False


def decode_metric_value(value: float | None, is_nan: bool) -> float:
    """A stored metric value back as the float that was logged (NaN, +/-inf included)."""
    if is_nan or value is None:
        return math.nan
    if value >= _DBL_MAX:
        return math.inf
    if value <= -_DBL_MAX:
        return -math.inf
    return float(value)


def _chunks(items: Sequence[T], size: int = _IN_CHUNK) -> Iterable[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _validate_key(kind: str, key: Any) -> str:
    """MLflow's rules: short, safe characters, and no path tricks (keys may become paths)."""
    if not isinstance(key, str) or not key:
        raise InvalidParameterValue(f"{kind} key must be a non-empty string, got {key!r}.")
    if len(key) > MAX_ENTITY_KEY_LENGTH:
        raise InvalidParameterValue(
            f"{kind} key {key[:60]!r}... is {len(key)} characters long; the limit is "
            f"{MAX_ENTITY_KEY_LENGTH}."
        )
    if not _KEY_RE.match(key):
        raise InvalidParameterValue(
            f"Invalid {kind.lower()} key {key!r}: keys may only contain alphanumerics, "
            "underscores (_), dashes (-), periods (.), spaces ( ), colons (:) and slashes (/)."
        )
    norm = posixpath.normpath(key)
    if norm != key or norm == "." or norm.startswith(("..", "/")):
        raise InvalidParameterValue(
            f"Invalid {kind.lower()} key {key!r}: keys may be used as file paths, so they must "
            f"not start with '/', contain '..' or empty segments, or end with '/'."
        )
    return key


def _validate_value(kind: str, key: str, value: Any, limit: int) -> str:
    text = "" if value is None else str(value)
    if len(text) > limit:
        raise InvalidParameterValue(
            f"{kind} value for key {key!r} is {len(text)} characters long; the limit is {limit}."
        )
    return text


def _validate_metric(m: Metric, where: str = "") -> tuple[str, float, int, int]:
    key = _validate_key("Metric", m.key)
    if isinstance(m.value, bool) or not isinstance(m.value, int | float):
        try:
            value = float(m.value)
        except (TypeError, ValueError):
            raise InvalidParameterValue(
                f"Metric {key!r}{where} has value {m.value!r}; it must be a number."
            ) from None
    else:
        value = float(m.value)
    try:
        timestamp, step = int(m.timestamp), int(m.step)
    except (TypeError, ValueError):
        raise InvalidParameterValue(
            f"Metric {key!r}{where}: timestamp and step must be integers, got "
            f"{m.timestamp!r} and {m.step!r}."
        ) from None
    if timestamp < 0:
        raise InvalidParameterValue(
            f"Metric {key!r}{where} has timestamp {timestamp}; it must be >= 0 (epoch ms)."
        )
    return key, value, timestamp, step


def _parse_experiment_id(experiment_id: Any) -> int:
    try:
        value = int(str(experiment_id))
    except (TypeError, ValueError):
        raise InvalidParameterValue(
            f"Invalid experiment id {experiment_id!r}: experiment ids are integers."
        ) from None
    if value < 0:
        raise InvalidParameterValue(f"Invalid experiment id {experiment_id!r}.")
    return value


def _validate_experiment_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameterValue(
            f"Invalid experiment name {name!r}: it must be a non-empty string."
        )
    if len(name) > MAX_EXPERIMENT_NAME_LENGTH:
        raise InvalidParameterValue(
            f"Experiment name is {len(name)} characters long; the limit is "
            f"{MAX_EXPERIMENT_NAME_LENGTH}."
        )
    return name


def _validate_run_name(name: Any) -> str:
    text = str(name)
    if len(text) > MAX_RUN_NAME_LENGTH:
        raise InvalidParameterValue(
            f"Run name is {len(text)} characters long; the limit is {MAX_RUN_NAME_LENGTH}."
        )
    return text


def _validate_status(status: Any) -> str:
    text = status.value if isinstance(status, RunStatus) else str(status).upper()
    try:
        return RunStatus(text).value
    except ValueError:
        raise InvalidParameterValue(
            f"Invalid run status {status!r}; use one of {', '.join(s.value for s in RunStatus)}."
        ) from None


def _validate_max_results(max_results: Any, limit: int = SEARCH_MAX_RESULTS_THRESHOLD) -> int:
    if max_results is None:
        return min(SEARCH_MAX_RESULTS_DEFAULT, limit)
    if isinstance(max_results, bool):
        max_results = "bool"
    try:
        value = int(max_results)
    except (TypeError, ValueError):
        raise InvalidParameterValue(
            f"Invalid max_results {max_results!r}: it must be an integer from 1 to {limit}."
        ) from None
    if value < 1 or value > limit:
        raise InvalidParameterValue(f"Invalid max_results {value}: it must be from 1 to {limit}.")
    return value


def _view_type(value: Any) -> ViewType:
    try:
        return ViewType.parse(value)
    except (ValueError, KeyError):
        raise InvalidParameterValue(
            f"Invalid view type {value!r}; use ACTIVE_ONLY, DELETED_ONLY or ALL."
        ) from None


def _as_list(column: Any) -> list[Any]:
    """NumPy arrays and other sequences as a plain list (NumPy scalars do not bind)."""
    if hasattr(column, "tolist"):
        return column.tolist()
    return column if isinstance(column, list) else list(column)


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


@functools.lru_cache(maxsize=256)
def _sql(text: str, mark: str, rows: int = 0, width: int = 0) -> str:
    """Hand-written SQL for the hot paths, in the driver's placeholder style.

    `text` is written with `?` (SQLite's qmark); psycopg takes `%s`. With `rows`, its
    `{values}` becomes that many `(?, ...)` groups of `width` (a multi-row VALUES, or one
    group as an IN list). Cached: the hot paths ask for the same few strings every call.
    """
    if rows:
        group = "(" + ",".join("?" * width) + ")"
        text = text.replace("{values}", ",".join([group] * rows))
    return text if mark == "?" else text.replace("?", mark)


def _check_active(run_id: str, stage: str | None) -> None:
    """Raise unless a run was found (`stage` is its lifecycle stage) and is active."""
    if stage is None:
        raise ResourceDoesNotExist(f"Run with id={run_id} not found.")
    if stage != LifecycleStage.ACTIVE.value:
        raise InvalidParameterValue(
            f"The run {run_id} must be in the 'active' state. Current state is "
            f"{stage}; restore it (or its experiment) first."
        )


def like_to_glob(pattern: str) -> str:
    """Translate a LIKE pattern (`%`, `_`, backslash escapes) to SQLite's case-sensitive GLOB."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            c = pattern[i + 1]
            out.append(f"[{c}]" if c in "*?[" else c)
            i += 2
            continue
        if c == "%":
            out.append("*")
        elif c == "_":
            out.append("?")
        else:
            out.append(f"[{c}]" if c in "*?[" else c)
        i += 1
    return "".join(out)


# --- the store -------------------------------------------------------------------------


class SqlTrackingStore(TrackingStore):
    """Experiments, runs, params, metrics, tags and dataset inputs in one SQL database."""

    def __init__(self, db_uri: str, default_artifact_root: str) -> None:
        self.db_uri = db_uri
        self.default_artifact_root = _normalize_root(default_artifact_root)
        self.engine = create_engine_for(db_uri)
        self.dialect = self.engine.dialect.name
        self._mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        upgrade(self.engine)
        self._ensure_default_experiment()
        self._runs_created = 0
        self._refresh_planner_stats()

    # --- plumbing --------------------------------------------------------------------
    def _write(self, fn: Callable[[Connection], T]) -> T:
        return run_in_transaction(self.engine, fn, write=True)

    def _read(self, fn: Callable[[Connection], T]) -> T:
        return run_in_transaction(self.engine, fn, write=False)

    def _write_cursor(self, fn: Callable[[Any], T]) -> T:
        """A write transaction around `fn(cursor)`: the hot paths' plain DBAPI statements."""
        return run_in_cursor_transaction(self.engine, fn, write=True)

    def _execute_rows(self, cur: Any, text: str, rows: Sequence[tuple[Any, ...]]) -> int:
        """`text` (holding `{values}`) for all `rows` as multi-row statements; rows changed."""
        width = len(rows[0])
        changed = 0
        for chunk in _chunks(rows, _ROWS_PER_INSERT):
            cur.execute(_sql(text, self._mark, len(chunk), width), list(chain.from_iterable(chunk)))
            changed += cur.rowcount
        return changed

    def _check_active_run(self, cur: Any, run_id: str) -> None:
        cur.execute(_sql(_SELECT_RUN_STAGE, self._mark), (run_id,))
        row = cur.fetchone()
        _check_active(run_id, row[0] if row else None)

    def _insert(self, table: Any) -> Any:
        """A dialect insert (for ON CONFLICT) on `table`."""
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(table)
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)

    def close(self) -> None:
        self.engine.dispose()

    def _refresh_planner_stats(self) -> None:
        """SQLite: sample table statistics when missing or stale (the runs table doubled).

        Without statistics SQLite's planner may start a filtered search from a metric range
        instead of the most selective param/tag equality; sampled `ANALYZE` (at most ~1000
        rows per index) takes milliseconds and makes 10k-run searches about twice as fast.
        """
        if self.dialect != "sqlite":
            return

        def stale(conn: Connection) -> bool:
            runs_now = conn.exec_driver_sql("SELECT max(rowid) FROM runs").scalar() or 0
            if runs_now < _ANALYZE_MIN_RUNS:
                return False
            if not conn.exec_driver_sql(
                "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'"
            ).first():
                return True
            stat = conn.exec_driver_sql(
                "SELECT stat FROM sqlite_stat1 WHERE tbl = 'runs' "
                "AND idx = 'ix_runs_experiment_start'"
            ).scalar()
            analyzed = int(stat.split()[0]) if stat else 0
            return runs_now > 2 * analyzed

        if not self._read(stale):
            return

        def analyze(conn: Connection) -> None:
            conn.exec_driver_sql("PRAGMA analysis_limit=1000")
            conn.exec_driver_sql("ANALYZE")

        self._write(analyze)

    def _ensure_default_experiment(self) -> None:
        def exists_(conn: Connection) -> bool:
            q = select(_e.c.experiment_id).where(_e.c.experiment_id == DEFAULT_EXPERIMENT_ID)
            return conn.execute(q).first() is not None

        if self._read(exists_):
            return

        def create(conn: Connection) -> None:
            now = now_ms()
            conn.execute(
                self._insert(_e)
                .values(
                    experiment_id=DEFAULT_EXPERIMENT_ID,
                    name=DEFAULT_EXPERIMENT_NAME,
                    artifact_location=join_uri(
                        self.default_artifact_root, str(DEFAULT_EXPERIMENT_ID)
                    ),
                    lifecycle_stage=LifecycleStage.ACTIVE.value,
                    creation_time=now,
                    last_update_time=now,
                )
                .on_conflict_do_nothing()
            )

        self._write(create)

    # --- experiments -----------------------------------------------------------------
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: dict[str, str] | None = None
    ) -> str:
        name = _validate_experiment_name(name)
        tag_rows = [
            {
                "key": _validate_key("Tag", k),
                "value": _validate_value("Tag", k, v, MAX_TAG_VAL_LENGTH),
            }
            for k, v in (tags or {}).items()
        ]
        if artifact_location:
            artifact_location = _normalize_root(artifact_location)
            if len(artifact_location) > MAX_ARTIFACT_LOCATION_LENGTH:
                raise InvalidParameterValue(
                    f"artifact_location is longer than {MAX_ARTIFACT_LOCATION_LENGTH} characters."
                )

        def fn(conn: Connection) -> str:
            if conn.execute(select(_e.c.experiment_id).where(_e.c.name == name)).first():
                raise ResourceAlreadyExists(f"Experiment(name={name}) already exists.")
            now = now_ms()
            try:
                exp_id = conn.execute(
                    insert(_e)
                    .values(
                        name=name,
                        artifact_location=artifact_location or "",
                        lifecycle_stage=LifecycleStage.ACTIVE.value,
                        creation_time=now,
                        last_update_time=now,
                    )
                    .returning(_e.c.experiment_id)
                ).scalar_one()
            except IntegrityError:
                raise ResourceAlreadyExists(f"Experiment(name={name}) already exists.") from None
            if not artifact_location:
                conn.execute(
                    update(_e)
                    .where(_e.c.experiment_id == exp_id)
                    .values(artifact_location=join_uri(self.default_artifact_root, str(exp_id)))
                )
            if tag_rows:
                conn.execute(
                    insert(schema.experiment_tags),
                    [{"experiment_id": exp_id, **row} for row in tag_rows],
                )
            return str(exp_id)

        return self._write(fn)

    def _experiments_from_rows(self, conn: Connection, rows: Sequence[Any]) -> list[Experiment]:
        ids = [row.experiment_id for row in rows]
        tags: dict[int, dict[str, str]] = defaultdict(dict)
        et = schema.experiment_tags
        for chunk in _chunks(ids):
            q = select(et.c.experiment_id, et.c.key, et.c.value).where(
                et.c.experiment_id.in_(chunk)
            )
            for exp_id, key, value in conn.execute(q):
                tags[exp_id][key] = value if value is not None else ""
        return [
            Experiment(
                experiment_id=str(row.experiment_id),
                name=row.name,
                artifact_location=row.artifact_location,
                lifecycle_stage=row.lifecycle_stage,
                creation_time=row.creation_time,
                last_update_time=row.last_update_time,
                tags=dict(tags.get(row.experiment_id, {})),
            )
            for row in rows
        ]

    def _experiment_row(self, conn: Connection, experiment_id: Any) -> Any:
        exp_id = _parse_experiment_id(experiment_id)
        row = conn.execute(select(_e).where(_e.c.experiment_id == exp_id)).first()
        if row is None:
            raise ResourceDoesNotExist(f"No Experiment with id={experiment_id} exists.")
        return row

    def get_experiment(self, experiment_id: str) -> Experiment:
        def fn(conn: Connection) -> Experiment:
            return self._experiments_from_rows(conn, [self._experiment_row(conn, experiment_id)])[0]

        return self._read(fn)

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        def fn(conn: Connection) -> Experiment | None:
            row = conn.execute(select(_e).where(_e.c.name == name)).first()
            return self._experiments_from_rows(conn, [row])[0] if row else None

        return self._read(fn)

    def search_experiments(
        self,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Experiment]:
        max_results = _validate_max_results(max_results)
        stages = _view_type(view_type).stages()
        comparisons = parse_filter(filter_string, target="experiments")
        order_keys = parse_order_by_list(order_by, target="experiments")
        offset = decode_page_token(page_token)

        et = schema.experiment_tags
        conds: list[ColumnElement[bool]] = [_e.c.lifecycle_stage.in_(stages)]
        for cmp in comparisons:
            if cmp.entity_type == ATTRIBUTE:
                conds.append(self._compare(_EXPERIMENT_ATTRIBUTE_COLUMNS[cmp.key], cmp))
                continue
            t = et.alias()
            match = and_(t.c.experiment_id == _e.c.experiment_id, t.c.key == cmp.key)
            if cmp.op == "IS NULL":
                conds.append(~exists().where(match))
            elif cmp.op == "IS NOT NULL":
                conds.append(exists().where(match))
            else:
                conds.append(exists().where(match, self._compare(t.c.value, cmp)))
        query = select(_e).where(*conds)
        order: list[Any] = []
        for key in order_keys:
            if key.entity_type == ATTRIBUTE:
                col = _EXPERIMENT_ATTRIBUTE_COLUMNS[key.key]
            else:
                t = et.alias()
                query = query.outerjoin(
                    t, and_(t.c.experiment_id == _e.c.experiment_id, t.c.key == key.key)
                )
                col = t.c.value
            order.extend(self._order_terms(col, key.ascending))
        if not order_keys:
            order.append(_e.c.creation_time.desc())
        order.append(_e.c.experiment_id.asc())
        query = query.order_by(*order).offset(offset).limit(max_results + 1)

        def fn(conn: Connection) -> PagedList[Experiment]:
            rows = conn.execute(query).all()
            token = encode_page_token(offset + max_results) if len(rows) > max_results else None
            return PagedList(self._experiments_from_rows(conn, rows[:max_results]), token)

        return self._read(fn)

    def delete_experiment(self, experiment_id: str) -> None:
        if _parse_experiment_id(experiment_id) == DEFAULT_EXPERIMENT_ID:
            raise InvalidParameterValue(
                "The Default experiment (id 0) cannot be deleted; it holds runs that name no "
                "experiment. Delete its runs instead."
            )

        def fn(conn: Connection) -> None:
            row = self._experiment_row(conn, experiment_id)
            if row.lifecycle_stage == LifecycleStage.DELETED.value:
                return
            now = now_ms()
            conn.execute(
                update(_e)
                .where(_e.c.experiment_id == row.experiment_id)
                .values(lifecycle_stage=LifecycleStage.DELETED.value, last_update_time=now)
            )
            conn.execute(
                update(_r)
                .where(
                    _r.c.experiment_id == row.experiment_id,
                    _r.c.lifecycle_stage == LifecycleStage.ACTIVE.value,
                )
                .values(lifecycle_stage=LifecycleStage.DELETED.value, deleted_time=now)
            )

        self._write(fn)

    def restore_experiment(self, experiment_id: str) -> None:
        def fn(conn: Connection) -> None:
            row = self._experiment_row(conn, experiment_id)
            if row.lifecycle_stage == LifecycleStage.ACTIVE.value:
                return
            conn.execute(
                update(_e)
                .where(_e.c.experiment_id == row.experiment_id)
                .values(lifecycle_stage=LifecycleStage.ACTIVE.value, last_update_time=now_ms())
            )
            # As MLflow: every run of the experiment comes back.
            conn.execute(
                update(_r)
                .where(
                    _r.c.experiment_id == row.experiment_id,
                    _r.c.lifecycle_stage == LifecycleStage.DELETED.value,
                )
                .values(lifecycle_stage=LifecycleStage.ACTIVE.value, deleted_time=None)
            )

        self._write(fn)

    def _active_experiment_row(self, conn: Connection, experiment_id: Any, action: str) -> Any:
        row = self._experiment_row(conn, experiment_id)
        if row.lifecycle_stage != LifecycleStage.ACTIVE.value:
            raise InvalidState(
                f"Cannot {action}: the experiment {experiment_id} is deleted "
                "(it must be in the 'active' state). Restore it first."
            )
        return row

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        new_name = _validate_experiment_name(new_name)

        def fn(conn: Connection) -> None:
            row = self._active_experiment_row(conn, experiment_id, "rename it")
            if row.name == new_name:
                return
            taken = conn.execute(select(_e.c.experiment_id).where(_e.c.name == new_name)).first()
            if taken:
                raise ResourceAlreadyExists(f"Experiment(name={new_name}) already exists.")
            try:
                conn.execute(
                    update(_e)
                    .where(_e.c.experiment_id == row.experiment_id)
                    .values(name=new_name, last_update_time=now_ms())
                )
            except IntegrityError:
                msg = f"Experiment(name={new_name}) already exists."
                raise ResourceAlreadyExists(msg) from None

        self._write(fn)

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        key = _validate_key("Tag", key)
        value = _validate_value("Tag", key, value, MAX_TAG_VAL_LENGTH)
        et = schema.experiment_tags

        def fn(conn: Connection) -> None:
            row = self._active_experiment_row(conn, experiment_id, "set a tag")
            stmt = self._insert(et).values(experiment_id=row.experiment_id, key=key, value=value)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[et.c.experiment_id, et.c.key], set_={"value": value}
                )
            )
            conn.execute(
                update(_e)
                .where(_e.c.experiment_id == row.experiment_id)
                .values(last_update_time=now_ms())
            )

        self._write(fn)

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        et = schema.experiment_tags

        def fn(conn: Connection) -> None:
            row = self._active_experiment_row(conn, experiment_id, "delete a tag")
            deleted = conn.execute(
                et.delete().where(et.c.experiment_id == row.experiment_id, et.c.key == key)
            ).rowcount
            if not deleted:
                raise ResourceDoesNotExist(
                    f"No tag with name: {key} in experiment with id {experiment_id}."
                )

        self._write(fn)

    # --- runs ------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        user_id: str,
        start_time: int,
        tags: dict[str, str] | None = None,
        run_name: str | None = None,
    ) -> Run:
        tags = {
            _validate_key("Tag", k): _validate_value("Tag", k, v, MAX_TAG_VAL_LENGTH)
            for k, v in (tags or {}).items()
        }
        tag_name = tags.get(RUN_NAME_TAG)
        if run_name and tag_name and run_name != tag_name:
            raise InvalidParameterValue(
                f"Both run_name={run_name!r} and the tag {RUN_NAME_TAG}={tag_name!r} were given "
                "with different values; give one of them."
            )
        name = _validate_run_name(run_name or tag_name or generate_run_name())
        tags[RUN_NAME_TAG] = name
        start = int(start_time) if start_time is not None else now_ms()
        exp_key = DEFAULT_EXPERIMENT_ID if experiment_id is None else experiment_id
        exp_id = _parse_experiment_id(exp_key)
        user_id = user_id or ""
        mark = self._mark

        def fn(cur: Any) -> RunInfo:
            cur.execute(_sql(_SELECT_EXPERIMENT_FOR_RUN, mark), (exp_id,))
            exp = cur.fetchone()
            if exp is None:
                raise ResourceDoesNotExist(f"No Experiment with id={exp_key} exists.")
            artifact_location, stage = exp
            if stage != LifecycleStage.ACTIVE.value:
                raise InvalidParameterValue(
                    f"The experiment {exp_id} must be in the 'active' state to create "
                    f"runs in it. Current state is {stage}; restore it first."
                )
            run_id = uuid.uuid4().hex
            info = RunInfo(
                run_id=run_id,
                experiment_id=str(exp_id),
                run_name=name,
                user_id=user_id,
                status=RunStatus.RUNNING.value,
                start_time=start,
                end_time=None,
                artifact_uri=join_uri(artifact_location, run_id, "artifacts"),
                lifecycle_stage=LifecycleStage.ACTIVE.value,
            )
            cur.execute(
                _sql(_INSERT_RUN, mark),
                (
                    run_id,
                    name,
                    exp_id,
                    user_id,
                    info.status,
                    start,
                    info.artifact_uri,
                    info.lifecycle_stage,
                ),
            )
            self._execute_rows(cur, _INSERT_TAGS, [(run_id, k, v) for k, v in tags.items()])
            return info

        info = self._write_cursor(fn)
        self._runs_created += 1
        if self._runs_created % _ANALYZE_MIN_RUNS == 0:
            self._refresh_planner_stats()
        # A new run holds just what was written: no need to read it back.
        return Run(info=info, data=RunData(tags=tags))

    def _run_row(self, conn: Connection, run_id: str) -> Any:
        row = conn.execute(select(*_RUN_COLUMNS).where(_r.c.run_uuid == str(run_id))).first()
        if row is None:
            raise ResourceDoesNotExist(f"Run with id={run_id} not found.")
        return row

    def _active_run_row(self, conn: Connection, run_id: str) -> Any:
        row = conn.execute(
            select(_r.c.run_uuid, _r.c.lifecycle_stage).where(_r.c.run_uuid == str(run_id))
        ).first()
        _check_active(run_id, row.lifecycle_stage if row else None)
        return row

    @staticmethod
    def _run_info(row: Any) -> RunInfo:
        """RunInfo from a row of `_RUN_COLUMNS` (unpacked by position: named access is slow)."""
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

    @staticmethod
    def _fetch_in(conn: Connection, sql: str, ids: Sequence[str]) -> list[tuple[Any, ...]]:
        """Rows of `sql`, whose `{ids}` becomes one placeholder per id (in chunks).

        Plain DBAPI: building a page of runs is a few of these, and SQLAlchemy's per-call
        IN expansion and row objects would cost more than the queries themselves.
        """
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        out: list[tuple[Any, ...]] = []
        cur = conn.connection.cursor()
        try:
            for chunk in _chunks(ids):
                cur.execute(sql.format(ids=",".join([mark] * len(chunk))), tuple(chunk))
                out.extend(cur.fetchall())
        finally:
            cur.close()
        return out

    def _runs_from_rows(self, conn: Connection, rows: Sequence[Any]) -> list[Run]:
        """Whole Run objects for a page of run rows, in a handful of batched queries."""
        ids = [row[0] for row in rows]
        params: dict[str, dict[str, str]] = defaultdict(dict)
        tags: dict[str, dict[str, str]] = defaultdict(dict)
        metrics: dict[str, list[Metric]] = defaultdict(list)
        inputs: dict[str, list[DatasetInput]] = defaultdict(list)
        outputs: dict[str, list[dict[str, Any]]] = defaultdict(list)
        fetch = self._fetch_in
        for run_id, key, value in fetch(
            conn, "SELECT run_uuid, key, value FROM params WHERE run_uuid IN ({ids})", ids
        ):
            params[run_id][key] = value
        for run_id, key, value in fetch(
            conn, "SELECT run_uuid, key, value FROM tags WHERE run_uuid IN ({ids})", ids
        ):
            tags[run_id][key] = value if value is not None else ""
        for run_id, key, value, is_nan, stamp, step in fetch(
            conn,
            "SELECT run_uuid, key, value, is_nan, timestamp, step FROM latest_metrics "
            "WHERE run_uuid IN ({ids})",
            ids,
        ):
            metrics[run_id].append(Metric(key, decode_metric_value(value, is_nan), stamp, step))
        input_rows = fetch(
            conn,
            "SELECT i.destination_id, i.input_uuid, d.name, d.digest, d.source_type, d.source, "
            "d.schema, d.profile FROM inputs i JOIN datasets d ON d.dataset_uuid = i.source_id "
            "WHERE i.destination_type = 'RUN' AND i.destination_id IN ({ids}) "
            "ORDER BY i.destination_id, d.name, d.digest",
            ids,
        )
        if input_rows:
            input_tags: dict[str, dict[str, str]] = defaultdict(dict)
            for input_uuid, name, value in fetch(
                conn,
                "SELECT input_uuid, name, value FROM input_tags WHERE input_uuid IN ({ids})",
                [r[1] for r in input_rows],
            ):
                input_tags[input_uuid][name] = value
            for (
                run_id,
                input_uuid,
                name,
                digest,
                source_type,
                source,
                ds_schema,
                profile,
            ) in input_rows:
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
        for run_id, model_id, step in fetch(
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
                    info=self._run_info(row),
                    data=data,
                    inputs=inputs.get(rid, []),
                    model_outputs=outputs.get(rid, []),
                )
            )
        return out

    def get_run(self, run_id: str) -> Run:
        def fn(conn: Connection) -> Run:
            return self._runs_from_rows(conn, [self._run_row(conn, run_id)])[0]

        return self._read(fn)

    def update_run_info(
        self,
        run_id: str,
        status: str | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo:
        values: dict[str, Any] = {}
        if status is not None:
            values["status"] = _validate_status(status)
        if end_time is not None:
            values["end_time"] = int(end_time)
        name = _validate_run_name(run_name) if run_name else None
        if name:
            values["name"] = name
        run_id = str(run_id)
        mark = self._mark
        select_run = _SELECT_RUN
        if values and self.dialect == "postgresql":
            select_run += " FOR UPDATE"  # nobody changes the row between read and write
        update_run = "UPDATE runs SET " + ", ".join(f"{c} = ?" for c in values)
        update_run += " WHERE run_uuid = ?"

        def fn(cur: Any) -> RunInfo:
            cur.execute(_sql(select_run, mark), (run_id,))
            row = cur.fetchone()
            _check_active(run_id, row[8] if row else None)
            if not values:
                return self._run_info(row)
            cur.execute(_sql(update_run, mark), (*values.values(), run_id))
            if name:
                self._execute_rows(cur, _UPSERT_TAGS, [(run_id, RUN_NAME_TAG, name)])
            # The row as it is now, from the values just written (no read back).
            run_uuid, old_name, exp_id, user, old_status, start, old_end, uri, stage = row
            return self._run_info(
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

        return self._write_cursor(fn)

    def delete_run(self, run_id: str) -> None:
        def fn(conn: Connection) -> None:
            self._run_row(conn, run_id)
            conn.execute(
                update(_r)
                .where(_r.c.run_uuid == run_id)
                .values(lifecycle_stage=LifecycleStage.DELETED.value, deleted_time=now_ms())
            )

        self._write(fn)

    def restore_run(self, run_id: str) -> None:
        def fn(conn: Connection) -> None:
            row = self._run_row(conn, run_id)
            exp = self._experiment_row(conn, row.experiment_id)
            if exp.lifecycle_stage != LifecycleStage.ACTIVE.value:
                raise InvalidState(
                    f"Cannot restore run {run_id}: its experiment {exp.experiment_id} is "
                    "deleted. Restore the experiment (which restores its runs) instead."
                )
            conn.execute(
                update(_r)
                .where(_r.c.run_uuid == run_id)
                .values(lifecycle_stage=LifecycleStage.ACTIVE.value, deleted_time=None)
            )

        self._write(fn)

    # --- logging ---------------------------------------------------------------------
    def _upsert_tags(self, cur: Any, run_id: str, tags: dict[str, str]) -> None:
        self._execute_rows(cur, _UPSERT_TAGS, [(run_id, k, v) for k, v in tags.items()])
        if RUN_NAME_TAG in tags:
            cur.execute(_sql(_SET_RUN_NAME, self._mark), (tags[RUN_NAME_TAG], run_id))

    def _insert_params(self, cur: Any, run_id: str, params: dict[str, str]) -> None:
        """Insert new params; keys already logged must hold the same value (params are
        immutable), also when another writer logged them a moment ago."""
        inserted = self._execute_rows(
            cur, _INSERT_PARAMS, [(run_id, k, v) for k, v in params.items()]
        )
        if inserted == len(params):  # all new: the common case, one statement
            return
        existing: dict[str, str] = {}
        for chunk in _chunks(list(params)):
            cur.execute(_sql(_SELECT_PARAMS, self._mark, 1, len(chunk)), (run_id, *chunk))
            existing.update(cur.fetchall())
        changed = [(k, existing[k], v) for k, v in params.items() if existing.get(k, v) != v]
        if changed:
            detail = "; ".join(f"{k!r}: logged {old!r}, now {new!r}" for k, old, new in changed)
            raise InvalidParameterValue(
                f"Changing param values is not allowed. Params were already logged for run "
                f"{run_id} with other values ({detail}). Log a new run instead."
            )

    def _insert_metrics(
        self,
        cur: Any,
        run_id: str,
        keys: Sequence[str],
        values: Sequence[float],
        nan_flags: Sequence[bool] | None,
        stamps: Sequence[int],
        steps: Sequence[int],
        latest_idx: dict[str, int],
    ) -> None:
        """Append metric points and move `latest_metrics` forward where they are newer."""
        flags: Iterable[bool] = nan_flags if nan_flags is not None else repeat(False)
        rows = zip(repeat(run_id), keys, values, flags, stamps, steps)
        if self.dialect == "sqlite" or len(keys) <= _ROWS_PER_INSERT:
            # Multi-row VALUES binds the same values as executemany but steps the statement
            # once per chunk instead of once per row: half the time for 100k points. A few
            # points go this way on PostgreSQL too: COPY takes extra round trips.
            flat = list(chain.from_iterable(rows))
            per = _ROWS_PER_INSERT * 6
            for start in range(0, len(flat), per):
                part = flat[start : start + per]
                cur.execute(_sql(_INSERT_METRICS, self._mark, len(part) // 6, 6), part)
        else:
            with cur.copy(
                "COPY metrics (run_uuid, key, value, is_nan, timestamp, step) FROM STDIN"
            ) as copy:
                for row in rows:
                    copy.write_row(row)
        self._execute_rows(
            cur,
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
                for key, idx in sorted(latest_idx.items())
            ],
        )

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[Tag] = (),
    ) -> None:
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
            key = _validate_key("Param", p.key)
            value = _validate_value("Param", key, p.value, MAX_PARAM_VAL_LENGTH)
            if key in param_map and param_map[key] != value:
                raise InvalidParameterValue(
                    f"Param {key!r} appears twice in one batch with different values "
                    f"({param_map[key]!r} and {value!r}); params take one value per run."
                )
            param_map[key] = value
        tag_map = {
            _validate_key("Tag", t.key): _validate_value("Tag", t.key, t.value, MAX_TAG_VAL_LENGTH)
            for t in tags
        }
        if RUN_NAME_TAG in tag_map:
            _validate_run_name(tag_map[RUN_NAME_TAG])
        points = list(
            dict.fromkeys(
                _validate_metric(m, f" (metrics[{n}])" if len(metrics) > 1 else "")
                for n, m in enumerate(metrics)
            )
        )
        if points:
            keys = [pt[0] for pt in points]
            raw_values = [pt[1] for pt in points]
            stamps = [pt[2] for pt in points]
            steps = [pt[3] for pt in points]
            sanitized = [_sanitize(v) for v in raw_values]
            values = [s[0] for s in sanitized]
            nan_flags = [s[1] for s in sanitized]
            latest_idx = _latest_per_key(keys, steps, stamps, values)

        run_id = str(run_id)

        def fn(cur: Any) -> None:
            self._check_active_run(cur, run_id)
            if param_map:
                self._insert_params(cur, run_id, param_map)
            if points:
                self._insert_metrics(
                    cur, run_id, keys, values, nan_flags, stamps, steps, latest_idx
                )
            if tag_map:
                self._upsert_tags(cur, run_id, tag_map)

        self._write_cursor(fn)

    def log_metric_columns(
        self,
        run_id: str,
        keys: Sequence[str],
        values: Sequence[float],
        timestamps: Sequence[int],
        steps: Sequence[int],
    ) -> None:
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
            self._read(lambda conn: self._active_run_row(conn, run_id))
            return
        try:
            unique_keys = set(keys)
        except TypeError:
            raise InvalidParameterValue("Metric keys must be strings.") from None
        for key in unique_keys:
            _validate_key("Metric", key)
        try:
            vals = list(map(float, values))
        except (TypeError, ValueError):
            bad = next(v for v in values if not _is_number(v))
            raise InvalidParameterValue(
                f"Metric values must be numbers; got {bad!r} at position {values.index(bad)}."
            ) from None
        try:
            stamps = (
                timestamps
                if all(type(x) is int for x in timestamps)
                else list(map(int, timestamps))
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
            sanitized = [_sanitize(v) for v in vals]
            vals = [s[0] for s in sanitized]
            nan_flags = [s[1] for s in sanitized]
        latest_idx = _latest_per_key(keys, stps, stamps, vals)

        run_id = str(run_id)

        def fn(cur: Any) -> None:
            self._check_active_run(cur, run_id)
            self._insert_metrics(cur, run_id, keys, vals, nan_flags, stamps, stps, latest_idx)

        self._write_cursor(fn)

    def delete_tag(self, run_id: str, key: str) -> None:
        t = schema.tags

        def fn(conn: Connection) -> None:
            self._active_run_row(conn, run_id)
            deleted = conn.execute(t.delete().where(t.c.run_uuid == run_id, t.c.key == key))
            if not deleted.rowcount:
                raise ResourceDoesNotExist(f"No tag with name: {key} in run with id {run_id}.")

        self._write(fn)

    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput]) -> None:
        items = list(datasets or ())
        for item in items:
            ds = item.dataset
            for field_name, value, limit in (
                ("name", ds.name, MAX_DATASET_NAME_LENGTH),
                ("digest", ds.digest, MAX_DATASET_DIGEST_LENGTH),
                ("source_type", ds.source_type, MAX_DATASET_SOURCE_TYPE_LENGTH),
            ):
                if field_name != "source_type" and not value:
                    raise InvalidParameterValue(f"A dataset input needs a {field_name}.")
                if value and len(value) > limit:
                    raise InvalidParameterValue(
                        f"Dataset {field_name} {value[:60]!r} is longer than {limit} characters."
                    )
            for k, v in item.tags.items():
                if not k or len(k) > MAX_INPUT_TAG_KEY_LENGTH:
                    raise InvalidParameterValue(
                        f"Dataset input tag key {k!r} must be 1 to {MAX_INPUT_TAG_KEY_LENGTH} "
                        "characters."
                    )
                if len(str(v)) > MAX_INPUT_TAG_VALUE_LENGTH:
                    raise InvalidParameterValue(
                        f"Dataset input tag {k!r} is longer than {MAX_INPUT_TAG_VALUE_LENGTH} "
                        "characters."
                    )
        d, i, it = schema.datasets, schema.inputs, schema.input_tags

        def fn(conn: Connection) -> None:
            self._active_run_row(conn, run_id)
            exp_id = conn.execute(
                select(_r.c.experiment_id).where(_r.c.run_uuid == run_id)
            ).scalar_one()
            for item in items:
                ds = item.dataset
                dataset_uuid = conn.execute(
                    select(d.c.dataset_uuid).where(
                        d.c.experiment_id == exp_id, d.c.name == ds.name, d.c.digest == ds.digest
                    )
                ).scalar()
                if dataset_uuid is None:
                    dataset_uuid = uuid.uuid4().hex
                    conn.execute(
                        insert(d).values(
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
                    select(i.c.input_uuid).where(
                        i.c.source_id == dataset_uuid, i.c.destination_id == run_id
                    )
                ).first()
                if linked:
                    continue
                input_uuid = uuid.uuid4().hex
                conn.execute(
                    insert(i).values(
                        input_uuid=input_uuid,
                        source_type="DATASET",
                        source_id=dataset_uuid,
                        destination_type="RUN",
                        destination_id=run_id,
                    )
                )
                if item.tags:
                    conn.execute(
                        insert(it),
                        [
                            {"input_uuid": input_uuid, "name": k, "value": str(v)}
                            for k, v in item.tags.items()
                        ],
                    )

        try:
            self._write(fn)
        except IntegrityError:
            # Another writer logged the same dataset at the same moment (PostgreSQL);
            # the second attempt finds its rows and links to them.
            self._write(fn)

    def log_outputs(self, run_id: str, models: Sequence[dict[str, Any]]) -> None:
        rows = []
        for model in models or ():
            model_id = model.get("model_id") if isinstance(model, dict) else None
            if not model_id or not isinstance(model_id, str) or len(model_id) > MAX_MODEL_ID_LENGTH:
                raise InvalidParameterValue(
                    f"Each model output needs a model_id string of at most {MAX_MODEL_ID_LENGTH} "
                    f"characters; got {model!r}."
                )
            try:
                step = int(model.get("step") or 0)
            except (TypeError, ValueError):
                msg = f"Model output step must be an integer: {model!r}."
                raise InvalidParameterValue(msg) from None
            rows.append({"run_uuid": run_id, "model_id": model_id, "step": step})
        if not rows:
            return
        ro = schema.run_outputs

        def fn(conn: Connection) -> None:
            self._active_run_row(conn, run_id)
            stmt = self._insert(ro)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[ro.c.run_uuid, ro.c.model_id],
                    set_={"step": stmt.excluded.step},
                ),
                rows,
            )

        self._write(fn)

    def get_metric_history(
        self,
        run_id: str,
        key: str,
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> PagedList[Metric]:
        limit = None if max_results is None else _validate_max_results(max_results, 2**31 - 1)
        offset = decode_page_token(page_token)
        m = schema.metrics
        query = (
            select(m.c.key, m.c.value, m.c.is_nan, m.c.timestamp, m.c.step)
            .where(m.c.run_uuid == run_id, m.c.key == key)
            .order_by(m.c.step, m.c.timestamp, m.c.value, m.c.is_nan)
            .offset(offset)
        )
        if limit is not None:
            query = query.limit(limit + 1)

        def fn(conn: Connection) -> PagedList[Metric]:
            self._run_row(conn, run_id)
            rows = conn.execute(query).all()
            token = None
            if limit is not None and len(rows) > limit:
                rows = rows[:limit]
                token = encode_page_token(offset + limit)
            return PagedList(
                [Metric(k, decode_metric_value(v, nan), ts, st) for k, v, nan, ts, st in rows],
                token,
            )

        return self._read(fn)

    # --- search ----------------------------------------------------------------------
    def _compare(self, col: Any, cmp: Comparison) -> ColumnElement[bool]:
        """`col <op> value` with slipway's rules: LIKE case-sensitive, ILIKE not, on both DBs."""
        op, value = cmp.op, cmp.value
        if isinstance(value, float):
            value = max(-_DBL_MAX, min(_DBL_MAX, value))
            if cmp.entity_type == ATTRIBUTE and value.is_integer():
                value = int(value)
        if op == "=":
            return col == value
        if op == "!=":
            return col != value
        if op == "<":
            return col < value
        if op == "<=":
            return col <= value
        if op == ">":
            return col > value
        if op == ">=":
            return col >= value
        if op == "LIKE":
            if self.dialect == "sqlite":
                return col.op("GLOB")(like_to_glob(str(value)))
            return col.like(value)
        if op == "ILIKE":
            if self.dialect == "sqlite":
                return col.ilike(value, escape="\\")
            return col.ilike(value)
        if op == "IN":
            return col.in_(list(value))  # type: ignore[arg-type]
        if op == "NOT IN":
            return col.not_in(list(value))  # type: ignore[arg-type]
        raise InvalidParameterValue(f"Unsupported operator {op!r}.")

    def _order_terms(self, col: Any, ascending: bool, is_nan: Any = None) -> list[Any]:
        """Sort terms that put missing values (NULL) last in both directions."""
        terms: list[Any] = [col.is_(None)]
        if is_nan is not None:
            terms.append(is_nan)  # NaN after real numbers, before missing values
        if self.dialect == "postgresql" and col.type.python_type is str:
            col = col.collate("C")  # byte order, as SQLite sorts
        terms.append(col.asc() if ascending else col.desc())
        return terms

    def _metric_condition(self, alias: Any, cmp: Comparison) -> ColumnElement[bool]:
        base = self._compare(alias.c.value, cmp)
        if cmp.op == "!=":
            return or_(base, alias.c.is_nan == true())
        return and_(base, alias.c.is_nan == false())

    def _dataset_condition(self, cmp: Comparison) -> ColumnElement[bool]:
        i, d, it = schema.inputs.alias(), schema.datasets.alias(), schema.input_tags.alias()
        sub = (
            select(literal(1))
            .select_from(i.join(d, d.c.dataset_uuid == i.c.source_id))
            .where(i.c.destination_type == "RUN", i.c.destination_id == _r.c.run_uuid)
        )
        if cmp.key == "context":
            sub = sub.join(
                it, and_(it.c.input_uuid == i.c.input_uuid, it.c.name == DATASET_CONTEXT_TAG)
            ).where(self._compare(it.c.value, cmp))
        else:
            sub = sub.where(self._compare(d.c[cmp.key], cmp))
        return exists(sub)

    def _search_runs_query(
        self,
        experiment_ids: Sequence[int],
        comparisons: Sequence[Comparison],
        order_keys: Sequence[OrderKey],
        stages: Sequence[str],
    ) -> Select[Any]:
        from_: Any = _r
        conds: list[ColumnElement[bool]] = [
            _r.c.experiment_id.in_(list(experiment_ids)),
            _r.c.lifecycle_stage.in_(list(stages)),
        ]
        tables = {METRIC: schema.latest_metrics, PARAM: schema.params, TAG: schema.tags}
        for n, cmp in enumerate(comparisons):
            if cmp.entity_type == ATTRIBUTE:
                conds.append(self._compare(_RUN_ATTRIBUTE_COLUMNS[cmp.key], cmp))
            elif cmp.entity_type == DATASET:
                conds.append(self._dataset_condition(cmp))
            else:
                a = tables[cmp.entity_type].alias(f"f{n}")
                match = and_(a.c.run_uuid == _r.c.run_uuid, a.c.key == cmp.key)
                if cmp.op == "IS NULL":
                    conds.append(~exists().where(match))
                elif cmp.op == "IS NOT NULL":
                    conds.append(exists().where(match))
                elif cmp.entity_type == METRIC:
                    from_ = from_.join(a, and_(match, self._metric_condition(a, cmp)))
                else:
                    from_ = from_.join(a, and_(match, self._compare(a.c.value, cmp)))
        order: list[Any] = []
        for n, key in enumerate(order_keys):
            if key.entity_type == ATTRIBUTE:
                order.extend(self._order_terms(_RUN_ATTRIBUTE_COLUMNS[key.key], key.ascending))
                continue
            a = tables[key.entity_type].alias(f"o{n}")
            from_ = from_.outerjoin(a, and_(a.c.run_uuid == _r.c.run_uuid, a.c.key == key.key))
            nan = a.c.is_nan if key.entity_type == METRIC else None
            order.extend(self._order_terms(a.c.value, key.ascending, nan))
        order.extend([_r.c.start_time.desc(), _r.c.run_uuid.asc()])
        return select(*_RUN_COLUMNS).select_from(from_).where(*conds).order_by(*order)

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str = "",
        run_view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Run]:
        if isinstance(experiment_ids, str | int):
            experiment_ids = [str(experiment_ids)]
        exp_ids = [_parse_experiment_id(e) for e in experiment_ids or ()]
        max_results = _validate_max_results(max_results)
        stages = _view_type(run_view_type).stages()
        comparisons = parse_filter(filter_string, target="runs")
        order_keys = parse_order_by_list(order_by, target="runs")
        offset = decode_page_token(page_token)
        if not exp_ids:
            return PagedList([], None)
        query = self._search_runs_query(exp_ids, comparisons, order_keys, stages)
        query = query.offset(offset).limit(max_results + 1)

        def fn(conn: Connection) -> PagedList[Run]:
            rows = conn.execute(query).all()
            token = encode_page_token(offset + max_results) if len(rows) > max_results else None
            return PagedList(self._runs_from_rows(conn, rows[:max_results]), token)

        return self._read(fn)


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


__all__ = ["SqlTrackingStore", "join_uri"]
