"""Read the prediction log back, joined with its labels: for people, exports and monitoring.

    read_predictions(model, version, since=, until=)     -> pandas DataFrame
    read_predictions_table(...)                           -> pyarrow Table
    iter_predictions(...)                                 -> pyarrow Tables, one batch at a time
    read_labels(since=)                                   -> the latest label per request
    export_predictions(model, "out.parquet" | "out.csv")  -> ExportResult (streams)

Reading is partition-pruned: only the `model=<name>[/version=<v>]` subtree is listed (one
recursive listing, which is one paginated call on object stores), and the `date=`
partitions outside `since`/`until` are dropped by a pyarrow.dataset filter before any file
is opened. Files written with different columns (a feature added later) or different types
are read as one table: columns are unified across files (missing ones are null, numbers
are promoted, and a column whose types cannot be promoted is read as string).

The join with labels is a left join by request id: every logged row is kept, with `label`,
`reward` and `label_timestamp` filled when feedback arrived (null otherwise); when a request
was labelled more than once the latest label wins (by label timestamp, then by arrival).
Labels are read once per call (only their four columns, and with `since` only the label
days from one day before it on, since labels come after predictions); predictions are then
streamed batch by batch, so `iter_predictions` and `export_predictions` hold one batch of
predictions in memory at a time, plus the labels.

`since` and `until` take a `datetime` (naive means UTC), a `date`, an ISO string
(`2026-11-01` or `2026-11-01T12:00:00+02:00`) or epoch milliseconds. `since` is inclusive;
`until` is exclusive for a moment and inclusive for a day (`until="2026-11-30"` includes
the whole of the 30th).

The partition columns themselves (`model`, `version`, `date`) are left out of the result:
`model_name`, `model_version` and `timestamp` carry the same facts.

Shadow rows (a `shadow` strategy's answers to copies of requests, `shadow` true) are
returned like any other row; `include_shadow=False` leaves them out, which is what a
reader of the traffic clients were actually served wants (monitoring does so). Rows
without the column (older logs) are served answers.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import posixpath
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import fsspec

from slipway.artifacts import ArtifactRepository, get_artifact_repository
from slipway.errors import InvalidParameterValue, ResourceDoesNotExist
from slipway.serving.predlog import (
    INPUT_PREFIX,
    LABELS_DIR,
    PREDICTIONS_DIR,
    TIMESTAMP_TYPE,
    partition_value,
    prediction_log_uri,
    pyarrow_missing,
)

try:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv
    import pyarrow.dataset as ds
    import pyarrow.fs as pafs
    import pyarrow.parquet as pq
except ImportError as _exc:
    raise pyarrow_missing("Reading the prediction log") from _exc

if TYPE_CHECKING:
    import pandas as pd

Moment = dt.datetime | dt.date | str | int | None

PARTITION_COLUMNS = ("model", "version", "date")
PREDICTION_PARTITIONING = ds.partitioning(
    pa.schema([(name, pa.string()) for name in PARTITION_COLUMNS]), flavor="hive"
)
LABEL_PARTITIONING = ds.partitioning(pa.schema([("date", pa.string())]), flavor="hive")
LABEL_COLUMNS = ("label", "reward", "label_timestamp")
BASE_COLUMNS = ("request_id", "row_index", "timestamp", "model_name", "model_version")
DEFAULT_BATCH_ROWS = 64_000
SHADOW = "shadow"


@dataclass(frozen=True)
class ExportResult:
    """What `export_predictions` wrote."""

    path: str
    rows: int
    labelled_rows: int | None  # None when labels were not joined

    @property
    def labelled_share(self) -> float | None:
        if self.labelled_rows is None:
            return None
        return self.labelled_rows / self.rows if self.rows else 0.0


def read_predictions(
    model_name: str,
    version: str | None = None,
    *,
    since: Moment = None,
    until: Moment = None,
    root: str | None = None,
    with_labels: bool = True,
    columns: Sequence[str] | None = None,
    tracking_uri: str | None = None,
    include_shadow: bool = True,
) -> pd.DataFrame:
    """The model's logged predictions (one row per input row), left-joined with labels.

    Sorted by timestamp, request id and row. `columns` limits the log columns read
    (`request_id` is always included; label columns are added when `with_labels`).
    `include_shadow=False` leaves out a shadow's answers (see the module docstring).
    """
    table = read_predictions_table(
        model_name,
        version,
        since=since,
        until=until,
        root=root,
        with_labels=with_labels,
        columns=columns,
        tracking_uri=tracking_uri,
        include_shadow=include_shadow,
    )
    return table.to_pandas()


def read_predictions_table(
    model_name: str,
    version: str | None = None,
    *,
    since: Moment = None,
    until: Moment = None,
    root: str | None = None,
    with_labels: bool = True,
    columns: Sequence[str] | None = None,
    tracking_uri: str | None = None,
    include_shadow: bool = True,
) -> pa.Table:
    """`read_predictions` as a pyarrow Table."""
    scan = _PredictionScan(
        model_name, version, since, until, root, columns, tracking_uri, include_shadow
    )
    labels = _latest_labels(scan.log, scan.since) if with_labels else None
    table = scan.read()
    if labels is not None:
        table = _join_labels(table, labels)
    sort_keys = [
        (c, "ascending")
        for c in ("timestamp", "request_id", "row_index")
        if c in table.schema.names
    ]
    return table.sort_by(sort_keys) if sort_keys and table.num_rows else table


def iter_predictions(
    model_name: str,
    version: str | None = None,
    *,
    since: Moment = None,
    until: Moment = None,
    root: str | None = None,
    with_labels: bool = True,
    columns: Sequence[str] | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    tracking_uri: str | None = None,
    include_shadow: bool = True,
) -> Iterator[pa.Table]:
    """The joined log one batch at a time (file order; every batch has the same schema).

    `include_shadow=False` leaves out a shadow's answers (see the module docstring).
    """
    scan = _PredictionScan(
        model_name, version, since, until, root, columns, tracking_uri, include_shadow
    )
    labels = _latest_labels(scan.log, scan.since) if with_labels else None
    for batch in scan.batches(batch_rows):
        table = pa.Table.from_batches([batch])
        yield _join_labels(table, labels) if labels is not None else table


def read_labels(
    *, since: Moment = None, root: str | None = None, tracking_uri: str | None = None
) -> pa.Table:
    """The latest label per request id: `request_id`, `label`, `reward`, `label_timestamp`."""
    log = _LogRoot(root, tracking_uri)
    return _latest_labels(log, _moment(since, end=False))


def export_predictions(
    model_name: str,
    output_path: str | Path,
    version: str | None = None,
    *,
    since: Moment = None,
    until: Moment = None,
    root: str | None = None,
    with_labels: bool = True,
    tracking_uri: str | None = None,
    include_shadow: bool = True,
) -> ExportResult:
    """Write the joined log to a local `.parquet` or `.csv` file, streaming batch by batch.

    The file appears whole or not at all (written under a temporary name, then renamed).
    ResourceDoesNotExist when the model has no logged predictions at all.
    `include_shadow=False` leaves out a shadow's answers (see the module docstring).
    """
    path = Path(output_path)
    fmt = _file_format(path)
    scan = _PredictionScan(
        model_name, version, since, until, root, None, tracking_uri, include_shadow
    )
    if not scan.model_exists():
        known = scan.log.models()
        listed = ", ".join(repr(m) for m in known) if known else "none"
        raise ResourceDoesNotExist(
            f"No predictions logged for model {model_name!r} under {scan.log.uri} "
            f"(models with a log: {listed})."
        )
    labels = _latest_labels(scan.log, scan.since) if with_labels else None
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    rows = labelled = 0
    writer: Any = None
    try:
        schema = scan.schema
        if labels is not None:
            schema = _join_labels(schema.empty_table(), labels).schema
        writer = (
            pq.ParquetWriter(tmp, schema, compression="zstd")
            if fmt == "parquet"
            else pacsv.CSVWriter(tmp, schema)
        )
        for batch in scan.batches(DEFAULT_BATCH_ROWS):
            table = pa.Table.from_batches([batch])
            if labels is not None:
                table = _join_labels(table, labels)
                labelled += table.num_rows - table.column("label_timestamp").null_count
            writer.write_table(table)
            rows += table.num_rows
        writer.close()
        writer = None
        os.replace(tmp, path)
    finally:
        if writer is not None:
            writer.close()
        if tmp.exists():
            tmp.unlink()
    return ExportResult(str(path), rows, labelled if with_labels else None)


# --- where the log is ------------------------------------------------------------------


class _LogRoot:
    """The log root as a pyarrow filesystem and base path (from the artifact layer)."""

    def __init__(self, root: str | None, tracking_uri: str | None) -> None:
        self.uri = root or prediction_log_uri(tracking_uri)
        repo = get_artifact_repository(self.uri, tracking_uri)
        fs = getattr(repo, "fs", None)
        local = False
        if isinstance(fs, fsspec.AbstractFileSystem):
            self.fsspec: fsspec.AbstractFileSystem = fs
            self.base: str = repo.root  # type: ignore[attr-defined]
            protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
            local = "file" in protocols
        else:  # a server's artifact proxy: read through the repository interface
            self.fsspec = _RepositoryFileSystem(repo)
            self.base = ""
        self.filesystem: pafs.FileSystem = (
            pafs.LocalFileSystem() if local else pafs.PyFileSystem(pafs.FSSpecHandler(self.fsspec))
        )

    def path(self, *parts: str) -> str:
        return posixpath.join(self.base, *parts) if self.base else posixpath.join(*parts)

    def parquet_files(self, folder: str) -> list[str]:
        """Every finished Parquet file below `folder`, sorted (so by write time per folder)."""
        try:
            found = self.fsspec.find(folder)
        except FileNotFoundError:
            return []
        return sorted(p for p in found if p.endswith(".parquet"))

    def models(self) -> list[str]:
        from urllib.parse import unquote

        folder = self.path(PREDICTIONS_DIR)
        try:
            entries = self.fsspec.ls(folder, detail=False)
        except FileNotFoundError:
            return []
        names = [posixpath.basename(str(e).rstrip("/")) for e in entries]
        return sorted(unquote(n.removeprefix("model=")) for n in names if n.startswith("model="))


class _RepositoryFileSystem(fsspec.AbstractFileSystem):
    """A read-only fsspec view of an ArtifactRepository (for the `mlflow-artifacts:` proxy)."""

    protocol = "slipway-artifacts"
    cachable = False

    def __init__(self, repo: ArtifactRepository) -> None:
        super().__init__()
        self.repo = repo

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        rel = path.strip("/")
        if not self.repo.is_dir(rel):
            if rel and self.repo.exists(rel):
                return [self.info(path)] if detail else [rel]
            raise FileNotFoundError(path)
        infos = [
            {
                "name": f.path,
                "type": "directory" if f.is_dir else "file",
                "size": 0 if f.is_dir else (f.file_size or 0),
            }
            for f in self.repo.list(rel)
        ]
        return infos if detail else [i["name"] for i in infos]

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        rel = path.strip("/")
        if rel == "" or self.repo.is_dir(rel):
            return {"name": rel, "type": "directory", "size": 0}
        parent = posixpath.dirname(rel)
        for f in self.repo.list(parent):
            if f.path == rel:
                return {"name": rel, "type": "file", "size": f.file_size or 0}
        raise FileNotFoundError(path)

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        if mode != "rb":
            raise PermissionError("The prediction log is read-only through this view.")
        # Parquet readers seek (the footer comes first); the proxy streams, so buffer it.
        return io.BytesIO(self.repo.read_bytes(path.strip("/")))


# --- predictions -----------------------------------------------------------------------


class _PredictionScan:
    """The pruned, schema-unified dataset of one model's predictions."""

    def __init__(
        self,
        model_name: str,
        version: str | None,
        since: Moment,
        until: Moment,
        root: str | None,
        columns: Sequence[str] | None,
        tracking_uri: str | None,
        include_shadow: bool = True,
    ) -> None:
        self.log = _LogRoot(root, tracking_uri)
        self.since = _moment(since, end=False)
        self.until = _moment(until, end=True)
        if self.since and self.until and self.since >= self.until:
            raise InvalidParameterValue(
                f"since ({self.since.isoformat()}) must be before until ({self.until.isoformat()})."
            )
        self.model_name = model_name
        parts = [PREDICTIONS_DIR, f"model={partition_value(model_name)}"]
        if version is not None:
            parts.append(f"version={partition_value(str(version))}")
        self.folder = self.log.path(*parts)
        self.partition_filter = _date_filter(self.since, self.until)
        self.row_filter = _time_filter(self.since, self.until)
        files = self._pruned_files()
        self.dataset = _unified_dataset(
            self.log, files, self.log.path(PREDICTIONS_DIR), PREDICTION_PARTITIONING
        )
        if not include_shadow and self.dataset is not None:
            self.row_filter = _all(
                [c for c in (self.row_filter, _served(self.dataset)) if c is not None]
            )
        if self.dataset is None:
            names = list(BASE_COLUMNS)
        else:
            names = _column_order(
                [n for n in self.dataset.schema.names if n not in PARTITION_COLUMNS]
            )
        if columns is not None:
            unknown = [c for c in columns if c not in names and c not in LABEL_COLUMNS]
            if unknown and files:
                raise InvalidParameterValue(
                    f"Unknown prediction log column(s) {unknown}; the log of {model_name!r} "
                    f"has: {names}."
                )
            wanted = ["request_id", *[c for c in columns if c != "request_id"]]
            names = [c for c in wanted if c in names]
        self.columns = names

    def _pruned_files(self) -> list[str]:
        files = self.log.parquet_files(self.folder)
        if not files or self.partition_filter is None:
            return files
        dataset = ds.dataset(
            files,
            filesystem=self.log.filesystem,
            format="parquet",
            partitioning=PREDICTION_PARTITIONING,
            partition_base_dir=self.log.path(PREDICTIONS_DIR),
        )
        return [f.path for f in dataset.get_fragments(filter=self.partition_filter)]

    def model_exists(self) -> bool:
        folder = self.log.path(PREDICTIONS_DIR, f"model={partition_value(self.model_name)}")
        return bool(self.log.fsspec.exists(folder))

    @property
    def schema(self) -> pa.Schema:
        if self.dataset is None:
            return _empty_predictions().select(self.columns).schema
        return pa.schema([self.dataset.schema.field(c) for c in self.columns])

    def batches(self, batch_rows: int) -> Iterator[pa.RecordBatch]:
        if self.dataset is None:
            return
        yield from self.dataset.to_batches(
            columns=self.columns, filter=self.row_filter, batch_size=batch_rows
        )

    def read(self) -> pa.Table:
        if self.dataset is None:
            return _empty_predictions().select(self.columns)
        return self.dataset.to_table(columns=self.columns, filter=self.row_filter)


def _served(dataset: ds.Dataset) -> ds.Expression | None:
    """The rows clients were served: not a shadow's (null, or no column, is served)."""
    if SHADOW not in dataset.schema.names:
        return None
    shadow = ds.field(SHADOW)
    return shadow.is_null() | (shadow == pa.scalar(False))


def _column_order(names: list[str]) -> list[str]:
    """The log's own columns, then the inputs, then the outputs (files may list them mixed)."""
    base = [n for n in (*BASE_COLUMNS, "variant", "experiment", SHADOW) if n in names]
    inputs = [n for n in names if n.startswith(INPUT_PREFIX)]
    rest = [n for n in names if n not in base and n not in inputs]
    return base + inputs + rest


def _empty_predictions() -> pa.Table:
    return pa.schema(
        [
            ("request_id", pa.string()),
            ("row_index", pa.int32()),
            ("timestamp", TIMESTAMP_TYPE),
            ("model_name", pa.string()),
            ("model_version", pa.string()),
        ]
    ).empty_table()


def _unified_dataset(
    log: _LogRoot, files: list[str], base_dir: str, partitioning: ds.Partitioning
) -> ds.Dataset | None:
    """One dataset over `files` whose schema covers every file's columns."""
    if not files:
        return None
    options = ds.FileSystemFactoryOptions(partitioning=partitioning, partition_base_dir=base_dir)
    factory = ds.FileSystemDatasetFactory(log.filesystem, files, ds.ParquetFileFormat(), options)
    try:
        schema = factory.inspect(promote_options="permissive")
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        schema = _unify_conflicting(factory.finish())
    return factory.finish(schema)


def _unify_conflicting(dataset: ds.Dataset) -> pa.Schema:
    """Unify file schemas field by field; a field whose types do not promote becomes string."""
    schemas = [f.physical_schema for f in dataset.get_fragments()]
    types: dict[str, list[pa.DataType]] = {}
    for schema in schemas:
        for field in schema:
            types.setdefault(field.name, []).append(field.type)
    fields = []
    for name, seen in types.items():
        try:
            merged = pa.unify_schemas(
                [pa.schema([(name, t)]) for t in seen], promote_options="permissive"
            )
            fields.append(merged.field(name))
        except (pa.ArrowTypeError, pa.ArrowInvalid):
            fields.append(pa.field(name, pa.string()))
    partition_fields = [dataset.schema.field(n) for n in dataset.schema.names if n not in types]
    return pa.schema(fields + partition_fields)


# --- labels ----------------------------------------------------------------------------


def _latest_labels(log: _LogRoot, since: dt.datetime | None) -> pa.Table:
    """One row per request id: its latest label (by label time, then arrival order)."""
    files = log.parquet_files(log.path(LABELS_DIR))
    if files and since is not None:
        # Labels come after their predictions; one day of slack covers clock skew.
        first_day = (since - dt.timedelta(days=1)).date().isoformat()
        dataset = ds.dataset(
            files,
            filesystem=log.filesystem,
            format="parquet",
            partitioning=LABEL_PARTITIONING,
            partition_base_dir=log.path(LABELS_DIR),
        )
        files = [f.path for f in dataset.get_fragments(filter=ds.field("date") >= first_day)]
    dataset = _unified_dataset(log, files, log.path(LABELS_DIR), LABEL_PARTITIONING)
    if dataset is None:
        return _empty_labels()
    names = dataset.schema.names
    wanted = [c for c in ("request_id", "label", "reward", "timestamp") if c in names]
    # File by file, in name (= write time) order, so arrival order breaks timestamp ties.
    tables = [
        fragment.to_table(schema=dataset.schema, columns=wanted)
        for fragment in sorted(dataset.get_fragments(), key=lambda f: posixpath.basename(f.path))
    ]
    table = pa.concat_tables(tables)
    for column, kind in (("label", pa.string()), ("reward", pa.float64())):
        if column not in table.schema.names:
            table = table.append_column(column, pa.nulls(table.num_rows, kind))
    table = table.rename_columns(
        {"timestamp": "label_timestamp"} if "timestamp" in table.schema.names else {}
    )
    table = table.append_column("arrival", pa.array(range(table.num_rows), pa.int64()))
    table = table.sort_by([("label_timestamp", "descending"), ("arrival", "descending")])
    ids = table.column("request_id")
    first = pc.index_in(pc.unique(ids), value_set=ids)
    return table.take(first).select(["request_id", *LABEL_COLUMNS])


def _empty_labels() -> pa.Table:
    return pa.schema(
        [
            ("request_id", pa.string()),
            ("label", pa.string()),
            ("reward", pa.float64()),
            ("label_timestamp", TIMESTAMP_TYPE),
        ]
    ).empty_table()


def _join_labels(predictions: pa.Table, labels: pa.Table) -> pa.Table:
    """Left join by request id, keeping the predictions' order (and any column types)."""
    if "request_id" not in predictions.schema.names:
        raise InvalidParameterValue("Joining labels needs the request_id column.")
    index = pc.index_in(predictions.column("request_id"), value_set=labels.column("request_id"))
    matched = labels.select(list(LABEL_COLUMNS)).take(index)
    for name in LABEL_COLUMNS:
        if name in predictions.schema.names:  # a logged output named like a label column
            predictions = predictions.drop_columns([name])
        predictions = predictions.append_column(name, matched.column(name))
    return predictions


# --- time bounds -----------------------------------------------------------------------


def _moment(value: Moment, *, end: bool) -> dt.datetime | None:
    """A bound as an aware UTC datetime; a whole day as an `until` means the next midnight."""
    if value is None:
        return None
    day: dt.date | None = None
    if isinstance(value, bool):
        raise InvalidParameterValue(f"Not a time: {value!r}.")
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        day = value
    elif isinstance(value, int | float):
        moment = dt.datetime.fromtimestamp(value / 1000, dt.UTC)
    elif isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10:
                day = dt.date.fromisoformat(text)
            else:
                moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidParameterValue(
                f"Cannot read {value!r} as a date or time: use 2026-11-01 or "
                "2026-11-01T12:00:00 (ISO 8601, UTC unless it says otherwise)."
            ) from None
    else:
        raise InvalidParameterValue(f"Not a time: {value!r} ({type(value).__name__}).")
    if day is not None:
        moment = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
        if end:
            moment += dt.timedelta(days=1)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def _date_filter(since: dt.datetime | None, until: dt.datetime | None) -> ds.Expression | None:
    conditions = []
    if since is not None:
        conditions.append(ds.field("date") >= since.date().isoformat())
    if until is not None:
        # `until` is exclusive: a bound at midnight does not need that day's files.
        last = until - dt.timedelta(milliseconds=1)
        conditions.append(ds.field("date") <= last.date().isoformat())
    return _all(conditions)


def _time_filter(since: dt.datetime | None, until: dt.datetime | None) -> ds.Expression | None:
    conditions = []
    if since is not None:
        conditions.append(ds.field("timestamp") >= pa.scalar(since, TIMESTAMP_TYPE))
    if until is not None:
        conditions.append(ds.field("timestamp") < pa.scalar(until, TIMESTAMP_TYPE))
    return _all(conditions)


def _all(conditions: list[ds.Expression]) -> ds.Expression | None:
    if not conditions:
        return None
    expression = conditions[0]
    for condition in conditions[1:]:
        expression = expression & condition
    return expression


def _file_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix == ".csv":
        return "csv"
    raise InvalidParameterValue(
        f"Cannot tell the format of {str(path)!r} from its extension: use .parquet or .csv."
    )


__all__ = [
    "ExportResult",
    "export_predictions",
    "iter_predictions",
    "read_labels",
    "read_predictions",
    "read_predictions_table",
]
