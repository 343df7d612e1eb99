"""Retrains run in the background: a watch keeps evaluating every monitor while a model
trains, `slipway monitor run` waits for the outcome and says so, and `slipway server
--monitors` (a real server process) evaluates a monitor on its own and alerts a webhook."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import loop_support
from loop_support import Receiver, log_window, make_data, register, weak_champion
from typer.testing import CliRunner

from slipway.cli.main import app
from slipway.monitoring import monitors


def _until(condition, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _drifted_window_now(loop):
    """A weak champion whose log holds a drifted, labelled window at the current time."""
    client, _, log_root, tmp = loop
    champion, X0, y0 = weak_champion()
    version = register(client, "churn", champion, X0, y0, tmp)
    client.set_registered_model_alias("churn", "champion", version)
    start, _ = monitors.window_bounds(86400)  # rows in today's window (1d monitors below)
    X, y = make_data(400, 21, shift=1.5)
    log_window(log_root, "churn", version, champion, X, y, start, tag="now")
    return client, log_root, version


def test_watch_keeps_evaluating_other_monitors_while_a_retrain_runs(loop) -> None:
    client, log_root, champion = _drifted_window_now(loop)
    common = {
        "model": "churn@champion",
        "window": "1d",
        "min_rows": 200,
        "prediction_log": log_root,
    }
    monitors.create_monitor(
        "retrains", drift_share=0.3, min_labels=100, performance=["f1 drop 0.02"],
        alerts=["log"], retrain="loop_support:train_when_released", promote="auto",
        client=client, **common,
    )  # fmt: skip
    monitors.create_monitor("watches", client=client, **common)
    loop_support.RELEASE_TRAINING.clear()
    stop = threading.Event()
    runs: dict[str, list] = {"retrains": [], "watches": []}
    finished: list[dict] = []
    thread = threading.Thread(
        target=monitors.watch,
        kwargs={
            "client": client, "stop": stop, "interval_s": 0.2,
            "on_run": lambda name, run: runs[name].append(run),
            "on_retrain": lambda name, outcome: finished.append(outcome),
        },
    )  # fmt: skip
    thread.start()
    try:
        _until(lambda: len(runs["retrains"]) >= 1)
        first = runs["retrains"][0]
        assert first.retrain == {"outcome": "started", "started": first.retrain["started"]}
        state = monitors.get_monitor("retrains", client=client).state
        assert state["retraining"]["started"] == state["last_retrain"]
        # The training waits; both monitors are evaluated again and again meanwhile.
        seen = len(runs["watches"])
        _until(lambda: len(runs["watches"]) >= seen + 3 and len(runs["retrains"]) >= 3)
        assert all(r.retrain is None for r in runs["retrains"][1:])  # no second retrain
        assert not finished
        assert int(client.get_model_version_by_alias("churn", "champion").version) == champion
        loop_support.RELEASE_TRAINING.set()
        _until(lambda: bool(finished))
    finally:
        loop_support.RELEASE_TRAINING.set()
        stop.set()
        thread.join(30)
    assert finished[0]["outcome"] == "promoted", finished
    new = int(client.get_model_version_by_alias("churn", "champion").version)
    assert new == finished[0]["challenger"] != champion
    state = monitors.get_monitor("retrains", client=client).state
    assert "retraining" not in state and state["alerts"]["dataset_drift"]["active"]
    kinds = [e.kind for e in monitors.monitor_status("retrains", client=client).events]
    assert kinds.count("retrain_started") == 1 and "promoted" in kinds


def test_monitor_run_waits_for_the_background_retrain_and_says_so(loop) -> None:
    client, log_root, champion = _drifted_window_now(loop)
    monitors.create_monitor(
        "churn", model="churn@champion", window="1d", min_rows=200, min_labels=100,
        drift_share=0.3,
        alerts=["log"], retrain="loop_support:train_better", promote="auto",
        prediction_log=log_root, client=client,
    )  # fmt: skip
    result = CliRunner().invoke(
        app, ["monitor", "run", "churn", "--tracking-uri", client.tracking_uri]
    )
    assert result.exit_code == 0, result.output
    assert "waiting for it to finish" in result.output
    assert "retrain: promoted" in result.output
    assert int(client.get_model_version_by_alias("churn", "champion").version) != champion


def test_server_with_monitors_evaluates_on_its_schedule_and_alerts(loop, tmp_path: Path) -> None:
    """`slipway server --monitors` as a real process: its watch reads the prediction log,
    finds the drifted window, records the alert and posts it to the webhook."""
    client, log_root, _ = _drifted_window_now(loop)
    receiver = Receiver()
    monitors.create_monitor(
        "served", model="churn@champion", window="1d", min_rows=200, drift_share=0.3,
        alerts=[f"webhook:{receiver.url}", "audit"], prediction_log=log_root, client=client,
    )  # fmt: skip
    client.close()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    src = str(Path(monitors.__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    output = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "slipway.cli.main", "server", "--monitors",
         "--backend-store-uri", client.tracking_uri,
         "--artifacts-destination", str(tmp_path / "server-artifacts"), "--port", str(port)],
        env=env, stdout=output, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        _until(lambda: bool(receiver.received) or server.poll() is not None)
        assert server.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
        alert = receiver.received[0]
        assert alert["monitor"] == "served" and alert["condition"] == "dataset_drift"
        status = monitors.monitor_status("served", client=client)
        assert status.windows[0].status == "drift" and status.active_alerts == ["dataset_drift"]
        _until(lambda: httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200)
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        assert 'slipway_monitor_alert_active{monitor="served",model="churn",' in metrics
    finally:
        server.terminate()
        server.wait(20)
        output.close()
        receiver.close()
