"""An unmodified mlflow 3 client using `slipway server`'s registry and logged models.

And slipway's own side of the same story: `slipway.sklearn.log_model(...,
registered_model_name=...)`, an alias, `slipway.pyfunc.load_model("models:/name@alias")`,
in-process (SQLite) and through the server; and each client loading what the other logged.
"""

from __future__ import annotations

import pytest

mlflow = pytest.importorskip("mlflow")
pytest.importorskip("sklearn")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

import slipway  # noqa: E402


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"tenure": rng.random(80), "spend": rng.random(80)})
    return X, (X.tenure + 0.2 * X.spend > 0.6).astype(int)


@pytest.fixture(scope="module")
def model(data) -> LogisticRegression:
    X, y = data
    return LogisticRegression().fit(X, y)


@pytest.fixture
def mlflow_uri(live_server, monkeypatch: pytest.MonkeyPatch):
    """Point mlflow at the live server; no retries, no telemetry, no leftover runs."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", live_server.url)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("DO_NOT_TRACK", "true")
    mlflow.set_tracking_uri(live_server.url)
    yield live_server.url
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(None)


def test_mlflow_log_model_register_alias_stage_and_load(mlflow_uri: str, data, model) -> None:
    X, _ = data
    with mlflow.start_run() as run:
        mlflow.log_metric("accuracy", 0.91)
        info = mlflow.sklearn.log_model(
            model, name="model", input_example=X.head(3), registered_model_name="churn"
        )
    assert info.model_uri.startswith("models:/m-")
    assert str(info.registered_model_version) == "1"

    client = MlflowClient()
    logged = client.get_logged_model(info.model_id)
    assert logged.status == "READY" and logged.source_run_id == run.info.run_id
    assert logged.artifact_location.endswith(f"/models/{info.model_id}/artifacts")

    again = mlflow.register_model(f"runs:/{run.info.run_id}/model", "churn")
    assert again.version == "2"

    client.set_registered_model_alias("churn", "champion", "1")
    assert client.get_model_version_by_alias("churn", "champion").version == "1"
    staged = client.transition_model_version_stage("churn", "2", "Staging")
    assert staged.current_stage == "Staging"
    found = client.search_model_versions("name = 'churn'")
    assert sorted(v.version for v in found) == ["1", "2"]
    assert [v.version for v in client.get_latest_versions("churn", ["Staging"])] == ["2"]
    registered = client.get_registered_model("churn")
    assert registered.aliases == {"champion": "1"}

    loaded = mlflow.pyfunc.load_model("models:/churn@champion")
    np.testing.assert_array_equal(loaded.predict(X.head(5)), model.predict(X.head(5)))
    staged_model = mlflow.pyfunc.load_model("models:/churn/Staging")
    np.testing.assert_array_equal(staged_model.predict(X.head(5)), model.predict(X.head(5)))

    # slipway's rules hold for mlflow clients too, with mlflow's error codes.
    with pytest.raises(MlflowException) as err:
        client.set_registered_model_alias("churn", "v2", "2")
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as err:
        client.delete_model_version("churn", "1")
    assert err.value.error_code == "INVALID_STATE"
    with pytest.raises(MlflowException) as err:
        client.get_model_version_by_alias("churn", "ghost")
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"

    # Every mlflow call landed in the audit trail.
    history = slipway.Client(mlflow_uri).get_model_history("churn")
    assert [e.action for e in history] == [
        "model_created",
        "version_created",
        "version_created",
        "alias_set",
        "stage_transition",
    ]


def test_mlflow_registry_crud(mlflow_uri: str) -> None:
    client = MlflowClient()
    client.create_registered_model("fraud", tags={"team": "risk"}, description="first")
    client.update_registered_model("fraud", description="second")
    client.set_registered_model_tag("fraud", "owner", "ana")
    client.delete_registered_model_tag("fraud", "team")
    mv = client.create_model_version("fraud", "s3://bucket/fraud/1", description="v1")
    client.set_model_version_tag("fraud", mv.version, "ok", "yes")
    client.update_model_version("fraud", mv.version, description="v1 checked")
    client.rename_registered_model("fraud", "fraud-2")
    got = client.get_model_version("fraud-2", "1")
    assert (got.description, got.tags, got.source) == ("v1 checked", {"ok": "yes"}, got.source)
    assert client.get_model_version_download_uri("fraud-2", "1") == "s3://bucket/fraud/1"
    models = client.search_registered_models(filter_string="name LIKE 'fraud%'")
    assert [(m.name, m.description, m.tags) for m in models] == [
        ("fraud-2", "second", {"owner": "ana"})
    ]
    client.delete_model_version_tag("fraud-2", "1", "ok")
    client.delete_model_version("fraud-2", "1")
    client.delete_registered_model("fraud-2")
    with pytest.raises(MlflowException) as err:
        client.get_registered_model("fraud-2")
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_slipway_log_register_alias_load_in_process(fluent_sqlite: str, data, model) -> None:
    X, _ = data
    with slipway.start_run():
        slipway.log_metrics({"accuracy": 0.9})
        info = slipway.sklearn.log_model(
            model, name="model", input_example=X.head(3), registered_model_name="churn"
        )
    assert info.registered_model_version == 1
    client = slipway.Client(fluent_sqlite)
    assert client.get_model_version("churn", 1).metrics == {"accuracy": 0.9}
    client.set_registered_model_alias("churn", "champion", info.registered_model_version)
    loaded = slipway.pyfunc.load_model("models:/churn@champion")
    np.testing.assert_array_equal(loaded.predict(X.head(5)), model.predict(X.head(5)))
    by_run = slipway.pyfunc.load_model(f"runs:/{info.run_id}/model")
    np.testing.assert_array_equal(by_run.predict(X.head(5)), model.predict(X.head(5)))
    for uri in ("models:/churn@nobody", "models:/churn/9", "models:/ghost/latest"):
        with pytest.raises(slipway.SlipwayError) as err:
            slipway.pyfunc.load_model(uri)
        assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_slipway_and_mlflow_load_each_others_models(
    mlflow_uri: str, fluent_server: str, data, model
) -> None:
    X, _ = data
    expected = model.predict(X.head(5))
    with slipway.start_run():
        slipway.sklearn.log_model(model, name="model", registered_model_name="by-slipway")
    with mlflow.start_run():
        mlflow.sklearn.log_model(model, name="model", registered_model_name="by-mlflow")
    client = slipway.Client(fluent_server)
    client.set_registered_model_alias("by-slipway", "champion", 1)
    MlflowClient().set_registered_model_alias("by-mlflow", "champion", "1")

    from_mlflow = slipway.pyfunc.load_model("models:/by-mlflow@champion")
    np.testing.assert_array_equal(from_mlflow.predict(X.head(5)), expected)
    from_slipway = mlflow.pyfunc.load_model("models:/by-slipway@champion")
    np.testing.assert_array_equal(from_slipway.predict(X.head(5)), expected)
    assert slipway.pyfunc.load_model("models:/by-slipway/latest").predict(X.head(5)).tolist() == (
        expected.tolist()
    )
