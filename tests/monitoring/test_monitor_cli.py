"""`slipway monitor …` and `slipway models approve` end to end, the HTML report, and the
whole loop over a live `slipway server` (REST store) with its `/metrics` gauges."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import httpx
from loop_support import BASE_MS, HOUR_MS, log_window, make_data, register, weak_champion
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from slipway.cli.main import app
from slipway.monitoring import monitors

runner = CliRunner()


def _cli(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_cli_create_run_approve_status_report(loop, tmp_path: Path) -> None:
    client, _, log_root, tmp = loop
    uri = client.tracking_uri
    champion, X0, y0 = weak_champion()
    version = register(client, "churn", champion, X0, y0, tmp)
    client.set_registered_model_alias("churn", "champion", version)
    X, y = make_data(400, 21, shift=1.5)
    log_window(log_root, "churn", version, champion, X, y, BASE_MS)

    _cli(
        "monitor", "create", "churn", "--model", "churn@champion", "--window", "1h",
        "--drift-share", "0.3", "--min-rows", "200", "--min-labels", "100",
        "--performance", "f1 drop 0.02", "--alert", "log", "--alert", "audit",
        "--retrain", "loop_support:train_better", "--promote", "approval",
        "--prediction-log", log_root, "--tracking-uri", uri,
    )  # fmt: skip
    at = dt.datetime.fromtimestamp(BASE_MS / 1000, dt.UTC).isoformat()
    out = json.loads(_cli("monitor", "run", "churn", "--at", at, "--json", "--tracking-uri", uri))
    assert out["window"]["status"] == "drift" and "dataset_drift" in out["alerts"]
    assert out["retrain"]["outcome"] == "awaiting_approval"
    challenger = out["retrain"]["challenger"]
    assert int(client.get_model_version_by_alias("churn", "champion").version) == version

    _cli(
        "models", "approve", "churn", "--version", str(challenger), "--reason", "checked",
        "--tracking-uri", uri,
    )  # fmt: skip
    assert int(client.get_model_version_by_alias("churn", "champion").version) == challenger

    status = json.loads(_cli("monitor", "status", "churn", "--json", "--tracking-uri", uri))
    kinds = [e["kind"] for e in status["events"]]
    assert "awaiting_approval" in kinds and kinds[-1] == "promoted"
    assert "Windows" in _cli("monitor", "status", "churn", "--tracking-uri", uri)
    assert "churn" in _cli("monitor", "list", "--tracking-uri", uri)

    report = tmp_path / "churn.html"
    _cli("monitor", "report", "churn", "-o", str(report), "--tracking-uri", uri)
    page = report.read_text()
    assert page.count("<svg") >= 4 and "Dataset drift" in page and "awaiting_approval" in page
    assert "<script" not in page

    _cli("monitor", "update", "churn", "--set", "min_rows=10", "--tracking-uri", uri)
    assert monitors.get_monitor("churn", client=client).spec["min_rows"] == 10
    bad = runner.invoke(app, ["monitor", "run", "nope", "--tracking-uri", uri])
    assert bad.exit_code == 1 and "does not exist" in bad.output


def test_loop_over_a_live_server_and_its_metrics(live_server, tmp_path: Path, monkeypatch) -> None:
    from slipway.tracking.client import Client

    monkeypatch.setenv("SLIPWAY_TRACKING_URI", live_server.url)
    client = Client(live_server.url)
    X, y = make_data(600, 1)
    model = LogisticRegression().fit(X, y)
    version = register(client, "churn", model, X, y, tmp_path)
    client.set_registered_model_alias("churn", "champion", version)
    log_root = str(tmp_path / "predlog")
    monitors.create_monitor(
        "churn", model="churn@champion", min_rows=100, drift_share=0.3,
        performance=["f1 drop 0.1"], prediction_log=log_root, client=client,
    )  # fmt: skip
    X, y = make_data(300, 2, shift=3.0)
    log_window(log_root, "churn", version, model, X, y, BASE_MS + HOUR_MS)
    run = monitors.run_monitor("churn", at=BASE_MS + HOUR_MS, client=client)
    assert run.window.status in ("drift", "concept_drift") and "dataset_drift" in run.alerts

    text = httpx.get(f"{live_server.url}/metrics").text
    assert 'slipway_monitor_drift_share{monitor="churn",model="churn"}' in text
    assert (
        'slipway_monitor_alert_active{monitor="churn",model="churn",condition="dataset_drift"} 1.0'
        in text
    )
    assert 'slipway_monitor_column_drift{monitor="churn",model="churn",column="f0"}' in text
    assert 'metric="f1",kind="estimated"' in text and 'metric="f1",kind="measured"' in text
    client.close()
