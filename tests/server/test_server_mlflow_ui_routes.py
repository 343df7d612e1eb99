"""The routes MLflow's web UI calls (`/ajax-api/...`, `/get-artifact`, `/graphql`), the
legacy `runs/log-model` and multipart upload through the proxy, driven by the mlflow 3
client (its own HTTP layer where the client has no method for a route)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

mlflow = pytest.importorskip("mlflow")

from mlflow import MlflowClient  # noqa: E402
from mlflow.data.pandas_dataset import from_pandas  # noqa: E402
from mlflow.entities import Metric as MlflowMetric  # noqa: E402
from mlflow.models import Model  # noqa: E402
from mlflow.utils.rest_utils import MlflowHostCreds, http_request  # noqa: E402

AJAX = "/ajax-api/2.0/mlflow"


def _call(url: str, method: str, path: str, **kwargs):
    return http_request(
        MlflowHostCreds(url), path, method, max_retries=0, raise_on_status=False, **kwargs
    )


@pytest.fixture
def runs_with_history(mlflow_uri: str) -> tuple[str, list[str]]:
    client = MlflowClient()
    exp_id = client.create_experiment("ui")
    run_ids = []
    for offset in (0, 100):
        run_id = client.create_run(exp_id).info.run_id
        points = [MlflowMetric("loss", offset + s, 1000 + s, s) for s in range(50)]
        client.log_batch(run_id, metrics=points)
        run_ids.append(run_id)
    return exp_id, run_ids


def test_metric_history_bulk(mlflow_uri: str, runs_with_history) -> None:
    _, run_ids = runs_with_history
    answer = _call(
        mlflow_uri,
        "GET",
        f"{AJAX}/metrics/get-history-bulk",
        params={"run_id": run_ids, "metric_key": "loss", "max_results": 60},
    )
    assert answer.status_code == 200
    metrics = answer.json()["metrics"]
    assert len(metrics) == 60  # 50 of the first run (by id), 10 of the second
    first = sorted(run_ids)[0]
    assert [m["run_id"] for m in metrics[:50]] == [first] * 50
    assert [m["step"] for m in metrics[:50]] == list(range(50))
    missing = _call(
        mlflow_uri, "GET", f"{AJAX}/metrics/get-history-bulk", params={"metric_key": "x"}
    )
    assert missing.status_code == 400
    assert missing.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert missing.json()["message"] == (
        "GetMetricHistoryBulk request must specify at least one run_id."
    )
    too_many = _call(
        mlflow_uri,
        "GET",
        f"{AJAX}/metrics/get-history-bulk",
        params={"run_id": [f"r{i}" for i in range(101)], "metric_key": "x"},
    )
    assert too_many.status_code == 400
    assert too_many.json()["message"] == (
        "GetMetricHistoryBulk request cannot specify more than 100 run_ids. Received 101 run_ids."
    )


def test_metric_history_bulk_interval(mlflow_uri: str, runs_with_history) -> None:
    _, run_ids = runs_with_history
    answer = _call(
        mlflow_uri,
        "GET",
        f"{AJAX}/metrics/get-history-bulk-interval",
        params={"run_ids": run_ids, "metric_key": "loss", "max_results": 5},
    )
    assert answer.status_code == 200
    by_run: dict[str, list[int]] = {}
    for m in answer.json()["metrics"]:
        by_run.setdefault(m["run_id"], []).append(m["step"])
    # evenly sampled, always the first and the last step
    assert by_run == {run_ids[0]: [0, 12, 24, 37, 49], run_ids[1]: [0, 12, 24, 37, 49]}
    window = _call(
        mlflow_uri,
        "GET",
        f"{AJAX}/metrics/get-history-bulk-interval",
        params={
            "run_ids": run_ids[0],
            "metric_key": "loss",
            "start_step": 10,
            "end_step": 20,
            "max_results": 3,
        },
    )
    assert [m["step"] for m in window.json()["metrics"]] == [10, 15, 20]
    one_bound = _call(
        mlflow_uri,
        "GET",
        f"{AJAX}/metrics/get-history-bulk-interval",
        params={"run_ids": run_ids[0], "metric_key": "loss", "start_step": 3},
    )
    assert one_bound.status_code == 400


def test_search_datasets(mlflow_uri: str) -> None:
    import pandas as pd

    mlflow.set_experiment("datasets")
    dataset = from_pandas(pd.DataFrame({"x": [1, 2, 3]}), name="frame")
    with mlflow.start_run():
        mlflow.log_input(dataset, context="training")
    exp_id = mlflow.get_experiment_by_name("datasets").experiment_id
    answer = _call(
        mlflow_uri, "POST", f"{AJAX}/experiments/search-datasets", json={"experiment_ids": [exp_id]}
    )
    assert answer.status_code == 200
    assert answer.json()["dataset_summaries"] == [
        {"experiment_id": exp_id, "name": "frame", "digest": dataset.digest, "context": "training"}
    ]
    for ids, message in [
        ([], "SearchDatasets request must specify at least one experiment_id."),
        (
            [str(i) for i in range(21)],
            "SearchDatasets request cannot specify more than 20 experiment_ids. "
            "Received 21 experiment_ids.",
        ),
    ]:
        refused = _call(
            mlflow_uri, "POST", f"{AJAX}/experiments/search-datasets", json={"experiment_ids": ids}
        )
        assert refused.status_code == 400
        assert refused.json()["message"] == message


def test_upload_and_download_artifacts(mlflow_uri: str, tmp_path: Path) -> None:
    client = MlflowClient()
    run_id = client.create_run("0").info.run_id
    up = _call(
        mlflow_uri,
        "POST",
        f"{AJAX}/upload-artifact",
        params={"run_uuid": run_id, "path": "notes/hello.txt"},
        data=b"hello from the UI",
    )
    assert up.status_code == 200
    assert mlflow.artifacts.load_text(f"runs:/{run_id}/notes/hello.txt") == "hello from the UI"
    down = _call(
        mlflow_uri, "GET", "/get-artifact", params={"run_id": run_id, "path": "notes/hello.txt"}
    )
    assert down.status_code == 200 and down.content == b"hello from the UI"
    assert down.headers["Content-Disposition"].startswith("attachment")
    climbing = _call(
        mlflow_uri, "GET", "/get-artifact", params={"run_id": run_id, "path": "../../etc/passwd"}
    )
    assert climbing.status_code == 400

    client.create_registered_model("downloadable")
    client.create_model_version("downloadable", f"runs:/{run_id}/notes", run_id=run_id)
    mv = _call(
        mlflow_uri,
        "GET",
        "/model-versions/get-artifact",
        params={"name": "downloadable", "version": "1", "path": "hello.txt"},
    )
    assert mv.status_code == 200 and mv.content == b"hello from the UI"

    exp_id = client.create_experiment("logged-files")
    model = client.create_logged_model(exp_id, name="files")
    local = tmp_path / "MLmodel"
    local.write_text("flavors: {}\n")
    client.log_model_artifact(model.model_id, str(local))
    files = _call(
        mlflow_uri,
        "GET",
        f"{AJAX}/logged-models/{model.model_id}/artifacts/files",
        params={"artifact_file_path": "MLmodel"},
    )
    assert files.status_code == 200 and files.content == b"flavors: {}\n"
    no_path = _call(mlflow_uri, "GET", f"{AJAX}/logged-models/{model.model_id}/artifacts/files")
    assert no_path.status_code == 400 and no_path.json()["error_code"] == "BAD_REQUEST"


def test_graphql_queries_of_the_ui(mlflow_uri: str, tmp_path: Path) -> None:
    client = MlflowClient()
    exp_id = client.create_experiment("graphql", tags={"team": "ml"})
    run = client.create_run(exp_id, run_name="charted")
    run_id = run.info.run_id
    client.log_batch(
        run_id, metrics=[MlflowMetric("loss", 1.0 / (s + 1), 1000 + s, s) for s in range(20)]
    )
    client.log_metric(run_id, "broken", math.nan)
    client.log_param(run_id, "lr", "0.1")
    (tmp_path / "a.txt").write_text("a")
    client.log_artifact(run_id, str(tmp_path / "a.txt"))
    client.create_registered_model("graphed")
    client.create_model_version("graphed", f"runs:/{run_id}/model", run_id=run_id)

    query = """
    query Ui($exp: String, $run: String) @component(name: "MlflowUi") {
      experiment: mlflowGetExperiment(input: {experimentId: $exp}) {
        experiment { experimentId name lastUpdateTime tags { key value } }
      }
      run: mlflowGetRun(input: {runId: $run}) {
        run {
          info { runName status startTime }
          data { metrics { key value step } params { key value } }
          experiment { name }
          modelVersions { name version status }
        }
      }
      files: mlflowListArtifacts(input: {runId: $run}) { rootUri files { path isDir fileSize } }
      chart: mlflowGetMetricHistoryBulkInterval(
        input: {runIds: [$run], metricKey: "loss", maxResults: 3}
      ) { metrics { step value runId } }
      versions: mlflowSearchModelVersions(input: {filter: "name = 'graphed'"}) {
        modelVersions { name version source }
      }
    }
    """
    answer = _call(
        mlflow_uri,
        "POST",
        "/graphql",
        json={"query": query, "variables": {"exp": exp_id, "run": run_id}},
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["errors"] is None
    data = body["data"]
    experiment = data["experiment"]["experiment"]
    assert experiment["name"] == "graphql" and experiment["tags"] == [
        {"key": "team", "value": "ml"}
    ]
    assert isinstance(experiment["lastUpdateTime"], str)  # int64 as LongString
    got_run = data["run"]["run"]
    assert got_run["info"]["runName"] == "charted" and got_run["info"]["status"] == "RUNNING"
    metrics = {m["key"]: m["value"] for m in got_run["data"]["metrics"]}
    assert metrics == {"loss": 0.05, "broken": None}  # NaN is null
    assert got_run["experiment"] == {"name": "graphql"}
    assert got_run["modelVersions"] == [{"name": "graphed", "version": "1", "status": "READY"}]
    assert data["files"]["files"] == [{"path": "a.txt", "isDir": False, "fileSize": "1"}]
    assert [m["step"] for m in data["chart"]["metrics"]] == ["0", "10", "19"]
    assert data["versions"]["modelVersions"][0]["source"] == f"runs:/{run_id}/model"

    missing = _call(
        mlflow_uri,
        "POST",
        "/graphql",
        json={"query": '{ mlflowGetRun(input: {runId: "absent"}) { run { info { runId } } } }'},
    ).json()
    assert missing["data"] == {"mlflowGetRun": None} and "not found" in missing["errors"][0]

    batched = (
        "{ "
        + " ".join(
            f'r{i}: mlflowGetRun(input: {{runId: "{run_id}"}}) {{ run {{ info {{ runId }} }} }}'
            for i in range(11)
        )
        + " }"
    )
    refused = _call(mlflow_uri, "POST", "/graphql", json={"query": batched}).json()
    assert refused["data"] is None and "at most 10" in refused["errors"][0]
    by_get = _call(
        mlflow_uri,
        "GET",
        "/graphql",
        params={"query": '{ test(inputString: "ping") { output } }'},
    ).json()
    assert by_get == {"data": {"test": {"output": "ping"}}, "errors": None}


def test_legacy_log_model_records_the_model_in_the_run(mlflow_uri: str) -> None:
    client = MlflowClient()
    run_id = client.create_run("0").info.run_id
    model = Model(artifact_path="model", run_id=run_id)
    model.add_flavor("python_function", loader_module="m", config={"secret": 1})
    client._record_logged_model(run_id, model)
    client._record_logged_model(run_id, Model(artifact_path="other", run_id=run_id))
    history = json.loads(client.get_run(run_id).data.tags["mlflow.log-model.history"])
    assert [h["artifact_path"] for h in history] == ["model", "other"]
    assert history[0]["flavors"]["python_function"] == {"loader_module": "m"}
    bad = _call(
        mlflow_uri,
        "POST",
        "/api/2.0/mlflow/runs/log-model",
        json={"run_id": run_id, "model_json": json.dumps({"artifact_path": "x"})},
    )
    assert bad.status_code == 400 and "missing mandatory fields" in bad.json()["message"]


def test_multipart_upload_through_the_proxy(
    mlflow_uri: str, live_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The mlflow client's multipart path, forced on small files: parts go to the URLs the
    server hands out, and `complete` joins them in order."""
    info = _call(mlflow_uri, "GET", "/api/3.0/mlflow/server-info").json()
    assert info["multipart_uploads_enabled"] is True
    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "true")
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", "1")
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", str(64 * 1024))
    payload = bytes(range(256)) * 1000  # 256 000 bytes: four parts
    big = tmp_path / "big.bin"
    big.write_bytes(payload)
    mlflow.set_experiment("multipart")
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(big), artifact_path="data")
    stored = live_server.artifacts_dir / run.info.experiment_id / run.info.run_id / "artifacts"
    assert (stored / "data" / "big.bin").read_bytes() == payload
    staging = live_server.artifacts_dir / ".slipway-mpu"
    assert staging.is_dir() and not any(staging.iterdir())  # parts went there, then were joined
    got = mlflow.artifacts.download_artifacts(
        f"runs:/{run.info.run_id}/data/big.bin", dst_path=str(tmp_path / "dl")
    )
    assert Path(got).read_bytes() == payload

    aborted = _call(
        mlflow_uri,
        "POST",
        "/api/2.0/mlflow-artifacts/mpu/create/1/x/artifacts",
        json={"path": "y.bin", "num_parts": 2},
    ).json()
    assert len(aborted["credentials"]) == 2
    assert (
        _call(
            mlflow_uri,
            "POST",
            "/api/2.0/mlflow-artifacts/mpu/abort/1/x/artifacts",
            json={"path": "y.bin", "upload_id": aborted["upload_id"]},
        ).status_code
        == 200
    )
    incomplete = _call(
        mlflow_uri,
        "POST",
        "/api/2.0/mlflow-artifacts/mpu/complete/1/x/artifacts",
        json={"path": "y.bin", "upload_id": aborted["upload_id"], "parts": [{"part_number": 1}]},
    )
    assert incomplete.status_code == 400


def test_the_queries_of_mlflows_own_ui_fit_the_schema() -> None:
    """Every GraphQL document in the installed mlflow's web UI bundle is valid against the
    server's schema (so the UI gets no 'Cannot query field' errors)."""
    import re

    import graphql

    from slipway.server.routes.graphql import _schema

    bundle = Path(mlflow.__file__).parent / "server" / "js" / "build" / "static" / "js"
    documents = []
    for script in bundle.glob("*.js"):
        text = script.read_text(errors="ignore")
        for match in re.finditer(r"(?:query|mutation) \w+\s*[({@]", text):
            end = text.find("`", match.start())
            document = text[match.start() : end].replace("\\n", "\n")
            if end > 0 and "mlflow" in document:
                documents.append(document)
    if not documents:
        pytest.skip("this mlflow has no web UI bundle")
    for document in documents:
        assert graphql.validate(_schema(), graphql.parse(document)) == [], document[:60]
