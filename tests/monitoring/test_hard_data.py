"""Awkward data is a finding in the result, never a crash and never a NaN verdict."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from slipway.errors import InvalidParameterValue
from slipway.monitoring import DriftResult, detect_drift


def kinds(result: DriftResult, column: str | None = None) -> set[str]:
    return {f.kind for f in result.quality.findings if column is None or f.column == column}


def assert_clean_json(result: DriftResult) -> dict:
    data = json.loads(result.to_json())  # allow_nan=False inside: no NaN anywhere
    for column in data["columns"].values():
        assert isinstance(column["drifted"], bool)
    return data


def test_missing_values_are_dropped_before_the_test_and_reported(frames) -> None:
    ref, cur = frames
    cur = cur.copy()
    cur.loc[: len(cur) // 2, "stable"] = np.nan
    result = detect_drift(ref, cur)
    col = result.columns["stable"]
    assert col.tested and col.n_current == len(cur) - (len(cur) // 2 + 1)
    assert "missing_values" in kinds(result, "stable")
    assert result.quality.columns["stable"].missing_share_current == pytest.approx(0.5, abs=1e-3)
    assert_clean_json(result)


def test_unseen_categories_drift_and_are_listed(frames) -> None:
    ref, cur = frames
    cur = cur.copy()
    cur.loc[:299, "plan"] = "enterprise"
    result = detect_drift(ref, cur)
    quality = result.quality.columns["plan"]
    assert quality.new_categories == ["enterprise"]
    assert quality.new_category_share == pytest.approx(0.1)
    assert "new_categories" in kinds(result, "plan")


def test_unseen_category_in_a_chi_square_column_gives_p_zero() -> None:
    ref = pd.DataFrame({"c": ["a", "b", "c"] * 100})
    cur = pd.DataFrame({"c": ["a", "b", "c", "d"] * 50})
    col = detect_drift(ref, cur).columns["c"]
    assert col.test == "chisquare" and col.p_value == 0.0 and col.drifted
    assert (
        json.loads(DriftResult.to_json(detect_drift(ref, cur)))["columns"]["c"]["statistic"] is None
    )


def test_constant_columns_are_tested_and_reported() -> None:
    ref = pd.DataFrame({"k": np.full(2000, 3.0), "s": ["x"] * 2000})
    cur = pd.DataFrame({"k": np.full(2000, 3.0), "s": ["x"] * 2000})
    result = detect_drift(ref, cur)
    assert result.columns["k"].tested and not result.columns["k"].drifted
    assert result.columns["s"].tested and not result.columns["s"].drifted
    assert "constant" in kinds(result, "k") and "constant" in kinds(result, "s")


def test_all_null_columns_are_not_tested_with_a_reason() -> None:
    ref = pd.DataFrame({"x": np.arange(100.0), "n": [None] * 100})
    cur = pd.DataFrame({"x": np.arange(100.0), "n": [None] * 100})
    cur2 = pd.DataFrame({"x": [np.nan] * 100, "n": [None] * 100})
    result = detect_drift(ref, cur)
    assert not result.columns["n"].tested and "no values" in result.columns["n"].note
    assert "all_missing" in kinds(result, "n")
    result2 = detect_drift(ref, cur2)
    assert not result2.columns["x"].tested
    assert "all_missing" in kinds(result2, "x")
    assert_clean_json(result2)


def test_empty_current_is_a_finding_and_no_verdict(frames) -> None:
    ref, cur = frames
    result = detect_drift(ref, cur.iloc[:0])
    assert "empty_current" in kinds(result) and "nothing_tested" in kinds(result)
    assert result.dataset_drift is False and not result.any_tested
    assert assert_clean_json(result)["share_drifted"] == 0.0


def test_columns_on_one_side_only_are_reported_and_left_out_of_the_share(frames) -> None:
    ref, cur = frames
    result = detect_drift(ref.assign(old=1.0), cur.assign(new="x"))
    assert not result.columns["old"].tested and not result.columns["new"].tested
    assert "missing_in_current" in kinds(result, "old")
    assert "missing_in_reference" in kinds(result, "new")
    assert result.share_drifted == pytest.approx(2 / 4)


def test_infinities_become_missing_and_are_reported() -> None:
    rng = np.random.default_rng(1)
    ref = pd.DataFrame({"x": rng.normal(0, 1, 1500)})
    x = rng.normal(0, 1, 1500)
    x[:10] = np.inf
    x[10:15] = -np.inf
    result = detect_drift(ref, pd.DataFrame({"x": x}))
    col = result.columns["x"]
    assert col.tested and col.n_current == 1485 and np.isfinite(col.statistic)
    assert "infinite_values" in kinds(result, "x")
    assert result.quality.columns["x"].infinite_current == 15


def test_mixed_types_in_a_pandas_column_are_read_as_strings() -> None:
    ref = pd.DataFrame({"m": ["a", "b", "c"] * 400})
    cur = pd.DataFrame({"m": pd.Series(["a", 1, "c", 2.5] * 300, dtype=object)})
    result = detect_drift(ref, cur)
    assert "mixed_types" in kinds(result, "m")
    assert result.columns["m"].tested


def test_numbers_stored_as_strings_are_converted_with_a_warning() -> None:
    rng = np.random.default_rng(2)
    ref = pd.DataFrame({"x": rng.normal(0, 1, 1500)})
    cur = pa.table({"x": pa.array([str(v) for v in rng.normal(0, 1, 1500)])})
    result = detect_drift(ref, cur)
    assert result.columns["x"].tested
    assert "type_mismatch" in kinds(result, "x")


def test_text_where_numbers_were_is_a_type_mismatch_not_a_crash() -> None:
    ref = pd.DataFrame({"x": np.arange(1500.0), "y": np.arange(1500.0)})
    cur = pd.DataFrame({"x": ["abc"] * 1500, "y": np.arange(1500.0)})
    result = detect_drift(ref, cur)
    assert not result.columns["x"].tested and "type mismatch" in result.columns["x"].note
    assert "type_mismatch" in kinds(result, "x")
    assert result.columns["y"].tested


def test_text_of_stop_words_only_is_not_tested_as_an_explicit_finding() -> None:
    stop_words = ["the", "and", "of", "to", "in", "is", "it", "on", "was", "for"]
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"t": [" ".join(rng.choice(stop_words, 8)) for _ in range(500)]})
    result = detect_drift(ref, ref)
    assert result.columns["t"].type == "text" and not result.columns["t"].tested
    assert "not tested (text)" in result.columns["t"].note
    assert "not_tested" in kinds(result, "t")


def test_datetime_columns_are_quality_checked_not_drift_tested() -> None:
    ref = pd.DataFrame({"d": pd.date_range("2024-01-01", periods=100, freq="D")})
    cur = pd.DataFrame({"d": pd.date_range("2024-03-01", periods=100, freq="D")})
    result = detect_drift(ref, cur)
    assert result.columns["d"].type == "datetime" and not result.columns["d"].tested
    assert "out_of_range" in kinds(result, "d")


def test_duplicate_rows_share() -> None:
    ref = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": ["x", "y", "z", "w"]})
    cur = pd.DataFrame({"a": [1.0, 1.0, 2.0, 1.0], "b": ["x", "x", "y", "q"]})
    result = detect_drift(ref, cur)
    assert result.quality.duplicate_share_reference == 0.0
    assert result.quality.duplicate_share_current == pytest.approx(0.25)


def test_type_overrides_and_bad_options_are_typed_errors(frames) -> None:
    ref, cur = frames
    result = detect_drift(ref, cur, column_types={"flag": "categorical"})
    assert result.columns["flag"].type == "categorical"
    for kwargs in (
        {"column_types": {"flag": "vector"}},
        {"tests": {"stable": "nope"}},
        {"tests": {"plan": "ks"}},  # a sample test on a categorical column
        {"thresholds": {"stable": "high"}},
        {"columns": ["missing"]},
        {"drift_share": 0},
        {"sample": 0},
    ):
        with pytest.raises(InvalidParameterValue):
            detect_drift(ref, cur, **kwargs)


def test_unreadable_inputs_are_typed_errors(tmp_path) -> None:
    from slipway.errors import ResourceDoesNotExist

    with pytest.raises(ResourceDoesNotExist):
        detect_drift(str(tmp_path / "no.parquet"), str(tmp_path / "no.parquet"))
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet")
    with pytest.raises(InvalidParameterValue):
        detect_drift(str(bad), str(bad))
    with pytest.raises(InvalidParameterValue):
        detect_drift([1, 2, 3], [1, 2])


def test_sample_runs_the_tests_on_random_rows_and_says_so(frames) -> None:
    ref, cur = frames
    seen: list[tuple[int, int]] = []
    result = detect_drift(ref, cur, sample=500, progress=lambda d, t: seen.append((d, t)))
    assert result.quality.rows_reference == 500 and result.quality.rows_current == 500
    assert result.columns["shifted"].test == "ks"  # the sample is what the test sees
    assert result.columns["shifted"].drifted
    assert "sampled" in kinds(result) and result.to_dict()["sample"] == 500
    assert seen[-1] == (4, 4)


def test_string_row_keys_agree_between_whole_columns_and_batches() -> None:
    from slipway.monitoring.quality import RowHasher

    col = pa.chunked_array([["a", "b", None], ["a", "c", "b"]])
    whole, batched = RowHasher(6), RowHasher(6)
    whole.add(col, stable=False)
    batched.add(col, stable=True)
    assert whole.duplicate_share() == batched.duplicate_share() == pytest.approx(2 / 6)
