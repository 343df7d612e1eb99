"""The wire protocols `slipway serve` speaks, each a thin translation to and from a model call.

    scoring.py   MLflow's scoring protocol: POST /invocations (JSON, CSV, Parquet)
    oip.py       Open Inference Protocol v2: /v2/health/*, /v2/models/{m}[/versions/{v}]/...
    predict.py   POST /predict, for people: records or columns in, predictions (and
                 probabilities, for classifiers) out

A protocol module parses a body into a payload (`slipway.serving.inputs`) and renders a
`Prediction` or an error in its own format; the app does everything else. Shared here:
the errors only an inference server has, and JSON encoding of model outputs.

How each protocol answers errors:

    problem                       /predict, /invocations          /v2 (OIP)
    malformed JSON, bad shape     400 BAD_REQUEST                 400 {"error"}
    input does not match the      422 SCHEMA_ENFORCEMENT_FAILED   400 {"error"} (the spec
      signature                     with "problems": [...]          has 400 only; every
                                                                    problem is in the text)
    unknown model or version      404 RESOURCE_DOES_NOT_EXIST     404 {"error"}
    body over --max-body-mb       413 REQUEST_LIMIT_EXCEEDED      413 {"error"}
    other content type            415 (text/plain, as mlflow)     415 {"error"}
    model raised                  500 INTERNAL_ERROR + request id 500 {"error"} + request id
    over the request timeout      504 DEADLINE_EXCEEDED           504 {"error"}
    not loaded yet / draining     503 TEMPORARILY_UNAVAILABLE     503 {"error"}
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import numpy as np
import orjson

from slipway.errors import BadRequest, SlipwayError


class UnsupportedMediaType(BadRequest):
    """The body's content type is not one the endpoint reads."""

    http_status = 415


class RequestTimedOut(SlipwayError):
    """The prediction did not finish within the server's request timeout."""

    error_code = "DEADLINE_EXCEEDED"
    http_status = 504


def _default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, (dt.date, dt.datetime, dt.time)) or hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "to_dict"):  # pandas objects nested in a custom model's output
        return value.to_dict()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def dumps(value: Any) -> bytes:
    """JSON bytes of a response (numpy arrays and scalars included)."""
    return orjson.dumps(value, default=_default, option=_OPTIONS)


def loads_json(body: bytes) -> Any:
    """Parse a JSON body; malformed JSON is a 400."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"The body is not valid JSON: {exc}") from None


def jsonable(output: Any, *, series_as_records: bool) -> Any:
    """A model output as JSON-ready data: DataFrames as records (as mlflow answers)."""
    import pandas as pd

    if isinstance(output, np.ndarray):
        return output if output.flags.c_contiguous else np.ascontiguousarray(output)
    if isinstance(output, pd.DataFrame):
        return output.to_dict(orient="records")
    if isinstance(output, pd.Series):
        if series_as_records:
            return pd.DataFrame(output).to_dict(orient="records")
        return output.to_numpy()
    return output


__all__ = [
    "RequestTimedOut",
    "UnsupportedMediaType",
    "dumps",
    "jsonable",
    "loads_json",
]
