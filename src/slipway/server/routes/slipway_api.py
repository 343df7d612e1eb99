"""slipway's own API extensions under `/api/2.0/slipway`: bulk logging, and appending
events to a model's audit trail.

MLflow's log-batch takes at most 1000 metrics per request, each an object; logging a
million points that way is a thousand requests and a million dicts. The columnar endpoint
takes whole columns in one transaction, parsed straight from the raw body with orjson.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from slipway.entities import Param, Tag, now_ms
from slipway.errors import InvalidParameterValue
from slipway.server.protocol import (
    Fields,
    RawBody,
    RequestFields,
    Store,
    as_float,
    empty_response,
    json_response,
    parse_json_object,
    parse_metric,
)
from slipway.server.routes.mlflow_registry import Actor, Registry, RegistryFields

router = APIRouter()


@router.post("/runs/log-metrics")
def log_metric_columns(body: RawBody, store: Store) -> Response:
    """Log many metric points of one run as parallel columns, in one transaction.

    Body (JSON object)::

        {"run_id": "...",
         "keys": ["loss", "loss", "acc"],        # one key per point
         "values": [0.5, "NaN", 0.9],            # numbers, or "NaN" / "Infinity" / "-Infinity"
         "timestamps": [1700000000000, ...],     # epoch ms; optional (default: now)
         "steps": [0, 1, 0]}                     # optional (default: 0)

    Compact form: `"keys"` lists each distinct name once and `"key_index"` gives, per
    point, the position of its name in `"keys"` (e.g. `"keys": ["loss", "acc"],
    "key_index": [0, 0, 1]`). Every column must have one entry per point. Answers `{}`
    once the points are committed; nothing is stored if any point is invalid.
    """
    data = parse_json_object(body)
    fields = Fields(data)
    run_id = fields.run_id()
    keys, values, timestamps, steps = parse_metric_columns(data)
    store.log_metric_columns(run_id, keys, values, timestamps, steps)
    return empty_response()


@router.post("/runs/end")
def end_run(body: RawBody, store: Store) -> Response:
    """End a run and write its last metric points, in one transaction.

    Body (JSON object): `run_id`, `status` (FINISHED, FAILED or KILLED), `end_time` (epoch
    ms; default now), and optionally the run's queued metric points as the columns of
    `/runs/log-metrics` (`keys`, `values`, `timestamps`, `steps`, or `key_index`). slipway's
    client sends this instead of a log-metrics and an update request when a run ends.
    Answers `{"run_info": {...}}`; nothing is written if anything is invalid.
    """
    data = parse_json_object(body)
    fields = Fields(data)
    run_id = fields.run_id()
    status = fields.run_status("status") or "FINISHED"
    end_time = fields.integer("end_time", now_ms())
    metrics = parse_metric_columns(data) if data.get("values") else None
    info = store.end_run(run_id, status, end_time, metrics)
    return json_response({"run_info": info.to_dict()})


@router.post("/runs/log-batch")
def log_batch_unlimited(fields: RequestFields, store: Store) -> Response:
    """MLflow's log-batch without its cap of 1000 items in total per request.

    The per-kind limits (1000 metrics, 100 params, 100 tags) are the store's, as
    in-process; this keeps a batch the in-process store accepts one transaction over REST.
    """
    run_id = fields.run_id()
    store.log_batch(
        run_id,
        metrics=[parse_metric(m) for m in fields.objects("metrics")],
        params=[Param(k, v) for k, v in fields.key_values("params")],
        tags=[Tag(k, v) for k, v in fields.key_values("tags")],
    )
    return empty_response()


@router.post("/registry/audit-events/create")
def create_audit_event(fields: RegistryFields, store: Registry, who: Actor) -> Response:
    """Append an event about a model to its audit trail (e.g. "deployed" by serving).

    Body (JSON object): `model_name`, `action` (a lowercase snake_case word), and optional
    `version`, `reason`, `field`, `old_value`, `new_value`. Answers `{"event": {...}}`.
    """
    event = store.append_audit_event(
        fields.string("model_name", required=True),  # type: ignore[arg-type]
        fields.string("action", required=True),  # type: ignore[arg-type]
        version=fields.integer("version", minimum=1),
        reason=fields.string("reason"),
        field=fields.string("field"),
        old_value=fields.string("old_value"),
        new_value=fields.string("new_value"),
        actor=who,
    )
    return json_response({"event": event.to_dict()})


def parse_metric_columns(
    data: dict[str, Any],
) -> tuple[list[str], list[float], list[Any], list[Any]]:
    """Check the columnar body's shape and return columns of equal length.

    Only what is cheap is checked here (lengths, keys, values); the store validates
    timestamps and steps as it converts them, with the same 400 on bad input.
    """
    values = _column(data, "values", required=True)
    n = len(values)
    keys = _keys(data, n)
    timestamps = _column(data, "timestamps")
    steps = _column(data, "steps")
    if timestamps is None:
        timestamps = [now_ms()] * n
    else:
        _check_length("timestamps", timestamps, n)
    if steps is None:
        steps = [0] * n
    else:
        _check_length("steps", steps, n)
    return keys, _float_column(values), timestamps, steps


def _column(data: dict[str, Any], name: str, required: bool = False) -> list[Any] | None:
    value = data.get(name)
    if value is None:
        if required:
            raise InvalidParameterValue(f"Missing value for required parameter '{name}'.")
        return None
    if not isinstance(value, list):
        raise InvalidParameterValue(f"Parameter '{name}' must be a JSON list, one entry per point.")
    return value


def _check_length(name: str, column: list[Any], n: int) -> None:
    if len(column) != n:
        raise InvalidParameterValue(
            f"Parameter '{name}' has {len(column)} entries but 'values' has {n}; "
            "every column needs one entry per point."
        )


def _keys(data: dict[str, Any], n: int) -> list[str]:
    names = _column(data, "keys", required=True)
    assert names is not None
    index = _column(data, "key_index")
    try:
        distinct = set(names)
    except TypeError:
        raise InvalidParameterValue("Parameter 'keys' must be a list of strings.") from None
    for key in distinct:
        if not isinstance(key, str) or not key:
            raise InvalidParameterValue(
                f"Invalid metric key {key!r} in 'keys': keys must be non-empty strings."
            )
    if index is None:
        _check_length("keys", names, n)
        return names
    _check_length("key_index", index, n)
    if not index:
        return []
    try:
        if min(index) < 0 or not all(type(i) is int for i in index):
            raise TypeError
        picked = itemgetter(*index)(names)
    except (TypeError, IndexError):
        raise InvalidParameterValue(
            f"Parameter 'key_index' must hold integers from 0 to {len(names) - 1} "
            "(positions in 'keys')."
        ) from None
    return list(picked) if n > 1 else [picked]


def _float_column(values: list[Any]) -> list[float]:
    """Numbers as floats; "NaN" / "Infinity" / "-Infinity" as protobuf writes them."""
    if all(type(v) is float for v in values):
        return values
    return [v if type(v) is float else as_float(f"values[{i}]", v) for i, v in enumerate(values)]


__all__ = ["parse_metric_columns", "router"]
