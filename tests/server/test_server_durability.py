"""`slipway server` as a real process: acknowledged writes survive SIGKILL, and several
client processes logging at once lose nothing."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from slipway.store.rest import RestTrackingStore
from slipway.store.sql import SqlTrackingStore


def test_acknowledged_points_survive_sigkill(server_process, tmp_path: Path) -> None:
    setup = RestTrackingStore(server_process.url)
    exp = setup.create_experiment("durable")
    run_id = setup.create_run(exp, "u", 0).info.run_id
    setup.close()

    acked: list[tuple[str, range]] = []  # (metric key, steps) of every answered-200 request
    failures: list[str] = []

    def writer() -> None:
        with httpx.Client(base_url=server_process.url, timeout=10) as client:
            for batch in range(5_000):  # bounded; the kill ends it much sooner
                if batch % 2 == 0:
                    steps = range(batch * 500, batch * 500 + 500)
                    key = "columnar"
                    request = (
                        "/api/2.0/slipway/runs/log-metrics",
                        {
                            "run_id": run_id,
                            "keys": [key],
                            "key_index": [0] * len(steps),
                            "values": [s * 0.5 for s in steps],
                            "timestamps": [1_000 + s for s in steps],
                            "steps": list(steps),
                        },
                    )
                else:
                    steps = range(batch * 100, batch * 100 + 100)
                    key = "batched"
                    request = (
                        "/api/2.0/mlflow/runs/log-batch",
                        {
                            "run_id": run_id,
                            "metrics": [
                                {"key": key, "value": s, "timestamp": 1_000 + s, "step": s}
                                for s in steps
                            ],
                        },
                    )
                try:
                    response = client.post(request[0], json=request[1])
                except httpx.HTTPError:
                    return  # the server is gone: this request was never acknowledged
                if response.status_code != 200:
                    failures.append(response.text)
                    return
                acked.append((key, steps))

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while len(acked) < 30 and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(acked) >= 30, f"writer made too little progress: {failures}"
    server_process.kill()  # SIGKILL while the writer is still sending
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert not failures

    with sqlite3.connect(server_process.db_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    store = SqlTrackingStore(f"sqlite:///{server_process.db_path}", str(tmp_path / "a"))
    try:
        for key in ("columnar", "batched"):
            stored = {m.step for m in store.get_metric_history(run_id, key)}
            expected = {s for k, steps in acked if k == key for s in steps}
            assert expected, f"no acknowledged {key} batch"
            assert expected <= stored, f"{len(expected - stored)} acknowledged {key} points lost"
    finally:
        store.close()


CLIENT = """
import sys
from slipway.entities import Metric
from slipway.store.rest import RestTrackingStore

url, own_run, shared_run, worker = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
store = RestTrackingStore(url)
for i in range(10):
    steps = list(range(i * 2000, (i + 1) * 2000))
    store.log_metric_columns(own_run, ["m"] * 2000, [float(s) for s in steps], [1] * 2000, steps)
    store.log_metric_columns(
        shared_run, [f"w{worker}"] * 2000, [float(s) for s in steps], [1] * 2000, steps
    )
    store.log_batch(own_run, metrics=[Metric("b", 1.0, 1, i * 100 + j) for j in range(100)])
store.set_tag(shared_run, f"done-{worker}", "yes")
store.close()
"""


def test_concurrent_client_processes_lose_nothing(start_server) -> None:
    """Three client processes against a two-worker server over one SQLite database."""
    server = start_server(workers=2)
    store = RestTrackingStore(server.url)
    exp = store.create_experiment("concurrent")
    shared = store.create_run(exp, "u", 0).info.run_id
    own = [store.create_run(exp, "u", 0).info.run_id for _ in range(3)]
    clients = [
        subprocess.Popen([sys.executable, "-c", CLIENT, server.url, own[w], shared, str(w)])
        for w in range(3)
    ]
    for proc in clients:
        assert proc.wait(timeout=120) == 0
    for w in range(3):
        assert len(store.get_metric_history(own[w], "m")) == 20_000
        assert len(store.get_metric_history(own[w], "b")) == 1_000
        assert len(store.get_metric_history(shared, f"w{w}")) == 20_000
    tags = store.get_run(shared).data.tags
    assert all(tags.get(f"done-{w}") == "yes" for w in range(3))
    assert store.get_run(shared).data.metrics == {f"w{w}": 19_999.0 for w in range(3)}
    store.close()
