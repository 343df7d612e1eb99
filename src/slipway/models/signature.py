"""Model signatures: what a model takes and returns, inferred, serialized and enforced.

A signature is two schemas (inputs, outputs) and optional inference parameters. A schema
is either a list of columns (`ColSpec`: type, name, required) for tabular data or a list of
tensors (`TensorSpec`: numpy dtype, shape with -1 for any size) for arrays.

The JSON form is MLflow's, byte for byte, so an MLmodel file written by either tool is
read by the other::

    [{"type": "double", "name": "x", "required": true}, ...]
    [{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 4]}}]

Enforcement (`enforce_input`) runs before every `PyFuncModel.predict`. It checks the whole
input and raises one `SchemaEnforcementError` listing every problem (missing required
columns, unexpected columns, values that cannot be converted safely, wrong tensor shapes)
so a caller fixes them all at once. Safe conversions are applied:

- any integer -> long / integer when every value fits, -> float / double;
- float32 <-> float64 (JSON carries every number as a double);
- ISO strings -> datetime; bool only to boolean; str only to string; bytes only to binary.

Everything else, float -> integer in particular, is a problem, not a silent cast.
Columns with a complex MLflow type (array, object, map, any) are checked for presence only.
"""

from __future__ import annotations

import datetime as dt
import json
import warnings
from collections.abc import Iterable, Sequence
from enum import Enum
from typing import TYPE_CHECKING, Any

import numpy as np

from slipway.errors import InvalidParameterValue, SchemaEnforcementError

if TYPE_CHECKING:
    import pandas as pd


class DataType(Enum):
    """Column types of the MLmodel format, named as MLflow names them."""

    boolean = "boolean"
    integer = "integer"
    long = "long"
    float = "float"
    double = "double"
    string = "string"
    binary = "binary"
    datetime = "datetime"

    def to_numpy(self) -> np.dtype:
        """The numpy dtype a column of this type is converted to."""
        return np.dtype(_NUMPY_DTYPES[self])

    def __repr__(self) -> str:
        return self.name


_NUMPY_DTYPES = {
    DataType.boolean: "bool",
    DataType.integer: "int32",
    DataType.long: "int64",
    DataType.float: "float32",
    DataType.double: "float64",
    DataType.string: "object",
    DataType.binary: "object",
    DataType.datetime: "datetime64[ns]",
}

_COMPLEX_TYPES = ("array", "object", "map", "any", "sparkml_vector")


class ComplexType:
    """An MLflow nested type (array, object, map, any) kept verbatim.

    slipway reads and rewrites these unchanged so signatures written by MLflow survive a
    round trip; enforcement checks such a column's presence, not its contents.
    """

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = {k: v for k, v in spec.items() if k not in ("name", "required")}

    @property
    def name(self) -> str:
        return str(self.spec["type"])

    def to_dict(self) -> dict[str, Any]:
        return dict(self.spec)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ComplexType) and self.spec == other.spec

    def __hash__(self) -> int:
        return hash(json.dumps(self.spec, sort_keys=True))

    def __repr__(self) -> str:
        return f"ComplexType({self.spec!r})"


def _to_datatype(value: DataType | ComplexType | str) -> DataType | ComplexType:
    if isinstance(value, (DataType, ComplexType)):
        return value
    try:
        return DataType[value]
    except KeyError:
        allowed = ", ".join(t.name for t in DataType)
        raise InvalidParameterValue(
            f"Unsupported column type {value!r}; expected one of: {allowed}"
        ) from None


class ColSpec:
    """One column of a tabular schema: its type, optional name, and whether it must be present."""

    def __init__(
        self,
        type: DataType | ComplexType | str,
        name: str | None = None,
        required: bool = True,
    ) -> None:
        self.type = _to_datatype(type)
        self.name = name
        self.required = bool(required)

    def to_dict(self) -> dict[str, Any]:
        out = {"type": self.type.name} if isinstance(self.type, DataType) else self.type.to_dict()
        if self.name is not None:
            out["name"] = self.name
        out["required"] = self.required
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ColSpec:
        kind = d["type"]
        required = d.get("required")
        required = True if required is None else required
        col_type = ComplexType(d) if kind in _COMPLEX_TYPES else kind
        return cls(col_type, d.get("name"), required)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ColSpec)
            and self.name == other.name
            and self.type == other.type
            and self.required == other.required
        )

    def __repr__(self) -> str:
        req = "required" if self.required else "optional"
        type_name = self.type.name
        return f"{self.name!r}: {type_name} ({req})" if self.name else f"{type_name} ({req})"


class TensorSpec:
    """One tensor of a tensor schema: numpy dtype and shape (-1 marks a free dimension)."""

    def __init__(
        self, dtype: np.dtype | str | type, shape: Sequence[int], name: str | None = None
    ) -> None:
        self.dtype = _clean_dtype(np.dtype(dtype))
        self.shape = tuple(int(d) for d in shape)
        self.name = name

    @property
    def type(self) -> np.dtype:
        """MLflow's name for the dtype."""
        return self.dtype

    @property
    def required(self) -> bool:
        return True

    def to_dict(self) -> dict[str, Any]:
        spec = {"dtype": self.dtype.name, "shape": list(self.shape)}
        out: dict[str, Any] = {"type": "tensor", "tensor-spec": spec}
        if self.name is not None:
            out = {"name": self.name, **out}
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TensorSpec:
        spec = d.get("tensor-spec")
        if not isinstance(spec, dict) or "dtype" not in spec or "shape" not in spec:
            raise InvalidParameterValue(
                f"Tensor spec needs 'tensor-spec' with dtype and shape: {d}"
            )
        return cls(spec["dtype"], spec["shape"], d.get("name"))

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, TensorSpec)
            and self.name == other.name
            and self.dtype == other.dtype
            and self.shape == other.shape
        )

    def __repr__(self) -> str:
        base = f"Tensor({self.dtype.name!r}, {self.shape!r})"
        return f"{self.name!r}: {base}" if self.name else base


def _clean_dtype(dtype: np.dtype) -> np.dtype:
    """Drop the length of str/bytes dtypes ('<U5' -> 'str'), as the format stores no sizes."""
    if dtype.char == "U":
        return np.dtype("str")
    if dtype.char == "S":
        return np.dtype("bytes")
    return dtype


Spec = ColSpec | TensorSpec


class Schema:
    """An ordered list of column specs or of tensor specs (never a mix)."""

    def __init__(self, inputs: Iterable[Spec]) -> None:
        self.inputs: list[Spec] = list(inputs)
        if any(isinstance(s, TensorSpec) for s in self.inputs) and any(
            isinstance(s, ColSpec) for s in self.inputs
        ):
            raise InvalidParameterValue("A schema holds either ColSpecs or TensorSpecs, not both")
        names = [s.name for s in self.inputs]
        if any(n is not None for n in names) and (
            any(n is None for n in names) or len(set(names)) != len(names)
        ):
            raise InvalidParameterValue(
                f"Schema entries must be all unnamed or all named with unique names: {names}"
            )

    def is_tensor_spec(self) -> bool:
        return bool(self.inputs) and isinstance(self.inputs[0], TensorSpec)

    def has_input_names(self) -> bool:
        return bool(self.inputs) and self.inputs[0].name is not None

    def input_names(self) -> list[str | int]:
        return [s.name if s.name is not None else i for i, s in enumerate(self.inputs)]

    def required_input_names(self) -> list[str | int]:
        return [n for n, s in zip(self.input_names(), self.inputs, strict=True) if s.required]

    def to_dict(self) -> list[dict[str, Any]]:
        return [s.to_dict() for s in self.inputs]

    def to_json(self) -> str:
        # json.dumps' default separators are what MLflow writes; keep them.
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> Schema:
        items = json.loads(text)
        if not isinstance(items, list):
            raise InvalidParameterValue(f"A schema is a JSON list, got: {text[:200]}")
        return cls(
            TensorSpec.from_dict(x) if x.get("type") == "tensor" else ColSpec.from_dict(x)
            for x in items
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Schema) and self.inputs == other.inputs

    def __len__(self) -> int:
        return len(self.inputs)

    def __iter__(self):
        return iter(self.inputs)

    def __repr__(self) -> str:
        return f"Schema({self.inputs!r})"


class ParamSpec:
    """One inference parameter: name, type, default, and shape (None or (-1,) for a list)."""

    def __init__(
        self,
        name: str,
        dtype: DataType | ComplexType | str,
        default: Any,
        shape: Sequence[int] | None = None,
    ) -> None:
        self.name = name
        self.dtype = _to_datatype(dtype)
        self.default = default
        self.shape = tuple(shape) if shape is not None else None

    def to_dict(self) -> dict[str, Any]:
        default = self.default
        if isinstance(default, (dt.date, dt.datetime)):
            default = default.isoformat()
        elif isinstance(default, list):
            default = [
                v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v for v in default
            ]
        out: dict[str, Any] = {
            "name": self.name,
            "default": default,
            "shape": list(self.shape) if self.shape is not None else None,
        }
        if isinstance(self.dtype, DataType):
            out["type"] = self.dtype.name
        else:
            out.update(self.dtype.to_dict())
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ParamSpec:
        kind = d.get("type") or d.get("dtype")
        dtype = ComplexType(d) if kind in _COMPLEX_TYPES else kind
        return cls(str(d["name"]), dtype, d.get("default"), d.get("shape"))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ParamSpec) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"{self.name!r}: {self.dtype.name} (default: {self.default!r})"


class ParamSchema:
    """The inference parameters a model accepts (`predict(data, params=...)`)."""

    def __init__(self, params: Iterable[ParamSpec]) -> None:
        self.params = list(params)

    def to_dict(self) -> list[dict[str, Any]]:
        return [p.to_dict() for p in self.params]

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> ParamSchema:
        return cls(ParamSpec.from_dict(x) for x in json.loads(text))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ParamSchema) and self.params == other.params

    def __repr__(self) -> str:
        return f"ParamSchema({self.params!r})"


class ModelSignature:
    """A model's input schema, output schema and inference parameters."""

    def __init__(
        self,
        inputs: Schema | None = None,
        outputs: Schema | None = None,
        params: ParamSchema | None = None,
    ) -> None:
        self.inputs = inputs
        self.outputs = outputs
        self.params = params

    def to_dict(self) -> dict[str, str | None]:
        """MLmodel form: each schema as a JSON string (compact inside the YAML)."""
        return {
            "inputs": self.inputs.to_json() if self.inputs else None,
            "outputs": self.outputs.to_json() if self.outputs else None,
            "params": self.params.to_json() if self.params else None,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelSignature:
        inputs = Schema.from_json(x) if (x := d.get("inputs")) else None
        outputs = Schema.from_json(x) if (x := d.get("outputs")) else None
        params = ParamSchema.from_json(x) if (x := d.get("params")) else None
        return cls(inputs, outputs, params)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ModelSignature)
            and self.inputs == other.inputs
            and self.outputs == other.outputs
            and self.params == other.params
        )

    def __repr__(self) -> str:
        return (
            f"ModelSignature(inputs={self.inputs!r}, outputs={self.outputs!r}, "
            f"params={self.params!r})"
        )


# ---------------------------------------------------------------------------------------------
# Inference


def infer_signature(
    model_input: Any = None, model_output: Any = None, params: dict[str, Any] | None = None
) -> ModelSignature:
    """Infer a signature from example input (and output, and params) data.

    DataFrames, Series, lists of dicts and dicts of lists give column schemas; numpy arrays
    and dicts of arrays give tensor schemas; a list of scalars or a scalar gives one
    unnamed column.
    """
    inputs = infer_schema(model_input) if model_input is not None else None
    outputs = infer_schema(model_output) if model_output is not None else None
    param_schema = infer_param_schema(params) if params else None
    return ModelSignature(inputs, outputs, param_schema)


def infer_schema(data: Any) -> Schema:
    """Infer the schema of one dataset (see `infer_signature` for what each type gives)."""
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return Schema(
            ColSpec(_infer_column_type(data[c], c), str(c), _no_missing(data[c]))
            for c in data.columns
        )
    if isinstance(data, pd.Series):
        name = None if data.name is None else str(data.name)
        return Schema([ColSpec(_infer_column_type(data, name), name, _no_missing(data))])
    if isinstance(data, np.ndarray):
        return Schema([TensorSpec(data.dtype, _free_first_dim(data.shape))])
    if _is_sparse(data):
        return Schema([TensorSpec(data.data.dtype, _free_first_dim(data.shape))])
    if isinstance(data, dict):
        if data and all(isinstance(v, np.ndarray) for v in data.values()):
            return Schema(
                TensorSpec(v.dtype, _free_first_dim(v.shape), str(k)) for k, v in data.items()
            )
        if any(not isinstance(k, str) for k in data):
            raise InvalidParameterValue("Cannot infer a schema: dictionary keys must be strings")
        if all(_is_list_like(v) for v in data.values()):
            return infer_schema(pd.DataFrame(data))
        return infer_schema(pd.DataFrame([data]))
    if isinstance(data, list):
        if not data:
            return Schema([ColSpec(DataType.string)])
        if all(isinstance(v, dict) for v in data):
            frame = pd.DataFrame.from_records(data)
            schema = infer_schema(frame)
            for spec in schema.inputs:
                spec.required = all(r.get(spec.name) is not None for r in data)
            return schema
        if all(np.isscalar(v) or isinstance(v, dt.date) for v in data):
            series = pd.Series(data)
            return Schema([ColSpec(_infer_column_type(series, None), None, True)])
        return infer_schema(np.asarray(data))
    if np.isscalar(data) or isinstance(data, dt.date):
        return Schema([ColSpec(_infer_scalar_type(data))])
    raise InvalidParameterValue(
        f"Cannot infer a schema from {type(data).__name__}: expected a pandas DataFrame or "
        "Series, a numpy array, a dict, a list or a scalar"
    )


def infer_param_schema(params: dict[str, Any]) -> ParamSchema:
    """Infer parameter specs from example parameter values (the values become defaults)."""
    specs = []
    for name, value in params.items():
        if isinstance(value, (list, tuple)):
            if not value:
                raise InvalidParameterValue(f"Cannot infer the type of empty list param {name!r}")
            specs.append(ParamSpec(name, _infer_scalar_type(value[0]), list(value), (-1,)))
        else:
            specs.append(ParamSpec(name, _infer_scalar_type(value), value))
    return ParamSchema(specs)


def _free_first_dim(shape: tuple[int, ...]) -> tuple[int, ...]:
    return (-1, *shape[1:]) if shape else (-1,)


def _is_list_like(value: Any) -> bool:
    return isinstance(value, (list, tuple, np.ndarray)) or type(value).__name__ == "Series"


def _is_sparse(data: Any) -> bool:
    return type(data).__module__.startswith("scipy.sparse") and hasattr(data, "data")


def _no_missing(series: pd.Series) -> bool:
    return not bool(series.isna().any())


def _infer_scalar_type(value: Any) -> DataType:
    if isinstance(value, (bool, np.bool_)):
        return DataType.boolean
    if isinstance(value, (int, np.integer)):
        return DataType.long if not isinstance(value, np.integer) else _numpy_datatype(value.dtype)
    if isinstance(value, (float, np.floating)):
        return (
            DataType.double if not isinstance(value, np.floating) else _numpy_datatype(value.dtype)
        )
    if isinstance(value, str):
        return DataType.string
    if isinstance(value, (bytes, bytearray)):
        return DataType.binary
    if isinstance(value, (dt.date, np.datetime64)):
        return DataType.datetime
    raise InvalidParameterValue(f"Cannot infer a column type for value {value!r}")


def _numpy_datatype(dtype: Any) -> DataType:
    kind, size = dtype.kind, dtype.itemsize
    if kind == "b":
        return DataType.boolean
    if kind == "i":
        return DataType.integer if size <= 4 else DataType.long
    if kind == "u":
        return DataType.integer if size < 4 else DataType.long
    if kind == "f":
        return DataType.float if size <= 4 else DataType.double
    if kind == "U":
        return DataType.string
    if kind == "S":
        return DataType.binary
    if kind == "M":
        return DataType.datetime
    raise InvalidParameterValue(f"Cannot map numpy dtype {dtype} to a column type")


def _infer_column_type(series: pd.Series, name: Any) -> DataType:
    import pandas as pd

    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return _infer_column_type(pd.Series(dtype.categories), name)
    if isinstance(dtype, pd.StringDtype):
        return DataType.string
    if isinstance(dtype, pd.DatetimeTZDtype):
        return DataType.datetime
    if dtype.kind != "O":
        return _numpy_datatype(dtype)
    values = series.dropna()
    if values.empty:
        return DataType.string
    inferred = values.infer_objects().dtype
    if inferred.kind != "O":
        return _numpy_datatype(inferred)
    types = {_infer_scalar_type(v) for v in values}
    if len(types) == 1:
        return types.pop()
    if types <= {DataType.long, DataType.double}:
        return DataType.double
    where = f"column {name!r}" if name is not None else "the column"
    raise InvalidParameterValue(
        f"Cannot infer one type for {where}: it mixes {sorted(t.name for t in types)}"
    )


# ---------------------------------------------------------------------------------------------
# Enforcement


def enforce_input(data: Any, schema: Schema) -> Any:
    """Check `data` against `schema`, apply safe conversions, and return what the model gets.

    Raises SchemaEnforcementError listing every problem found.
    """
    if schema.is_tensor_spec():
        return _enforce_tensors(data, schema)
    return _enforce_columns(data, schema)


def enforce_params(params: dict[str, Any] | None, schema: ParamSchema | None) -> dict[str, Any]:
    """Fill defaults for missing params, check types, and drop (with a warning) unknown ones."""
    if schema is None:
        if params:
            warnings.warn(
                f"Ignoring params {sorted(params)}: the model signature declares no params",
                UserWarning,
                stacklevel=3,
            )
        return {}
    params = dict(params or {})
    known = {p.name for p in schema.params}
    if unknown := sorted(set(params) - known):
        warnings.warn(
            f"Ignoring params {unknown}: not declared in the model signature "
            f"(declared: {sorted(known)})",
            UserWarning,
            stacklevel=3,
        )
    out: dict[str, Any] = {}
    problems = []
    for spec in schema.params:
        if spec.name not in params:
            out[spec.name] = spec.default
            continue
        value = params[spec.name]
        if isinstance(spec.dtype, DataType):
            values = value if spec.shape is not None and isinstance(value, list) else [value]
            bad = [v for v in values if v is not None and not _param_value_ok(v, spec.dtype)]
            if bad:
                problems.append(f"param {spec.name!r} must be {spec.dtype.name}, got {value!r}")
                continue
        out[spec.name] = value
    if problems:
        raise SchemaEnforcementError(problems)
    return out


def _param_value_ok(value: Any, dtype: DataType) -> bool:
    if dtype is DataType.boolean:
        return isinstance(value, (bool, np.bool_))
    if dtype in (DataType.integer, DataType.long):
        return isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if dtype in (DataType.float, DataType.double):
        return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
            value, bool
        )
    if dtype is DataType.string:
        return isinstance(value, str)
    if dtype is DataType.binary:
        return isinstance(value, (bytes, bytearray))
    return isinstance(value, (dt.date, str, np.datetime64))


def _to_frame(data: Any, schema: Schema, problems: list[str]) -> pd.DataFrame | None:
    import pandas as pd

    names = [s.name for s in schema.inputs] if schema.has_input_names() else None
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        return data.to_frame(name=names[0] if names and data.name is None else data.name)
    if isinstance(data, np.ndarray):
        arr = data.reshape(-1, 1) if data.ndim == 1 else data
        if arr.ndim != 2:
            problems.append(
                f"expected tabular input (2 dimensions), got an array of shape {data.shape}"
            )
            return None
        if names is not None:
            if arr.shape[1] != len(names):
                problems.append(
                    f"expected {len(names)} columns {names}, got an array with {arr.shape[1]}"
                )
                return None
            return pd.DataFrame(arr, columns=names)
        return pd.DataFrame(arr)
    if isinstance(data, dict):
        if all(_is_list_like(v) for v in data.values()):
            return pd.DataFrame(data)
        return pd.DataFrame([data])
    if isinstance(data, list):
        if data and all(isinstance(r, dict) for r in data):
            return pd.DataFrame.from_records(data)
        if names is not None and len(names) == 1:
            return pd.DataFrame({names[0]: data})
        return pd.DataFrame(data)
    if np.isscalar(data):
        return pd.DataFrame({names[0] if names else 0: [data]})
    problems.append(
        f"cannot read input of type {type(data).__name__}: pass a pandas DataFrame, a numpy "
        "array, a dict of columns or a list of records"
    )
    return None


def _enforce_columns(data: Any, schema: Schema) -> pd.DataFrame:
    import pandas as pd

    problems: list[str] = []
    frame = _to_frame(data, schema, problems)
    if frame is None:
        raise SchemaEnforcementError(problems)

    out: dict[Any, pd.Series] = {}
    if schema.has_input_names():
        present = {str(c): c for c in frame.columns}
        for spec in schema.inputs:
            assert isinstance(spec, ColSpec)
            column = present.get(spec.name)
            if column is None:
                if spec.required:
                    problems.append(f"missing required column {spec.name!r} ({spec.type.name})")
                continue
            converted = _convert_column(frame[column], spec, problems)
            if converted is not None:
                out[spec.name] = converted
        expected = {s.name for s in schema.inputs}
        for extra in [c for c in frame.columns if str(c) not in expected]:
            problems.append(f"unexpected column {extra!r}: it is not in the model signature")
    else:
        if len(frame.columns) != len(schema.inputs):
            problems.append(f"expected {len(schema.inputs)} column(s), got {len(frame.columns)}")
        else:
            for column, spec in zip(frame.columns, schema.inputs, strict=True):
                assert isinstance(spec, ColSpec)
                converted = _convert_column(frame[column], spec, problems)
                if converted is not None:
                    out[column] = converted
    if problems:
        raise SchemaEnforcementError(problems)
    return pd.DataFrame(out, index=frame.index)


def _convert_column(series: pd.Series, spec: ColSpec, problems: list[str]) -> pd.Series | None:
    """Return `series` converted to the spec's type, or record why it cannot be and return None."""
    if isinstance(spec.type, ComplexType):
        return series
    label = repr(spec.name) if spec.name is not None else f"#{series.name}"
    try:
        converted, why = _convert_values(series, spec.type)
    except (TypeError, ValueError, OverflowError) as exc:
        converted, why = None, str(exc)
    if converted is None:
        problems.append(f"column {label}: {why}")
    return converted


def _convert_values(series: pd.Series, target: DataType) -> tuple[pd.Series | None, str]:
    import pandas as pd

    dtype = series.dtype
    src = _describe(series)
    if isinstance(dtype, pd.CategoricalDtype):
        series = series.astype(dtype.categories.dtype)
        dtype = series.dtype
    cannot = f"{src} values cannot be converted safely to {target.name}"
    if dtype.kind == "O" and not isinstance(dtype, pd.StringDtype):
        inferred = series.infer_objects()
        if inferred.dtype.kind != "O":
            series, dtype = inferred, inferred.dtype
    is_string = isinstance(dtype, pd.StringDtype) or (
        dtype.kind == "O" and all(isinstance(v, str) for v in series.dropna())
    )

    if target in (DataType.integer, DataType.long):
        if dtype.kind in "iu":
            info = np.iinfo(target.to_numpy())
            if series.empty or (series.min() >= info.min and series.max() <= info.max):
                return series.astype(target.to_numpy()), ""
            return None, f"{src} values do not fit in {target.name} ({target.to_numpy()})"
        if dtype.kind == "f":
            hint = " (missing values make integer columns float; declare the column double)"
            return None, cannot + (hint if series.isna().any() else "")
        return None, cannot
    if target in (DataType.float, DataType.double):
        if dtype.kind in "iuf":
            return series.astype(target.to_numpy()), ""
        return None, cannot
    if target is DataType.boolean:
        if dtype.kind == "b":
            return series, ""
        if dtype.kind == "O" and all(isinstance(v, (bool, np.bool_)) for v in series.dropna()):
            return series, ""
        return None, cannot
    if target is DataType.string:
        if is_string:
            return series, ""
        return None, cannot
    if target is DataType.binary:
        if dtype.kind == "O" and all(isinstance(v, (bytes, bytearray)) for v in series.dropna()):
            return series, ""
        return None, cannot
    # datetime
    if dtype.kind == "M" or isinstance(dtype, pd.DatetimeTZDtype):
        return series, ""
    if is_string or dtype.kind == "O":
        try:
            return pd.to_datetime(series), ""
        except (ValueError, TypeError):
            return None, f"{src} values are not parseable dates"
    return None, cannot


def _describe(series: pd.Series) -> str:
    import pandas as pd

    dtype = series.dtype
    if isinstance(dtype, pd.StringDtype):
        return "string"
    if dtype.kind == "O":
        kinds = sorted({type(v).__name__ for v in series.dropna()}) or ["null"]
        return "/".join("string" if k == "str" else k for k in kinds)
    return str(dtype)


def _enforce_tensors(data: Any, schema: Schema) -> Any:
    import pandas as pd

    problems: list[str] = []
    specs = [s for s in schema.inputs if isinstance(s, TensorSpec)]
    if not schema.has_input_names():
        spec = specs[0]
        if isinstance(data, pd.DataFrame):
            data = data.to_numpy()
        elif isinstance(data, (list, tuple)):
            data = np.asarray(data)
        if not isinstance(data, np.ndarray):
            raise SchemaEnforcementError(
                [f"expected a numpy array for tensor input, got {type(data).__name__}"]
            )
        out = _convert_tensor(data, spec, "input", problems)
        if problems:
            raise SchemaEnforcementError(problems)
        return out

    if isinstance(data, pd.DataFrame):
        data = {str(c): data[c].to_numpy() for c in data.columns}
    if not isinstance(data, dict):
        names = [s.name for s in specs]
        raise SchemaEnforcementError(
            [f"expected a dict of named arrays {names}, got {type(data).__name__}"]
        )
    result = {}
    for spec in specs:
        if spec.name not in data:
            problems.append(f"missing required tensor {spec.name!r} ({spec.dtype.name})")
            continue
        value = data[spec.name]
        arr = value if isinstance(value, np.ndarray) else np.asarray(value)
        converted = _convert_tensor(arr, spec, repr(spec.name), problems)
        if converted is not None:
            result[spec.name] = converted
    expected = {s.name for s in specs}
    for extra in [k for k in data if k not in expected]:
        problems.append(f"unexpected tensor {extra!r}: it is not in the model signature")
    if problems:
        raise SchemaEnforcementError(problems)
    return result


def _convert_tensor(
    arr: np.ndarray, spec: TensorSpec, label: str, problems: list[str]
) -> np.ndarray | None:
    ok = True
    want = spec.shape
    if len(want) != arr.ndim or any(
        w not in (-1, g) for w, g in zip(want, arr.shape, strict=False)
    ):
        problems.append(f"tensor {label}: shape {tuple(arr.shape)} does not match {want}")
        ok = False
    src, dst = arr.dtype, spec.dtype
    if src == dst or (src.kind == dst.kind and src.kind in "USO"):
        return arr if ok else None
    same_float = src.kind == "f" and dst.kind == "f"
    int_to_float = src.kind in "iu" and dst.kind == "f"
    if np.can_cast(src, dst, casting="safe") or same_float or int_to_float:
        return arr.astype(dst) if ok else None
    if src.kind in "iu" and dst.kind in "iu" and arr.size:
        info = np.iinfo(dst)
        if arr.min() >= info.min and arr.max() <= info.max:
            return arr.astype(dst) if ok else None
    problems.append(f"tensor {label}: {src} values cannot be converted safely to {dst}")
    return None


__all__ = [
    "ColSpec",
    "ComplexType",
    "DataType",
    "ModelSignature",
    "ParamSchema",
    "ParamSpec",
    "Schema",
    "TensorSpec",
    "enforce_input",
    "enforce_params",
    "infer_param_schema",
    "infer_schema",
    "infer_signature",
]
