"""What the registry's searches (registered models, model versions, logged models) may
filter and order on, and the SQL of their conditions.

The grammar is MLflow's (`slipway.store.search`) with each search's own attribute names;
the conditions are `slipway.store.sql.filters`'s, with the registry's rule that `!=` on a
tag also keeps entries without that tag.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement

from slipway.errors import InvalidFilter, InvalidParameterValue
from slipway.store import schema
from slipway.store.search import ATTRIBUTE, METRIC, PARAM, TAG, Comparison, FilterParser, OrderKey
from slipway.store.sql.filters import compare, key_value_condition, order_terms

registered_models = schema.registered_models
model_versions = schema.model_versions
logged_models = schema.logged_models


class _FilterParser(FilterParser):
    """The MLflow filter grammar with the attribute names of one registry search."""

    def __init__(self, text: str, spec: SearchSpec) -> None:
        super().__init__(text, "runs")
        self.spec = spec

    def resolve(self, entity: str, key: str, tok: Any, *, order: bool) -> tuple[str, str]:
        spec = self.spec
        if entity not in spec.entities:
            allowed = ", ".join("attributes" if e == ATTRIBUTE else f"{e}s" for e in spec.entities)
            raise InvalidFilter(
                f"{spec.what} can be searched by {allowed} only, not {entity}s", tok.pos
            )
        if entity != ATTRIBUTE or spec.column(key) is not None:
            return entity, key
        raise InvalidFilter(
            f"Invalid attribute {key!r} for {spec.what}; valid attributes are "
            f"{spec.attribute_names()}",
            tok.pos,
        )

    def is_numeric_attribute(self, key: str) -> bool:
        return key in self.spec.numbers


class SearchSpec:
    """What one registry search may filter and order on, and the columns behind it."""

    def __init__(
        self,
        what: str,
        strings: dict[str, Any],
        numbers: dict[str, Any],
        entities: tuple[str, ...] = (ATTRIBUTE, TAG),
    ) -> None:
        self.what = what
        self.strings = strings
        self.numbers = numbers
        self.entities = entities

    def column(self, key: str) -> Any:
        return self.strings.get(key, self.numbers.get(key))

    def attribute_names(self) -> str:
        return ", ".join(sorted({*self.strings, *self.numbers}))

    def parse_filter(self, text: str | None) -> list[Comparison]:
        if not text or not text.strip():
            return []
        return _FilterParser(text, self).parse_filter()

    def parse_order_by(self, clauses: Sequence[str] | None) -> list[OrderKey]:
        out = []
        for clause in clauses or ():
            if not clause or not clause.strip():
                raise InvalidFilter("Empty order_by clause", 0)
            key = _FilterParser(clause, self).parse_order_by()
            if key.entity_type != ATTRIBUTE:
                raise InvalidParameterValue(
                    f"Invalid order_by {clause!r}: {self.what} can be ordered by "
                    f"{self.attribute_names()}."
                )
            out.append(key)
        return out

    def conditions(
        self,
        comparisons: Sequence[Comparison],
        key_values: dict[str, tuple[Any, Callable[[Any], ColumnElement[bool]]]],
        dialect: str,
    ) -> list[ColumnElement[bool]]:
        """SQL conditions; `key_values` maps tag/param to (table, how a row belongs)."""
        out: list[ColumnElement[bool]] = []
        for cmp in comparisons:
            if cmp.entity_type == ATTRIBUTE:
                out.append(compare(self.column(cmp.key), cmp, dialect))
                continue
            table, belongs = key_values[cmp.entity_type]
            out.append(
                key_value_condition(table, belongs(table), cmp, dialect, missing_differs=True)
            )
        return out

    def order(self, keys: Sequence[OrderKey], dialect: str) -> list[Any]:
        terms: list[Any] = []
        for key in keys:
            terms.extend(order_terms(self.column(key.key), key.ascending, dialect))
        return terms


REGISTERED_MODELS = SearchSpec(
    "registered models",
    {"name": registered_models.c.name},
    {
        "creation_timestamp": registered_models.c.creation_time,
        "last_updated_timestamp": registered_models.c.last_updated_time,
        "timestamp": registered_models.c.last_updated_time,
    },
)
MODEL_VERSIONS = SearchSpec(
    "model versions",
    {
        "name": registered_models.c.name,
        "run_id": model_versions.c.run_id,
        "source_path": model_versions.c.source,
        "source": model_versions.c.source,
        "current_stage": model_versions.c.current_stage,
        "model_id": model_versions.c.logged_model_id,
        "user_id": model_versions.c.user_id,
        "status": model_versions.c.status,
    },
    {
        "version_number": model_versions.c.version,
        "version": model_versions.c.version,
        "creation_timestamp": model_versions.c.creation_time,
        "last_updated_timestamp": model_versions.c.last_updated_time,
    },
)
LOGGED_MODELS = SearchSpec(
    "logged models",
    {
        "name": logged_models.c.name,
        "model_id": logged_models.c.model_id,
        "model_type": logged_models.c.model_type,
        "status": logged_models.c.status,
        "source_run_id": logged_models.c.source_run_id,
    },
    {
        "creation_timestamp": logged_models.c.creation_time,
        "creation_time": logged_models.c.creation_time,
        "last_updated_timestamp": logged_models.c.last_updated_time,
        "last_updated_time": logged_models.c.last_updated_time,
    },
    (ATTRIBUTE, TAG, PARAM, METRIC),
)


__all__ = ["LOGGED_MODELS", "MODEL_VERSIONS", "REGISTERED_MODELS", "SearchSpec"]
