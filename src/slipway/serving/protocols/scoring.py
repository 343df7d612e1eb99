"""MLflow's scoring protocol (`POST /invocations`), as `mlflow models serve` speaks it.

JSON bodies hold exactly one of `dataframe_split`, `dataframe_records`, `instances` or
`inputs` (plus optional `params`); `text/csv` and Parquet (`application/x-parquet` or
mlflow's `application/vnd.apache.parquet`) bodies are one table. The answer is
`{"predictions": ...}`: arrays as nested lists, DataFrames and Series as records.
Content types other than these, a charset other than utf-8, or any other content-type
parameter are 415 with a text/plain body, as in mlflow.
"""

from __future__ import annotations

import io
from typing import Any

from slipway.errors import BadRequest
from slipway.serving.inputs import (
    Columns,
    Frame,
    InputReader,
    Payload,
    Records,
    Split,
    Tensor,
)
from slipway.serving.model import Prediction
from slipway.serving.protocols import UnsupportedMediaType, dumps, jsonable, loads_json

JSON = "application/json"
CSV = "text/csv"
PARQUET = ("application/x-parquet", "application/vnd.apache.parquet")
INPUT_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")
CONTENT_TYPES = (JSON, CSV, *PARQUET)


def media_type(content_type: str | None) -> str:
    """The body's media type, or UnsupportedMediaType (mlflow's rules on parameters)."""
    if not content_type:
        raise UnsupportedMediaType(
            f"No content type given; this endpoint reads {', '.join(CONTENT_TYPES)}."
        )
    mime, *parameters = (p.strip() for p in content_type.split(";"))
    mime = mime.lower()
    for parameter in parameters:
        key, _, value = parameter.partition("=")
        key = key.strip().lower()
        if key != "charset":
            raise UnsupportedMediaType(f"Unrecognized content type parameters: {key}.")
        if value.strip().strip('"').lower() != "utf-8":
            raise UnsupportedMediaType("The scoring server only supports UTF-8")
    if mime not in CONTENT_TYPES:
        raise UnsupportedMediaType(
            "This predictor only supports the following content types: "
            f"{', '.join(CONTENT_TYPES)}. Got '{content_type}'."
        )
    return mime


def parse(
    body: bytes, content_type: str | None, reader: InputReader
) -> tuple[Payload, dict[str, Any] | None]:
    """(payload, params) of an /invocations request."""
    mime = media_type(content_type)
    if mime == JSON:
        return parse_json(loads_json(body))
    if mime == CSV:
        return Frame(_read_csv(body, reader)), None
    return Frame(_read_parquet(body)), None


def parse_json(doc: Any) -> tuple[Payload, dict[str, Any] | None]:
    if not isinstance(doc, dict):
        raise BadRequest(
            "The body must be a JSON object with one of the keys "
            f"{', '.join(INPUT_KEYS)}; got a {type(doc).__name__}."
        )
    keys = [k for k in INPUT_KEYS if k in doc]
    if len(keys) != 1:
        raise BadRequest(
            f"The body must hold exactly one of {', '.join(INPUT_KEYS)}; "
            f"it has {sorted(doc) if doc else 'no keys'}."
        )
    key = keys[0]
    params = doc.get("params")
    if params is not None and not isinstance(params, dict):
        raise BadRequest(f"params must be a JSON object, got {type(params).__name__}.")
    value = doc[key]
    if key == "dataframe_split":
        if not isinstance(value, dict) or "data" not in value:
            raise BadRequest(
                "dataframe_split must be an object with 'data' and optionally 'columns' "
                "and 'index'."
            )
        if extra := set(value) - {"columns", "data", "index"}:
            raise BadRequest(f"dataframe_split has unknown fields {sorted(extra)}.")
        columns, data = value.get("columns"), value["data"]
        if not isinstance(data, list) or (columns is not None and not isinstance(columns, list)):
            raise BadRequest("dataframe_split needs 'data' (and 'columns') as lists.")
        return Split(columns, data), params
    if key == "dataframe_records":
        if not isinstance(value, list):
            raise BadRequest(
                f"dataframe_records must be a list of records, got a {type(value).__name__}."
            )
        return Records(value), params
    # instances / inputs: rows as dicts, a dict of columns, or a tensor as nested lists
    if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
        return Records(value), params
    if isinstance(value, dict):
        return Columns(value), params
    return Tensor(value), params


def _read_csv(body: bytes, reader: InputReader) -> Any:
    import pandas as pd

    from slipway.models.signature import ColSpec, DataType

    dtypes = {}
    schema = reader.schema
    if schema is not None and not schema.is_tensor_spec() and schema.has_input_names():
        # Strings that look like numbers (zip codes) stay strings, as mlflow reads them.
        dtypes = {
            s.name: str
            for s in schema.inputs
            if isinstance(s, ColSpec) and s.type is DataType.string
        }
    try:
        return pd.read_csv(io.BytesIO(body), dtype=dtypes or None)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise BadRequest(f"Failed to parse the body as CSV: {exc}") from None


def _read_parquet(body: bytes) -> Any:
    import pandas as pd

    try:
        return pd.read_parquet(io.BytesIO(body))
    except Exception as exc:  # pyarrow raises many types for a corrupt file
        raise BadRequest(f"Failed to parse the body as Parquet: {exc}") from None


def render(prediction: Prediction) -> bytes:
    """The answer body: `{"predictions": ...}`."""
    return dumps({"predictions": jsonable(prediction.predictions, series_as_records=True)})


def error_body(status: int, code: str, message: str, request_id: str, **extra: Any) -> bytes:
    return dumps({"error_code": code, "message": message, **extra, "request_id": request_id})


__all__ = ["CONTENT_TYPES", "error_body", "media_type", "parse", "parse_json", "render"]
