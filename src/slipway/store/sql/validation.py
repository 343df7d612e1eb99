"""Input checks of the tracking store, run before any SQL (MLflow's limits and rules).

Shared with the registry: `validate_max_results`, the one rule for page sizes.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from typing import Any

from slipway.entities import DatasetInput, LifecycleStage, Metric, RunStatus, ViewType
from slipway.errors import InvalidParameterValue, ResourceDoesNotExist
from slipway.store.interface import (
    MAX_ENTITY_KEY_LENGTH,
    MAX_EXPERIMENT_NAME_LENGTH,
    SEARCH_MAX_RESULTS_DEFAULT,
    SEARCH_MAX_RESULTS_THRESHOLD,
)

MAX_RUN_NAME_LENGTH = 250
MAX_ARTIFACT_LOCATION_LENGTH = 2000
MAX_DATASET_NAME_LENGTH = 500
MAX_DATASET_DIGEST_LENGTH = 36
MAX_DATASET_SOURCE_TYPE_LENGTH = 36
MAX_INPUT_TAG_KEY_LENGTH = 255
MAX_INPUT_TAG_VALUE_LENGTH = 500
MAX_MODEL_ID_LENGTH = 64
_KEY_RE = re.compile(r"^[\w\-. /:]*$")


def validate_key(kind: str, key: Any) -> str:
    """MLflow's rules: short, safe characters, and no path tricks (keys may become paths)."""
    if not isinstance(key, str) or not key:
        raise InvalidParameterValue(f"{kind} key must be a non-empty string, got {key!r}.")
    if len(key) > MAX_ENTITY_KEY_LENGTH:
        raise InvalidParameterValue(
            f"{kind} key {key[:60]!r}... is {len(key)} characters long; the limit is "
            f"{MAX_ENTITY_KEY_LENGTH}."
        )
    if not _KEY_RE.match(key):
        raise InvalidParameterValue(
            f"Invalid {kind.lower()} key {key!r}: keys may only contain alphanumerics, "
            "underscores (_), dashes (-), periods (.), spaces ( ), colons (:) and slashes (/)."
        )
    norm = posixpath.normpath(key)
    if norm != key or norm == "." or norm.startswith(("..", "/")):
        raise InvalidParameterValue(
            f"Invalid {kind.lower()} key {key!r}: keys may be used as file paths, so they must "
            f"not start with '/', contain '..' or empty segments, or end with '/'."
        )
    return key


def validate_value(kind: str, key: str, value: Any, limit: int) -> str:
    """A param or tag value as text (None is ""), at most `limit` characters."""
    text = "" if value is None else str(value)
    if len(text) > limit:
        raise InvalidParameterValue(
            f"{kind} value for key {key!r} is {len(text)} characters long; the limit is {limit}."
        )
    return text


def validate_metric(m: Metric, where: str = "") -> tuple[str, float, int, int]:
    """(key, value, timestamp, step) of a metric point; `where` locates it in messages."""
    key = validate_key("Metric", m.key)
    if isinstance(m.value, bool) or not isinstance(m.value, int | float):
        try:
            value = float(m.value)
        except (TypeError, ValueError):
            raise InvalidParameterValue(
                f"Metric {key!r}{where} has value {m.value!r}; it must be a number."
            ) from None
    else:
        value = float(m.value)
    try:
        timestamp, step = int(m.timestamp), int(m.step)
    except (TypeError, ValueError):
        raise InvalidParameterValue(
            f"Metric {key!r}{where}: timestamp and step must be integers, got "
            f"{m.timestamp!r} and {m.step!r}."
        ) from None
    if timestamp < 0:
        raise InvalidParameterValue(
            f"Metric {key!r}{where} has timestamp {timestamp}; it must be >= 0 (epoch ms)."
        )
    return key, value, timestamp, step


def parse_experiment_id(experiment_id: Any) -> int:
    """An experiment id (a decimal string or int) as the integer the database keys on."""
    try:
        value = int(str(experiment_id))
    except (TypeError, ValueError):
        raise InvalidParameterValue(
            f"Invalid experiment id {experiment_id!r}: experiment ids are integers."
        ) from None
    if value < 0:
        raise InvalidParameterValue(f"Invalid experiment id {experiment_id!r}.")
    return value


def validate_experiment_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameterValue(
            f"Invalid experiment name {name!r}: it must be a non-empty string."
        )
    if len(name) > MAX_EXPERIMENT_NAME_LENGTH:
        raise InvalidParameterValue(
            f"Experiment name is {len(name)} characters long; the limit is "
            f"{MAX_EXPERIMENT_NAME_LENGTH}."
        )
    return name


def validate_artifact_location(location: str) -> str:
    if len(location) > MAX_ARTIFACT_LOCATION_LENGTH:
        raise InvalidParameterValue(
            f"artifact_location is longer than {MAX_ARTIFACT_LOCATION_LENGTH} characters."
        )
    return location


def validate_run_name(name: Any) -> str:
    text = str(name)
    if len(text) > MAX_RUN_NAME_LENGTH:
        raise InvalidParameterValue(
            f"Run name is {len(text)} characters long; the limit is {MAX_RUN_NAME_LENGTH}."
        )
    return text


def validate_status(status: Any) -> str:
    text = status.value if isinstance(status, RunStatus) else str(status).upper()
    try:
        return RunStatus(text).value
    except ValueError:
        raise InvalidParameterValue(
            f"Invalid run status {status!r}; use one of {', '.join(s.value for s in RunStatus)}."
        ) from None


def validate_max_results(
    max_results: Any,
    limit: int = SEARCH_MAX_RESULTS_THRESHOLD,
    default: int = SEARCH_MAX_RESULTS_DEFAULT,
) -> int:
    """A page size from 1 to `limit`; None means `default` (capped at `limit`).

    An integer, or text or a float that is one: `True` and `2.5` are refused, as the
    server refuses them in a request, so a search behaves the same in-process and over REST.
    """
    if max_results is None:
        return min(default, limit)
    number: int | None = None
    if not isinstance(max_results, bool) and not (
        isinstance(max_results, float) and not max_results.is_integer()
    ):
        try:
            number = int(max_results)
        except (TypeError, ValueError):
            number = None
    if number is None or number < 1 or number > limit:
        raise InvalidParameterValue(
            f"Invalid max_results {max_results!r}: it must be an integer from 1 to {limit}."
        )
    return number


def parse_view_type(value: Any) -> ViewType:
    try:
        return ViewType.parse(value)
    except (ValueError, KeyError):
        raise InvalidParameterValue(
            f"Invalid view type {value!r}; use ACTIVE_ONLY, DELETED_ONLY or ALL."
        ) from None


def check_run_active(run_id: str, stage: str | None) -> None:
    """Raise unless a run was found (`stage` is its lifecycle stage) and is active.

    A deleted run is INVALID_PARAMETER_VALUE, the code MLflow's server answers with.
    """
    if stage is None:
        raise ResourceDoesNotExist(f"Run with id={run_id} not found.")
    if stage != LifecycleStage.ACTIVE.value:
        raise InvalidParameterValue(
            f"The run {run_id} must be in the 'active' state. Current state is "
            f"{stage}; restore it (or its experiment) first."
        )


def validate_dataset_inputs(items: Sequence[DatasetInput]) -> None:
    for item in items:
        ds = item.dataset
        for field_name, value, limit in (
            ("name", ds.name, MAX_DATASET_NAME_LENGTH),
            ("digest", ds.digest, MAX_DATASET_DIGEST_LENGTH),
            ("source_type", ds.source_type, MAX_DATASET_SOURCE_TYPE_LENGTH),
        ):
            if field_name != "source_type" and not value:
                raise InvalidParameterValue(f"A dataset input needs a {field_name}.")
            if value and len(value) > limit:
                raise InvalidParameterValue(
                    f"Dataset {field_name} {value[:60]!r} is longer than {limit} characters."
                )
        for k, v in item.tags.items():
            if not k or len(k) > MAX_INPUT_TAG_KEY_LENGTH:
                raise InvalidParameterValue(
                    f"Dataset input tag key {k!r} must be 1 to {MAX_INPUT_TAG_KEY_LENGTH} "
                    "characters."
                )
            if len(str(v)) > MAX_INPUT_TAG_VALUE_LENGTH:
                raise InvalidParameterValue(
                    f"Dataset input tag {k!r} is longer than {MAX_INPUT_TAG_VALUE_LENGTH} "
                    "characters."
                )


def validate_model_inputs(model_ids: Sequence[Any]) -> list[str]:
    """The ids of logged models a run used as inputs, checked."""
    out = []
    for model_id in model_ids or ():
        if not model_id or not isinstance(model_id, str) or len(model_id) > MAX_MODEL_ID_LENGTH:
            raise InvalidParameterValue(
                f"Each model input needs a model_id string of at most {MAX_MODEL_ID_LENGTH} "
                f"characters; got {model_id!r}."
            )
        out.append(model_id)
    return list(dict.fromkeys(out))


def model_output_rows(run_id: str, models: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """`run_outputs` rows of a run's model outputs (`{"model_id", "step"}` each), checked."""
    rows = []
    for model in models or ():
        model_id = model.get("model_id") if isinstance(model, dict) else None
        if not model_id or not isinstance(model_id, str) or len(model_id) > MAX_MODEL_ID_LENGTH:
            raise InvalidParameterValue(
                f"Each model output needs a model_id string of at most {MAX_MODEL_ID_LENGTH} "
                f"characters; got {model!r}."
            )
        try:
            step = int(model.get("step") or 0)
        except (TypeError, ValueError):
            msg = f"Model output step must be an integer: {model!r}."
            raise InvalidParameterValue(msg) from None
        rows.append({"run_uuid": run_id, "model_id": model_id, "step": step})
    return rows


__all__ = [
    "MAX_ARTIFACT_LOCATION_LENGTH",
    "MAX_DATASET_DIGEST_LENGTH",
    "MAX_DATASET_NAME_LENGTH",
    "MAX_DATASET_SOURCE_TYPE_LENGTH",
    "MAX_INPUT_TAG_KEY_LENGTH",
    "MAX_INPUT_TAG_VALUE_LENGTH",
    "MAX_MODEL_ID_LENGTH",
    "MAX_RUN_NAME_LENGTH",
    "check_run_active",
    "model_output_rows",
    "parse_experiment_id",
    "parse_view_type",
    "validate_artifact_location",
    "validate_dataset_inputs",
    "validate_experiment_name",
    "validate_key",
    "validate_max_results",
    "validate_metric",
    "validate_model_inputs",
    "validate_run_name",
    "validate_status",
    "validate_value",
]
