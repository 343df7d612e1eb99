"""Search conditions and sort terms in SQL, the same on SQLite and PostgreSQL.

`slipway.store.search` parses a filter into `Comparison`s; this module turns one into
SQL. The searches that use it (runs, experiments, the registry's) sit with their code.
Rules kept on both databases: LIKE is case-sensitive and ILIKE is not; strings sort in
byte order; missing values sort last in either direction; `IS NULL` / `IS NOT NULL`
(tags and params only, as in MLflow) mean "has no such key" / "has it".
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, exists

from slipway.errors import InvalidParameterValue
from slipway.store.search import ATTRIBUTE, Comparison
from slipway.store.sql.metric_values import DBL_MAX

_INT64_MAX = 2**63 - 1
_ORDERING = {
    "=": "__eq__",
    "!=": "__ne__",
    "<": "__lt__",
    "<=": "__le__",
    ">": "__gt__",
    ">=": "__ge__",
}


def like_to_glob(pattern: str) -> str:
    """Translate a LIKE pattern (`%`, `_`, backslash escapes) to SQLite's case-sensitive GLOB."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            c = pattern[i + 1]
            out.append(f"[{c}]" if c in "*?[" else c)
            i += 2
            continue
        if c == "%":
            out.append("*")
        elif c == "_":
            out.append("?")
        else:
            out.append(f"[{c}]" if c in "*?[" else c)
        i += 1
    return "".join(out)


def compare(col: Any, cmp: Comparison, dialect: str) -> ColumnElement[bool]:
    """`col <op> value` for a value comparison (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN).

    A number is clamped to +/-DBL_MAX, where infinities are stored; an attribute's whole
    number binds as an integer (attributes are integer columns) unless it is beyond int64.
    """
    op, value = cmp.op, cmp.value
    if isinstance(value, float):
        value = max(-DBL_MAX, min(DBL_MAX, value))
        if cmp.entity_type == ATTRIBUTE and value.is_integer() and abs(value) <= _INT64_MAX:
            value = int(value)
    method = _ORDERING.get(op)
    if method is not None:
        return getattr(col, method)(value)
    if op == "LIKE":
        if dialect == "sqlite":
            return col.op("GLOB")(like_to_glob(str(value)))
        return col.like(value)
    if op == "ILIKE":
        if dialect == "sqlite":
            return col.ilike(value, escape="\\")
        return col.ilike(value)
    if op == "IN":
        return col.in_(list(value))  # type: ignore[arg-type]
    if op == "NOT IN":
        return col.not_in(list(value))  # type: ignore[arg-type]
    raise InvalidParameterValue(f"Unsupported operator {op!r}.")


def key_value_condition(
    table: Any,
    belongs: ColumnElement[bool],
    cmp: Comparison,
    dialect: str,
    *,
    missing_differs: bool = False,
) -> ColumnElement[bool]:
    """A condition on the key/value rows (tags, params) of `table` that `belongs` to a parent.

    With `missing_differs`, `!=` also holds for a parent without the key (the registry's
    rule: the mlflow client adds `tags.`mlflow.prompt.is_prompt` != 'true'` to every model
    search and expects models without that tag).
    """
    has_key = and_(belongs, table.c.key == cmp.key)
    if cmp.op == "IS NULL":
        return ~exists().where(has_key)
    if cmp.op == "IS NOT NULL":
        return exists().where(has_key)
    if cmp.op == "!=" and missing_differs:
        same = Comparison(cmp.entity_type, cmp.key, "=", cmp.value)
        return ~exists().where(has_key, compare(table.c.value, same, dialect))
    return exists().where(has_key, compare(table.c.value, cmp, dialect))


def order_terms(col: Any, ascending: bool, dialect: str, is_nan: Any = None) -> list[Any]:
    """Sort terms that put missing values (NULL) last in both directions.

    `is_nan` (a metric's flag column) puts NaN after real numbers, before missing values.
    """
    terms: list[Any] = [col.is_(None)]
    if is_nan is not None:
        terms.append(is_nan)
    if dialect == "postgresql" and col.type.python_type is str:
        col = col.collate("C")  # byte order, as SQLite sorts
    terms.append(col.asc() if ascending else col.desc())
    return terms


__all__ = ["compare", "key_value_condition", "like_to_glob", "order_terms"]
