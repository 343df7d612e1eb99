"""Parity with Evidently 0.7.23's DataDriftPreset: same test, verdict and value per column.

Evidently needs pandas < 3, so it runs in its own virtualenv, which the drift benchmark
creates (`python benchmarks/bench_drift.py`); without it this test skips.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
EVIDENTLY_PYTHON = BENCHMARKS / ".work" / "evidently-0.7.23" / "bin" / "python"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bench():
    if not EVIDENTLY_PYTHON.exists():
        pytest.skip("no Evidently venv; `python benchmarks/bench_drift.py` creates it")
    sys.path.insert(0, str(BENCHMARKS))
    import bench_drift

    return bench_drift


@pytest.mark.parametrize("rows", [5000, 800])  # > 1000: Wasserstein/JS; <= 1000: KS/chi2/z
def test_same_tests_verdicts_and_values_as_evidently(bench, tmp_path: Path, rows: int) -> None:
    from slipway.monitoring import detect_drift

    ref_t, cur_t, _ = bench.make_tables(rows, numeric=12, categorical=4, seed=rows)
    rng = np.random.default_rng(rows)
    ref = ref_t.to_pandas().assign(binary=rng.choice(["yes", "no"], rows))
    cur = cur_t.to_pandas().assign(binary=rng.choice(["yes", "no"], rows, p=[0.7, 0.3]))
    ref_path, cur_path = tmp_path / "ref.parquet", tmp_path / "cur.parquet"
    ref.to_parquet(ref_path)
    cur.to_parquet(cur_path)
    ours = detect_drift(str(ref_path), str(cur_path)).to_dict()
    theirs = bench.run_evidently(ref_path, cur_path, tmp_path)
    assert bench.parity(ours, theirs) == []
    tests = {c["test"] for c in ours["columns"].values()}
    assert tests == ({"ks", "chisquare", "z"} if rows <= 1000 else {"wasserstein", "jensenshannon"})
