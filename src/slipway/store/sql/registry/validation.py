"""Input checks of the registry store, run before any SQL."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote_plus

from slipway.entities import AuditAction
from slipway.errors import InvalidParameterValue
from slipway.store.interface import (
    MAX_ENTITY_KEY_LENGTH,
    MAX_REGISTERED_MODEL_NAME_LENGTH,
    MAX_REGISTRY_TAG_VALUE_LENGTH,
)

ARCHIVABLE_STAGES = ("Staging", "Production")
# `audit_events.action` holds 32 characters.
_ACTION_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_MAX_EVENT_FIELD_LENGTH = 255
_RESERVED_ACTIONS = frozenset(a.value for a in AuditAction)


def validate_model_name(name: Any, what: str = "name") -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameterValue(f"Missing value for required parameter '{what}'.")
    if "/" in name or ":" in name:
        raise InvalidParameterValue(
            f"Invalid model name {name!r}: names cannot contain '/' or ':' (they would break "
            "models:/ URIs)."
        )
    if len(name) > MAX_REGISTERED_MODEL_NAME_LENGTH:
        raise InvalidParameterValue(
            f"Model name {name[:40]!r}… is longer than {MAX_REGISTERED_MODEL_NAME_LENGTH} "
            "characters."
        )
    return name


def validate_source(source: Any) -> str:
    """A model version's source, refused when it has `..` segments or a NUL byte, also once
    percent-decoded (`..%2f`): a source is read by the server, so it must not reach outside
    the storage it names. MLflow's check and wording."""
    if not isinstance(source, str) or not source:
        raise InvalidParameterValue("Missing value for required parameter 'source'.")
    decoded = source
    while (unquoted := unquote_plus(decoded)) != decoded:
        decoded = unquoted
    segments = decoded.replace("\\", "/").split("/")
    if "\x00" in decoded or ".." in segments:
        raise InvalidParameterValue(
            f"Invalid model version source: '{source}'. If supplying a source as an http, "
            "https, local file path, ftp, objectstore, or mlflow-artifacts uri, an absolute path "
            "must be provided without relative path references present. Please provide an "
            "absolute path."
        )
    return source


def validate_version(version: Any) -> int:
    try:
        number = int(str(version).strip())
    except (TypeError, ValueError):
        number = 0
    if number < 1:
        raise InvalidParameterValue(
            f"Invalid model version {version!r}: a version is a positive integer (1, 2, …)."
        )
    return number


def validate_tag(key: Any, value: Any) -> tuple[str, str]:
    """(key, value as text) of a registry or logged-model tag or param."""
    if not isinstance(key, str) or not key:
        raise InvalidParameterValue("Missing value for required parameter 'key'.")
    if len(key) > MAX_ENTITY_KEY_LENGTH:
        raise InvalidParameterValue(
            f"Tag key {key[:40]!r}… is longer than {MAX_ENTITY_KEY_LENGTH} characters."
        )
    text = "" if value is None else str(value)
    if len(text) > MAX_REGISTRY_TAG_VALUE_LENGTH:
        raise InvalidParameterValue(
            f"The value of tag {key!r} is longer than {MAX_REGISTRY_TAG_VALUE_LENGTH} characters."
        )
    return key, text


def validate_action(action: Any) -> str:
    """An appended event's action: a lowercase snake_case word the registry does not write
    itself (a `model_created` or `alias_set` from outside would forge a change)."""
    if not isinstance(action, str) or not _ACTION_RE.match(action):
        raise InvalidParameterValue(
            f"Invalid audit action {action!r}: use a lowercase snake_case word of at most 32 "
            "characters that starts with a letter, such as 'deployed'."
        )
    if action in _RESERVED_ACTIONS:
        raise InvalidParameterValue(
            f"Audit action {action!r} is recorded by the registry itself when that change "
            "happens; make the change instead, or name your event differently."
        )
    return action


def validate_event_field(field: Any) -> str | None:
    if field is None:
        return None
    if not isinstance(field, str) or len(field) > _MAX_EVENT_FIELD_LENGTH:
        raise InvalidParameterValue(
            f"Invalid audit field {field!r}: a string of at most {_MAX_EVENT_FIELD_LENGTH} "
            "characters."
        )
    return field


def check_archive(stage: str, archive_existing: bool) -> None:
    if archive_existing and stage not in ARCHIVABLE_STAGES:
        raise InvalidParameterValue(
            f"archive_existing_versions only applies to Staging and Production, not {stage}."
        )


__all__ = [
    "check_archive",
    "validate_action",
    "validate_event_field",
    "validate_model_name",
    "validate_source",
    "validate_tag",
    "validate_version",
]
