"""Expectation suites: YAML or dict, one result per rule with the observed value."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from slipway.errors import InvalidParameterValue
from slipway.monitoring import check_expectations, load_expectations

SUITE = """
expectations:
  age: {between: [0, 120], not_null: true}
  income: {mean_between: [1000, 9000]}
  plan: {in_set: [basic, plus, pro]}
"""


@pytest.fixture
def df() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": [25.0, 40.0, np.nan, 130.0],
            "income": [2000.0, 4000.0, 6000.0, 8000.0],
            "plan": ["basic", "pro", "gold", None],
            "id": [1, 2, 2, 3],
        }
    )


def test_the_yaml_suite_of_the_issue(df, tmp_path) -> None:
    path = tmp_path / "suite.yaml"
    path.write_text(SUITE)
    results = check_expectations(df, str(path))
    by_rule = {(r.column, r.rule): r for r in results}
    assert not by_rule["age", "between"].passed
    assert by_rule["age", "between"].observed == {"min": 25.0, "max": 130.0, "outside": 1}
    assert not by_rule["age", "not_null"].passed and by_rule["age", "not_null"].observed == 1
    assert by_rule["income", "mean_between"].passed
    assert by_rule["income", "mean_between"].observed == 5000.0
    assert not by_rule["plan", "in_set"].passed
    assert by_rule["plan", "in_set"].observed == {"outside": 1, "examples": ["gold"]}
    assert not results.passed and len(results.failed) == 3
    assert load_expectations(str(path))["plan"] == {"in_set": ["basic", "plus", "pro"]}


def test_every_rule_on_an_arrow_table(df) -> None:
    suite = {
        "income": {
            "median_between": [4000, 6000],
            "std_between": [0, 10_000],
            "min_between": [1000, None],
            "max_between": [None, 7000],
        },
        "age": {"max_missing_share": 0.1},
        "id": {"unique": True},
    }
    results = check_expectations(pa.Table.from_pandas(df), suite)
    passed = {(r.column, r.rule): r.passed for r in results}
    assert passed == {
        ("income", "median_between"): True,
        ("income", "std_between"): True,
        ("income", "min_between"): True,
        ("income", "max_between"): False,
        ("age", "max_missing_share"): False,
        ("id", "unique"): False,
    }
    assert results.to_dict()["failed"] == 3


def test_a_missing_column_fails_its_rules(df) -> None:
    results = check_expectations(df, {"nope": {"not_null": True}})
    assert not results.passed and results.results[0].message == "column is missing"


@pytest.mark.parametrize(
    "suite",
    [
        {},
        {"expectations": {"age": {"between": 5}}},
        {"expectations": {"age": {"is_cool": True}}},
        {"expectations": {"age": {"not_null": "yes"}}},
        {"expectations": {"plan": {"in_set": []}}},
        {"expectations": {"age": []}},
    ],
)
def test_bad_suites_are_typed_errors(df, suite) -> None:
    with pytest.raises(InvalidParameterValue):
        check_expectations(df, suite)


def test_expectations_ride_along_with_drift(frames) -> None:
    from slipway.monitoring import detect_drift

    ref, cur = frames
    result = detect_drift(ref, cur, expectations={"plan": {"in_set": ["basic", "plus", "pro"]}})
    assert result.expectations.passed
    assert result.to_dict()["expectations"]["passed"] is True
