"""The fluent API end to end, over SQLite, PostgreSQL and a live server."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

import slipway
from slipway.errors import FlushError, InvalidParameterValue, InvalidState


def test_issue_example_round_trip(fluent_uri: str, tmp_path: Path) -> None:
    png = tmp_path / "confusion_matrix.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\nfake")
    experiment = slipway.set_experiment("churn")
    with slipway.start_run(run_name="rf-baseline") as run:
        slipway.log_params({"n_estimators": 100, "max_depth": 10})
        for epoch in range(100):
            slipway.log_metric("val_loss", 1.0 / (epoch + 1), step=epoch)
        slipway.log_dict({"accuracy": 0.9}, "metrics.json")
        slipway.log_artifact(str(png))

    client = slipway.Client(fluent_uri)
    stored = client.get_run(run.info.run_id)
    assert stored.info.experiment_id == experiment.experiment_id
    assert stored.info.run_name == "rf-baseline"
    assert stored.info.status == "FINISHED"
    assert stored.info.end_time is not None
    assert stored.data.params == {"n_estimators": "100", "max_depth": "10"}
    assert stored.data.metrics["val_loss"] == pytest.approx(1.0 / 100)
    history = client.get_metric_history(run.info.run_id, "val_loss")
    assert [m.step for m in history] == list(range(100))
    assert history[3].value == pytest.approx(0.25)
    names = sorted(f.path for f in client.list_artifacts(run.info.run_id))
    assert names == ["confusion_matrix.png", "metrics.json"]
    local = client.download_artifacts(run.info.run_id, "metrics.json", tmp_path / "dl")
    assert Path(local).read_text().replace(" ", "").replace("\n", "") == '{"accuracy":0.9}'


def test_exception_marks_run_failed_and_propagates(fluent_uri: str) -> None:
    with pytest.raises(ZeroDivisionError), slipway.start_run() as run:
        slipway.log_metric("x", 1.0)
        _ = 1 / 0
    stored = slipway.Client(fluent_uri).get_run(run.info.run_id)
    assert stored.info.status == "FAILED"
    assert stored.data.metrics == {"x": 1.0}
    assert slipway.active_run() is None


def test_nested_runs_record_parent_and_need_nested_flag(fluent_uri: str) -> None:
    with slipway.start_run() as parent:
        with pytest.raises(InvalidState, match="nested=True"):
            slipway.start_run()
        with slipway.start_run(nested=True) as child:
            assert slipway.active_run().info.run_id == child.info.run_id
        assert slipway.active_run().info.run_id == parent.info.run_id
    child_stored = slipway.Client(fluent_uri).get_run(child.info.run_id)
    assert child_stored.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert child_stored.info.status == "FINISHED"


def test_runs_get_generated_names(fluent_uri: str) -> None:
    with slipway.start_run() as run:
        pass
    stored = slipway.Client(fluent_uri).get_run(run.info.run_id)
    assert stored.info.run_name
    assert stored.data.tags["mlflow.runName"] == stored.info.run_name


def test_flush_makes_points_visible_to_another_client(fluent_uri: str) -> None:
    with slipway.start_run() as run:
        for i in range(5000):
            slipway.log_metric("loss", float(i), step=i)
        slipway.flush()
        other = slipway.Client(fluent_uri)
        assert len(other.get_metric_history(run.info.run_id, "loss")) == 5000
        assert other.get_run(run.info.run_id).data.metrics["loss"] == 4999.0


def test_non_finite_metrics_round_trip(fluent_uri: str) -> None:
    with slipway.start_run() as run:
        slipway.log_metrics({"nan": float("nan"), "pinf": math.inf, "ninf": -math.inf})
    metrics = slipway.Client(fluent_uri).get_run(run.info.run_id).data.metrics
    assert math.isnan(metrics["nan"])
    assert metrics["pinf"] == math.inf
    assert metrics["ninf"] == -math.inf


def test_bad_metric_value_is_rejected_at_the_call(fluent_uri: str) -> None:
    with slipway.start_run(), pytest.raises(InvalidParameterValue, match="must be numbers"):
        slipway.log_metric("acc", "high")


def test_params_are_immutable(fluent_uri: str) -> None:
    with slipway.start_run():
        slipway.log_param("lr", 0.1)
        slipway.log_param("lr", 0.1)  # same value again is fine
        with pytest.raises(InvalidParameterValue, match="lr"):
            slipway.log_param("lr", 0.2)


def test_flush_failure_is_raised_and_run_marked_failed(fluent_uri: str) -> None:
    client = slipway.Client(fluent_uri)
    run = slipway.start_run()
    slipway.log_metric("loss", 1.0)
    client.delete_run(run.info.run_id)  # the batcher's writes must now fail
    with pytest.raises(FlushError, match="1 metric point"):
        slipway.end_run()
    assert slipway.active_run() is None


def test_set_experiment_creates_once_and_refuses_deleted(fluent_uri: str) -> None:
    first = slipway.set_experiment("exp-a")
    again = slipway.set_experiment("exp-a")
    assert first.experiment_id == again.experiment_id
    client = slipway.Client(fluent_uri)
    client.delete_experiment(first.experiment_id)
    with pytest.raises(InvalidState, match="deleted"):
        slipway.set_experiment("exp-a")


def test_tags_text_and_dataset_inputs(fluent_uri: str) -> None:
    frame = pd.DataFrame({"a": [1, 2, 3], "b": [0.1, 0.2, 0.3]})
    with slipway.start_run(description="first try") as run:
        slipway.set_tags({"team": "growth", "priority": 1})
        slipway.log_text("hello", "notes/readme.txt")
        slipway.log_dict({"k": [1, 2]}, "config.yaml")
        slipway.log_input(frame, context="training", name="churn-train")
        slipway.log_input(frame, context="training", name="churn-train")  # deduplicated
    client = slipway.Client(fluent_uri)
    stored = client.get_run(run.info.run_id)
    assert stored.data.tags["team"] == "growth"
    assert stored.data.tags["priority"] == "1"
    assert stored.data.tags["mlflow.note.content"] == "first try"
    assert len(stored.inputs) == 1
    assert stored.inputs[0].dataset.name == "churn-train"
    assert stored.inputs[0].tags["mlflow.data.context"] == "training"
    assert [f.path for f in client.list_artifacts(run.info.run_id, "notes")] == ["notes/readme.txt"]
    text = Path(client.download_artifacts(run.info.run_id, "config.yaml")).read_text()
    assert "k:" in text


def test_log_figure_writes_a_png(fluent_uri: str) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([1, 2, 3])
    with slipway.start_run() as run:
        slipway.log_figure(fig, "plots/curve.png")
    plt.close(fig)
    local = slipway.Client(fluent_uri).download_artifacts(run.info.run_id, "plots/curve.png")
    assert Path(local).read_bytes().startswith(b"\x89PNG")


def test_artifact_paths_cannot_escape_the_run(fluent_uri: str) -> None:
    with slipway.start_run():
        with pytest.raises(InvalidParameterValue, match=r"'\.\.'"):
            slipway.log_text("x", "../outside.txt")
        with pytest.raises(InvalidParameterValue, match="absolute"):
            slipway.log_text("x", "/etc/passwd")


def test_process_exit_flushes_and_finishes_the_run(tmp_path: Path) -> None:
    """A script that never calls end_run still has every point stored when it exits."""
    db = tmp_path / "exit.db"
    script = textwrap.dedent(
        f"""
        import slipway
        slipway.set_tracking_uri("sqlite:///{db}")
        run = slipway.start_run()
        for i in range(20000):
            slipway.log_metric("m", i, step=i)
        print(run.info.run_id)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    run_id = out.stdout.strip()
    client = slipway.Client(f"sqlite:///{db}")
    assert len(client.get_metric_history(run_id, "m")) == 20000
    assert client.get_run(run_id).info.status == "FINISHED"


def test_more_params_and_tags_than_one_mlflow_batch_holds(fluent_uri: str) -> None:
    with slipway.start_run() as run:
        slipway.log_params({f"p{i}": i for i in range(250)})
        slipway.set_tags({f"t{i}": i for i in range(150)})
    stored = slipway.Client(fluent_uri).get_run(run.info.run_id)
    assert len(stored.data.params) == 250 and stored.data.params["p249"] == "249"
    assert sum(k.startswith("t") for k in stored.data.tags) == 150


def test_client_follows_set_tracking_uri(tmp_path, fluent_uri) -> None:
    """`slipway.Client()` writes and reads where the fluent API does, as MlflowClient does."""
    other = f"sqlite:///{tmp_path / 'other.db'}"
    slipway.set_tracking_uri(other)
    slipway.set_experiment("follow-me")
    with slipway.start_run() as run:
        slipway.log_metric("m", 1.0)
    client = slipway.Client()
    try:
        assert client.tracking_uri == other
        exp = client.get_experiment_by_name("follow-me")
        assert [r.info.run_id for r in client.search_runs([exp.experiment_id])] == [run.info.run_id]
        client.create_registered_model("followed")
    finally:
        client.close()
    # An explicit URI still wins, and the default store never saw any of it.
    default = slipway.Client(slipway.config.default_tracking_uri())
    try:
        assert default.get_experiment_by_name("follow-me") is None
        assert [m.name for m in default.search_registered_models()] == []
    finally:
        default.close()
