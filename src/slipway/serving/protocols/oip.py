"""Open Inference Protocol v2 (KServe, Triton, MLServer): the REST form.

Inputs are tensors `{"name", "shape", "datatype", "data"}`; `data` is row-major, flat or
nested, and the first dimension is the batch. Tabular models take either one 2-D input
(all features, in signature order) or one 1-D input per column, named after it (MLServer's
`"content_type": "pd"`; `"np"` forces the single-tensor reading). Outputs are `predict`
and, for classifiers with probabilities, `predict_proba` (a DataFrame answer of a custom
model gives one output per column).

Triton's binary tensor extension is supported both ways: with an
`Inference-Header-Content-Length` header, inputs whose `parameters.binary_data_size` is set
are read from the bytes after the JSON header; outputs asked for with
`parameters.binary_data` (or the request's `binary_data_output`) are answered the same way.
That is what `tritonclient.http` sends by default.

Readiness answers 200 `{"ready": true}` or 503 `{"ready": false}`, so both a Triton client
(which looks at the status) and a KServe client (which reads the body) understand it.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from slipway._version import __version__
from slipway.errors import BadRequest
from slipway.models.signature import ColSpec, DataType, Schema, TensorSpec
from slipway.serving.inputs import Columns, Payload, Tensor, Tensors
from slipway.serving.model import Prediction, ServedModel
from slipway.serving.protocols import dumps, loads_json

EXTENSIONS = ["binary_tensor_data", "parameters"]
PREDICT, PREDICT_PROBA = "predict", "predict_proba"

DTYPES: dict[str, np.dtype] = {
    "BOOL": np.dtype("bool"),
    "UINT8": np.dtype("uint8"),
    "UINT16": np.dtype("uint16"),
    "UINT32": np.dtype("uint32"),
    "UINT64": np.dtype("uint64"),
    "INT8": np.dtype("int8"),
    "INT16": np.dtype("int16"),
    "INT32": np.dtype("int32"),
    "INT64": np.dtype("int64"),
    "FP16": np.dtype("float16"),
    "FP32": np.dtype("float32"),
    "FP64": np.dtype("float64"),
    "BYTES": np.dtype("O"),
}
_COLUMN_DATATYPES = {
    DataType.boolean: "BOOL",
    DataType.integer: "INT32",
    DataType.long: "INT64",
    DataType.float: "FP32",
    DataType.double: "FP64",
    DataType.string: "BYTES",
    DataType.binary: "BYTES",
    DataType.datetime: "BYTES",
}


def datatype_of(dtype: np.dtype) -> str:
    """The protocol's datatype name for a numpy dtype (strings, objects, dates are BYTES)."""
    kind = dtype.kind
    if kind == "b":
        return "BOOL"
    if kind in "iu":
        return f"{'U' if kind == 'u' else ''}INT{dtype.itemsize * 8}"
    if kind == "f":
        return f"FP{dtype.itemsize * 8}"
    return "BYTES"


# --------------------------------------------------------------------------- requests


@dataclass(slots=True)
class InferInput:
    name: str
    array: np.ndarray
    parameters: dict[str, Any]


@dataclass(slots=True)
class RequestedOutput:
    name: str
    binary: bool


@dataclass
class InferRequest:
    id: str | None
    parameters: dict[str, Any]
    inputs: list[InferInput]
    outputs: list[RequestedOutput] = field(default_factory=list)
    binary_output: bool = False


def parse_infer(body: bytes, header_length: int | None) -> InferRequest:
    """Read an infer request (JSON, or a JSON header followed by binary tensors)."""
    if header_length is not None:
        if header_length < 0 or header_length > len(body):
            raise BadRequest("Inference-Header-Content-Length is larger than the body")
        doc, binary = loads_json(body[:header_length]), memoryview(body)[header_length:]
    else:
        doc, binary = loads_json(body), memoryview(b"")
    if not isinstance(doc, dict):
        raise BadRequest("The infer request must be a JSON object")
    raw_inputs = doc.get("inputs")
    if not isinstance(raw_inputs, list) or not raw_inputs:
        raise BadRequest("The infer request needs 'inputs': a non-empty list of tensors")
    parameters = doc.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise BadRequest("'parameters' must be an object")
    request_id = doc.get("id")
    if request_id is not None and not isinstance(request_id, str):
        request_id = str(request_id)
    offset = 0
    inputs = []
    for i, raw in enumerate(raw_inputs):
        tensor, offset = _read_input(raw, i, binary, offset)
        inputs.append(tensor)
    if offset != len(binary):
        raise BadRequest(
            f"The body has {len(binary) - offset} bytes of binary data no input claims"
        )
    names = [t.name for t in inputs]
    if len(set(names)) != len(names):
        raise BadRequest(f"Input names must be unique: {names}")
    outputs = []
    for raw in doc.get("outputs") or []:
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
            raise BadRequest("Each requested output must be an object with a 'name'")
        out_params = raw.get("parameters") or {}
        binary_flag = out_params.get("binary_data") if isinstance(out_params, dict) else None
        outputs.append(RequestedOutput(raw["name"], bool(binary_flag)))
    return InferRequest(
        request_id,
        parameters,
        inputs,
        outputs,
        bool(parameters.get("binary_data_output", False)),
    )


def _read_input(raw: Any, index: int, binary: memoryview, offset: int) -> tuple[InferInput, int]:
    if not isinstance(raw, dict):
        raise BadRequest(f"Input #{index} must be an object")
    name = raw.get("name")
    label = f"input {name!r}" if isinstance(name, str) else f"input #{index}"
    if not isinstance(name, str) or not name:
        raise BadRequest(f"{label} needs a 'name'")
    shape = raw.get("shape")
    if (
        not isinstance(shape, list)
        or not shape
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
    ):
        raise BadRequest(f"{label}: 'shape' must be a non-empty list of non-negative integers")
    datatype = raw.get("datatype")
    dtype = DTYPES.get(datatype) if isinstance(datatype, str) else None
    if dtype is None:
        raise BadRequest(f"{label}: unknown datatype {datatype!r}; use one of {sorted(DTYPES)}")
    params = raw.get("parameters") or {}
    if not isinstance(params, dict):
        raise BadRequest(f"{label}: 'parameters' must be an object")
    count = math.prod(shape)
    size = params.get("binary_data_size")
    if size is not None:
        if not isinstance(size, int) or size < 0 or offset + size > len(binary):
            raise BadRequest(f"{label}: binary_data_size does not match the body")
        array = _from_binary(binary[offset : offset + size], dtype, count, label)
        offset += size
    else:
        if "data" not in raw:
            raise BadRequest(f"{label} has no 'data'")
        array = _from_json(raw["data"], dtype, count, label)
    return InferInput(name, array.reshape(shape), params), offset


def _from_json(data: Any, dtype: np.dtype, count: int, label: str) -> np.ndarray:
    if not isinstance(data, list):
        data = [data]
    try:
        if dtype.kind == "O":
            flat = np.array(_flatten(data), dtype=object)
            bad = [v for v in flat if not isinstance(v, str)]
            if bad:
                raise BadRequest(f"{label}: BYTES data must be strings, got {bad[0]!r}")
        else:
            parsed = np.asarray(data)
            if parsed.size and parsed.dtype.kind not in _ALLOWED_KINDS[dtype.kind]:
                # e.g. UINT64 values past int64 parse as floats: check each value instead
                parsed = _checked_values(_flatten(data), dtype, label)
            if dtype.kind in "iu" and parsed.size:
                info = np.iinfo(dtype)
                if parsed.min() < info.min or parsed.max() > info.max:
                    raise BadRequest(f"{label}: values out of range for {datatype_of(dtype)}")
            flat = parsed.astype(dtype).reshape(-1)
    except BadRequest:
        raise
    except (ValueError, TypeError, OverflowError) as exc:
        raise BadRequest(f"{label}: cannot read 'data' as {datatype_of(dtype)}: {exc}") from None
    if flat.size != count:
        raise BadRequest(f"{label}: 'data' has {flat.size} values but 'shape' needs {count}")
    return flat


# Which kinds of parsed JSON may fill a datatype: numbers do not silently become bools,
# and fractions do not silently become integers.
_ALLOWED_KINDS = {"b": "b", "i": "iu", "u": "iu", "f": "iuf"}


def _checked_values(values: list[Any], dtype: np.dtype, label: str) -> np.ndarray:
    kind = dtype.kind
    if kind == "b":
        ok = all(type(v) is bool for v in values)
    elif kind in "iu":
        ok = all(type(v) is int for v in values)
    else:
        ok = all(type(v) in (int, float) for v in values)
    if not ok:
        raise BadRequest(f"{label}: 'data' holds values that are not {datatype_of(dtype)}")
    try:
        return np.array(values, dtype=dtype)
    except OverflowError:
        raise BadRequest(f"{label}: values out of range for {datatype_of(dtype)}") from None


def _flatten(data: list[Any]) -> list[Any]:
    out: list[Any] = []
    stack = [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            out.append(item)
        else:
            stack.pop()
    return out


def _from_binary(chunk: memoryview, dtype: np.dtype, count: int, label: str) -> np.ndarray:
    if dtype.kind != "O":
        wire = dtype.newbyteorder("<")
        if len(chunk) != count * wire.itemsize:
            raise BadRequest(f"{label}: {len(chunk)} bytes of binary data for {count} values")
        return np.frombuffer(chunk, dtype=wire).astype(dtype)
    values: list[Any] = []
    pos, end = 0, len(chunk)
    while pos < end:
        if pos + 4 > end:
            raise BadRequest(f"{label}: truncated BYTES element")
        (length,) = struct.unpack_from("<I", chunk, pos)
        pos += 4
        if pos + length > end:
            raise BadRequest(f"{label}: truncated BYTES element")
        raw = bytes(chunk[pos : pos + length])
        pos += length
        try:
            values.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            values.append(raw)
    if len(values) != count:
        raise BadRequest(f"{label}: {len(values)} BYTES elements for {count} values")
    return np.array(values, dtype=object)


def to_payload(request: InferRequest, model: ServedModel) -> Payload:
    """The model input of an infer request, following the model's signature."""
    reader = model.reader
    inputs = request.inputs
    content_type = request.parameters.get("content_type")
    if len(inputs) == 1 and isinstance(inputs[0].parameters.get("content_type"), str):
        content_type = content_type or inputs[0].parameters["content_type"]
    schema = reader.schema
    if schema is not None and schema.is_tensor_spec():
        if not schema.has_input_names():
            if len(inputs) != 1:
                raise BadRequest(f"The model takes one tensor; got {len(inputs)} inputs")
            return Tensor(inputs[0].array)
        return Tensors({t.name: t.array for t in inputs})
    columns = reader.column_names()
    single = inputs[0] if len(inputs) == 1 else None
    as_tensor = single is not None and content_type != "pd" and single.array.ndim == 2
    one_column = single is not None and (
        single.array.ndim == 1 or (single.array.ndim == 2 and single.array.shape[1] == 1)
    )
    if one_column and columns is not None and single is not None and single.name in columns:
        as_tensor = content_type == "np"
    if as_tensor:
        assert single is not None
        return Tensor(single.array)
    out = {}
    for tensor in inputs:
        array = tensor.array
        if array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        if array.ndim != 1:
            raise BadRequest(
                f"input {tensor.name!r} has shape {list(tensor.array.shape)}: send one 2-D "
                "input with every column, or one 1-D input per column named after it"
            )
        out[tensor.name] = array
    lengths = {len(a) for a in out.values()}
    if len(lengths) > 1:
        raise BadRequest(f"The per-column inputs have different lengths: {sorted(lengths)}")
    return Columns(out)


# --------------------------------------------------------------------------- responses


def output_tensors(
    request: InferRequest, model: ServedModel, prediction: Prediction
) -> list[tuple[str, np.ndarray, bool]]:
    """(name, array, binary) of each output to answer, as requested."""
    import pandas as pd

    available: dict[str, np.ndarray] = {}
    predictions = prediction.predictions
    if isinstance(predictions, pd.DataFrame):
        for column in predictions.columns:
            available[str(column)] = predictions[column].to_numpy()
    elif isinstance(predictions, dict):
        for key, value in predictions.items():
            available[str(key)] = np.asarray(value)
    else:
        available[PREDICT] = (
            predictions.to_numpy()
            if isinstance(predictions, pd.Series)
            else np.asarray(predictions)
        )
    if prediction.probabilities is not None:
        available[PREDICT_PROBA] = np.asarray(prediction.probabilities)
    wanted = request.outputs or [
        RequestedOutput(name, request.binary_output)
        for name in available
        if name != PREDICT_PROBA or prediction.probabilities is not None
    ]
    out = []
    for output in wanted:
        if output.name not in available:
            raise BadRequest(
                f"Model {model.name} has no output {output.name!r}; it has {sorted(available)}"
            )
        out.append((output.name, available[output.name], output.binary or request.binary_output))
    return out


def wants_probabilities(request: InferRequest) -> bool:
    return any(o.name == PREDICT_PROBA for o in request.outputs)


def infer_response(
    request: InferRequest,
    model: ServedModel,
    outputs: list[tuple[str, np.ndarray, bool]],
) -> tuple[bytes, int | None]:
    """(body, JSON header length or None) of an infer answer."""
    tensors = []
    blobs = []
    for name, array, binary in outputs:
        datatype = datatype_of(array.dtype)
        tensor: dict[str, Any] = {"name": name, "shape": list(array.shape), "datatype": datatype}
        if binary:
            blob = _to_binary(array, datatype)
            tensor["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            tensor["data"] = _flat_data(array, datatype)
        tensors.append(tensor)
    doc: dict[str, Any] = {"model_name": model.name, "model_version": model.version}
    if request.id is not None:
        doc["id"] = request.id
    doc["parameters"] = request.parameters
    doc["outputs"] = tensors
    header = dumps(doc)
    if not blobs:
        return header, None
    return header + b"".join(blobs), len(header)


def _flat_data(array: np.ndarray, datatype: str) -> Any:
    if datatype != "BYTES":
        return np.ascontiguousarray(array).reshape(-1)
    return [_text(v) for v in array.reshape(-1).tolist()]


def _text(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, str):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _to_binary(array: np.ndarray, datatype: str) -> bytes:
    if datatype != "BYTES":
        return np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
    parts = []
    for value in array.reshape(-1).tolist():
        raw = value if isinstance(value, bytes) else str(_text(value)).encode("utf-8")
        parts.append(struct.pack("<I", len(raw)))
        parts.append(raw)
    return b"".join(parts)


def server_metadata() -> bytes:
    return dumps({"name": "slipway", "version": __version__, "extensions": EXTENSIONS})


def model_metadata(model: ServedModel, versions: list[str]) -> bytes:
    """Name, versions, platform and the input/output tensors the signature implies."""
    return dumps(
        {
            "name": model.name,
            "versions": versions,
            "platform": f"slipway-{model.flavor or 'pyfunc'}",
            "inputs": _input_tensors(model.reader.schema),
            "outputs": _output_tensors(model),
        }
    )


def _input_tensors(schema: Schema | None) -> list[dict[str, Any]]:
    if schema is None:
        return []
    out = []
    for i, spec in enumerate(schema.inputs):
        name = spec.name if spec.name is not None else f"input-{i}"
        if isinstance(spec, TensorSpec):
            out.append(
                {"name": name, "datatype": datatype_of(spec.dtype), "shape": list(spec.shape)}
            )
        elif isinstance(spec, ColSpec):
            datatype = _COLUMN_DATATYPES[spec.type] if isinstance(spec.type, DataType) else "BYTES"
            out.append({"name": name, "datatype": datatype, "shape": [-1]})
    return out


def _output_tensors(model: ServedModel) -> list[dict[str, Any]]:
    signature = model.pyfunc.signature
    outputs: list[dict[str, Any]] = []
    schema = signature.outputs if signature is not None else None
    if schema is not None and schema.inputs and len(schema.inputs) == 1:
        spec = schema.inputs[0]
        if isinstance(spec, TensorSpec):
            outputs.append(
                {"name": PREDICT, "datatype": datatype_of(spec.dtype), "shape": list(spec.shape)}
            )
        elif isinstance(spec.type, DataType):
            outputs.append(
                {"name": PREDICT, "datatype": _COLUMN_DATATYPES[spec.type], "shape": [-1]}
            )
    elif schema is not None and schema.inputs:
        outputs.extend(_input_tensors(schema))
    elif model.output_dtype is not None:
        outputs.append(
            {
                "name": PREDICT,
                "datatype": datatype_of(model.output_dtype),
                "shape": [-1, *model.output_shape],
            }
        )
    if model.classes is not None:
        outputs.append(
            {"name": PREDICT_PROBA, "datatype": "FP64", "shape": [-1, len(model.classes)]}
        )
    return outputs


def error_body(message: str) -> bytes:
    return dumps({"error": message})


__all__ = [
    "DTYPES",
    "InferRequest",
    "datatype_of",
    "error_body",
    "infer_response",
    "model_metadata",
    "output_tensors",
    "parse_infer",
    "server_metadata",
    "to_payload",
    "wants_probabilities",
]
