"""The metric batcher against a real SQLite store: batches land, failures surface at flush."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from slipway.errors import FlushError, InvalidParameterValue, ResourceDoesNotExist
from slipway.store.sql import SqlTrackingStore
from slipway.tracking.batching import MetricBatcher


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlTrackingStore]:
    s = SqlTrackingStore(f"sqlite:///{tmp_path / 'batching.db'}", str(tmp_path / "artifacts"))
    yield s
    s.close()


@pytest.fixture
def batcher(store: SqlTrackingStore) -> Iterator[MetricBatcher]:
    """A batcher whose background thread stays asleep: only flush() writes."""
    b = MetricBatcher(store, interval=3600)
    yield b
    b.close()


def _run(store: SqlTrackingStore) -> str:
    return store.create_run("0", "ann", 1).info.run_id


def _history(store: SqlTrackingStore, run_id: str, key: str) -> list[tuple[int, float]]:
    return [(m.step, m.value) for m in store.get_metric_history(run_id, key)]


def _wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_flush_writes_every_queued_point_of_every_run(
    store: SqlTrackingStore, batcher: MetricBatcher
) -> None:
    a, b = _run(store), _run(store)
    for step in range(1500):
        batcher.add(a, "loss", 1.0 / (step + 1), 1000 + step, step)
    batcher.add(a, "acc", 0.5, 1000, 0)
    batcher.add(b, "loss", 2.0, 1000, 0)
    assert batcher.pending() == 1502
    assert store.get_metric_history(a, "loss").items == []  # nothing before a flush

    batcher.flush()

    assert batcher.pending() == 0
    loss = _history(store, a, "loss")
    assert len(loss) == 1500 and loss[0] == (0, 1.0) and loss[-1][0] == 1499
    assert _history(store, a, "acc") == [(0, 0.5)]
    assert _history(store, b, "loss") == [(0, 2.0)]
    assert store.get_run(a).data.metrics == {"loss": 1.0 / 1500, "acc": 0.5}


def test_the_background_thread_writes_without_a_flush(store: SqlTrackingStore) -> None:
    run_id = _run(store)
    batcher = MetricBatcher(store, interval=0.05)
    try:
        batcher.add(run_id, "m", 1.0, 1, 0)
        _wait_for(lambda: len(store.get_metric_history(run_id, "m")) == 1)
    finally:
        batcher.close()


def test_max_pending_wakes_the_writer_early(store: SqlTrackingStore) -> None:
    run_id = _run(store)
    batcher = MetricBatcher(store, interval=3600, max_pending=10)
    try:
        for step in range(10):
            batcher.add(run_id, "m", float(step), 1, step)
        _wait_for(lambda: len(store.get_metric_history(run_id, "m")) == 10)
    finally:
        batcher.close()


@pytest.mark.parametrize(
    ("break_run", "cause"),
    [
        (lambda store, run_id: store.delete_run(run_id), InvalidParameterValue),
        (lambda store, run_id: None, ResourceDoesNotExist),
    ],
    ids=["run-deleted", "run-missing"],
)
def test_flush_raises_for_points_the_store_refused(
    store: SqlTrackingStore, batcher: MetricBatcher, break_run, cause
) -> None:
    good = _run(store)
    bad = _run(store)
    break_run(store, bad)
    target = bad if cause is InvalidParameterValue else "0" * 32
    batcher.add(good, "m", 1.0, 1, 0)
    batcher.add(target, "m", 1.0, 1, 0)
    batcher.add(target, "m", 2.0, 1, 1)

    with pytest.raises(FlushError, match="2 metric point") as err:
        batcher.flush()

    assert err.value.details["lost"] == 2
    assert isinstance(err.value.__cause__, cause)
    assert _history(store, good, "m") == [(0, 1.0)]  # the other run's points are stored
    batcher.flush()  # a failure is reported once


def test_a_background_failure_surfaces_at_the_next_flush(store: SqlTrackingStore) -> None:
    run_id = _run(store)
    store.delete_run(run_id)
    batcher = MetricBatcher(store, interval=0.05)
    try:
        batcher.add(run_id, "m", 1.0, 1, 0)
        _wait_for(lambda: batcher.pending() == 0)
        with pytest.raises(FlushError, match="1 metric point"):
            batcher.flush()
    finally:
        batcher.close()


def test_close_flushes(store: SqlTrackingStore) -> None:
    run_id = _run(store)
    batcher = MetricBatcher(store, interval=3600)
    batcher.add(run_id, "m", 3.0, 1, 7)
    batcher.close()
    assert _history(store, run_id, "m") == [(7, 3.0)]


def test_close_raises_when_the_last_points_cannot_be_stored(store: SqlTrackingStore) -> None:
    run_id = _run(store)
    batcher = MetricBatcher(store, interval=3600)
    batcher.add(run_id, "m", 1.0, 1, 0)
    store.delete_run(run_id)
    with pytest.raises(FlushError):
        batcher.close()
