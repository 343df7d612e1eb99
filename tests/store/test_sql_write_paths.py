"""The per-run write paths (create, log, end) on plain DBAPI statements, SQLite and PostgreSQL.

What they return is built from what they wrote, so it must equal a fresh read; a second
writer racing on the same param must still lose; a locked SQLite file is waited for and
retried, and a lock that never goes away is a clear "unavailable", not a traceback.
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from slipway.entities import Metric, Param, Tag
from slipway.errors import InvalidParameterValue, ServerUnavailable
from slipway.store import db
from slipway.store.sql import SqlTrackingStore


@pytest.fixture
def exp_id(sql_store: SqlTrackingStore) -> str:
    return sql_store.create_experiment("write-paths")


@pytest.fixture
def run_id(sql_store: SqlTrackingStore, exp_id: str) -> str:
    return sql_store.create_run(exp_id, "ann", 1000).info.run_id


def test_what_writes_return_is_what_a_read_sees(sql_store: SqlTrackingStore, exp_id) -> None:
    run = sql_store.create_run(exp_id, "", 5, tags={"a": "1", "b": ""}, run_name="r")
    assert run == sql_store.get_run(run.info.run_id)
    assert run.info.user_id == "" and run.data.tags == {"a": "1", "b": "", "mlflow.runName": "r"}
    run_id = run.info.run_id
    for changes in (
        {"status": "FINISHED"},
        {"end_time": 77},
        {"run_name": "renamed"},
        {"status": "KILLED", "end_time": 99, "run_name": "again"},
        {},
    ):
        info = sql_store.update_run_info(run_id, **changes)
        assert info == sql_store.get_run(run_id).info, changes
    assert (info.status, info.end_time, info.run_name) == ("KILLED", 99, "again")
    assert sql_store.get_run(run_id).data.tags["mlflow.runName"] == "again"


def test_a_racing_param_writer_still_cannot_change_a_value(
    sql_store: SqlTrackingStore, run_id: str
) -> None:
    """Another connection inserts `lr` and holds its transaction open; our write waits for
    it, then sees its value: a different value is refused, the same one is accepted."""
    mark = "?" if sql_store.dialect == "sqlite" else "%s"
    other = sql_store.engine.raw_connection()
    try:
        cur = other.cursor()
        if sql_store.dialect == "sqlite":
            cur.execute("BEGIN IMMEDIATE")
        cur.execute(
            f"INSERT INTO params (run_uuid, key, value) VALUES ({mark}, {mark}, {mark})",
            (run_id, "lr", "0.1"),
        )
        outcome: dict[str, object] = {}

        def log_other_value() -> None:
            try:
                sql_store.log_batch(run_id, params=[Param("lr", "0.2"), Param("new", "x")])
                outcome["result"] = "stored"
            except InvalidParameterValue as exc:
                outcome["result"] = exc
            outcome["done_at"] = time.monotonic()

        writer = threading.Thread(target=log_other_value)
        writer.start()
        time.sleep(0.3)
        committed_at = time.monotonic()
        other.commit()
        writer.join(timeout=30)
    finally:
        other.close()
    assert outcome["done_at"] >= committed_at  # it waited for the other transaction
    error = outcome["result"]
    assert isinstance(error, InvalidParameterValue)
    assert "'lr': logged '0.1', now '0.2'" in error.message
    assert sql_store.get_run(run_id).data.params == {"lr": "0.1"}  # nothing of the batch
    sql_store.log_batch(run_id, params=[Param("lr", "0.1"), Param("new", "x")])
    assert sql_store.get_run(run_id).data.params == {"lr": "0.1", "new": "x"}


def test_metric_points_beyond_one_statement(sql_store: SqlTrackingStore, run_id: str) -> None:
    """Thousands of points (chunked INSERTs on SQLite, COPY on PostgreSQL) and a handful
    (one INSERT on both), with NaN and infinities, land whole with the right latest values."""
    n = 2500
    keys = [("loss", "acc", "odd")[i % 3] for i in range(n)]
    values = [float(i) for i in range(n)]
    values[-1] = math.nan  # the last point of "loss" (step 2499)
    values[-2] = math.inf  # of "odd" (step 2498)
    sql_store.log_metric_columns(run_id, keys, values, [7] * n, list(range(n)))
    sql_store.log_batch(run_id, metrics=[Metric("odd", -math.inf, 8, 2500)])
    metrics = sql_store.get_run(run_id).data.metrics
    assert math.isnan(metrics["loss"]) and metrics["acc"] == 2497.0
    assert metrics["odd"] == -math.inf
    odd = sql_store.get_metric_history(run_id, "odd")
    assert len(odd) == 834 and [m.value for m in odd[-2:]] == [math.inf, -math.inf]
    loss = sql_store.get_metric_history(run_id, "loss")
    assert len(loss) == 834 and math.isnan(loss[-1].value)


def test_set_tag_and_params_in_one_batch(sql_store: SqlTrackingStore, run_id: str) -> None:
    sql_store.log_batch(
        run_id,
        metrics=[Metric("m", 0.5, 1, 0)],
        params=[Param(f"p{i}", str(i)) for i in range(5)],
        tags=[Tag("team", "a"), Tag("mlflow.runName", "tagged")],
    )
    sql_store.log_batch(run_id, tags=[Tag("team", "b")])
    run = sql_store.get_run(run_id)
    assert run.info.run_name == "tagged"
    assert run.data.params == {f"p{i}": str(i) for i in range(5)}
    assert run.data.tags["team"] == "b" and run.data.metrics == {"m": 0.5}


@pytest.fixture
def quick_lock_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SqlTrackingStore]:
    """An SQLite store that gives up waiting for a lock after 50 ms (then retries)."""
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_S", 0.05)
    store = SqlTrackingStore(f"sqlite:///{tmp_path / 'locked.db'}", str(tmp_path / "a"))
    yield store
    store.close()


def _hold_write_lock(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("BEGIN IMMEDIATE")
    return conn


def test_a_locked_database_is_waited_for_and_retried(quick_lock_store, tmp_path) -> None:
    store = quick_lock_store
    run_id = store.create_run("0", "ann", 1).info.run_id
    holder = _hold_write_lock(str(tmp_path / "locked.db"))
    threading.Timer(0.3, holder.commit).start()  # longer than the busy timeout
    store.log_batch(run_id, params=[Param("p", "1")], tags=[Tag("t", "x")])
    store.update_run_info(run_id, status="FINISHED", end_time=2)
    run = store.get_run(run_id)
    assert run.data.params == {"p": "1"} and run.info.status == "FINISHED"
    holder.close()


def test_a_lock_that_stays_is_reported_unavailable(
    quick_lock_store, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = quick_lock_store
    run_id = store.create_run("0", "ann", 1).info.run_id
    monkeypatch.setattr(db, "WRITE_RETRIES", 1)
    holder = _hold_write_lock(str(tmp_path / "locked.db"))
    try:
        with pytest.raises(ServerUnavailable, match="stayed locked"):
            store.log_batch(run_id, params=[Param("p", "1")])
    finally:
        holder.rollback()
        holder.close()
    assert store.get_run(run_id).data.params == {}
