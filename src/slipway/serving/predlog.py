"""The prediction log: what a served model was asked and answered, and the labels that came later.

`PredictionLog.record()` runs on the request path: it decides sampling, appends a reference
to the request to an in-memory buffer and returns. A background thread turns the buffer into
Parquet files every `flush_interval_s` (or as soon as `max_buffer_rows` rows are waiting)
and writes them through `slipway.artifacts`, so the log lives wherever artifacts can live
(a folder, `s3://…`, a server's `mlflow-artifacts:/` proxy). Read it back, joined with its
labels, with `slipway.serving.export`.

Layout below the log root (Hive-style partitions: pyarrow.dataset, DuckDB and Spark read it
as one table with `model`, `version` and `date` columns)::

    predictions/model=<name>/version=<v>/date=<YYYY-MM-DD>/part-<ts>-<pid>-<token>-<seq>.parquet
    labels/date=<YYYY-MM-DD>/part-<ts>-<pid>-<token>-<seq>.parquet

Partition values are percent-encoded like pyarrow and Spark encode them (`my model` is
`model=my%20model`); `date` is the UTC day of the request (of the label's arrival for
labels). `<ts>` is the write time in epoch ms, `<pid>` the writing process, `<token>` a
random per-log tag (two containers can both be pid 1) and `<seq>` a per-log counter, so
server workers on any number of hosts write to one root without clashing, and sorting the
names sorts the files by write time.

A prediction file holds one row per input row::

    request_id     string                 the request's id (labels join on it)
    row_index      int32                  position of the row within its request
    timestamp      timestamp[ms, UTC]     when the request was recorded
    model_name     string                 also in the path, so a lone file is self-describing
    model_version  string
    variant        (optional) string: the traffic variant that answered (`serve --traffic`)
    experiment     (optional) string: the traffic file's `name`, beside `variant` (logs
                   written before it have no such column; readers see nulls)
    shadow         (optional) bool: true on a shadow's answer to a copy of a request (the
                   `shadow` strategy), which no client received; it has the primary's
                   request id. Null or absent means a served answer (older logs have no
                   such column). Readers of served traffic leave shadow rows out
                   (`include_shadow=False` in `slipway.serving.export`).
    input.<name>   one column per input feature, with the feature's own type
    prediction     the model's output; a 2-D output becomes prediction.0, prediction.1, …
    probability    (optional) a score, or probability.<class> per class
    output.<name>  (optional) any other named output

Inputs are flattened to one top-level `input.<name>` column per feature rather than kept in
a struct, because that is what the consumers need: drift monitoring reads feature by
feature (column projection reads just that Parquet column, with its own statistics), a new
or missing feature in a later batch is a column that is null where absent (top-level schema
unification handles it, struct fields do not unify across files), and pandas, DuckDB and
Spark see plain columns (Spark needs backticks around dotted names). The prefix keeps
features apart from the log's own columns, so a feature may be called `prediction`.

A label file holds one row per feedback record; a label covers every row of its request::

    request_id  string
    label       the label's own type (string when a batch mixes types)
    reward      float64 (null when not given)
    timestamp   timestamp[ms, UTC]    the label's time (given, else its arrival)

Durability and memory. Files are written whole: the artifact layer writes a temporary name
and renames it on local disk, and object stores publish an object only once it is complete,
so a reader never sees half a file. Buffers are flushed every `flush_interval_s`, on
`close()` and at interpreter exit, so a crash (SIGKILL, power loss) loses at most the last
flush interval. Memory is bounded: at most `max_buffer_rows` rows wait in the buffer while
another buffer of at most that size is being written; when the writer cannot keep up, new
requests are dropped and counted (`stats()`), never queued without bound. A request larger
than the whole buffer is accepted only into an empty buffer. A failed write is kept and
retried at the next flush as long as the kept rows fit in `max_buffer_rows` (so at most
three buffers' worth of rows are ever held), and dropped and counted beyond that. Labels
are bounded the same way, counted in records.

Sampling (`sample_rate`) is decided per request from a hash of its id, so all rows of a
request are logged or none, every worker decides the same, and whether a labelled request
was sampled can be told from its id alone (`is_sampled`).

`record()` keeps a reference to `inputs` and `outputs` and converts them in the flush
thread: the caller must not modify them afterwards (the server hands over numpy views of
the rows it checked, and fresh outputs). `record()` costs a few microseconds. The flush
thread joins the requests of one shape: numpy inputs and outputs (the server's `Block` of
checked columns, arrays, dicts of those) with one `np.concatenate` per column, a few
microseconds per single-row request; DataFrames and anything else with one pandas concat
per shape, tens of microseconds per request. It works through the buffer in slices with
a short sleep between them, so the server's other threads are never kept from the GIL for
long (pyarrow's Parquet encoding releases it).
"""

from __future__ import annotations

import atexit
import datetime as dt
import hashlib
import io
import itertools
import logging
import math
import os
import secrets
import threading
import time
import weakref
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import numpy as np

from slipway import config
from slipway.artifacts import PROXY_SCHEME, get_artifact_repository
from slipway.errors import FlushError, InvalidParameterValue, MissingDependency
from slipway.serving.inputs import Block


def pyarrow_missing(purpose: str = "The prediction log") -> MissingDependency:
    """The error when pyarrow (the `serve` extra) is not installed."""
    return MissingDependency(
        f"{purpose} needs pyarrow, which is not installed. "
        "Install it with: pip install 'slipway[serve]'",
        package="pyarrow",
        extra="serve",
    )


try:
    import pyarrow as pa
    import pyarrow.parquet as pq
except ImportError as _exc:
    raise pyarrow_missing() from _exc

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

PREDICTION_LOG_URI_ENV = "SLIPWAY_PREDICTION_LOG_URI"
PREDICTIONS_DIR = "predictions"
LABELS_DIR = "labels"
INPUT_PREFIX = "input."
PREDICTION = "prediction"
PROBABILITY = "probability"
OUTPUT_PREFIX = "output."
TIMESTAMP_TYPE = pa.timestamp("ms", tz="UTC")
PARQUET_COMPRESSION = "zstd"

_PREDICTION_KEYS = frozenset({"prediction", "predictions", "predict", "predicted"})
_PROBABILITY_KEYS = frozenset({"probability", "probabilities", "predict_proba", "proba"})
_MS_PER_DAY = 86_400_000
_MAX_LISTED_PROBLEMS = 20


def prediction_log_uri(tracking_uri: str | None = None) -> str:
    """Where the prediction log lives: `$SLIPWAY_PREDICTION_LOG_URI`, else a default.

    The default is `<default artifact root>/prediction-logs` (see `slipway.config`); with a
    server tracking URI (`http(s)://…`) it is the server's artifact proxy,
    `mlflow-artifacts:/prediction-logs` (give the same `tracking_uri` to `PredictionLog`
    or set `SLIPWAY_TRACKING_URI` so the proxy knows which server).
    """
    explicit = os.environ.get(PREDICTION_LOG_URI_ENV)
    if explicit:
        return explicit
    uri = tracking_uri or config.get_tracking_uri()
    if config.is_rest_uri(uri):
        return f"{PROXY_SCHEME}/prediction-logs"
    return f"{config.default_artifact_root().rstrip('/')}/prediction-logs"


def is_sampled(request_id: str, sample_rate: float) -> bool:
    """Whether a request is in the sampled share: a pure function of its id and the rate."""
    if sample_rate >= 1.0:
        return True
    if sample_rate <= 0.0:
        return False
    digest = hashlib.blake2b(request_id.encode("utf-8", "surrogatepass"), digest_size=8)
    return int.from_bytes(digest.digest(), "big") < int(sample_rate * 2**64)


def partition_value(value: str) -> str:
    """A partition value as it appears in a path (percent-encoded, as pyarrow/Spark decode)."""
    return quote(str(value), safe="")


@dataclass(frozen=True)
class PredictionLogStats:
    """Counters since the log was created (for metrics and tests)."""

    requests_logged: int
    rows_logged: int
    requests_sampled_out: int
    requests_dropped: int
    rows_dropped: int
    labels_logged: int
    labels_dropped: int
    rows_written: int
    files_written: int
    write_errors: int


@dataclass(slots=True)
class _Request:
    request_id: str
    model_name: str
    model_version: str
    inputs: Any
    outputs: Any
    timestamp_ms: int
    rows: int
    variant: str | None = None
    experiment: str | None = None
    shadow: bool = False


@dataclass(slots=True)
class _Pending:
    """One Parquet file to write (kept for a retry when the write fails)."""

    path: str
    table: pa.Table
    is_labels: bool


_OPEN_LOGS: weakref.WeakSet[PredictionLog] = weakref.WeakSet()


class PredictionLog:
    """A buffered, sampled, append-only Parquet log of predictions and their labels.

    `artifact_uri` is the log root (see `prediction_log_uri`); `tracking_uri` names the
    server when the root is a `mlflow-artifacts:/` URI. `stats()` returns the counters.
    """

    def __init__(
        self,
        artifact_uri: str,
        *,
        sample_rate: float = 1.0,
        flush_interval_s: float = 5.0,
        max_buffer_rows: int = 50_000,
        tracking_uri: str | None = None,
    ) -> None:
        if not 0.0 <= float(sample_rate) <= 1.0 or math.isnan(float(sample_rate)):
            raise InvalidParameterValue(
                f"sample_rate must be between 0 and 1 (the share of requests to log), "
                f"got {sample_rate!r}."
            )
        if not float(flush_interval_s) > 0:
            raise InvalidParameterValue(
                f"flush_interval_s must be a positive number of seconds, got {flush_interval_s!r}."
            )
        if int(max_buffer_rows) < 1:
            raise InvalidParameterValue(
                f"max_buffer_rows must be at least 1, got {max_buffer_rows!r}."
            )
        self.artifact_uri = artifact_uri
        self.sample_rate = float(sample_rate)
        self.flush_interval_s = float(flush_interval_s)
        self.max_buffer_rows = int(max_buffer_rows)
        self._repo = get_artifact_repository(artifact_uri, tracking_uri)
        self._counters = dict.fromkeys(
            (
                "requests_logged",
                "rows_logged",
                "requests_sampled_out",
                "requests_dropped",
                "rows_dropped",
                "labels_logged",
                "labels_dropped",
                "rows_written",
                "files_written",
                "write_errors",
            ),
            0,
        )
        self._closed = False
        self._start()
        _OPEN_LOGS.add(self)

    def _start(self) -> None:
        """Fresh buffers, locks and flush thread (at creation, and in a forked child)."""
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._requests: list[_Request] = []
        self._buffered_rows = 0
        self._labels: list[dict[str, Any]] = []
        self._retry: list[_Pending] = []
        self._token = secrets.token_hex(3)
        self._seq = itertools.count()
        self._thread = threading.Thread(
            target=self._run, name="slipway-prediction-log", daemon=True
        )
        self._thread.start()

    # --- the request path ----------------------------------------------------------
    def record(
        self,
        *,
        request_id: str,
        model_name: str,
        model_version: str,
        inputs: Any,
        outputs: Any,
        timestamp_ms: int | None = None,
        variant: str | None = None,
        experiment: str | None = None,
        shadow: bool = False,
    ) -> None:
        """Buffer one request's rows (if sampled); no I/O, never raises, drops when full.

        `inputs` is a DataFrame, a `Block` (the server's checked columns), an array (its
        columns are named 0, 1, …) or anything `pd.DataFrame()` takes; `outputs` is
        anything `output_columns` takes. `variant` is the traffic variant that answered
        and `experiment` the traffic experiment's name (a column each when given);
        `shadow` marks a shadow's answer to a copy of the request (the `shadow` column).
        """
        try:
            if not is_sampled(str(request_id), self.sample_rate):
                with self._lock:
                    self._counters["requests_sampled_out"] += 1
                return
            rows = inputs.rows if isinstance(inputs, Block) else len(inputs)
            if rows == 0:
                return
            stamp = int(timestamp_ms) if timestamp_ms is not None else time.time_ns() // 1_000_000
            item = _Request(
                str(request_id), str(model_name), str(model_version), inputs, outputs, stamp, rows
            )
            if variant is not None:
                item.variant = str(variant)
            if experiment is not None:
                item.experiment = str(experiment)
            if shadow:
                item.shadow = True
            with self._lock:
                full = self._buffered_rows > 0 and self._buffered_rows + rows > self.max_buffer_rows
                if self._closed or full:
                    self._counters["requests_dropped"] += 1
                    self._counters["rows_dropped"] += rows
                    if full:
                        self._wake.set()
                    return
                self._requests.append(item)
                self._buffered_rows += rows
                self._counters["requests_logged"] += 1
                self._counters["rows_logged"] += rows
                if self._buffered_rows >= self.max_buffer_rows:
                    self._wake.set()
        except Exception:  # the request must be answered whatever the log thinks of it
            logger.debug("Prediction log dropped request %r", request_id, exc_info=True)
            with self._lock:
                self._counters["requests_dropped"] += 1

    def record_feedback(self, records: list[dict]) -> int:
        """Buffer labels for earlier requests; returns how many were accepted.

        Each record: `{"request_id": str, "label": scalar, "reward": float (optional),
        "timestamp_ms": int (optional)}`; `label` may be left out when a reward is given.
        Any bad record rejects the whole call (InvalidParameterValue listing every problem),
        so a client can fix and resend it. Fewer than `len(records)` are accepted only
        when the buffer is full (the rest are dropped and counted).
        """
        rows = _validate_feedback(records)
        arrival = time.time_ns() // 1_000_000
        for row in rows:
            row["arrival_ms"] = arrival
            if row["timestamp_ms"] is None:
                row["timestamp_ms"] = arrival
        with self._lock:
            if self._closed:
                room = 0
            else:
                room = max(0, self.max_buffer_rows - len(self._labels))
                if not self._labels:
                    room = max(room, len(rows))
            accepted = rows[:room]
            self._labels.extend(accepted)
            self._counters["labels_logged"] += len(accepted)
            self._counters["labels_dropped"] += len(rows) - len(accepted)
            if len(self._labels) >= self.max_buffer_rows:
                self._wake.set()
        return len(accepted)

    # --- flushing --------------------------------------------------------------------
    def flush(self) -> None:
        """Write everything buffered now; raises FlushError if a file could not be written.

        Files that failed stay queued for the next flush (within `max_buffer_rows`).
        """
        with self._flush_lock:
            with self._lock:
                requests, self._requests = self._requests, []
                labels, self._labels = self._labels, []
                self._buffered_rows = 0
                retry, self._retry = self._retry, []
            pending = retry + self._prediction_files(requests) + self._label_files(labels)
            failed: list[tuple[_Pending, BaseException]] = []
            for item in pending:
                try:
                    self._write(item)
                except Exception as exc:
                    failed.append((item, exc))
            if failed:
                self._keep_for_retry([item for item, _ in failed])
                first = failed[0][1]
                raise FlushError(
                    f"Could not write {len(failed)} prediction log file(s) under "
                    f"{self.artifact_uri}: {first}"
                ) from first

    def close(self) -> None:
        """Flush everything and stop the flush thread; later records are dropped. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()
        try:
            self.flush()
        except FlushError as exc:
            with self._lock:
                lost = self._retry
                self._retry = []
                self._count_lost(lost)
            logger.error("Prediction log closed with unwritten data: %s", exc)
        _OPEN_LOGS.discard(self)

    def stats(self) -> PredictionLogStats:
        """A snapshot of the counters."""
        with self._lock:
            return PredictionLogStats(**self._counters)

    def __enter__(self) -> PredictionLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_interval_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.flush()
            except FlushError as exc:
                logger.warning("%s; will retry at the next flush.", exc)
            except Exception:
                logger.exception("Prediction log flush failed")

    def _write(self, item: _Pending) -> None:
        sink = io.BytesIO()
        pq.write_table(item.table, sink, compression=PARQUET_COMPRESSION)
        self._repo.write_bytes(item.path, sink.getvalue())
        with self._lock:
            self._counters["files_written"] += 1
            if not item.is_labels:
                self._counters["rows_written"] += item.table.num_rows

    def _keep_for_retry(self, failed: list[_Pending]) -> None:
        with self._lock:
            self._counters["write_errors"] += len(failed)
            kept, lost, rows = [], [], 0
            for item in failed:
                if rows + item.table.num_rows <= self.max_buffer_rows:
                    kept.append(item)
                    rows += item.table.num_rows
                else:
                    lost.append(item)
            self._retry = kept + self._retry
            self._count_lost(lost)

    def _count_lost(self, lost: list[_Pending]) -> None:
        for item in lost:
            if item.is_labels:
                self._counters["labels_dropped"] += item.table.num_rows
            else:
                self._counters["rows_dropped"] += item.table.num_rows
                self._counters["requests_dropped"] += len(item.table.column("request_id").unique())

    def _file_name(self) -> str:
        now = time.time_ns() // 1_000_000
        return f"part-{now}-{os.getpid()}-{self._token}-{next(self._seq):06d}.parquet"

    def _prediction_files(self, requests: list[_Request]) -> list[_Pending]:
        groups: dict[tuple[str, str, int], list[_Request]] = {}
        for r in requests:
            key = (r.model_name, r.model_version, r.timestamp_ms // _MS_PER_DAY)
            groups.setdefault(key, []).append(r)
        files = []
        for (name, version, days), group in groups.items():
            tables, dropped = _prediction_tables(group)
            if dropped:
                with self._lock:
                    self._counters["requests_dropped"] += len(dropped)
                    self._counters["rows_dropped"] += sum(r.rows for r in dropped)
            folder = (
                f"{PREDICTIONS_DIR}/model={partition_value(name)}"
                f"/version={partition_value(version)}/date={_day(days)}"
            )
            for table in tables:
                files.append(_Pending(f"{folder}/{self._file_name()}", table, False))
        return files

    def _label_files(self, labels: list[dict[str, Any]]) -> list[_Pending]:
        by_day: dict[str, list[dict[str, Any]]] = {}
        for row in labels:
            by_day.setdefault(_day(row["arrival_ms"] // _MS_PER_DAY), []).append(row)
        return [
            _Pending(f"{LABELS_DIR}/date={day}/{self._file_name()}", _label_table(rows), True)
            for day, rows in by_day.items()
        ]


# --- turning requests into Arrow tables ------------------------------------------------

# The flush thread converts this many requests, then sleeps for _PAUSE_S: pure-Python
# work holds the GIL, and while it runs every thread of the server that wants the GIL
# back (the event loop after each poll, the model thread after each predict) waits up to
# the interpreter's switch interval (5 ms) for it. Short slices keep those waits rare.
_SLICE_REQUESTS = 500
_PAUSE_S = 0.001
_NUMERIC_KINDS = frozenset("biuf")  # numpy kinds whose Arrow type pandas would not change


def _day(days: int) -> str:
    return (dt.date(1970, 1, 1) + dt.timedelta(days=days)).isoformat()


def _as_frame(inputs: Any) -> pd.DataFrame:
    import pandas as pd

    if isinstance(inputs, pd.DataFrame):
        return inputs
    if isinstance(inputs, Block):
        return inputs.to_frame()
    if isinstance(inputs, np.ndarray):
        return pd.DataFrame(inputs.reshape(len(inputs), -1))
    return pd.DataFrame(inputs)


def output_columns(outputs: Any, rows: int) -> dict[str, np.ndarray]:
    """A model's outputs as named columns of length `rows` (`prediction`, `probability…`).

    Accepts what models and servers return: an array or list (1-D is `prediction`, 2-D
    is `prediction.0`, `prediction.1`, …), a Series, a DataFrame (one column is
    `prediction`; named columns keep their names under `output.`), or a mapping of output
    names (`prediction`/`predict`, `probability`/`predict_proba`, anything else under
    `output.`). Probabilities given as 2-D become `probability.<class>` (the column names
    of a DataFrame or a `Block`, else the class index).
    """
    import pandas as pd

    if isinstance(outputs, Mapping):
        out: dict[str, np.ndarray] = {}
        for key, value in outputs.items():
            name = str(key)
            if name in _PREDICTION_KEYS:
                out.update(_columns(PREDICTION, value, rows))
            elif name in _PROBABILITY_KEYS:
                out.update(_columns(PROBABILITY, value, rows))
            else:
                out.update(_columns(OUTPUT_PREFIX + name, value, rows))
        return out
    if isinstance(outputs, pd.DataFrame):
        if len(outputs.columns) == 1:
            return _columns(PREDICTION, outputs.iloc[:, 0], rows)
        return output_columns({str(c): outputs[c] for c in outputs.columns}, rows)
    return _columns(PREDICTION, outputs, rows)


def _columns(name: str, value: Any, rows: int) -> dict[str, np.ndarray]:
    import pandas as pd

    if isinstance(value, Block):
        arrays = _block_arrays([value])
        if len(arrays) == 1:
            return {name: _check_rows(arrays[0], rows)}
        named = zip(value.names, arrays, strict=True)
        return {f"{name}.{c}": _check_rows(a, rows) for c, a in named}
    if isinstance(value, pd.DataFrame):
        if len(value.columns) == 1:
            return _columns(name, value.iloc[:, 0], rows)
        return {f"{name}.{c}": _check_rows(value[c].to_numpy(), rows) for c in value.columns}
    if isinstance(value, pd.Series):
        return {name: _check_rows(value.to_numpy(), rows)}
    array = np.asarray(value)
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim == 1:
        return {name: _check_rows(array, rows)}
    if array.ndim == 2:
        return {f"{name}.{j}": _check_rows(array[:, j], rows) for j in range(array.shape[1])}
    raise InvalidParameterValue(
        f"Output {name!r} has shape {array.shape}; the log takes one value or one row of "
        "values per input row."
    )


def _check_rows(array: np.ndarray, rows: int) -> np.ndarray:
    if len(array) != rows:
        raise InvalidParameterValue(f"An output has {len(array)} rows for {rows} input rows.")
    return array


def _prediction_tables(group: list[_Request]) -> tuple[list[pa.Table], list[_Request]]:
    """Tables for one (model, version, day) group, and the requests that could not be logged.

    Requests of one shape are converted together. Numpy inputs and outputs (what the
    server hands over) are joined with one `np.concatenate` per column and become Arrow
    arrays without pandas; anything else goes through a DataFrame, one pandas concat per
    shape. Either way a column gets the name and Arrow type the DataFrame of the request
    would give it, so the files do not depend on the path taken. The work is cut in
    slices of `_SLICE_REQUESTS` with a pause between them (see `_PAUSE_S`).
    """
    tables: list[pa.Table] = []
    dropped: list[_Request] = []
    input_types: dict[Hashable, list[tuple[str, pa.DataType]]] = {}
    for start in range(0, len(group), _SLICE_REQUESTS):
        if start:
            time.sleep(_PAUSE_S)
        shapes: dict[Hashable, list[_Request]] = {}
        others: list[_Request] = []
        for r in group[start : start + _SLICE_REQUESTS]:
            key = _numpy_key(r)
            if key is None:
                others.append(r)
            else:
                shapes.setdefault(key, []).append(r)
        for key, members in shapes.items():
            try:
                tables.append(_numpy_table(members, key[0], input_types))
            except Exception:
                others.extend(members)  # through pandas, one by one if need be: finds the culprit
        if others:
            converted, failed = _frame_tables(others)
            tables.extend(converted)
            dropped.extend(failed)
    return _merged(tables), dropped


def _merged(tables: list[pa.Table]) -> list[pa.Table]:
    """As few tables as the schemas allow (one unless types conflict: readers unify those)."""
    if len(tables) < 2:
        return tables
    by_schema: dict[pa.Schema, list[pa.Table]] = {}
    for table in tables:
        by_schema.setdefault(table.schema, []).append(table)
    tables = [t[0] if len(t) == 1 else pa.concat_tables(t) for t in by_schema.values()]
    if len(tables) > 1:
        try:
            tables = [pa.concat_tables(tables, promote_options="permissive")]
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass  # conflicting types: one file per shape; readers unify them
    return tables


# --- the numpy path: the server's requests ----------------------------------------------


def _numpy_key(r: _Request) -> Hashable | None:
    """What requests that can be joined as numpy share; None for the pandas path."""
    inputs, rows = r.inputs, r.rows
    if isinstance(inputs, Block):
        if inputs.rows != rows:
            return None
        in_key: Hashable = ("block", inputs.layout)
    elif isinstance(inputs, np.ndarray):
        if inputs.ndim == 0 or len(inputs) != rows or inputs.dtype.kind not in _NUMERIC_KINDS:
            return None
        in_key = ("array", inputs.shape[1:], inputs.dtype)
    else:
        return None
    outputs = r.outputs
    if isinstance(outputs, np.ndarray):
        out_key = _array_key(outputs, rows)
    elif type(outputs) is dict:
        parts = []
        for name, value in outputs.items():
            if isinstance(value, Block):
                part = value.layout if value.rows == rows else None
            elif isinstance(value, np.ndarray):
                part = _array_key(value, rows)
            else:
                part = None
            if part is None:
                return None
            parts.append((name, part))
        out_key = tuple(parts)
    else:
        return None
    return None if out_key is None else (in_key, out_key)


def _array_key(array: np.ndarray, rows: int) -> Hashable | None:
    if array.ndim not in (1, 2) or len(array) != rows:
        return None
    return ("array", array.shape[1:], array.dtype)


def _numpy_table(
    members: list[_Request],
    in_key: Hashable,
    input_types: dict[Hashable, list[tuple[str, pa.DataType]]],
) -> pa.Table:
    first = members[0]
    columns = _request_columns(members)
    total = len(columns["row_index"])
    # Names and types as pandas gives them for this shape (found once per flush).
    types = input_types.get(in_key)
    if types is None:
        reference = pa.Table.from_pandas(_as_frame(first.inputs), preserve_index=False)
        types = list(zip(reference.column_names, reference.schema.types, strict=True))
        input_types[in_key] = types
    if isinstance(first.inputs, Block):
        arrays = _block_arrays([r.inputs for r in members])
    else:
        matrix = np.concatenate([r.inputs.reshape(r.rows, -1) for r in members])
        arrays = list(np.ascontiguousarray(matrix.T))
    if len(arrays) != len(types):
        raise ValueError("the input columns do not match their DataFrame's")
    for (name, type_), array in zip(types, arrays, strict=True):
        columns[INPUT_PREFIX + str(name)] = pa.array(array, type_)
    outputs = first.outputs
    if isinstance(outputs, np.ndarray):
        joined: Any = np.concatenate([r.outputs for r in members])
    else:
        joined = {k: _joined([r.outputs[k] for r in members]) for k in outputs}
    for name, array in output_columns(joined, total).items():
        columns[name] = pa.array(array)
    return pa.table(columns)


def _block_arrays(blocks: list[Block]) -> list[np.ndarray]:
    """The columns of Blocks of one layout, joined: one contiguous array per column."""
    first = blocks[0]
    if first.matrix is not None:
        matrix = np.concatenate([b.matrix for b in blocks]) if len(blocks) > 1 else first.matrix
        return list(np.ascontiguousarray(matrix.T))
    assert first.columns is not None
    if len(blocks) == 1:
        return list(first.columns)
    return [np.concatenate([b.columns[j] for b in blocks]) for j in range(len(first.names))]


def _joined(values: list[Any]) -> Any:
    first = values[0]
    if isinstance(first, Block):
        rows = sum(v.rows for v in values)
        return Block(first.names, rows, columns=_block_arrays(values))
    return np.concatenate(values)


def _request_columns(requests: list[_Request]) -> dict[str, pa.Array]:
    """The log's own columns for consecutive requests of one (model, version)."""
    n = len(requests)
    first = requests[0]
    counts = np.fromiter((r.rows for r in requests), np.int64, n)
    total = int(counts.sum())
    ids = [r.request_id for r in requests]
    stamps = np.fromiter((r.timestamp_ms for r in requests), np.int64, n)
    if total == n:  # one row each: the usual online request
        id_array = pa.array(ids, pa.string())
        row_index = np.zeros(n, dtype=np.int32)
    else:
        id_array = pa.array(np.repeat(np.array(ids, dtype=object), counts), pa.string())
        stamps = np.repeat(stamps, counts)
        starts = np.repeat(np.cumsum(counts) - counts, counts)
        row_index = (np.arange(total, dtype=np.int64) - starts).astype(np.int32)
    columns = {
        "request_id": id_array,
        "row_index": pa.array(row_index, pa.int32()),
        "timestamp": pa.array(stamps, TIMESTAMP_TYPE),
        "model_name": pa.array([first.model_name] * total, pa.string()),
        "model_version": pa.array([first.model_version] * total, pa.string()),
    }
    if any(r.variant is not None for r in requests):
        variants = np.array([r.variant for r in requests], dtype=object)
        columns["variant"] = pa.array(np.repeat(variants, counts), pa.string())
    if any(r.experiment is not None for r in requests):
        experiments = np.array([r.experiment for r in requests], dtype=object)
        columns["experiment"] = pa.array(np.repeat(experiments, counts), pa.string())
    if any(r.shadow for r in requests):
        shadows = np.array([r.shadow for r in requests], dtype=bool)
        columns["shadow"] = pa.array(np.repeat(shadows, counts), pa.bool_())
    return columns


# --- the pandas path: DataFrames and anything else ------------------------------------


@dataclass(slots=True)
class _Converted:
    request: _Request
    frame: pd.DataFrame
    outputs: dict[str, np.ndarray]


def _frame_tables(requests: list[_Request]) -> tuple[list[pa.Table], list[_Request]]:
    """Tables for requests converted through pandas (one concat per shape), and failures."""
    shapes: dict[tuple, list[_Converted]] = {}
    # Column names read once per Index object: reading a pandas-3 string Index costs
    # more than the concat, and frames of one signature usually share their Index.
    names_of: dict[int, tuple[Any, tuple]] = {}  # id → (the Index, kept alive; its names)
    dropped: list[_Request] = []
    for r in requests:
        try:
            frame = _as_frame(r.inputs)
            if len(frame) != r.rows:
                raise InvalidParameterValue("inputs changed size after record()")
            outputs = output_columns(r.outputs, r.rows)
        except Exception as exc:
            logger.warning("Prediction log: cannot log request %r: %s", r.request_id, exc)
            dropped.append(r)
            continue
        index = frame.columns
        known = names_of.get(id(index))
        if known is None:
            known = names_of[id(index)] = (index, tuple(index))
        # Column names, not dtypes: reading dtypes costs pandas more than the concat does,
        # and requests the server checked against a signature agree on them anyway.
        key = (known[1], tuple((k, v.dtype.str) for k, v in outputs.items()))
        shapes.setdefault(key, []).append(_Converted(r, frame, outputs))
    tables = []
    for members in shapes.values():
        try:
            tables.append(_frame_table(members))
        except Exception:
            for one in members:  # find the request that does not convert, log the others
                try:
                    tables.append(_frame_table([one]))
                except Exception as exc:
                    logger.warning(
                        "Prediction log: cannot log request %r: %s", one.request.request_id, exc
                    )
                    dropped.append(one.request)
    return tables, dropped


def _frame_table(members: list[_Converted]) -> pa.Table:
    import pandas as pd

    columns = _request_columns([m.request for m in members])
    frames = [m.frame for m in members]
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    inputs = pa.Table.from_pandas(frame, preserve_index=False)
    for name, column in zip(inputs.column_names, inputs.columns, strict=True):
        columns[INPUT_PREFIX + str(name)] = column
    for name in members[0].outputs:
        parts = [m.outputs[name] for m in members]
        columns[name] = pa.array(parts[0] if len(parts) == 1 else np.concatenate(parts))
    return pa.table(columns)


def _label_table(rows: list[dict[str, Any]]) -> pa.Table:
    labels = [r["label"] for r in rows]
    try:
        label_array = pa.array(labels)
        if pa.types.is_null(label_array.type):
            label_array = label_array.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        label_array = pa.array([None if v is None else str(v) for v in labels], pa.string())
    return pa.table(
        {
            "request_id": pa.array([r["request_id"] for r in rows], pa.string()),
            "label": label_array,
            "reward": pa.array([r["reward"] for r in rows], pa.float64()),
            "timestamp": pa.array([r["timestamp_ms"] for r in rows], TIMESTAMP_TYPE),
        }
    )


# --- feedback validation ---------------------------------------------------------------


def _is_scalar(value: Any) -> bool:
    if isinstance(value, np.generic):
        return isinstance(value, (np.number, np.bool_, np.str_))
    return isinstance(value, (str, bool, int, float))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def _validate_feedback(records: Any) -> list[dict[str, Any]]:
    """Clean feedback rows, or InvalidParameterValue listing every bad record."""
    if not isinstance(records, list):
        raise InvalidParameterValue(
            f"Feedback must be a list of records, got {type(records).__name__}."
        )
    rows, problems = [], []
    for i, rec in enumerate(records):
        if not isinstance(rec, Mapping):
            problems.append(f"record {i}: expected an object, got {type(rec).__name__}")
            continue
        found = _feedback_problems(rec)
        if found:
            problems.append(f"record {i}: " + "; ".join(found))
            continue
        label = rec.get("label")
        reward = rec.get("reward")
        stamp = rec.get("timestamp_ms")
        rows.append(
            {
                "request_id": str(rec["request_id"]),
                "label": label.item() if isinstance(label, np.generic) else label,
                "reward": None if reward is None else float(reward),
                "timestamp_ms": None if stamp is None else int(stamp),
            }
        )
    if problems:
        shown = problems[:_MAX_LISTED_PROBLEMS]
        more = len(problems) - len(shown)
        text = "\n".join(f"  - {p}" for p in shown) + (f"\n  … and {more} more" if more else "")
        raise InvalidParameterValue(
            f"{len(problems)} of {len(records)} feedback record(s) are invalid; "
            f"none was accepted:\n{text}"
        )
    return rows


def _feedback_problems(rec: Mapping[str, Any]) -> list[str]:
    found = []
    rid = rec.get("request_id")
    if rid is None or rid == "":
        found.append("missing request_id")
    elif not isinstance(rid, (str, int)) or isinstance(rid, bool):
        found.append(f"request_id must be a string, got {type(rid).__name__}")
    label = rec.get("label")
    reward = rec.get("reward")
    if "label" not in rec and reward is None:
        found.append("missing label (or reward)")
    elif label is not None and not _is_scalar(label):
        found.append(
            f"label must be a single value (string, number or boolean), got {type(label).__name__}"
        )
    if reward is not None and not _is_number(reward):
        found.append(f"reward must be a number, got {type(reward).__name__}")
    stamp = rec.get("timestamp_ms")
    if stamp is not None and (not _is_number(stamp) or int(stamp) != stamp or stamp < 0):
        found.append(f"timestamp_ms must be epoch milliseconds, got {stamp!r}")
    return found


# --- process lifecycle -----------------------------------------------------------------


def _close_open_logs() -> None:
    """At interpreter exit: flush every log still open."""
    for log in list(_OPEN_LOGS):
        try:
            log.close()
        except Exception:
            logger.exception("Could not close the prediction log at %s", log.artifact_uri)


def _restart_in_child() -> None:
    """After fork(): the child has no flush thread and must not write the parent's buffers."""
    for log in list(_OPEN_LOGS):
        if not log._closed:
            log._start()


atexit.register(_close_open_logs)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_restart_in_child)

__all__: list[str] = [
    "PREDICTION_LOG_URI_ENV",
    "PredictionLog",
    "PredictionLogStats",
    "is_sampled",
    "output_columns",
    "partition_value",
    "prediction_log_uri",
    "pyarrow_missing",
]
