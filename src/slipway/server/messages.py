"""The JSON types of every request message the server reads: one table, checked in one place.

MLflow's server parses a request body into its protobuf message and refuses a field of
the wrong JSON type (a number where a string belongs, a string where a list belongs) with
400 INVALID_PARAMETER_VALUE, `Invalid value 123 for parameter 'name' supplied: …`; it never
coerces. `check_body` does the same for a body before any route reads it, from `MESSAGES`
(the field types of mlflow's `service.proto`, `model_registry.proto` and the logged-model
messages, plus the few fields slipway's own client adds). Unknown fields are ignored, as
protobuf's JSON parser is told to. Query strings are text by nature; the accessors of
`slipway.server.protocol.Fields` parse their numbers.

Kinds follow protobuf's JSON mapping: a string field takes a JSON string only; an int64 a
number without a fraction or a decimal string; a double a number, a numeric string or
"NaN"/"Infinity"/"-Infinity"; a bool a JSON boolean; an enum a name or a number; a
repeated field a list; a message an object.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from slipway.errors import InvalidParameterValue

STRING = "string"
INT64 = "int64"
DOUBLE = "double"
BOOL = "bool"
ENUM = "enum"

Kind = Any  # a scalar kind above, a message (dict of field -> Kind) or a repeated [Kind]

_KEY_VALUE: dict[str, Kind] = {"key": STRING, "value": STRING}
_METRIC: dict[str, Kind] = {
    "key": STRING,
    "value": DOUBLE,
    "timestamp": INT64,
    "step": INT64,
    "model_id": STRING,
    "dataset_name": STRING,
    "dataset_digest": STRING,
    "run_id": STRING,
}
_DATASET: dict[str, Kind] = {
    "name": STRING,
    "digest": STRING,
    "source_type": STRING,
    "source": STRING,
    "schema": STRING,
    "profile": STRING,
}
_RUN: dict[str, Kind] = {"run_id": STRING}
_RUN_OR_UUID: dict[str, Kind] = {"run_id": STRING, "run_uuid": STRING}  # older messages
_MODEL: dict[str, Kind] = {"name": STRING}
_VERSION: dict[str, Kind] = {"name": STRING, "version": STRING}
# slipway's own client adds these to registry changes (the audit trail's why).
_AUDITED: dict[str, Kind] = {"reason": STRING}
_PAGE: dict[str, Kind] = {"max_results": INT64, "page_token": STRING}

# Keyed by the path after `/2.0/mlflow/` (a logged model's id is `{model_id}`) and method.
MESSAGES: dict[tuple[str, str], dict[str, Kind]] = {
    # experiments
    ("POST", "experiments/create"): {
        "name": STRING,
        "artifact_location": STRING,
        "tags": [_KEY_VALUE],
    },
    ("POST", "experiments/search"): {
        **_PAGE,
        "filter": STRING,
        "order_by": [STRING],
        "view_type": ENUM,
    },
    ("POST", "experiments/update"): {"experiment_id": STRING, "new_name": STRING},
    ("POST", "experiments/delete"): {"experiment_id": STRING},
    ("POST", "experiments/restore"): {"experiment_id": STRING},
    ("POST", "experiments/set-experiment-tag"): {"experiment_id": STRING, **_KEY_VALUE},
    ("POST", "experiments/delete-experiment-tag"): {"experiment_id": STRING, "key": STRING},
    # runs
    ("POST", "runs/create"): {
        "experiment_id": STRING,
        "user_id": STRING,
        "run_name": STRING,
        "start_time": INT64,
        "tags": [_KEY_VALUE],
    },
    ("POST", "runs/update"): {
        **_RUN_OR_UUID,
        "status": ENUM,
        "end_time": INT64,
        "run_name": STRING,
    },
    ("POST", "runs/delete"): _RUN,
    ("POST", "runs/restore"): _RUN,
    ("POST", "runs/log-parameter"): {**_RUN_OR_UUID, **_KEY_VALUE},
    ("POST", "runs/log-metric"): {**_RUN_OR_UUID, **_METRIC},
    ("POST", "runs/set-tag"): {**_RUN_OR_UUID, **_KEY_VALUE},
    ("POST", "runs/delete-tag"): {**_RUN, "key": STRING},
    ("POST", "runs/log-batch"): {
        **_RUN,
        "metrics": [_METRIC],
        "params": [_KEY_VALUE],
        "tags": [_KEY_VALUE],
    },
    ("POST", "runs/log-model"): {**_RUN, "model_json": STRING},
    ("POST", "runs/log-inputs"): {
        **_RUN,
        "datasets": [{"tags": [_KEY_VALUE], "dataset": _DATASET}],
        "models": [{"model_id": STRING}],
    },
    ("POST", "runs/outputs"): {**_RUN, "models": [{"model_id": STRING, "step": INT64}]},
    ("POST", "runs/search"): {
        **_PAGE,
        "experiment_ids": [STRING],
        "filter": STRING,
        "run_view_type": ENUM,
        "order_by": [STRING],
    },
    ("POST", "experiments/search-datasets"): {**_PAGE, "experiment_ids": [STRING]},
    # registered models
    ("POST", "registered-models/create"): {
        **_MODEL,
        "tags": [_KEY_VALUE],
        "description": STRING,
        "deployment_job_id": STRING,
    },
    ("POST", "registered-models/rename"): {**_MODEL, "new_name": STRING},
    ("PATCH", "registered-models/update"): {
        **_MODEL,
        "description": STRING,
        "deployment_job_id": STRING,
    },
    ("DELETE", "registered-models/delete"): {**_MODEL, **_AUDITED},
    ("POST", "registered-models/get-latest-versions"): {**_MODEL, "stages": [STRING]},
    ("POST", "registered-models/set-tag"): {**_MODEL, **_KEY_VALUE},
    ("DELETE", "registered-models/delete-tag"): {**_MODEL, "key": STRING},
    ("POST", "registered-models/alias"): {
        **_MODEL,
        "alias": STRING,
        "version": STRING,
        **_AUDITED,
    },
    ("DELETE", "registered-models/alias"): {**_MODEL, "alias": STRING, **_AUDITED},
    # model versions
    ("POST", "model-versions/create"): {
        **_MODEL,
        "source": STRING,
        "run_id": STRING,
        "tags": [_KEY_VALUE],
        "run_link": STRING,
        "description": STRING,
        "model_id": STRING,
    },
    ("PATCH", "model-versions/update"): {**_VERSION, "description": STRING},
    ("DELETE", "model-versions/delete"): {**_VERSION, "force": BOOL, **_AUDITED},
    ("POST", "model-versions/transition-stage"): {
        **_VERSION,
        "stage": STRING,
        "archive_existing_versions": BOOL,
        **_AUDITED,
    },
    ("POST", "model-versions/set-tag"): {**_VERSION, **_KEY_VALUE},
    ("DELETE", "model-versions/delete-tag"): {**_VERSION, "key": STRING},
    # logged models
    ("POST", "logged-models"): {
        "experiment_id": STRING,
        "name": STRING,
        "model_type": STRING,
        "source_run_id": STRING,
        "params": [_KEY_VALUE],
        "tags": [_KEY_VALUE],
    },
    ("POST", "logged-models/search"): {
        **_PAGE,
        "experiment_ids": [STRING],
        "filter": STRING,
        "datasets": [{"dataset_name": STRING, "dataset_digest": STRING}],
        "order_by": [
            {
                "field_name": STRING,
                "ascending": BOOL,
                "dataset_name": STRING,
                "dataset_digest": STRING,
            }
        ],
    },
    ("PATCH", "logged-models/{model_id}"): {"model_id": STRING, "status": ENUM},
    ("PATCH", "logged-models/{model_id}/tags"): {"model_id": STRING, "tags": [_KEY_VALUE]},
    ("POST", "logged-models/{model_id}/params"): {"model_id": STRING, "params": [_KEY_VALUE]},
}

_MESSAGE_PATH = re.compile(r"^/(?:ajax-)?api/2\.0/mlflow/(.+)$")
_LOGGED_MODEL = re.compile(r"^logged-models/(?!search$)[^/]+")

Checker = Callable[[Any, str], None]  # (value, field name) -> None, or raises


def check_body(method: str, path: str, body: Mapping[str, Any]) -> None:
    """Refuse a field of `body` whose JSON type its message does not allow (400)."""
    check = _checker_for(method, path)
    if check is not None:
        check(body, "")


@functools.lru_cache(maxsize=1024)
def _checker_for(method: str, path: str) -> Checker | None:
    """The compiled check of the message a request to `path` carries (None: not ours)."""
    match = _MESSAGE_PATH.match(path)
    if match is None:
        return None
    name = _LOGGED_MODEL.sub("logged-models/{model_id}", match.group(1).rstrip("/"))
    schema = MESSAGES.get((method, name))
    return None if schema is None else _COMPILED[(method, name)]


def _compile(kind: Kind) -> Checker:
    """A function that checks a value of `kind` (built once per message, at import)."""
    if isinstance(kind, list):
        item = _compile(kind[0])

        def check_list(value: Any, name: str) -> None:
            if type(value) is not list:
                raise invalid_value(name, value)
            for v in value:
                item(v, name)

        return check_list
    if isinstance(kind, dict):
        # Per field: the Python types accepted at once (most values), and the full check.
        fields = {
            key: (_FAST_TYPES.get(sub, ()) if isinstance(sub, str) else (), _compile(sub))
            for key, sub in kind.items()
        }

        def check_message(value: Any, name: str) -> None:
            if type(value) is not dict:
                raise invalid_value(name, value)
            for key, v in value.items():
                spec = fields.get(key)
                if spec is None or v is None or type(v) in spec[0]:
                    continue
                spec[1](v, f"{name}.{key}" if name else key)

        return check_message
    accepts = _SCALARS[kind]

    def check_scalar(value: Any, name: str) -> None:
        if not accepts(value):
            raise invalid_value(name, value)

    return check_scalar


def _is_int64(value: Any) -> bool:
    kind = type(value)
    if kind is int:
        return True
    if kind is float:
        return value.is_integer()
    if kind is str:
        try:
            int(value)
        except ValueError:
            return False
        return True
    return False


def _is_double(value: Any) -> bool:
    kind = type(value)
    if kind is float or kind is int:
        return True
    if kind is str:
        try:
            float(value)
        except ValueError:
            return False
        return True
    return False


_SCALARS: dict[str, Callable[[Any], bool]] = {
    STRING: lambda v: type(v) is str,
    INT64: _is_int64,
    DOUBLE: _is_double,
    BOOL: lambda v: type(v) is bool,
    ENUM: lambda v: type(v) is str or type(v) is int,
}
_FAST_TYPES: dict[str, tuple[type, ...]] = {
    STRING: (str,),
    INT64: (int,),
    DOUBLE: (float, int),
    BOOL: (bool,),
    ENUM: (str, int),
}
_COMPILED = {key: _compile(schema) for key, schema in MESSAGES.items()}


def invalid_value(name: str, value: Any) -> InvalidParameterValue:
    """MLflow's wording for a field of the wrong type (what mlflow users match on)."""
    return InvalidParameterValue(
        f"Invalid value {shown_value(value)} for parameter '{name}' supplied:  Hint: Value was "
        f"of type '{type(value).__name__}'. See the API docs for more information about "
        "request parameters."
    )


def shown_value(value: Any) -> str:
    """`value` as MLflow shows it in messages: compact JSON with sorted keys."""
    try:
        text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        text = repr(value)
    return text if len(text) <= 1000 else text[:997] + "..."


__all__ = [
    "BOOL",
    "DOUBLE",
    "ENUM",
    "INT64",
    "MESSAGES",
    "STRING",
    "check_body",
    "invalid_value",
    "shown_value",
]
