"""The `slipway` command line against a real SQLite store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from slipway import Client, __version__
from slipway.cli.main import app
from slipway.entities import Metric, Param, Tag

runner = CliRunner()


@pytest.fixture
def uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


@pytest.fixture
def populated(uri: str) -> dict[str, str]:
    client = Client(uri)
    exp = client.create_experiment("churn")
    ids = {}
    for name, acc, model in [("rf", 0.91, "rf"), ("lr", 0.82, "lr"), ("gb", 0.95, "gb")]:
        run = client.create_run(exp, run_name=name)
        client.log_batch(
            run.info.run_id,
            metrics=[Metric("acc", acc, 0, 0)],
            params=[Param("model", model)],
            tags=[Tag("team", "growth")],
        )
        client.set_terminated(run.info.run_id)
        ids[name] = run.info.run_id
    client.close()
    return ids


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"slipway {__version__}"


def test_experiments_create_list_delete(uri: str) -> None:
    created = invoke("experiments", "create", "alpha", "--json", "--tracking-uri", uri)
    assert created.exit_code == 0
    exp_id = json.loads(created.stdout)["experiment_id"]
    listed = json.loads(invoke("experiments", "list", "--json", "--tracking-uri", uri).stdout)
    assert {e["name"] for e in listed["experiments"]} == {"Default", "alpha"}
    assert invoke("experiments", "delete", "alpha", "--tracking-uri", uri).exit_code == 0
    assert Client(uri).get_experiment(exp_id).lifecycle_stage == "deleted"
    table = invoke("experiments", "list", "--tracking-uri", uri).stdout
    assert "Default" in table and "alpha" not in table


def test_runs_search_orders_and_filters(uri: str, populated: dict[str, str]) -> None:
    result = invoke(
        "runs",
        "search",
        "metrics.acc > 0.85 and tags.team = 'growth'",
        "-e",
        "churn",
        "--order-by",
        "metrics.acc DESC",
        "--json",
        "--tracking-uri",
        uri,
    )
    assert result.exit_code == 0, result.output
    names = [r["info"]["run_name"] for r in json.loads(result.stdout)["runs"]]
    assert names == ["gb", "rf"]


def test_runs_list_and_show_tables(uri: str, populated: dict[str, str]) -> None:
    listed = invoke("runs", "list", "-e", "churn", "--tracking-uri", uri)
    assert listed.exit_code == 0
    assert all(name in listed.stdout for name in ("rf", "lr", "gb"))
    shown = invoke("runs", "show", populated["rf"], "--tracking-uri", uri)
    assert shown.exit_code == 0
    assert "model" in shown.stdout and "0.91" in shown.stdout and "FINISHED" in shown.stdout


def test_runs_delete(uri: str, populated: dict[str, str]) -> None:
    assert invoke("runs", "delete", populated["lr"], "--tracking-uri", uri).exit_code == 0
    assert Client(uri).get_run(populated["lr"]).info.lifecycle_stage == "deleted"


def test_errors_are_one_clear_line_and_exit_1(uri: str) -> None:
    """Through the real console script: no traceback, the error code and message."""
    exe = Path(sys.executable).parent / "slipway"
    bad_filter = subprocess.run(
        [str(exe), "runs", "search", "metrics.acc >> 1", "--tracking-uri", uri],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad_filter.returncode == 1
    assert "INVALID_PARAMETER_VALUE" in bad_filter.stderr
    assert "position" in bad_filter.stderr
    assert "Traceback" not in bad_filter.stderr
    missing = subprocess.run(
        [str(exe), "runs", "show", "f" * 32, "--tracking-uri", uri],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 1
    assert "RESOURCE_DOES_NOT_EXIST" in missing.stderr


def test_demo_runs_the_model_lifecycle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`slipway demo`: tracked runs, gated promotion, serving, and the closed loop."""
    monkeypatch.chdir(tmp_path)
    result = subprocess.run(
        [str(Path(sys.executable).parent / "slipway"), "demo"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())  # Rich wraps lines at 80 columns
    client = Client()
    exp = client.get_experiment_by_name("churn-demo")
    runs = {r.info.run_name: r for r in client.search_runs([exp.experiment_id])}
    trained = {"gbm-baseline", "logreg-challenger"}
    assert set(runs) == {*trained, "retrain-hasty", "retrain-on-drift"}
    assert all(r.data.metrics["accuracy"] > 0.6 for n, r in runs.items() if n in trained)
    gbm_curve = client.get_metric_history(runs["gbm-baseline"].info.run_id, "val_loss")
    assert [m.step for m in gbm_curve] == list(range(60))
    versions = client.search_model_versions("name = 'churn-classifier'")
    assert sorted(int(v.version) for v in versions) == [1, 2, 3, 4]
    # The better of the two candidates was champion first...
    history = client.get_model_history("churn-classifier")
    holders = [e.new_value for e in history if e.action == "alias_set" and e.field == "champion"]
    best = max((runs[n] for n in trained), key=lambda r: r.data.metrics["f1"])
    before_loop = client.get_model_version("churn-classifier", holders[-2])
    assert before_loop.run_id == best.info.run_id
    # ...the hurried retrain (v3) was refused by the gate and never served...
    refused = [e for e in history if e.action == "challenger_refused"]
    assert [str(e.version) for e in refused] == ["3"]
    assert "3" not in holders
    assert "retrain 1 (a hurried job" in out and "refused" in out
    # ...the proper one (v4) ran as a shadow beside the champion, was approved and served.
    assert "shadow: slipway serve --traffic (strategy shadow) sent 150 requests" in out
    assert "agreed with the champion's on" in out
    assert "v3 refused, v4 shadowed (agreement" in out  # the loop's summary line
    approved = [e for e in history if e.action == "approved"]
    assert [str(e.version) for e in approved] == ["4"] and "shadowed" in approved[0].reason
    champion = client.get_model_version_by_alias("churn-classifier", "champion")
    assert str(champion.version) == "4"
    assert champion.run_id == runs["retrain-on-drift"].info.run_id
    assert "now answering with v4" in out
    assert "Or in the browser: .venv/bin/slipway ui" in out  # the web UI on this data
    from slipway.monitoring import monitors

    events = [e.kind for e in monitors.monitor_status("churn-demo", client=client).events]
    assert events.count("retrain_started") == 2
    verdicts = ("challenger_refused", "awaiting_approval", "promoted")
    assert [k for k in events if k in verdicts] == list(verdicts)
    # Every answer is in the prediction log, labelled, from both champions.
    from slipway.serving.export import read_predictions

    logged = read_predictions("churn-classifier")
    assert len(logged) >= 700
    assert logged["label"].notna().sum() == 700
    assert {"2", "4"} <= set(logged["model_version"])
    # The shifted population was caught, with reports to look at.
    reports = Path(os.environ["SLIPWAY_HOME"]) / "reports"
    assert "Dataset drift detected" in (reports / "drift-report.html").read_text()
    assert "<svg" in (reports / "monitor-report.html").read_text()
