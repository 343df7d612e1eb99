"""Reference profiles: one streaming pass, exact counts, a file that round-trips, same verdicts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from slipway.errors import InvalidParameterValue
from slipway.monitoring import Profile, detect_drift, load_profile, profile
from slipway.monitoring.summary import CategoricalSummary, NumericSummary


def test_profile_counts_are_exact_over_many_batches(frames, tmp_path) -> None:
    ref, _ = frames
    ref = ref.copy()
    ref.loc[:99, "stable"] = np.nan
    ref.loc[100:104, "stable"] = np.inf
    path = tmp_path / "ref.parquet"
    ref.to_parquet(path)
    built = profile(str(path), batch_rows=256, sample_size=500)
    s = built.columns["stable"].summary
    assert isinstance(s, NumericSummary)
    finite = ref["stable"][np.isfinite(ref["stable"])]
    assert (s.count, s.missing, s.infinite) == (len(finite), 100, 5)
    assert s.mean == pytest.approx(finite.mean(), rel=1e-12)
    assert s.std == pytest.approx(finite.std(ddof=0), rel=1e-10)
    assert (s.minimum, s.maximum) == (finite.min(), finite.max())
    assert s.sampled and len(s.values) == 500 and np.all(np.diff(s.values) >= 0)
    assert s.histogram is not None and s.histogram[2].sum() == len(finite)
    plan = built.columns["plan"].summary
    assert isinstance(plan, CategoricalSummary)
    assert dict(zip(plan.categories, plan.counts.tolist(), strict=True)) == (
        ref["plan"].value_counts().to_dict()
    )
    assert built.columns["flag"].type == "boolean"
    assert built.rows == len(ref)


def test_the_reservoir_is_a_uniform_sample(rng) -> None:
    data = pa.table({"x": np.arange(100_000, dtype=np.float64)})
    s = profile(data, sample_size=2000, batch_rows=4096).columns["x"].summary
    # a uniform sample of 0..99,999 has mean ~50,000 (std of the mean ~645)
    assert abs(s.values.mean() - 50_000) < 3000
    assert len(np.unique(s.values)) == 2000


def test_the_histogram_grows_both_ways_and_keeps_every_value() -> None:
    x = np.concatenate([np.linspace(0, 1, 1000), np.linspace(-50, 80, 1000), [1e6]])
    s = profile(pa.table({"x": x}), batch_rows=1000).columns["x"].summary
    lo, width, counts = s.histogram
    assert counts.sum() == len(x) and lo <= -50 and lo + width * len(counts) > 1e6


def test_types_are_inferred_over_the_whole_stream() -> None:
    table = pa.table(
        {
            "few_ints": pa.array(np.tile(np.arange(5), 200)),
            "many_ints": pa.array(np.arange(1000)),
            "words": pa.array(["a", "b"] * 500),
            "sentences": pa.array([f"sentence {i}" for i in range(1000)]),
            "when": pa.array(pd.date_range("2024-01-01", periods=1000, freq="h")),
        }
    )
    types = {n: c.type for n, c in profile(table, batch_rows=100).columns.items()}
    assert types == {
        "few_ints": "categorical",
        "many_ints": "numeric",
        "words": "categorical",
        "sentences": "text",
        "when": "datetime",
    }


def test_profile_file_round_trips_without_pickle(frames, tmp_path) -> None:
    ref, _ = frames
    built = profile(ref)
    path = tmp_path / "ref.profile"
    built.save(str(path))
    meta = pq.read_schema(path).metadata
    assert b"slipway.profile" in meta
    assert pq.read_table(path).column_names == ["column", "summary", "values"]
    again = load_profile(str(path))
    assert again.rows == built.rows and list(again.columns) == list(built.columns)
    for name, col in built.columns.items():
        assert again.columns[name].summary.to_dict() == col.summary.to_dict()
    np.testing.assert_array_equal(
        again.columns["stable"].summary.values, built.columns["stable"].summary.values
    )


def test_a_file_that_is_no_profile_is_a_typed_error(tmp_path) -> None:
    path = tmp_path / "x.profile"
    pq.write_table(pa.table({"a": [1]}), path)
    with pytest.raises(InvalidParameterValue):
        load_profile(str(path))


def test_drift_from_a_complete_profile_equals_drift_from_the_raw_reference(frames) -> None:
    ref, cur = frames
    raw = detect_drift(ref, cur)
    via_profile = detect_drift(profile(ref), cur)
    for name, col in raw.columns.items():
        other = via_profile.columns[name]
        assert (other.test, other.drifted) == (col.test, col.drifted)
        assert other.statistic == pytest.approx(col.statistic, rel=1e-9)
        assert not other.sampled
    assert via_profile.reference_is_profile


def test_drift_from_a_sampled_profile_is_close_and_says_so(rng) -> None:
    n = 40_000
    ref = pd.DataFrame({"x": rng.normal(0, 1, n), "y": rng.normal(0, 1, n)})
    cur = pd.DataFrame({"x": rng.normal(0.5, 1, 5000), "y": rng.normal(0, 1, 5000)})
    raw = detect_drift(ref, cur)
    approx = detect_drift(profile(ref, sample_size=5000), cur)
    for name in ("x", "y"):
        assert approx.columns[name].drifted == raw.columns[name].drifted
        assert approx.columns[name].statistic == pytest.approx(
            raw.columns[name].statistic, abs=0.03
        )
        assert approx.columns[name].sampled and "sample" in approx.columns[name].note
    js = detect_drift(profile(ref, sample_size=5000), cur, tests={"x": "jensenshannon"})
    js_raw = detect_drift(ref, cur, tests={"x": "jensenshannon"})
    assert js.columns["x"].statistic == pytest.approx(js_raw.columns["x"].statistic, abs=0.01)


def test_a_profile_cannot_be_reread_as_another_type(frames) -> None:
    ref, cur = frames
    with pytest.raises(InvalidParameterValue):
        detect_drift(profile(ref), cur, column_types={"stable": "categorical"})


def test_profile_overview_is_json_ready(frames) -> None:
    import json

    built = profile(frames[0])
    data = json.loads(json.dumps(built.to_dict()))
    assert data["columns"]["plan"]["type"] == "categorical"
    assert isinstance(Profile.from_bytes(built.to_bytes()), Profile)
