"""The store's two hot paths: bulk metric columns and filtered search over many runs.

The timing tests are marked slow (`make bench`); the same search is checked for
correctness on 200 runs in the normal suite.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from slipway.entities import Metric, Param, Tag
from slipway.store.sql import SqlTrackingStore

FILTER = "metrics.m1 > 0.5 and params.p1 = 'x' and tags.t = 'y'"
ORDER_BY = ["metrics.m2 DESC"]


def _build_runs(store: SqlTrackingStore, n_runs: int, seed: int = 0) -> tuple[str, list[dict]]:
    """`n_runs` runs with 5 params, 5 metrics and 1 tag each; returns their values too."""
    rng = random.Random(seed)
    exp_id = store.create_experiment(f"perf-{n_runs}")
    expected = []
    for i in range(n_runs):
        metrics = {f"m{k}": rng.random() for k in range(1, 6)}
        params = {"p1": rng.choice("xyz"), **{f"p{k}": str(rng.randint(0, 9)) for k in range(2, 6)}}
        tag = rng.choice("yz")
        run_id = store.create_run(exp_id, "perf", 1_000 + i, run_name=f"r{i}").info.run_id
        store.log_batch(
            run_id,
            metrics=[Metric(k, v, 1, 0) for k, v in metrics.items()],
            params=[Param(k, v) for k, v in params.items()],
            tags=[Tag("t", tag)],
        )
        expected.append({"run_id": run_id, "metrics": metrics, "params": params, "tag": tag})
    return exp_id, expected


def _expected_page(runs: list[dict], limit: int) -> list[str]:
    hits = [
        r for r in runs if r["metrics"]["m1"] > 0.5 and r["params"]["p1"] == "x" and r["tag"] == "y"
    ]
    hits.sort(key=lambda r: -r["metrics"]["m2"])
    return [r["run_id"] for r in hits[:limit]]


def test_filtered_search_is_correct_on_200_runs(sql_store: SqlTrackingStore) -> None:
    store = sql_store
    exp_id, runs = _build_runs(store, 200)
    page = store.search_runs([exp_id], FILTER, order_by=ORDER_BY, max_results=10)
    assert [r.info.run_id for r in page] == _expected_page(runs, 10)
    first = next(r for r in runs if r["run_id"] == page[0].info.run_id)
    assert page[0].data.params == first["params"]
    assert page[0].data.metrics == first["metrics"]
    assert page[0].data.tags["t"] == "y"


@pytest.mark.slow
def test_log_metric_columns_100k_points_under_300ms(tmp_path: Path) -> None:
    store = SqlTrackingStore(f"sqlite:///{tmp_path / 'm.db'}", str(tmp_path / "a"))
    exp_id = store.create_experiment("bulk")
    n = 100_000
    keys = ["loss"] * n
    values = [i * 1e-3 for i in range(n)]
    stamps = [1_700_000_000_000 + i for i in range(n)]
    steps = list(range(n))
    timings = []
    for _ in range(3):
        run_id = store.create_run(exp_id, "perf", 1).info.run_id
        start = time.perf_counter()
        store.log_metric_columns(run_id, keys, values, stamps, steps)
        timings.append(time.perf_counter() - start)
    print(f"log_metric_columns 100k points: best {min(timings) * 1000:.0f} ms of {timings}")
    assert len(store.get_metric_history(run_id, "loss")) == n
    assert min(timings) < 0.3
    store.close()


@pytest.mark.slow
def test_search_10k_runs_under_30ms(tmp_path: Path) -> None:
    store = SqlTrackingStore(f"sqlite:///{tmp_path / 's.db'}", str(tmp_path / "a"))
    exp_id, runs = _build_runs(store, 10_000)
    store.close()
    store = SqlTrackingStore(f"sqlite:///{tmp_path / 's.db'}", str(tmp_path / "a"))
    expected = _expected_page(runs, 100)
    timings = []
    for _ in range(10):
        start = time.perf_counter()
        page = store.search_runs([exp_id], FILTER, order_by=ORDER_BY, max_results=100)
        timings.append(time.perf_counter() - start)
    print(f"search_runs 10k runs: best {min(timings) * 1000:.1f} ms, all {timings}")
    assert [r.info.run_id for r in page] == expected
    assert all(len(r.data.params) == 5 and len(r.data.metrics) == 5 for r in page)
    assert min(timings) <= 0.030
    store.close()
