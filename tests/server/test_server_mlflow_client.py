"""An unmodified mlflow 3 client against `slipway server`: the protocol's real judge."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

mlflow = pytest.importorskip("mlflow")

from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric as MlflowMetric  # noqa: E402
from mlflow.entities import Param as MlflowParam  # noqa: E402
from mlflow.entities import RunTag as MlflowRunTag  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402


def test_experiments(mlflow_uri: str) -> None:
    client = MlflowClient()
    exp_id = client.create_experiment("mlf-exp", tags={"team": "ml"})
    exp = client.get_experiment(exp_id)
    assert exp.name == "mlf-exp" and exp.tags == {"team": "ml"}
    assert exp.artifact_location == f"mlflow-artifacts:/{exp_id}"
    assert client.get_experiment_by_name("mlf-exp").experiment_id == exp_id
    assert client.get_experiment_by_name("absent") is None
    with pytest.raises(MlflowException) as err:
        client.create_experiment("mlf-exp")
    assert err.value.error_code == "RESOURCE_ALREADY_EXISTS"

    client.rename_experiment(exp_id, "mlf-exp-2")
    client.set_experiment_tag(exp_id, "stage", "dev")
    found = client.search_experiments(filter_string="name LIKE 'mlf-%'")
    assert [e.name for e in found] == ["mlf-exp-2"]
    assert found[0].tags["stage"] == "dev"
    client.delete_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "deleted"
    client.restore_experiment(exp_id)
    assert mlflow.set_experiment("mlf-exp-2").experiment_id == exp_id
    assert mlflow.set_experiment("brand-new").name == "brand-new"


def test_client_runs_params_metrics_tags(mlflow_uri: str) -> None:
    client = MlflowClient()
    exp_id = client.create_experiment("mlf-runs")
    run = client.create_run(exp_id, run_name="by-client", tags={"k": "v"})
    run_id = run.info.run_id
    client.log_param(run_id, "lr", 0.01)
    client.log_metric(run_id, "loss", 0.9, step=0)
    client.log_metric(run_id, "loss", 0.4, step=1)
    client.log_metric(run_id, "weird", math.nan)
    client.set_tag(run_id, "phase", "train")
    client.log_batch(
        run_id,
        metrics=[MlflowMetric("acc", i / 100, 1_000 + i, i) for i in range(300)],
        params=[MlflowParam(f"p{i}", str(i)) for i in range(50)],
        tags=[MlflowRunTag("batch", "yes")],
    )
    client.delete_tag(run_id, "k")
    client.set_terminated(run_id, "FINISHED")

    got = client.get_run(run_id)
    assert got.info.status == "FINISHED" and got.info.end_time
    assert got.info.run_name == "by-client"
    assert got.data.params["lr"] == "0.01" and len(got.data.params) == 51
    assert got.data.metrics["loss"] == 0.4 and got.data.metrics["acc"] == 2.99
    assert math.isnan(got.data.metrics["weird"])
    assert got.data.tags["phase"] == "train" and "k" not in got.data.tags

    history = client.get_metric_history(run_id, "acc")
    assert [m.step for m in history] == list(range(300))
    assert [m.value for m in client.get_metric_history(run_id, "loss")] == [0.9, 0.4]
    with pytest.raises(MlflowException) as err:
        client.log_param(run_id, "lr", 0.02)
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as err:
        client.get_run("0" * 32)
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"

    client.delete_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "deleted"
    client.restore_run(run_id)


def test_fluent_logging_and_search(mlflow_uri: str) -> None:
    mlflow.set_experiment("mlf-fluent")
    ids = []
    for i in range(3):
        with mlflow.start_run(run_name=f"trial-{i}") as run:
            mlflow.log_param("depth", i)
            mlflow.log_params({"seed": 7, "kind": "tree"})
            mlflow.log_metric("score", i * 0.25)
            mlflow.log_metrics({"a": 1.0, "b": 2.0}, step=3)
            mlflow.set_tag("group", "even" if i % 2 == 0 else "odd")
            mlflow.set_tags({"x": "y"})
            ids.append(run.info.run_id)

    frame = mlflow.search_runs(filter_string="metrics.score > 0.1", order_by=["metrics.score DESC"])
    assert list(frame["run_id"]) == [ids[2], ids[1]]
    assert list(frame["params.depth"]) == ["2", "1"]
    assert list(frame["tags.mlflow.runName"]) == ["trial-2", "trial-1"]

    client = MlflowClient()
    exp_id = mlflow.get_experiment_by_name("mlf-fluent").experiment_id
    runs = client.search_runs(
        [exp_id], "tags.group = 'even' and params.kind = 'tree'", order_by=["start_time ASC"]
    )
    assert [r.info.run_id for r in runs] == [ids[0], ids[2]]
    assert all(r.info.status == "FINISHED" for r in runs)
    page = client.search_runs([exp_id], max_results=2)
    assert len(page) == 2 and page.token
    rest = client.search_runs([exp_id], max_results=2, page_token=page.token)
    assert len(rest) == 1
    by_name = client.search_runs([exp_id], "attributes.run_name = 'trial-1'")
    assert [r.info.run_id for r in by_name] == [ids[1]]


def test_artifacts_through_the_proxy(mlflow_uri: str, tmp_path: Path, live_server) -> None:
    mlflow.set_experiment("mlf-artifacts")
    local = tmp_path / "local"
    (local / "sub").mkdir(parents=True)
    (local / "a.txt").write_text("alpha")
    (local / "sub" / "b.csv").write_text("x,y\n1,2\n")
    single = tmp_path / "single.bin"
    single.write_bytes(bytes(range(256)) * 1000)

    with mlflow.start_run() as run:
        mlflow.log_artifact(str(single))
        mlflow.log_artifact(str(single), artifact_path="nested/deeper")
        mlflow.log_artifacts(str(local), artifact_path="tree")
        mlflow.log_dict({"a": 1, "b": [1, 2]}, "config/params.json")
        mlflow.log_text("hello slipway", "notes.txt")
    run_id = run.info.run_id
    assert run.info.artifact_uri.startswith("mlflow-artifacts:/")

    client = MlflowClient()
    top = {(f.path, f.is_dir) for f in client.list_artifacts(run_id)}
    assert top == {
        ("single.bin", False),
        ("nested", True),
        ("tree", True),
        ("config", True),
        ("notes.txt", False),
    }
    tree = {f.path: f.file_size for f in client.list_artifacts(run_id, "tree")}
    assert tree == {"tree/a.txt": 5, "tree/sub": None}

    dst = Path(mlflow.artifacts.download_artifacts(run_id=run_id, dst_path=str(tmp_path / "dl")))
    assert (dst / "single.bin").read_bytes() == single.read_bytes()
    assert (dst / "nested" / "deeper" / "single.bin").exists()
    assert (dst / "tree" / "sub" / "b.csv").read_text() == "x,y\n1,2\n"
    assert mlflow.artifacts.load_dict(f"runs:/{run_id}/config/params.json") == {"a": 1, "b": [1, 2]}
    assert mlflow.artifacts.load_text(f"runs:/{run_id}/notes.txt") == "hello slipway"
    one = client.download_artifacts(run_id, "tree/a.txt", str(tmp_path / "one"))
    assert Path(one).read_text() == "alpha"

    # the files live under the server's artifacts destination, nowhere else
    stored = live_server.artifacts_dir / run.info.experiment_id / run_id / "artifacts"
    assert (stored / "tree" / "sub" / "b.csv").exists()
