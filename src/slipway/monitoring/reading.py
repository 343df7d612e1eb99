"""Tabular inputs as Arrow: pandas frames, Arrow tables, Parquet and CSV files.

A `TableSource` hands out whole columns a few at a time (`read`), or all columns a batch
of rows at a time (`batches`), so a caller can keep memory bounded: Parquet is read in
column chunks and row batches straight from the file; CSV is read once into Arrow (convert
big data to Parquet). Local files are read by pyarrow natively; URLs (`s3://…` and other
fsspec URLs, when their driver is installed) are opened through `slipway.artifacts`.

pandas object columns that mix Python types (numbers and strings, say) become strings,
and the source remembers it, so the caller can report the column instead of failing.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from slipway.artifacts import get_artifact_repository
from slipway.errors import InvalidParameterValue, ResourceDoesNotExist


@dataclass
class TableSource:
    """Columns of one input: an Arrow table in memory or a Parquet file read on demand."""

    name: str
    schema: pa.Schema
    num_rows: int
    table: pa.Table | None = None
    parquet: Any = None  # pyarrow.parquet.ParquetFile
    mixed_types: dict[str, str] = field(default_factory=dict)  # column -> types seen

    @property
    def column_names(self) -> list[str]:
        return list(self.schema.names)

    def read(self, columns: list[str]) -> pa.Table:
        """Every row of `columns`."""
        if self.table is not None:
            return self.table.select(columns)
        return self.parquet.read(columns=columns, use_threads=True)

    def batches(self, batch_size: int = 65_536) -> Iterator[pa.RecordBatch]:
        """All columns, `batch_size` rows at a time."""
        if self.table is not None:
            yield from self.table.to_batches(max_chunksize=batch_size)
            return
        yield from self.parquet.iter_batches(batch_size=batch_size, use_threads=True)


def open_table(data: Any, name: str | None = None) -> TableSource:
    """A `TableSource` for a DataFrame, Arrow table, or a Parquet/CSV path or URL."""
    if isinstance(data, TableSource):
        return data
    if isinstance(data, pa.Table):
        return TableSource(name or "Arrow table", data.schema, data.num_rows, table=data)
    if isinstance(data, pa.RecordBatch):
        return open_table(pa.Table.from_batches([data]), name)
    if isinstance(data, (str, Path)):
        return _open_path(str(data))
    if type(data).__module__.startswith("pandas") and hasattr(data, "columns"):
        table, mixed = _from_pandas(data)
        return TableSource(
            name or "DataFrame", table.schema, table.num_rows, table=table, mixed_types=mixed
        )
    raise InvalidParameterValue(
        f"Cannot read {type(data).__name__} as a table: pass a pandas DataFrame, a pyarrow "
        "Table, or the path of a Parquet or CSV file."
    )


def to_numpy(column: pa.Array | pa.ChunkedArray, null_value: Any = None) -> np.ndarray:
    """A fixed-width Arrow column as NumPy, straight from its buffers.

    pyarrow's own `to_numpy` imports pandas (a quarter of a second of a CLI run); this
    reads the value buffer instead (zero-copy for one chunk, read-only). Nulls must be
    filled: `null_value` replaces them first.
    """
    if null_value is not None and column.null_count:
        column = pc.fill_null(column, null_value)
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    parts = [_chunk_to_numpy(c) for c in chunks]
    if not parts:
        return np.empty(0, dtype=_numpy_dtype(column.type))
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _numpy_dtype(t: pa.DataType) -> np.dtype:
    if pa.types.is_boolean(t):
        return np.dtype(bool)
    if pa.types.is_floating(t):
        return np.dtype(f"f{t.bit_width // 8}")
    if pa.types.is_signed_integer(t):
        return np.dtype(f"i{t.bit_width // 8}")
    if pa.types.is_unsigned_integer(t):
        return np.dtype(f"u{t.bit_width // 8}")
    raise TypeError(f"no fixed-width NumPy type for {t}")


def _chunk_to_numpy(arr: pa.Array) -> np.ndarray:
    if arr.null_count:
        raise ValueError("fill the nulls before converting to NumPy")
    dtype = _numpy_dtype(arr.type)
    buf = arr.buffers()[1]
    if buf is None or not len(arr):
        return np.empty(0, dtype=dtype)
    if dtype == np.dtype(bool):
        bits = np.unpackbits(np.frombuffer(buf, dtype=np.uint8), bitorder="little")
        return bits[arr.offset : arr.offset + len(arr)].astype(bool)
    return np.frombuffer(buf, dtype=dtype, count=len(arr), offset=arr.offset * dtype.itemsize)


def open_binary(uri: str) -> Any:
    """A binary read stream of the file at a local path or fsspec URL."""
    parent, leaf = _split(uri)
    repo = get_artifact_repository(parent)
    if not repo.exists(leaf):
        raise ResourceDoesNotExist(f"No such file: {uri}")
    return repo.open(leaf)


def write_binary(uri: str, data: bytes) -> None:
    """Write a file at a local path or fsspec URL (replacing it)."""
    parent, leaf = _split(uri)
    get_artifact_repository(parent).write_bytes(leaf, data)


def is_parquet(uri: str) -> bool:
    return uri.lower().endswith((".parquet", ".pq", ".parq"))


def is_csv(uri: str) -> bool:
    return uri.lower().endswith((".csv", ".csv.gz", ".tsv"))


def _split(uri: str) -> tuple[str, str]:
    if "://" in uri:
        parent, _, leaf = uri.rstrip("/").rpartition("/")
        return parent, leaf
    path = Path(uri).expanduser().resolve()
    return str(path.parent), path.name


def _local_or_stream(uri: str) -> Any:
    """A local file's path (pyarrow reads it natively: faster than a Python stream), or a
    stream from the artifact layer for URLs."""
    if "://" in uri and not uri.startswith("file://"):
        return open_binary(uri)
    path = Path(uri.removeprefix("file://")).expanduser()
    if not path.is_file():
        raise ResourceDoesNotExist(f"No such file: {uri}")
    return str(path)


def _open_path(uri: str) -> TableSource:
    name = posixpath.basename(uri.rstrip("/")) or uri
    if is_parquet(uri):
        import pyarrow.parquet as pq

        try:
            # pre_buffer=False: with it, pyarrow keeps every row group it has read
            # cached while iterating batches (RSS grew by ~25 MB a batch on 100 columns).
            pf = pq.ParquetFile(_local_or_stream(uri), pre_buffer=False)
        except pa.ArrowInvalid as exc:
            raise InvalidParameterValue(f"{uri} is not a readable Parquet file: {exc}") from exc
        return TableSource(name, pf.schema_arrow, pf.metadata.num_rows, parquet=pf)
    if is_csv(uri):
        import pyarrow.csv as pcsv

        parse = pcsv.ParseOptions(delimiter="\t" if uri.lower().endswith(".tsv") else ",")
        try:
            table = pcsv.read_csv(_local_or_stream(uri), parse_options=parse)
        except pa.ArrowInvalid as exc:
            raise InvalidParameterValue(f"{uri} is not a readable CSV file: {exc}") from exc
        return TableSource(name, table.schema, table.num_rows, table=table)
    raise InvalidParameterValue(
        f"Cannot tell the format of {uri!r}: name a .parquet or .csv file (or a .profile)."
    )


def _from_pandas(df: Any) -> tuple[pa.Table, dict[str, str]]:
    """An Arrow table of a DataFrame; mixed-type object columns become strings."""
    arrays, names, mixed = [], [], {}
    for name in df.columns:
        series = df[name]
        try:
            arr = pa.array(series, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            # mixed Python types: a per-value pass, only for this (already broken) column
            values = series.to_numpy(dtype=object)
            kinds = sorted({type(v).__name__ for v in values if v is not None and v == v})
            mixed[str(name)] = ", ".join(kinds)
            arr = pa.array(
                [None if v is None or v != v else str(v) for v in values], type=pa.string()
            )
        arrays.append(arr)
        names.append(str(name))
    return pa.Table.from_arrays(arrays, names=names), mixed


__all__ = [
    "TableSource",
    "is_csv",
    "is_parquet",
    "open_binary",
    "open_table",
    "to_numpy",
    "write_binary",
]
