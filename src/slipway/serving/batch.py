"""Batch scoring: run a model over a Parquet or CSV file of any size (`slipway predict`).

`predict_file(model_uri, input_path, output_path)` streams the input in chunks of
`chunk_rows` rows (Parquet through `ParquetFile.iter_batches`, CSV through pyarrow's
streaming CSV reader) and writes the input columns plus `prediction` (and with
`with_proba`, one `probability.<class>` column per class) to the output, Parquet or CSV by
extension; input and output formats may differ. Memory stays bounded: one chunk in flight
per process, plus two per worker with `workers > 1`.

With `workers=N > 1`, N processes (spawned, so safe next to threads) each load the model
once and score chunks; results are written in input order, so the output is the same row
for row whatever N is. A `models:/` or `runs:/` URI is resolved and downloaded once, by
this process, through the tracking client.

Bad input fails before any scoring where it can: a missing file is ResourceDoesNotExist; an
unknown extension or unreadable file is InvalidParameterValue; columns the model signature
requires but the file lacks are one SchemaEnforcementError listing them all (values that do
not convert are reported the same way by the model's signature check, chunk by chunk).
Columns not in the signature are passed through to the output but not to the model. CSV
columns the signature names are read with the signature's types, so every chunk agrees.
The output appears whole or not at all: it is written under a temporary name and renamed.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from slipway.errors import InvalidParameterValue, ResourceDoesNotExist, SchemaEnforcementError
from slipway.models.format import Model
from slipway.models.pyfunc import load_model, resolve_model_dir
from slipway.models.resolve import local_path_from_uri
from slipway.models.signature import ColSpec, DataType, ModelSignature, enforce_input
from slipway.serving.predlog import PROBABILITY, output_columns, pyarrow_missing
from slipway.tracking.client import Client

try:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq
except ImportError as _exc:
    raise pyarrow_missing("Batch scoring") from _exc

ProgressCallback = Callable[[int, int | None], None]
"""Called after each chunk with (rows done, total rows or None when unknown)."""

DEFAULT_CHUNK_ROWS = 50_000
FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}
_CSV_BLOCK_BYTES = 4 << 20
_ARROW_TYPES = {
    DataType.boolean: pa.bool_(),
    DataType.integer: pa.int32(),
    DataType.long: pa.int64(),
    DataType.float: pa.float32(),
    DataType.double: pa.float64(),
    DataType.string: pa.string(),
    DataType.binary: pa.binary(),
}


@dataclass(frozen=True)
class BatchResult:
    """What `predict_file` did."""

    input_path: str
    output_path: str
    rows: int
    chunks: int
    workers: int
    seconds: float
    output_columns: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "input_path": self.input_path,
            "output_path": self.output_path,
            "rows": self.rows,
            "chunks": self.chunks,
            "workers": self.workers,
            "seconds": round(self.seconds, 3),
            "output_columns": self.output_columns,
        }


def file_format(path: str | Path) -> str:
    """`parquet` or `csv` from a file name's extension (InvalidParameterValue otherwise)."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise InvalidParameterValue(
            f"Cannot tell the format of {str(path)!r} from its extension: use {', '.join(FORMATS)}."
        )
    return fmt


def predict_file(
    model_uri: str,
    input_path: str | Path,
    output_path: str | Path,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    workers: int = 1,
    with_proba: bool = False,
    progress: ProgressCallback | None = None,
    allow_pickle: bool = False,
    tracking_uri: str | None = None,
) -> BatchResult:
    """Score every row of `input_path` with the model and write `output_path`.

    `model_uri` is a local path or any URI the tracking client resolves (`models:/…`,
    `runs:/…`), through `tracking_uri` (default: the one chosen with
    `slipway.set_tracking_uri`, else `$SLIPWAY_TRACKING_URI`).
    """
    if chunk_rows < 1:
        raise InvalidParameterValue(f"chunk_rows must be at least 1, got {chunk_rows}.")
    if workers < 1:
        raise InvalidParameterValue(f"workers must be at least 1, got {workers}.")
    source, target = Path(input_path), Path(output_path)
    in_format, out_format = file_format(source), file_format(target)
    if not source.is_file():
        raise ResourceDoesNotExist(f"Input file {str(source)!r} does not exist.")
    if target.exists() and target.resolve() == source.resolve():
        raise InvalidParameterValue("The output file must not be the input file.")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="slipway-predict-") as tmp:
        model_dir = _local_model_dir(model_uri, tmp, tracking_uri)
        signature = Model.load(model_dir).signature
        reader = _Reader(source, in_format, chunk_rows, signature)
        model_columns = _model_columns(reader.schema.names, signature, source)
        scorer_args = (model_dir, model_columns, with_proba, allow_pickle)
        writer = _Writer(target, out_format)
        try:
            rows = chunks = 0
            added: list[str] = []
            for chunk, scored in _scored_chunks(reader.chunks(), scorer_args, workers):
                if not added:
                    added = scored.column_names
                    _check_no_clash(chunk.column_names, added)
                writer.write(_combine(chunk, scored))
                rows += chunk.num_rows
                chunks += 1
                if progress is not None:
                    progress(rows, reader.total_rows)
            if chunks == 0:
                writer.write(_combine(reader.schema.empty_table(), _empty_prediction()))
            writer.commit()
        except BaseException:
            writer.abort()
            raise
    return BatchResult(
        str(source), str(target), rows, chunks, workers, time.perf_counter() - started, added
    )


# --- model -----------------------------------------------------------------------------


def _local_model_dir(model_uri: str, tmp: str, tracking_uri: str | None) -> str:
    """A local model folder: local paths in place, anything else downloaded once into `tmp`."""
    if local_path_from_uri(model_uri) is not None:
        return str(resolve_model_dir(model_uri))
    client = Client(tracking_uri)
    try:
        return str(resolve_model_dir(client.download_model(model_uri, tmp)))
    finally:
        client.close()


def _model_columns(
    names: list[str], signature: ModelSignature | None, source: Path
) -> list[str] | None:
    """The columns the model gets (None: all); every missing required column at once."""
    schema = signature.inputs if signature is not None else None
    if schema is None or schema.is_tensor_spec() or not schema.has_input_names():
        return [n for n in names if not n.startswith("__index_level_")]
    present = set(names)
    problems = [
        f"missing required column {spec.name!r} ({spec.type.name})"
        for spec in schema.inputs
        if isinstance(spec, ColSpec) and spec.required and spec.name not in present
    ]
    if problems:
        problems.append(f"{source.name} has the columns {names}")
        raise SchemaEnforcementError(problems)
    return [str(spec.name) for spec in schema.inputs if spec.name in present]


class _Scorer:
    """A loaded model turning a chunk of its input columns into output columns."""

    def __init__(
        self, model_dir: str, model_columns: list[str] | None, with_proba: bool, allow_pickle: bool
    ) -> None:
        self.model = load_model(model_dir, allow_pickle=allow_pickle)
        self.model_columns = model_columns
        self.proba: Callable[[Any], Any] | None = None
        self.classes: list[Any] | None = None
        if with_proba:
            try:
                raw = self.model.get_raw_model()
            except AttributeError:
                raw = None
            self.proba = getattr(raw, "predict_proba", None)
            if not callable(self.proba):
                kind = type(raw).__name__ if raw is not None else self.model.loader_module
                raise InvalidParameterValue(
                    f"Probabilities need a classifier with predict_proba; this model "
                    f"({kind}) has none. Run without --with-proba."
                )
            classes = getattr(raw, "classes_", None)
            self.classes = list(classes) if classes is not None else None

    def __call__(self, table: pa.Table) -> pa.Table:
        frame = table.to_pandas()
        rows = len(frame)
        columns = output_columns(self.model.predict(frame), rows)
        if self.proba is not None:
            columns.update(self._probabilities(frame, rows))
        return pa.table({name: pa.array(values) for name, values in columns.items()})

    def _probabilities(self, frame: Any, rows: int) -> dict[str, np.ndarray]:
        signature = self.model.signature
        data = frame
        if signature is not None and signature.inputs is not None:
            data = enforce_input(frame, signature.inputs)
        proba = np.asarray(self.proba(data))  # type: ignore[misc]
        if proba.ndim == 2 and self.classes is not None and len(self.classes) == proba.shape[1]:
            return {f"{PROBABILITY}.{c}": proba[:, j] for j, c in enumerate(self.classes)}
        return output_columns({PROBABILITY: proba}, rows)


_worker_args: tuple[Any, ...] | None = None
_worker_scorer: _Scorer | None = None


def _init_worker(*args: Any) -> None:
    global _worker_args
    _worker_args = args


def _score_in_worker(table: pa.Table) -> pa.Table:
    """Score in a worker process; the model loads on the first chunk, so errors reach us."""
    global _worker_scorer
    if _worker_scorer is None:
        assert _worker_args is not None
        _worker_scorer = _Scorer(*_worker_args)
    return _worker_scorer(table)


def _model_input(chunk: pa.Table, columns: list[str] | None) -> pa.Table:
    return chunk if columns is None else chunk.select(columns)


def _scored_chunks(
    chunks: Iterable[pa.Table], scorer_args: tuple[Any, ...], workers: int
) -> Iterator[tuple[pa.Table, pa.Table]]:
    """(input chunk, output columns) pairs, in input order."""
    columns = scorer_args[1]
    if workers == 1:
        scorer = _Scorer(*scorer_args)
        for chunk in chunks:
            yield chunk, scorer(_model_input(chunk, columns))
        return
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=get_context("spawn"),
        initializer=_init_worker,
        initargs=scorer_args,
    )
    inflight: deque[tuple[pa.Table, Future[pa.Table]]] = deque()
    try:
        for chunk in chunks:
            inflight.append((chunk, pool.submit(_score_in_worker, _model_input(chunk, columns))))
            if len(inflight) >= 2 * workers:  # enough queued to keep every worker busy
                done, future = inflight.popleft()
                yield done, future.result()
        while inflight:
            done, future = inflight.popleft()
            yield done, future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


# --- files -----------------------------------------------------------------------------


class _Reader:
    """An input file as an Arrow schema and a stream of `chunk_rows`-row tables."""

    def __init__(
        self, path: Path, fmt: str, chunk_rows: int, signature: ModelSignature | None
    ) -> None:
        self.path = path
        self.chunk_rows = chunk_rows
        self.total_rows: int | None = None
        try:
            if fmt == "parquet":
                self._parquet = pq.ParquetFile(path)
                self.schema = self._parquet.schema_arrow
                self.total_rows = self._parquet.metadata.num_rows
            else:
                self._csv = pacsv.open_csv(
                    path,
                    read_options=pacsv.ReadOptions(block_size=_CSV_BLOCK_BYTES),
                    convert_options=pacsv.ConvertOptions(column_types=_csv_types(signature)),
                )
                self.schema = self._csv.schema
        except (pa.ArrowInvalid, OSError) as exc:
            raise InvalidParameterValue(
                f"Cannot read {str(path)!r} as {fmt.upper()}: {exc}"
            ) from exc
        self.format = fmt

    def chunks(self) -> Iterator[pa.Table]:
        batches = (
            self._parquet.iter_batches(batch_size=self.chunk_rows)
            if self.format == "parquet"
            else self._csv
        )
        done = 0
        try:
            for table in _rechunk(batches, self.chunk_rows):
                done += table.num_rows
                yield table
        except (pa.ArrowInvalid, OSError) as exc:
            raise InvalidParameterValue(
                f"Cannot read {str(self.path)!r} after row {done}: {exc}"
            ) from exc


def _csv_types(signature: ModelSignature | None) -> dict[str, pa.DataType]:
    schema = signature.inputs if signature is not None else None
    if schema is None or schema.is_tensor_spec() or not schema.has_input_names():
        return {}
    return {
        str(spec.name): _ARROW_TYPES[spec.type]
        for spec in schema.inputs
        if isinstance(spec, ColSpec) and spec.type in _ARROW_TYPES
    }


def _rechunk(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.Table]:
    """Tables of exactly `rows` rows (the last may be shorter), whatever the batch sizes."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        while batch.num_rows:
            take = min(rows - count, batch.num_rows)
            pending.append(batch.slice(0, take))
            count += take
            batch = batch.slice(take)
            if count == rows:
                yield pa.Table.from_batches(pending)
                pending, count = [], 0
    if count:
        yield pa.Table.from_batches(pending)


def _check_no_clash(inputs: list[str], outputs: list[str]) -> None:
    clash = sorted(set(inputs) & set(outputs))
    if clash:
        raise InvalidParameterValue(
            f"The input already has the column(s) {clash}, which the output adds; "
            "rename or drop them first."
        )


def _combine(chunk: pa.Table, scored: pa.Table) -> pa.Table:
    for name, column in zip(scored.column_names, scored.columns, strict=True):
        chunk = chunk.append_column(name, column)
    return chunk


def _empty_prediction() -> pa.Table:
    return pa.table({"prediction": pa.nulls(0)})


class _Writer:
    """Chunks into one Parquet or CSV file, published by rename when complete."""

    def __init__(self, path: Path, fmt: str) -> None:
        self.path = path
        self.format = fmt
        self.tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
        self.schema: pa.Schema | None = None
        self._writer: Any = None
        self._chunk = 0

    def write(self, table: pa.Table) -> None:
        self._chunk += 1
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.schema = table.schema.remove_metadata()
            self._writer = (
                pq.ParquetWriter(self.tmp, self.schema, compression="zstd")
                if self.format == "parquet"
                else pacsv.CSVWriter(self.tmp, self.schema)
            )
        assert self.schema is not None
        if not table.schema.equals(self.schema, check_metadata=False):
            try:
                table = table.cast(self.schema)
            except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError) as exc:
                raise InvalidParameterValue(
                    f"Chunk {self._chunk} has different column types from the first chunk "
                    f"and cannot be written to the same file: {exc}"
                ) from exc
        self._writer.write_table(table)

    def commit(self) -> None:
        self._writer.close()
        self._writer = None
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        try:
            if self._writer is not None:
                self._writer.close()
        except Exception:  # already failing; the original error is the one to report
            pass
        self.tmp.unlink(missing_ok=True)


__all__ = ["DEFAULT_CHUNK_ROWS", "BatchResult", "ProgressCallback", "file_format", "predict_file"]
