"""The closed loop over a real prediction log (written with `PredictionLog`): windows,
drift and performance alerts with dedup and re-arming, webhook delivery, and retraining."""

from __future__ import annotations

import pytest
from loop_support import (
    BASE_MS,
    HOUR_MS,
    Receiver,
    closed_port_url,
    log_window,
    make_data,
    register,
    weak_champion,
)

from slipway.monitoring import monitors
from slipway.tracking.client import Client


def _events(client: Client, name: str, kind: str) -> list:
    return [e for e in monitors.monitor_status(name, client=client).events if e.kind == kind]


def test_drift_alerts_once_clears_and_rearms_and_small_windows_never_alert(loop) -> None:
    client, model, log_root, _ = loop
    receiver = Receiver()
    try:
        monitors.create_monitor(
            "churn",
            model="churn@champion",
            window="1h",
            drift_share=0.3,
            min_rows=200,
            cooldown=0,
            alerts=[
                f"webhook:{receiver.url}",
                f"webhook+slack:{receiver.url}",
                f"webhook:{closed_port_url()}",
                "log",
                "audit",
            ],
            prediction_log=log_root,
            client=client,
        )
        plan = [(0, 300, 0.0), (1, 300, 3.0), (2, 50, 3.0), (3, 300, 0.0), (4, 300, 3.0)]
        for hour, n, shift in plan:
            X, y = make_data(n, 100 + hour, shift=shift)
            log_window(log_root, "churn", 1, model, X, y, BASE_MS + hour * HOUR_MS)

        def run(hour: int) -> monitors.MonitorRun:
            return monitors.run_monitor("churn", at=BASE_MS + hour * HOUR_MS, client=client)

        first = run(0)
        assert first.window.status == "ok" and first.alerts == []
        assert first.window.rows == 300 and first.window.labelled_rows == 300
        drifted = run(1)
        assert drifted.window.status == "drift" and drifted.alerts == ["dataset_drift"]
        assert drifted.window.metrics["column.f0.drifted"] == 1
        assert run(1).alerts == []  # same window again: same row, no second alert
        small = run(2)
        assert small.window.status == "not_enough_data" and small.alerts == []
        cleared = run(3)
        assert cleared.window.status == "ok" and cleared.alerts == []
        again = run(4)
        assert again.alerts == ["dataset_drift"]  # re-armed after it cleared
        monitors.wait_for_deliveries()

        status = monitors.monitor_status("churn", client=client)
        assert [w.status for w in status.windows] == [
            "ok",
            "drift",
            "not_enough_data",
            "ok",
            "drift",
        ]
        assert len(_events(client, "churn", "alert")) == 2
        assert len(_events(client, "churn", "alert_cleared")) == 1
        plain = [p for p in receiver.received if "condition" in p]
        slack = [p for p in receiver.received if "text" in p]
        assert [p["condition"] for p in plain] == ["dataset_drift"] * 2
        assert plain[0]["model"] == "churn" and plain[0]["details"]["drift_share"] >= 0.3
        assert len(slack) == 2 and "dataset_drift" in slack[0]["text"]
        failed = _events(client, "churn", "delivery_failed")
        assert len(failed) == 2 and all(e.details["attempts"] == 3 for e in failed)
        delivered = {e.details["target"] for e in _events(client, "churn", "alert_delivered")}
        assert delivered == {
            f"webhook:{receiver.url}", f"webhook+slack:{receiver.url}", "log", "audit",
        }  # fmt: skip
        audit = [e for e in client.get_model_history("churn") if e.action == "monitor_alert"]
        assert len(audit) == 2
    finally:
        receiver.close()


def test_performance_with_late_partial_labels_and_estimate(loop) -> None:
    client, model, log_root, _ = loop
    monitors.create_monitor(
        "perf",
        model="churn@champion",
        min_rows=200,
        min_labels=50,
        performance=["f1 drop 0.1"],
        alerts=["log"],
        prediction_log=log_root,
        client=client,
    )
    X, y = make_data(400, 7)
    log_window(log_root, "churn", 1, model, X, y, BASE_MS, labelled=0.5)
    ok = monitors.run_monitor("perf", at=BASE_MS, client=client)
    assert ok.window.labelled_rows == 200 and ok.window.status == "ok"
    assert ok.window.metrics["performance.f1"] > 0.7
    assert "estimated.f1" in ok.window.metrics and "reference.f1" in ok.window.metrics
    band = ok.window.result["estimated_performance"]["accuracy"]
    assert band["lower"] <= ok.window.metrics["performance.accuracy"] <= band["upper"]

    X, y = make_data(400, 8, flip=0.6)  # concept drift: the labels no longer follow the inputs
    log_window(log_root, "churn", 1, model, X, y, BASE_MS + HOUR_MS)
    bad = monitors.run_monitor("perf", at=BASE_MS + HOUR_MS, client=client)
    assert bad.window.status == "concept_drift"
    assert bad.alerts == ["performance:f1"]
    rule = bad.window.result["rules"][0]
    assert rule["measured_rows"] == 400 and rule["breached"]
    assert not rule["estimated_breached"]  # inputs did not move: CBPE cannot see it


def _retrain_setup(loop, promote: str, action: str):
    client, _, log_root, tmp = loop
    champion, X0, y0 = weak_champion()
    version = register(client, "churn", champion, X0, y0, tmp)
    client.set_registered_model_alias("churn", "champion", version)
    monitors.create_monitor(
        "loop",
        model="churn@champion",
        min_rows=200,
        min_labels=100,
        drift_share=0.3,
        performance=["f1 drop 0.02"],
        alerts=["log"],
        retrain=action,
        promote=promote,
        prediction_log=log_root,
        client=client,
    )
    X, y = make_data(400, 21, shift=1.5)
    log_window(log_root, "churn", version, champion, X, y, BASE_MS)
    return client, version


def test_better_retrain_is_promoted_and_does_not_loop(loop) -> None:
    client, champion = _retrain_setup(loop, "auto", "loop_support:train_better")
    run = monitors.run_monitor("loop", at=BASE_MS, client=client)
    assert run.window.model_version == champion
    assert run.retrain is not None and run.retrain["outcome"] == "promoted", run.retrain
    new = run.retrain["challenger"]
    assert run.retrain["challenger_score"] > run.retrain["champion_score"]
    assert int(client.get_model_version_by_alias("churn", "champion").version) == new
    assert int(client.get_model_version_by_alias("churn", "challenger").version) == new
    assert monitors.run_monitor("loop", at=BASE_MS, client=client).retrain is None


def test_worse_retrain_is_refused_and_champion_stays(loop) -> None:
    client, champion = _retrain_setup(loop, "auto", "loop_support:train_worse")
    run = monitors.run_monitor("loop", at=BASE_MS, client=client)
    assert run.retrain["outcome"] == "refused"
    assert int(client.get_model_version_by_alias("churn", "champion").version) == champion
    actions = [e.action for e in client.get_model_history("churn")]
    assert "gate_failed" in actions and "challenger_refused" in actions


def test_failed_retrain_is_recorded_and_cooled_down(loop) -> None:
    client, champion = _retrain_setup(loop, "auto", "exit 3")
    run = monitors.run_monitor("loop", at=BASE_MS, client=client)
    assert run.retrain["outcome"] == "failed" and "status 3" in run.retrain["error"]
    assert int(client.get_model_version_by_alias("churn", "champion").version) == champion
    monitors.update_monitor("loop", cooldown_s=0, client=client)
    state = monitors.get_monitor("loop", client=client).state
    state["alerts"] = {}  # the next window alerts again: the retrain cooldown still holds
    from slipway.store.factory import open_monitor_store

    open_monitor_store(client.tracking_uri).update_monitor("loop", state=state)
    again = monitors.run_monitor("loop", at=BASE_MS, client=client)
    assert again.alerts and again.retrain is None


def test_approval_waits_for_a_person(loop) -> None:
    client, champion = _retrain_setup(loop, "approval", "loop_support:train_better")
    run = monitors.run_monitor("loop", at=BASE_MS, client=client)
    assert run.retrain["outcome"] == "awaiting_approval"
    new = run.retrain["challenger"]
    assert int(client.get_model_version_by_alias("churn", "champion").version) == champion
    outcome = monitors.approve_challenger("churn", new, "looked at the report", client=client)
    assert outcome["passed"]
    assert int(client.get_model_version_by_alias("churn", "champion").version) == new
    approved = [e for e in client.get_model_history("churn") if e.action == "approved"]
    assert approved and "looked at the report" in approved[0].reason
    assert "pending_approval" not in monitors.get_monitor("loop", client=client).state


def test_watch_runs_every_monitor_on_its_schedule(loop) -> None:
    import threading
    import time

    client, model, log_root, _ = loop
    monitors.create_monitor(
        "watched", model="churn@champion", window="1h", min_rows=10,
        prediction_log=log_root, client=client,
    )  # fmt: skip
    X, y = make_data(50, 9)
    start, _ = monitors.window_bounds(3600)
    log_window(log_root, "churn", 1, model, X, y, start, tag="w")
    stop = threading.Event()
    runs: list = []
    options = {"client": client, "stop": stop, "interval_s": 0.2}
    thread = threading.Thread(
        target=monitors.watch, kwargs={**options, "on_run": lambda _, r: runs.append(r)}
    )
    thread.start()
    deadline = time.monotonic() + 20
    while len(runs) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join(10)
    assert len(runs) >= 2 and all(isinstance(r, monitors.MonitorRun) for r in runs)
    windows = monitors.monitor_status("watched", client=client).windows
    assert len(windows) == 1 and windows[0].rows == 50  # re-evaluated in place


def test_empty_log_and_a_regressor_without_reference(loop) -> None:
    from sklearn.linear_model import LinearRegression

    import slipway.sklearn
    from slipway.serving.predlog import PredictionLog

    client, _, log_root, tmp = loop
    monitors.create_monitor(
        "empty", model="churn@champion", min_rows=10, prediction_log=log_root, client=client
    )
    nothing = monitors.run_monitor("empty", at=BASE_MS, client=client)
    assert nothing.window.status == "not_enough_data" and nothing.window.rows == 0

    X, _ = make_data(200, 4)
    target = X["f0"] * 2.0 + 1.0
    regressor = LinearRegression().fit(X, target)
    run_id = client.create_run(client.get_experiment_by_name("loop").experiment_id).info.run_id
    folder = tmp / "regressor"
    slipway.sklearn.save_model(regressor, str(folder), input_example=X.iloc[:3])
    client.log_artifacts(run_id, folder, "model")
    client.create_registered_model("price")
    version = client.create_model_version("price", f"runs:/{run_id}/model", run_id).version
    client.set_registered_model_alias("price", "champion", version)
    with PredictionLog(log_root) as log:
        for i in range(len(X)):
            log.record(
                request_id=f"p{i}", model_name="price", model_version=str(version),
                inputs=X.iloc[[i]], outputs=regressor.predict(X.iloc[[i]]) + 0.5,
                timestamp_ms=BASE_MS + i,
            )  # fmt: skip
        log.record_feedback([{"request_id": f"p{i}", "label": float(target[i])} for i in range(50)])
        log.flush()
    monitors.create_monitor(
        "price", model="price@champion", min_rows=100, min_labels=20,
        performance=["mae drop 0.1"], prediction_log=log_root, client=client,
    )  # fmt: skip
    run = monitors.run_monitor("price", at=BASE_MS, client=client)
    assert run.window.status == "no_reference" and run.window.labelled_rows == 50
    assert run.window.metrics["performance.mae"] == pytest.approx(0.5)
    assert run.window.result["rules"][0]["reference"] is None  # nothing to compare with
    assert run.alerts == []
