"""The default-test rule: every row of DRIFT_METHODS.md, as a table and end to end."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from slipway.monitoring import detect_drift
from slipway.monitoring.selection import default_test, default_threshold

ROWS = [
    # column type, n_ref, n_unique, test, threshold
    ("numeric", 1000, 6, "ks", 0.05),
    ("numeric", 1001, 6, "wasserstein", 0.1),
    ("numeric", 1000, 5, "chisquare", 0.05),
    ("numeric", 1000, 3, "chisquare", 0.05),
    ("numeric", 1001, 5, "jensenshannon", 0.1),
    ("numeric", 1001, 3, "jensenshannon", 0.1),
    ("numeric", 1000, 2, "z", 0.05),
    ("numeric", 1000, 1, "z", 0.05),
    ("numeric", 5000, 2, "jensenshannon", 0.1),
    ("categorical", 1000, 3, "chisquare", 0.05),
    ("categorical", 1001, 30, "jensenshannon", 0.1),
    ("categorical", 1000, 2, "z", 0.05),
    ("categorical", 1001, 2, "jensenshannon", 0.1),
    ("boolean", 1000, 2, "z", 0.05),
    ("boolean", 1001, 2, "jensenshannon", 0.1),
    ("text", 1000, 900, "text_content", 0.95),
    ("text", 1001, 900, "text_content", 0.55),
]


@pytest.mark.parametrize(("kind", "n_ref", "n_unique", "test", "threshold"), ROWS)
def test_rule_table(kind: str, n_ref: int, n_unique: int, test: str, threshold: float) -> None:
    assert default_test(kind, n_ref, n_unique) == test
    assert default_threshold(test, n_ref) == threshold


def test_datetime_columns_get_no_test() -> None:
    assert default_test("datetime", 5000, 5000) is None


@pytest.mark.parametrize(
    ("n_ref", "values", "test"),
    [
        (1000, lambda rng, n: rng.normal(0, 1, n), "ks"),
        (1200, lambda rng, n: rng.normal(0, 1, n), "wasserstein"),
        (1000, lambda rng, n: rng.choice([0.5, 1.5, 2.5, 3.5], n), "chisquare"),
        (1200, lambda rng, n: rng.choice([0.5, 1.5, 2.5, 3.5], n), "jensenshannon"),
        (1000, lambda rng, n: rng.choice([0.5, 1.5], n), "z"),
        (1000, lambda rng, n: rng.choice(["a", "b", "c"], n), "chisquare"),
        (1200, lambda rng, n: rng.choice(["a", "b", "c"], n), "jensenshannon"),
        (1000, lambda rng, n: rng.choice(["a", "b"], n), "z"),
        (1000, lambda rng, n: rng.integers(0, 4, n), "chisquare"),  # <= 10 ints: categorical
        (1200, lambda rng, n: rng.integers(0, 100, n), "wasserstein"),  # > 10 ints: numeric
    ],
)
def test_detect_drift_picks_the_rules_test(n_ref: int, values, test: str) -> None:
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"x": values(rng, n_ref)})
    cur = pd.DataFrame({"x": values(rng, 800)})
    assert detect_drift(ref, cur).columns["x"].test == test


def test_n_ref_counts_values_after_dropping_missing() -> None:
    """1,100 rows with 200 missing is 900 values: the small-reference column of the table."""
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, 1100)
    x[:200] = np.nan
    ref = pd.DataFrame({"x": x})
    cur = pd.DataFrame({"x": rng.normal(0, 1, 500)})
    assert detect_drift(ref, cur).columns["x"].test == "ks"


def test_unique_values_count_both_sides_together() -> None:
    ref = pd.DataFrame({"x": [0.5, 1.5] * 300})
    cur = pd.DataFrame({"x": [2.5, 3.5, 4.5, 5.5, 6.5] * 100})
    assert detect_drift(ref, cur).columns["x"].test == "ks"  # 7 together
