"""Request payloads → what a model gets, checked against its signature.

The protocols translate HTTP bodies into one of a few payload shapes: `Records` (a list of
row dicts), `Split` (columns + rows), `Columns` (a dict of column values), `Tensor` (one
array, nested lists or numpy), `Tensors` (named arrays) and `Frame` (a DataFrame from CSV
or Parquet). `InputReader.prepare` turns one payload into checked model input; `merge`
joins several (one batch) and `split_rows` cuts a batch's output back per request.

Two ways through `prepare`:

- **fast**: when the signature is named scalar columns (numbers, booleans, strings) and the
  payload is JSON-shaped rows or 1-D columns, every value's type is checked in Python and
  the rows are packed into numpy column arrays (a `Block`), with no pandas per request.
  Models without a signature get the same treatment with column types inferred as pandas
  would infer them.
- **general**: anything else (and anything the fast check does not accept) is built as
  MLflow's scoring server builds it and checked by `slipway.models.signature.enforce_input`,
  which lists every problem.

The fast path accepts only what `enforce_input` accepts and converts it to the same
dtypes, so the model sees the same input either way; every rejection comes from
`enforce_input`, so error messages are the same too.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from slipway.errors import BadRequest, SlipwayError
from slipway.models.signature import ColSpec, DataType, Schema, TensorSpec, enforce_input

if TYPE_CHECKING:
    import pandas as pd


# --------------------------------------------------------------------------- payloads


@dataclass(slots=True)
class Records:
    """Rows as dicts: `[{"a": 1, "b": "x"}, ...]`."""

    rows: list[Any]


@dataclass(slots=True)
class Split:
    """Column names and rows of values (pandas `orient="split"`)."""

    columns: list[Any] | None
    data: list[Any]


@dataclass(slots=True)
class Columns:
    """Values per column: `{"a": [1, 2], "b": ["x", "y"]}` (lists or 1-D arrays)."""

    columns: dict[str, Any]


@dataclass(slots=True)
class Tensor:
    """One unnamed array (nested lists or numpy); the first dimension is the rows."""

    value: Any


@dataclass(slots=True)
class Tensors:
    """Named arrays, for models whose signature is named tensors."""

    value: dict[str, Any]


@dataclass(slots=True)
class Frame:
    """A DataFrame already (CSV and Parquet bodies)."""

    frame: pd.DataFrame


Payload = Records | Split | Columns | Tensor | Tensors | Frame


def count_rows(payload: Payload) -> int:
    """Rows in a payload, cheaply (used to size batches before anything is checked)."""
    if isinstance(payload, Records):
        return len(payload.rows)
    if isinstance(payload, Split):
        return len(payload.data) if isinstance(payload.data, list) else 1
    if isinstance(payload, Columns):
        for value in payload.columns.values():
            return len(value) if isinstance(value, (list, np.ndarray)) else 1
        return 0
    if isinstance(payload, Tensor):
        value = payload.value
        if isinstance(value, np.ndarray):
            return int(value.shape[0]) if value.ndim else 1
        return len(value) if isinstance(value, list) else 1
    if isinstance(payload, Tensors):
        for value in payload.value.values():
            return len(value) if isinstance(value, (list, np.ndarray)) else 1
        return 0
    return len(payload.frame)


# --------------------------------------------------------------------------- blocks


@dataclass(slots=True)
class Block:
    """Checked rows as numpy: one 2-D `matrix` when every column has one dtype, else columns."""

    names: tuple[str, ...]
    rows: int
    matrix: np.ndarray | None = None
    columns: list[np.ndarray] | None = None

    @property
    def layout(self) -> tuple[Any, ...]:
        if self.matrix is not None:
            return (self.names, self.matrix.dtype)
        assert self.columns is not None
        return (self.names, *(c.dtype for c in self.columns))

    def row_slice(self, start: int, stop: int) -> Block:
        """Rows `start:stop` as a Block of numpy views (no copy)."""
        if self.matrix is not None:
            return Block(self.names, stop - start, matrix=self.matrix[start:stop])
        assert self.columns is not None
        return Block(self.names, stop - start, columns=[c[start:stop] for c in self.columns])

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        if self.matrix is not None:
            return pd.DataFrame(self.matrix, columns=_column_index(self.names), copy=False)
        assert self.columns is not None
        return pd.DataFrame(dict(zip(self.names, self.columns, strict=True)), copy=False)


_INDEXES: dict[tuple[str, ...], Any] = {}
_MAX_CACHED_INDEXES = 256


def _column_index(names: tuple[str, ...]) -> pd.Index:
    """The columns Index for `names`, built once: building it is most of a 1-row DataFrame."""
    index = _INDEXES.get(names)
    if index is None:
        import pandas as pd

        index = pd.Index(list(names))
        if len(_INDEXES) < _MAX_CACHED_INDEXES:  # models without a signature name their own
            _INDEXES[names] = index
    return index


# Column types the fast path handles, and the dtype enforce_input gives each.
_FAST_DTYPES: dict[DataType, np.dtype] = {
    DataType.double: np.dtype("float64"),
    DataType.float: np.dtype("float32"),
    DataType.long: np.dtype("int64"),
    DataType.integer: np.dtype("int32"),
    DataType.boolean: np.dtype("bool"),
    DataType.string: np.dtype("O"),
}
_F64, _I64, _BOOL, _OBJ = (np.dtype(t) for t in ("float64", "int64", "bool", "O"))
_INT32 = np.iinfo(np.int32)


def _check_values(values: Sequence[Any], dtype: np.dtype) -> bool:
    """Whether every JSON value may go into a column of `dtype` (as enforce_input allows)."""
    if dtype.kind == "f":
        return all((t := type(v)) is float or t is int for v in values)
    if dtype.kind == "i":
        return all(type(v) is int for v in values)
    if dtype.kind == "b":
        return all(type(v) is bool for v in values)
    return all(type(v) is str for v in values)


def _infer_dtype(values: Sequence[Any]) -> np.dtype | None:
    """The dtype pandas infers for a column of JSON values, when it is a simple one."""
    types = {type(v) for v in values}
    if types == {float} or types == {int, float}:
        return _F64
    if types == {int}:
        return _I64
    if types == {bool}:
        return _BOOL
    if types == {str}:
        return _OBJ
    return None


def _to_array(values: Sequence[Any], dtype: np.dtype) -> np.ndarray | None:
    try:
        arr = np.array(values, dtype=dtype)
    except (OverflowError, ValueError, TypeError):
        return None
    # np.array raises for values beyond int32 on numpy 2; older numpys wrap, so check.
    if dtype == np.int32 and arr.size and (arr.min() < _INT32.min or arr.max() > _INT32.max):
        return None
    return arr


def _from_numpy(arr: Any, dtype: np.dtype) -> np.ndarray | None:
    """A 1-D or 2-D numpy array converted to `dtype` if enforce_input would accept it."""
    if not isinstance(arr, np.ndarray):
        return None
    kind = arr.dtype.kind
    if dtype.kind == "f":
        return arr.astype(dtype, copy=False) if kind in "iuf" else None
    if dtype.kind == "i":
        if kind not in "iu":
            return None
        info = np.iinfo(dtype)
        if arr.size and (arr.min() < info.min or arr.max() > info.max):
            return None
        return arr.astype(dtype, copy=False)
    if dtype.kind == "b":
        return arr if kind == "b" else None
    if kind == "U":
        return arr.astype(object)
    if kind == "O" and all(type(v) is str for v in arr.ravel()):
        return arr
    return None


# --------------------------------------------------------------------------- the reader


class InputReader:
    """Reads payloads into checked model input for one signature (or none)."""

    def __init__(self, schema: Schema | None) -> None:
        self.schema = schema if schema is not None and schema.inputs else None
        self.names: tuple[str, ...] | None = None
        self.dtypes: tuple[np.dtype, ...] = ()
        self._getter: Callable[[Any], tuple[Any, ...]] | None = None
        if self.schema is not None and self._fast_schema(self.schema):
            specs = [s for s in self.schema.inputs if isinstance(s, ColSpec)]
            self.names = tuple(str(s.name) for s in specs)
            self.dtypes = tuple(_FAST_DTYPES[s.type] for s in specs)  # type: ignore[index]
            self._getter = _row_getter(self.names)

    @staticmethod
    def _fast_schema(schema: Schema) -> bool:
        return schema.has_input_names() and all(
            isinstance(s, ColSpec) and s.required and s.type in _FAST_DTYPES for s in schema.inputs
        )

    def column_names(self) -> list[str] | None:
        """Input column names of a named column signature, in order."""
        if self.schema is None or self.schema.is_tensor_spec() or not self.schema.has_input_names():
            return None
        return [str(s.name) for s in self.schema.inputs]

    def prepare(self, payload: Payload) -> Any:
        """Checked model input for one request: a Block, DataFrame, array or dict of arrays.

        Raises SchemaEnforcementError (every problem) or BadRequest (unreadable input).
        """
        if self.schema is None:
            block = self._fast_unsigned(payload)
        elif self.names is not None:
            block = self._fast(payload)
        else:
            block = None
        if block is not None:
            return block
        return self._general(payload)

    # -- fast path -------------------------------------------------------------------
    def _fast(self, payload: Payload) -> Block | None:
        names = self.names
        assert names is not None and self._getter is not None
        width = len(names)
        if isinstance(payload, Records):
            rows = payload.rows
            try:
                tuples = [self._getter(r) for r in rows]
            except (KeyError, TypeError):
                return None
            if any(len(r) != width for r in rows):
                return None  # extra columns: enforce_input reports them
            return self._pack(tuples, len(rows))
        if isinstance(payload, Split):
            columns, data = payload.columns, payload.data
            if (
                not isinstance(columns, list)
                or len(columns) != width
                or not all(isinstance(c, str) for c in columns)
                or not isinstance(data, list)
                or set(columns) != set(names)
                or any(not isinstance(r, list) or len(r) != width for r in data)
            ):
                return None
            if tuple(columns) != names:
                order = [columns.index(n) for n in names]
                data = [[r[i] for i in order] for r in data]
            return self._pack(data, len(data))
        if isinstance(payload, Columns):
            cols = payload.columns
            if len(cols) != width or set(cols) != set(names):
                return None
            values = [cols[n] for n in names]
            if any(not isinstance(v, (list, np.ndarray)) for v in values):
                return None
            rows = len(values[0])
            if any(len(v) != rows for v in values):
                return None
            arrays = []
            for value, dtype in zip(values, self.dtypes, strict=True):
                if isinstance(value, np.ndarray):
                    arr = _from_numpy(value, dtype) if value.ndim == 1 else None
                else:
                    arr = _to_array(value, dtype) if _check_values(value, dtype) else None
                if arr is None:
                    return None
                arrays.append(arr)
            return self._block(arrays, rows)
        if isinstance(payload, Tensor) and len(set(self.dtypes)) == 1:
            value = payload.value
            if isinstance(value, list):
                if not all(isinstance(r, list) and len(r) == width for r in value):
                    return None
                return self._pack(value, len(value))
            if isinstance(value, np.ndarray) and value.ndim == 2 and value.shape[1] == width:
                matrix = _from_numpy(value, self.dtypes[0])
                if matrix is not None:
                    return Block(names, len(matrix), matrix=matrix)
        return None

    def _pack(self, rows: Sequence[Sequence[Any]], count: int) -> Block | None:
        """Type-check JSON rows (in signature order) and pack them as numpy."""
        assert self.names is not None
        dtypes = self.dtypes
        first = dtypes[0]
        if first != _OBJ and all(d == first for d in dtypes):
            if not all(_check_values(r, first) for r in rows):
                return None
            matrix = _to_array(rows, first)
            if matrix is None or matrix.ndim != 2:
                return None
            return Block(self.names, count, matrix=matrix)
        arrays = []
        for values, dtype in zip(zip(*rows, strict=True), dtypes, strict=True):
            if not _check_values(values, dtype):
                return None
            arr = _to_array(values, dtype)
            if arr is None:
                return None
            arrays.append(arr)
        if not arrays:
            return None
        return self._block(arrays, count)

    def _block(self, arrays: list[np.ndarray], rows: int) -> Block:
        assert self.names is not None
        first = arrays[0].dtype
        if first != _OBJ and all(a.dtype == first for a in arrays):
            return Block(self.names, rows, matrix=np.column_stack(arrays))
        return Block(self.names, rows, columns=arrays)

    def _fast_unsigned(self, payload: Payload) -> Block | None:
        """Records without a signature: column types inferred as pandas infers them."""
        if not isinstance(payload, Records) or not payload.rows:
            return None
        rows = payload.rows
        first = rows[0]
        if not isinstance(first, dict) or not all(isinstance(k, str) for k in first):
            return None
        names = tuple(first)
        if not names:
            return None
        getter = _row_getter(names)
        try:
            tuples = [getter(r) for r in rows]
        except (KeyError, TypeError):
            return None
        if any(len(r) != len(names) for r in rows):
            return None
        arrays = []
        for values in zip(*tuples, strict=True):
            dtype = _infer_dtype(values)
            arr = _to_array(values, dtype) if dtype is not None else None
            if arr is None:
                return None
            arrays.append(arr)
        first_dtype = arrays[0].dtype
        if first_dtype != _OBJ and all(a.dtype == first_dtype for a in arrays):
            return Block(names, len(rows), matrix=np.column_stack(arrays))
        return Block(names, len(rows), columns=arrays)

    # -- general path ----------------------------------------------------------------
    def _general(self, payload: Payload) -> Any:
        data = _build(payload, self.schema)
        if self.schema is None:
            return data
        try:
            return enforce_input(data, self.schema)
        except SlipwayError:
            raise
        except (ValueError, TypeError, KeyError) as exc:
            raise BadRequest(f"Cannot check the input against the signature: {exc}") from exc


def _row_getter(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    if len(names) == 1:
        name = names[0]
        return lambda row: (row[name],)
    return operator.itemgetter(*names)


def _build(payload: Payload, schema: Schema | None) -> Any:
    """The input MLflow's scoring server would build from a payload (before enforcement)."""
    import pandas as pd

    try:
        if isinstance(payload, Frame):
            return payload.frame
        if isinstance(payload, Records):
            return pd.DataFrame(data=payload.rows)
        if isinstance(payload, Split):
            return pd.DataFrame(data=payload.data, columns=payload.columns)
        if isinstance(payload, Columns):
            cols = payload.columns
            if cols and not any(isinstance(v, (list, np.ndarray)) for v in cols.values()):
                return pd.DataFrame([cols])
            if schema is not None and schema.is_tensor_spec():
                return {k: np.asarray(v) for k, v in cols.items()}
            return pd.DataFrame(cols)
        if isinstance(payload, Tensors):
            return {k: np.asarray(v) for k, v in payload.value.items()}
        value = payload.value
        if (
            schema is not None
            and not schema.is_tensor_spec()
            and len(schema.inputs) == 1
            and isinstance(value, list)
            and all(not isinstance(v, (list, dict)) for v in value)
        ):
            return pd.DataFrame({schema.input_names()[0]: value})
        return value if isinstance(value, np.ndarray) else np.asarray(value)
    except SlipwayError:
        raise
    except (ValueError, TypeError) as exc:
        raise BadRequest(f"Cannot read the input as a table or tensor: {exc}") from exc


# --------------------------------------------------------------------------- batches


def merge(prepared: list[Any]) -> Any:
    """One model input from several requests' checked inputs (raises if they do not mix)."""
    first = prepared[0]
    if len(prepared) == 1:
        return first
    if isinstance(first, Block) and all(
        isinstance(p, Block) and p.layout == first.layout for p in prepared
    ):
        rows = sum(p.rows for p in prepared)
        if first.matrix is not None:
            matrix = np.concatenate([p.matrix for p in prepared])
            return Block(first.names, rows, matrix=matrix)
        assert first.columns is not None
        columns = [
            np.concatenate([p.columns[i] for p in prepared]) for i in range(len(first.names))
        ]
        return Block(first.names, rows, columns=columns)
    if isinstance(first, np.ndarray) and all(isinstance(p, np.ndarray) for p in prepared):
        return np.concatenate(prepared)
    if isinstance(first, dict) and all(
        isinstance(p, dict) and p.keys() == first.keys() for p in prepared
    ):
        return {k: np.concatenate([np.asarray(p[k]) for p in prepared]) for k in first}
    import pandas as pd

    frames = [p.to_frame() if isinstance(p, Block) else p for p in prepared]
    if all(isinstance(f, pd.DataFrame) for f in frames):
        return pd.concat(frames, ignore_index=True)
    raise BadRequest("These requests' inputs cannot be joined into one batch")


def model_input(prepared: Any) -> Any:
    """What the model's predict gets: Blocks become DataFrames, the rest is as checked."""
    return prepared.to_frame() if isinstance(prepared, Block) else prepared


def rows_of(prepared: Any) -> int:
    """Rows of one request's checked input."""
    if isinstance(prepared, Block):
        return prepared.rows
    if isinstance(prepared, dict):
        for value in prepared.values():
            return len(value)
        return 0
    return len(prepared)


def split_rows(output: Any, sizes: list[int]) -> list[Any]:
    """Cut a batch's output into one piece per request (raises if rows do not line up)."""
    import pandas as pd

    total = sum(sizes)
    if isinstance(output, dict):
        pieces = {k: split_rows(v, sizes) for k, v in output.items()}
        return [{k: pieces[k][i] for k in output} for i in range(len(sizes))]
    if isinstance(output, (pd.DataFrame, pd.Series)):
        if len(output) != total:
            raise ValueError(f"the model returned {len(output)} rows for {total}")
        out, start = [], 0
        for size in sizes:
            out.append(output.iloc[start : start + size])
            start += size
        return out
    if isinstance(output, (np.ndarray, list, tuple)):
        if len(output) != total:
            raise ValueError(f"the model returned {len(output)} rows for {total}")
        out, start = [], 0
        for size in sizes:
            out.append(output[start : start + size])
            start += size
        return out
    raise ValueError(f"cannot split a model output of type {type(output).__name__} by rows")


def synthetic_payload(schema: Schema | None) -> Payload | None:
    """One made-up row matching a signature (for warming a model up), or None."""
    if schema is None or not schema.inputs:
        return None
    if schema.is_tensor_spec():
        tensors = {}
        for i, spec in enumerate(schema.inputs):
            assert isinstance(spec, TensorSpec)
            shape = [1 if d == -1 else d for d in spec.shape] or [1]
            value = np.zeros(shape, dtype=spec.dtype if spec.dtype.kind != "O" else "U1")
            tensors[spec.name or str(i)] = value
        if not schema.has_input_names():
            return Tensor(next(iter(tensors.values())))
        return Tensors(tensors)
    row: dict[str, Any] = {}
    for spec in schema.inputs:
        assert isinstance(spec, ColSpec)
        sample = _SAMPLES.get(spec.type) if isinstance(spec.type, DataType) else None
        if sample is None and spec.required:
            return None
        if spec.name is None:
            return Tensor([[_SAMPLES.get(s.type) for s in schema.inputs]])  # type: ignore[call-overload]
        if sample is not None:
            row[spec.name] = sample
    return Records([row])


_SAMPLES: dict[DataType, Any] = {
    DataType.double: 0.0,
    DataType.float: 0.0,
    DataType.long: 0,
    DataType.integer: 0,
    DataType.boolean: False,
    DataType.string: "",
    DataType.datetime: "1970-01-01T00:00:00",
}


def payload_of(example: Any) -> Payload | None:
    """A saved input example (DataFrame, array, dict, list) as a payload."""
    import pandas as pd

    if example is None:
        return None
    if isinstance(example, pd.DataFrame):
        return Frame(example)
    if isinstance(example, np.ndarray):
        return Tensor(example)
    if isinstance(example, dict):
        if example and all(isinstance(v, np.ndarray) for v in example.values()):
            return Tensors(example)
        return Columns(example)
    if isinstance(example, list):
        if example and all(isinstance(r, dict) for r in example):
            return Records(example)
        return Tensor(example)
    return Tensor([example])


__all__ = [
    "Block",
    "Columns",
    "Frame",
    "InputReader",
    "Payload",
    "Records",
    "Split",
    "Tensor",
    "Tensors",
    "count_rows",
    "merge",
    "model_input",
    "payload_of",
    "rows_of",
    "split_rows",
    "synthetic_payload",
]
