"""Several processes on one SQLite file: nobody fails with "database is locked", nothing is lost."""

from __future__ import annotations

import multiprocessing
import traceback
from pathlib import Path
from typing import Any

from slipway.entities import Metric
from slipway.store.sql import SqlTrackingStore

WORKERS = 4
POINTS_PER_WORKER = 2000
BATCH = 50


def _open_worker(db_uri: str, artifacts: str, barrier: Any, errors: Any) -> None:
    try:
        barrier.wait(timeout=60)
        store = SqlTrackingStore(db_uri, artifacts)
        store.get_experiment("0")
        store.close()
    except BaseException:
        errors.put(traceback.format_exc())


def _log_worker(db_uri: str, artifacts: str, worker: int, barrier: Any, errors: Any) -> None:
    """Log POINTS_PER_WORKER points of metric `w<worker>` to one run, creating runs meanwhile."""
    try:
        store = SqlTrackingStore(db_uri, artifacts)
        exp_id = store.get_experiment_by_name("shared").experiment_id
        run_id = store.create_run(
            exp_id, f"w{worker}", worker, run_name=f"main-{worker}"
        ).info.run_id
        barrier.wait(timeout=60)
        key = f"w{worker}"
        for n, start in enumerate(range(0, POINTS_PER_WORKER, BATCH)):
            steps = list(range(start, start + BATCH))
            if n % 2:
                store.log_metric_columns(
                    run_id,
                    [key] * BATCH,
                    [float(s) for s in steps],
                    [1000 + s for s in steps],
                    steps,
                )
            else:
                store.log_batch(run_id, metrics=[Metric(key, float(s), 1000 + s, s) for s in steps])
            if n % 8 == 0:
                side = store.create_run(exp_id, f"w{worker}", n, run_name=f"side-{worker}-{n}")
                store.log_param(side.info.run_id, "worker", str(worker))
        store.close()
    except BaseException:
        errors.put(traceback.format_exc())


def _run_processes(target: Any, args_for: Any) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(WORKERS)
    errors = ctx.Queue()
    procs = [
        ctx.Process(target=target, args=(*args_for(i), barrier, errors)) for i in range(WORKERS)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=240)
    alive = [p for p in procs if p.is_alive()]
    for p in alive:
        p.kill()
    found = []
    while not errors.empty():
        found.append(errors.get())
    assert not found, "\n".join(found)
    assert not alive, "a worker hung"
    assert all(p.exitcode == 0 for p in procs), [p.exitcode for p in procs]


def test_processes_opening_a_new_database_at_once_all_succeed(tmp_path: Path) -> None:
    db_uri = f"sqlite:///{tmp_path / 'fresh.db'}"
    artifacts = str(tmp_path / "artifacts")
    _run_processes(_open_worker, lambda i: (db_uri, artifacts))
    store = SqlTrackingStore(db_uri, artifacts)
    assert [e.name for e in store.search_experiments()] == ["Default"]
    store.close()


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    db_uri = f"sqlite:///{tmp_path / 'shared.db'}"
    artifacts = str(tmp_path / "artifacts")
    store = SqlTrackingStore(db_uri, artifacts)
    exp_id = store.create_experiment("shared")

    _run_processes(_log_worker, lambda i: (db_uri, artifacts, i))

    runs = store.search_runs([exp_id], max_results=1000)
    by_name = {r.info.run_name: r for r in runs}
    side_runs = POINTS_PER_WORKER // BATCH // 8
    assert len(runs) == WORKERS * (1 + side_runs)
    for worker in range(WORKERS):
        run = by_name[f"main-{worker}"]
        history = store.get_metric_history(run.info.run_id, f"w{worker}")
        assert [m.step for m in history] == list(range(POINTS_PER_WORKER))
        assert run.data.metrics == {f"w{worker}": float(POINTS_PER_WORKER - 1)}
        assert by_name[f"side-{worker}-8"].data.params == {"worker": str(worker)}
    store.close()
