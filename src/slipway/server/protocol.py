"""Reading MLflow protocol requests and writing its responses, shared by the route modules.

A request's fields come from the query string (GET) or a JSON object body (everything
else). `Fields` reads them with the protocol's leniency (int64 may arrive as a decimal
string, enums as names or numbers, run ids as `run_id` or legacy `run_uuid`) and turns
anything else into a 400 INVALID_PARAMETER_VALUE that names the field, never a 500.
Parsing is done by hand with orjson rather than pydantic models: it is several times
cheaper per request and gives the protocol's own error messages.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any

import orjson
from fastapi import Depends, Request
from starlette.datastructures import QueryParams
from starlette.responses import Response

from slipway.entities import Metric, RunStatus, ViewType, decode_float
from slipway.errors import BadRequest, InvalidParameterValue
from slipway.server.messages import check_body, invalid_value, shown_value
from slipway.store.interface import TrackingStore

_EMPTY = b"{}"
_RUN_STATUS_NUMBERS = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}
_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def json_response(content: Any, status_code: int = 200) -> Response:
    """A JSON response encoded by orjson."""
    return Response(orjson.dumps(content), status_code=status_code, media_type="application/json")


def empty_response() -> Response:
    """The protocol's `{}` answer to calls that return nothing."""
    return Response(_EMPTY, media_type="application/json")


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """A request body as a JSON object; an empty body is `{}`."""
    if not raw or raw.isspace():
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"Request body is not valid JSON: {exc}.") from None
    if not isinstance(data, dict):
        raise BadRequest(f"Request body must be a JSON object, not a JSON {type(data).__name__}.")
    return data


def _missing(name: str) -> InvalidParameterValue:
    return InvalidParameterValue(f"Missing value for required parameter '{name}'.")


def _wrong(name: str, value: Any, expected: str) -> InvalidParameterValue:
    """MLflow's wording (`Invalid value 5 for parameter 'max_results' supplied: …`), which
    mlflow users match on, with what was expected."""
    return InvalidParameterValue(
        f"Invalid value {shown_value(value)} for parameter '{name}' supplied: {expected}."
    )


def as_int(name: str, value: Any) -> int:
    """An integer field: a JSON integer or a decimal string (protobuf's int64 encoding)."""
    if type(value) is int:
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    elif isinstance(value, float) and value.is_integer():
        return int(value)
    raise _wrong(name, value, "expected an integer")


def as_float(name: str, value: Any) -> float:
    """A double field: a number, or "NaN" / "Infinity" / "-Infinity" as protobuf writes them."""
    if type(value) is float or type(value) is int:
        return float(value)
    if isinstance(value, str):
        special = _NON_FINITE.get(value)
        if special is not None:
            return special
        try:
            return decode_float(value)
        except ValueError:
            pass
    raise _wrong(name, value, "expected a number")


def as_str(name: str, value: Any) -> str:
    """A string field: a JSON string only; a number is refused, never coerced, as MLflow does."""
    if isinstance(value, str):
        return value
    raise invalid_value(name, value)


class Fields:
    """The named fields of one request, read from a JSON body or a query string."""

    __slots__ = ("_data", "_query")

    def __init__(self, data: Mapping[str, Any] | QueryParams) -> None:
        self._data = data
        self._query = isinstance(data, QueryParams)

    def raw(self, name: str) -> Any:
        return self._data.get(name)

    def has(self, name: str) -> bool:
        value = self._data.get(name)
        return value is not None and value != ""

    def string(self, name: str, *, required: bool = False) -> str | None:
        value = self._data.get(name)
        if value is None or value == "":
            if required:
                raise _missing(name)
            return None
        return as_str(name, value)

    def integer(
        self,
        name: str,
        default: int | None = None,
        *,
        required: bool = False,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int | None:
        value = self._data.get(name)
        if value is None or value == "":
            if required:
                raise _missing(name)
            return default
        out = as_int(name, value)
        if minimum is not None and out < minimum:
            raise _wrong(name, value, f"it must be at least {minimum}")
        if maximum is not None and out > maximum:
            raise _wrong(name, value, f"it must be at most {maximum}")
        return out

    def value(self, name: str, *, required: bool = False) -> str:
        """A param or tag value: a string (numbers and booleans are written as text)."""
        value = self._data.get(name)
        if value is None:
            if required:
                raise _missing(name)
            return ""
        return _stringify(name, value)

    def number(self, name: str) -> float:
        value = self._data.get(name)
        if value is None or value == "":
            raise _missing(name)
        return as_float(name, value)

    def strings(self, name: str) -> list[str]:
        """A repeated string field (repeated query keys, or a JSON list)."""
        if self._query:
            return [v for v in self._data.getlist(name) if v != ""]  # type: ignore[union-attr]
        value = self._data.get(name)
        if value is None:
            return []
        if isinstance(value, str):
            return [value]
        if not isinstance(value, list):
            raise _wrong(name, value, "expected a list of strings")
        return [as_str(name, v) for v in value]

    def objects(self, name: str) -> list[dict[str, Any]]:
        """A repeated message field: a JSON list of objects."""
        value = self._data.get(name)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise _wrong(name, value, "expected a list of objects")
        return value

    def key_values(self, name: str, *, value_required: bool = False) -> list[tuple[str, str]]:
        """A list of `{key, value}` objects (tags, params)."""
        out = []
        for item in self.objects(name):
            key = item.get("key")
            if key is None or key == "":
                raise _missing(f"{name}.key")
            value = item.get("value")
            if value is None:
                if value_required:
                    raise _missing(f"{name}.value")
                value = ""
            out.append((as_str(f"{name}.key", key), _stringify(f"{name}.value", value)))
        return out

    def tags(self, name: str = "tags") -> dict[str, str]:
        return dict(self.key_values(name))

    def run_id(self) -> str:
        """The run a call is about: `run_id`, or the legacy `run_uuid` the client also sends."""
        value = self.string("run_id") or self.string("run_uuid")
        if value is None:
            raise _missing("run_id")
        return value

    def view_type(self, name: str) -> ViewType:
        value = self._data.get(name)
        try:
            return ViewType.parse(value)
        except (ValueError, KeyError):
            raise _wrong(name, value, "expected ACTIVE_ONLY, DELETED_ONLY or ALL") from None

    def run_status(self, name: str = "status") -> str | None:
        value = self._data.get(name)
        if value is None or value == "":
            return None
        if type(value) is int or (isinstance(value, str) and value.isdigit()):
            status = _RUN_STATUS_NUMBERS.get(int(value))
        else:
            status = str(value).upper() if isinstance(value, str) else None
        if status not in RunStatus.__members__:
            raise _wrong(name, value, "expected one of " + ", ".join(RunStatus.__members__))
        return status


def _stringify(name: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    raise _wrong(name, value, "expected a string")


def parse_metric(item: Any, name: str = "metrics") -> Metric:
    """One metric object of log-batch (key, value, timestamp required; step defaults to 0)."""
    if not isinstance(item, dict):
        raise _wrong(name, item, "expected an object with key, value, timestamp, step")
    key = item.get("key")
    if key is None or key == "":
        raise _missing(f"{name}.key")
    value = item.get("value")
    if value is None:
        raise _missing(f"{name}.value")
    timestamp = item.get("timestamp")
    if timestamp is None:
        raise _missing(f"{name}.timestamp")
    step = item.get("step")
    return Metric(
        as_str(f"{name}.key", key),
        as_float(f"{name}.value", value),
        as_int(f"{name}.timestamp", timestamp),
        0 if step is None or step == "" else as_int(f"{name}.step", step),
    )


async def request_fields(request: Request) -> Fields:
    """GET and DELETE read the query string; other methods read a JSON object body."""
    if request.method in ("GET", "HEAD", "DELETE"):
        return Fields(request.query_params)
    body = parse_json_object(await request.body())
    check_body(request.method, request.scope["path"], body)
    return Fields(body)


async def raw_body(request: Request) -> bytes:
    """The body as bytes, for routes that parse it themselves (off the event loop)."""
    return await request.body()


async def tracking_store(request: Request) -> TrackingStore:
    return request.app.state.store


RequestFields = Annotated[Fields, Depends(request_fields)]
RawBody = Annotated[bytes, Depends(raw_body)]
Store = Annotated[TrackingStore, Depends(tracking_store)]

__all__ = [
    "Fields",
    "RawBody",
    "RequestFields",
    "Store",
    "as_float",
    "as_int",
    "as_str",
    "empty_response",
    "json_response",
    "parse_json_object",
    "parse_metric",
]
