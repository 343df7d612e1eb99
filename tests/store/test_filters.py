"""SQL compilation of search conditions (`slipway.store.sql.filters`), without a database
where it is pure, and over SQLite and PostgreSQL where the rule is the database's."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table

from slipway.errors import InvalidParameterValue
from slipway.store.search import ATTRIBUTE, METRIC, TAG, Comparison
from slipway.store.sql import SqlTrackingStore
from slipway.store.sql.filters import compare, like_to_glob
from slipway.store.sql.validation import validate_max_results


@pytest.mark.parametrize(
    ("like", "glob"),
    [
        ("", ""),
        ("abc", "abc"),
        ("a%", "a*"),
        ("%a%", "*a*"),
        ("a_c", "a?c"),
        ("%", "*"),
        ("_%_", "?*?"),
        ("a*b", "a[*]b"),  # GLOB's own wildcards are literal in LIKE
        ("a?b", "a[?]b"),
        ("a[b]", "a[[]b]"),
        ("100\\%", "100%"),  # escaped LIKE wildcards are literal
        ("a\\_b", "a_b"),
        ("a\\*b", "a[*]b"),
        ("a\\\\b", "a\\b"),
        ("trailing\\", "trailing\\"),
        ("MiXeD%", "MiXeD*"),  # GLOB is case-sensitive, as LIKE is here
    ],
)
def test_like_to_glob(like: str, glob: str) -> None:
    assert like_to_glob(like) == glob


_t = Table("t", MetaData(), Column("n", Integer), Column("s", String))


def _sql(cmp: Comparison, col=_t.c.n, dialect: str = "sqlite") -> tuple[str, dict]:
    compiled = compare(col, cmp, dialect).compile()
    return str(compiled), compiled.params


@pytest.mark.parametrize(
    ("cmp", "bound"),
    [
        (Comparison(ATTRIBUTE, "n", ">", 5.0), 5),  # an attribute's whole number is an int
        (Comparison(ATTRIBUTE, "n", ">", 5.5), 5.5),
        (Comparison(ATTRIBUTE, "n", "<", 1e300), 1e300),  # beyond int64: stays a float
        (Comparison(ATTRIBUTE, "n", "<", float("inf")), 1.7976931348623157e308),
        (Comparison(METRIC, "m", "=", 5.0), 5.0),  # a metric value stays a float
        (Comparison(METRIC, "m", ">", float("-inf")), -1.7976931348623157e308),
    ],
)
def test_compare_binds_numbers_as_the_columns_store_them(cmp: Comparison, bound) -> None:
    _, params = _sql(cmp)
    (value,) = params.values()
    assert value == bound and type(value) is type(bound)


@pytest.mark.parametrize("op", ["IS NULL", "IS NOT NULL", "~"])
def test_compare_takes_value_comparisons_only(op: str) -> None:
    """IS [NOT] NULL means "has no such key / has it": only key/value conditions know it."""
    with pytest.raises(InvalidParameterValue, match="Unsupported operator"):
        compare(_t.c.s, Comparison(TAG, "k", op, None), "sqlite")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, 1000),
        (1, 1),
        (50000, 50000),
        ("25", 25),
        (7.0, 7),
        (0, None),
        (-1, None),
        (50001, None),
        (True, None),  # refused in-process as the server refuses it in a request
        (2.5, None),
        ("ten", None),
        ([], None),
    ],
)
def test_validate_max_results(value, expected) -> None:
    if expected is None:
        with pytest.raises(InvalidParameterValue, match="max_results"):
            validate_max_results(value)
    else:
        assert validate_max_results(value) == expected


def test_validate_max_results_default_and_limit() -> None:
    assert validate_max_results(None, limit=100, default=10) == 10
    assert validate_max_results(None, limit=5, default=10) == 5
    with pytest.raises(InvalidParameterValue, match="from 1 to 100"):
        validate_max_results(101, limit=100)


def test_huge_numbers_in_run_filters_do_not_overflow(sql_store: SqlTrackingStore) -> None:
    """1e300 used to become an int too large for SQLite to bind (an internal error)."""
    exp = sql_store.create_experiment("huge")
    sql_store.create_run(exp, "u", 5)
    assert len(sql_store.search_runs([exp], "attributes.start_time < 1e300").items) == 1
    assert len(sql_store.search_runs([exp], "attributes.start_time > 1e300").items) == 0
    assert len(sql_store.search_runs([exp], "attributes.end_time > -1e400").items) == 0
