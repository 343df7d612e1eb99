"""The MLflow REST protocol's shapes, as both REST stores write and read them: route
prefixes, `[{"key", "value"}]` lists, bodies without unset fields, and paged answers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from slipway.entities import PagedList

T = TypeVar("T")

MLFLOW = "/api/2.0/mlflow"
SLIPWAY = "/api/2.0/slipway"


def key_values(items: Mapping[str, Any] | None) -> list[dict[str, str]]:
    """Tags or params as the protocol's list of `{"key", "value"}` (values as text)."""
    return [{"key": k, "value": str(v)} for k, v in (items or {}).items()]


def without_none(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The fields that are set (an MLflow server treats a missing field as unset)."""
    return {k: v for k, v in fields.items() if v is not None}


def paged(answer: Mapping[str, Any], key: str, parse: Callable[[Any], T]) -> PagedList[T]:
    """The items under `key` of a search answer, with its `next_page_token`."""
    items = [parse(item) for item in answer.get(key, [])]
    return PagedList(items, answer.get("next_page_token") or None)


__all__ = ["MLFLOW", "SLIPWAY", "key_values", "paged", "without_none"]
