"""Counts, per-experiment summaries and thinned metric histories, over every transport.

These feed the web UI (the experiments list, the paged runs table, long curves); the SQL
store answers them with aggregate queries and index seeks, other stores by reading.
"""

from __future__ import annotations

import math

import pytest

from slipway.entities import Metric, Param, ViewType
from slipway.errors import InvalidParameterValue
from slipway.store.sampling import thin_history
from slipway.store.sql import run_stats


def _runs(store, experiment_id: str, n: int) -> list[str]:
    ids = []
    for i in range(n):
        run_id = store.create_run(experiment_id, "u", 1000 + i).info.run_id
        store.log_batch(
            run_id,
            metrics=[Metric("acc", i / 10, 1, 0)],
            params=[Param("model", "rf" if i % 2 else "gb")],
        )
        ids.append(run_id)
    return ids


def test_count_runs_follows_filter_and_view(tracking_store) -> None:
    exp = tracking_store.create_experiment("counted")
    ids = _runs(tracking_store, exp, 6)
    tracking_store.delete_run(ids[0])
    assert tracking_store.count_runs([exp]) == 5
    assert tracking_store.count_runs([exp], "params.model = 'rf'") == 3
    assert tracking_store.count_runs([exp], "metrics.acc >= 0.3") == 3
    assert tracking_store.count_runs([exp], "", ViewType.ALL) == 6
    with pytest.raises(InvalidParameterValue, match=r"at position 12"):
        tracking_store.count_runs([exp], "metrics.acc >> 1")


def test_summarize_runs_counts_active_runs_and_the_latest_start(tracking_store) -> None:
    busy = tracking_store.create_experiment("busy")
    idle = tracking_store.create_experiment("idle")
    ids = _runs(tracking_store, busy, 3)
    tracking_store.delete_run(ids[2])
    summary = tracking_store.summarize_runs([busy, idle])
    assert summary[busy] == (2, 1001)
    assert summary[idle] == (0, None)


def _log_curve(store, run_id: str, n: int, spike_at: int | None = None) -> None:
    steps = list(range(n))
    values = [1.0 / (1 + s) for s in steps]
    if spike_at is not None:
        values[spike_at] = 50.0
    for start in range(0, n, 1000):
        chunk = slice(start, start + 1000)
        store.log_batch(
            run_id,
            metrics=[
                Metric("loss", v, 1_700_000_000_000 + s, s)
                for s, v in zip(steps[chunk], values[chunk], strict=True)
            ],
        )


def test_a_short_history_comes_back_whole(tracking_store) -> None:
    exp = tracking_store.create_experiment("short")
    run_id = tracking_store.create_run(exp, "u", 0).info.run_id
    _log_curve(tracking_store, run_id, 50)
    points = tracking_store.get_metric_history_thinned(run_id, "loss", 100)
    assert [p.step for p in points] == list(range(50))
    assert points[3].value == pytest.approx(0.25)


def test_a_long_history_is_thinned_and_keeps_its_spike(tracking_store) -> None:
    exp = tracking_store.create_experiment("long")
    run_id = tracking_store.create_run(exp, "u", 0).info.run_id
    _log_curve(tracking_store, run_id, 5000, spike_at=3333)
    points = tracking_store.get_metric_history_thinned(run_id, "loss", 200)
    assert 100 <= len(points) <= 200
    assert points[0].step == 0 and points[-1].step >= 4975
    assert max(p.value for p in points) == 50.0  # the min/max buckets keep the spike
    assert [p.step for p in points] == sorted(p.step for p in points)


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_beyond_the_scan_limit_the_sql_store_samples_by_index_seeks(
    database: str, request: pytest.FixtureRequest, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from slipway.store.sql import SqlTrackingStore

    monkeypatch.setattr(run_stats, "MINMAX_SCAN_STEPS", 1000)
    uri = (
        f"sqlite:///{tmp_path / 'db.sqlite'}"
        if database == "sqlite"
        else request.getfixturevalue("postgres_uri")
    )
    store = SqlTrackingStore(uri, str(tmp_path / "a"))
    run_id = store.create_run(store.create_experiment("seeks"), "u", 0).info.run_id
    _log_curve(store, run_id, 5000)
    points = store.get_metric_history_thinned(run_id, "loss", 100)
    assert len(points) == 100
    assert [p.step for p in points] == list(range(0, 5000, 50))
    assert points[1].value == pytest.approx(1 / 51)
    store.close()


def test_thin_history_drops_nan_and_orders_each_bucket_along_the_trend() -> None:
    rising = [Metric("m", float(s), 0, s) for s in range(1000)]
    rising[5] = Metric("m", math.nan, 0, 5)
    thinned = thin_history(rising, 100)
    assert len(thinned) <= 100
    assert all(not math.isnan(p.value) for p in thinned)
    assert [p.value for p in thinned] == sorted(p.value for p in thinned)
