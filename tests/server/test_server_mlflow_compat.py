"""Where `slipway server` used to answer the mlflow 3 client differently from MLflow's own
server: types, messages, registry and logged-model behaviour, a source path guard."""

from __future__ import annotations

import json

import pytest

mlflow = pytest.importorskip("mlflow")

from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import LoggedModelInput  # noqa: E402
from mlflow.exceptions import MlflowException, RestException  # noqa: E402
from mlflow.utils.rest_utils import MlflowHostCreds, http_request  # noqa: E402

HINT = " See the API docs for more information about request parameters."


def _call(url: str, method: str, path: str, **kwargs):
    """A request through the mlflow client's own HTTP layer (no retries, no raising)."""
    return http_request(
        MlflowHostCreds(url), path, method, max_retries=0, raise_on_status=False, **kwargs
    )


def _error(url: str, method: str, path: str, **kwargs) -> tuple[int, dict]:
    response = _call(url, method, path, **kwargs)
    return response.status_code, response.json()


# --- (b) wrongly typed fields are refused, not coerced ----------------------------------------
def test_a_number_where_a_string_belongs_is_refused(mlflow_uri: str) -> None:
    status, body = _error(
        mlflow_uri, "POST", "/api/2.0/mlflow/experiments/create", json={"name": 123}
    )
    assert status == 400 and body["error_code"] == "INVALID_PARAMETER_VALUE"
    assert body["message"] == (
        "Invalid value 123 for parameter 'name' supplied:  Hint: Value was of type 'int'." + HINT
    )
    assert MlflowClient().get_experiment_by_name("123") is None  # nothing was created

    run = MlflowClient().create_run("0")
    status, body = _error(
        mlflow_uri,
        "POST",
        "/api/2.0/mlflow/runs/log-metric",
        json={"run_id": 31, "key": "m", "value": 1.0, "timestamp": 1},
    )
    assert status == 400 and body["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "parameter 'run_id' supplied" in body["message"]

    status, body = _error(
        mlflow_uri,
        "POST",
        "/api/2.0/mlflow/runs/log-batch",
        json={"run_id": run.info.run_id, "metrics": "foo"},
    )
    assert status == 400
    assert body["message"].startswith("Invalid value \"foo\" for parameter 'metrics' supplied")

    # numbers in a string field nested in a list, and a string where a number belongs
    status, body = _error(
        mlflow_uri,
        "POST",
        "/api/2.0/mlflow/runs/log-batch",
        json={"run_id": run.info.run_id, "tags": [{"key": "k", "value": 5}]},
    )
    assert status == 400 and "parameter 'tags.value'" in body["message"]
    status, body = _error(
        mlflow_uri,
        "POST",
        "/api/2.0/mlflow/runs/log-metric",
        json={"run_id": run.info.run_id, "key": "m", "value": "high", "timestamp": 1},
    )
    assert status == 400 and "parameter 'value'" in body["message"]
    # what the client really sends still works: int64 as a decimal string, NaN as a string
    ok = _call(
        mlflow_uri,
        "POST",
        "/api/2.0/mlflow/runs/log-metric",
        json={"run_id": run.info.run_id, "key": "m", "value": "NaN", "timestamp": "7"},
    )
    assert ok.status_code == 200


# --- (c) the wording mlflow users match on ------------------------------------------------------
def test_messages_match_mlflow(mlflow_uri: str) -> None:
    client = MlflowClient()
    with pytest.raises(MlflowException) as err:
        client.get_registered_model("absent")
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    status, body = _error(
        mlflow_uri, "GET", "/api/2.0/mlflow/registered-models/get", params={"name": "absent"}
    )
    assert (status, body["message"]) == (404, "Registered Model with name=absent not found")
    client.create_registered_model("twice")
    with pytest.raises(MlflowException) as err:
        client.create_registered_model("twice")
    assert err.value.error_code == "RESOURCE_ALREADY_EXISTS"
    assert "Registered Model (name=twice) already exists" in err.value.message

    exp_id = client.create_experiment("messages")
    with pytest.raises(MlflowException) as err:
        client.search_runs([exp_id], max_results=50_001)
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "Invalid value 50001 for parameter 'max_results' supplied" in err.value.message

    with pytest.raises(MlflowException, match="not found") as err:
        client.get_logged_model("m-" + "0" * 32)
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    model = client.create_logged_model(exp_id, name="tagged")
    with pytest.raises(MlflowException, match="No tag with key 'absent'"):
        client.delete_logged_model_tag(model.model_id, "absent")


# --- (d) registry and logged-model behaviour ----------------------------------------------------
def test_a_runs_source_from_another_tracking_store_is_registered(mlflow_uri: str) -> None:
    client = MlflowClient()
    client.create_registered_model("elsewhere")
    foreign_run = "f" * 32  # a run this server's tracking store never saw
    version = client.create_model_version(
        "elsewhere", f"runs:/{foreign_run}/model", run_id=foreign_run
    )
    assert version.version == "1" and version.run_id == foreign_run
    assert client.get_model_version("elsewhere", "1").source == f"runs:/{foreign_run}/model"


def test_logged_model_metrics_inputs_and_registration(mlflow_uri: str) -> None:
    client = MlflowClient()
    exp_id = client.create_experiment("logged-models")
    run_id = client.create_run(exp_id).info.run_id
    first = client.create_logged_model(exp_id, name="first", source_run_id=run_id)
    second = client.create_logged_model(exp_id, name="second", source_run_id=run_id)

    client.log_metric(
        run_id,
        "acc",
        0.9,
        step=1,
        model_id=first.model_id,
        dataset_name="train",
        dataset_digest="d1",
    )
    client.log_metric(
        run_id,
        "acc",
        0.7,
        step=1,
        model_id=second.model_id,
        dataset_name="eval",
        dataset_digest="d2",
    )
    got = client.get_logged_model(first.model_id)
    assert [
        (m.key, m.value, m.step, m.dataset_name, m.dataset_digest, m.run_id) for m in got.metrics
    ] == [("acc", 0.9, 1, "train", "d1", run_id)]
    assert client.get_run(run_id).data.metrics["acc"] in (0.9, 0.7)  # the run has them too

    by_dataset = client.search_logged_models([exp_id], datasets=[{"dataset_name": "train"}])
    assert [m.model_id for m in by_dataset] == [first.model_id]
    on_eval = client.search_logged_models(
        [exp_id], filter_string="metrics.acc > 0.5", datasets=[{"dataset_name": "eval"}]
    )
    assert [m.model_id for m in on_eval] == [second.model_id]
    assert {m.model_id for m in client.search_logged_models([exp_id])} == {
        first.model_id,
        second.model_id,
    }
    searched = client.search_logged_models([exp_id], filter_string="name = 'first'")
    assert [m.metrics[0].value for m in searched] == [0.9]

    client.log_inputs(run_id, models=[LoggedModelInput(first.model_id)])
    assert [i.model_id for i in client.get_run(run_id).inputs.model_inputs] == [first.model_id]

    client.create_registered_model("from-logged")
    client.create_model_version(
        "from-logged", f"models:/{first.model_id}", run_id=run_id, model_id=first.model_id
    )
    client.create_model_version("from-logged", f"models:/{first.model_id}", model_id=first.model_id)
    tag = client.get_logged_model(first.model_id).tags["mlflow.modelVersions"]
    assert json.loads(tag) == [
        {"name": "from-logged", "version": "1"},
        {"name": "from-logged", "version": "2"},
    ]


def test_fluent_metrics_of_a_logged_model(mlflow_uri: str) -> None:
    """`mlflow.log_metric(..., model_id=…)` in a run: the model and the run get the point;
    logging the same point again links it without doubling the run's history."""
    mlflow.set_experiment("fluent-model")
    with mlflow.start_run() as run:
        model = mlflow.initialize_logged_model(name="model")
        mlflow.log_metric("loss", 0.25, step=3, timestamp=1000, model_id=model.model_id)
        mlflow.log_metric("loss", 0.25, step=3, timestamp=1000, model_id=model.model_id)
    client = MlflowClient()
    assert [(m.key, m.value, m.step) for m in client.get_logged_model(model.model_id).metrics] == [
        ("loss", 0.25, 3)
    ]
    assert [m.value for m in client.get_metric_history(run.info.run_id, "loss")] == [0.25]


# --- (e) a version source must not climb out of its storage ------------------------------------
@pytest.mark.parametrize(
    "source",
    [
        "mlflow-artifacts://host:9000/models/../../../",
        "mlflow-artifacts:/1/models/..%2f..%2f..%2fetc",
        "s3://bucket/models/../../other",
    ],
)
def test_a_source_with_dot_dot_segments_is_refused(mlflow_uri: str, source: str) -> None:
    client = MlflowClient()
    client.create_registered_model("guarded")
    with pytest.raises(RestException) as err:
        client.create_model_version("guarded", source)
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"
    assert err.value.get_http_status_code() == 400
    assert "Invalid model version source" in err.value.message
    assert client.search_model_versions("name = 'guarded'") == []
