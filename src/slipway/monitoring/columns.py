"""Column types: what each column is, inferred from its Arrow type and values, overridable.

The rule follows Evidently 0.7's `infer_column_type` so that both tools test the same
columns the same way: floats are numeric; integers are categorical when they hold at most
10 distinct values, else numeric; strings are text when more than half of the non-missing
values are distinct, else categorical; booleans are categorical (reported as "boolean");
timestamps and dates are datetime. Two deliberate differences: the type is inferred on the
*reference* (the trusted schema, and what a stored profile knows), where Evidently uses the
current data; and integer columns with missing values keep the integer rule (pandas would
have turned them into floats first).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from slipway.errors import InvalidParameterValue

NUMERIC = "numeric"
CATEGORICAL = "categorical"
BOOLEAN = "boolean"
DATETIME = "datetime"
TEXT = "text"
OTHER = "other"  # lists, structs, binary: reported, never tested
COLUMN_TYPES = (NUMERIC, CATEGORICAL, BOOLEAN, DATETIME, TEXT)

INTEGER_CARDINALITY_LIMIT = 10
TEXT_DISTINCT_SHARE = 0.5


def physical_kind(arrow_type: pa.DataType) -> str:
    """What an Arrow type holds: numeric, integer, boolean, string, datetime, null or other."""
    t = arrow_type
    if pa.types.is_dictionary(t):
        return physical_kind(t.value_type)
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_integer(t):
        return "integer"
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "numeric"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_temporal(t):
        return "datetime"
    if pa.types.is_null(t):
        return "null"
    return "other"


def infer_column_type(column: pa.ChunkedArray | pa.Array) -> str:
    """The column type of one column's values (see the module docstring for the rule)."""
    kind = physical_kind(column.type)
    if pa.types.is_dictionary(column.type):
        return BOOLEAN if kind == "boolean" else CATEGORICAL
    if kind == "numeric":
        return NUMERIC
    if kind == "integer":
        distinct = pc.count_distinct(column, mode="only_valid").as_py()
        return CATEGORICAL if distinct <= INTEGER_CARDINALITY_LIMIT else NUMERIC
    if kind == "boolean":
        return BOOLEAN
    if kind == "string":
        valid = len(column) - column.null_count
        distinct = pc.count_distinct(column, mode="only_valid").as_py()
        return TEXT if valid and distinct > valid * TEXT_DISTINCT_SHARE else CATEGORICAL
    if kind == "datetime":
        return DATETIME
    if kind == "null":
        return CATEGORICAL
    return OTHER


def check_column_types(types: dict[str, str] | None) -> dict[str, str]:
    """{column: type} overrides, validated and lower-cased."""
    out: dict[str, str] = {}
    for name, value in (types or {}).items():
        kind = value.strip().lower()
        if kind not in COLUMN_TYPES:
            raise InvalidParameterValue(
                f"Unknown column type {value!r} for column {name!r}; "
                f"use one of: {', '.join(COLUMN_TYPES)}."
            )
        out[name] = kind
    return out


__all__ = [
    "BOOLEAN",
    "CATEGORICAL",
    "COLUMN_TYPES",
    "DATETIME",
    "INTEGER_CARDINALITY_LIMIT",
    "NUMERIC",
    "OTHER",
    "TEXT",
    "TEXT_DISTINCT_SHARE",
    "check_column_types",
    "infer_column_type",
    "physical_kind",
]
