"""Autologging of scikit-learn, XGBoost and LightGBM training into a real SQLite store."""

from __future__ import annotations

import json
import socket
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import slipway
from slipway.tracking.autolog import AutologWarning

sklearn = pytest.importorskip("sklearn")
from sklearn import metrics  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402


@pytest.fixture
def tracking_uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'autolog.db'}"


@pytest.fixture
def autolog_off():
    yield
    slipway.autolog(disable=True)


@pytest.fixture
def data() -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray]:
    X, y = make_classification(n_samples=200, n_features=5, random_state=0)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(5)])
    return frame.iloc[:150], frame.iloc[150:], y[:150], y[150:]


def _runs(client: slipway.Client) -> list[slipway.Run]:
    return list(client.search_runs(["0"], max_results=100))


def test_a_fit_gets_a_run_with_params_metrics_data_and_model(
    fluent_uri: str, autolog_off, data, tmp_path: Path
) -> None:
    X_train, X_test, y_train, y_test = data
    assert "sklearn" in slipway.autolog()

    model = LogisticRegression(C=0.5, max_iter=300).fit(X_train, y_train)

    assert slipway.active_run() is None  # the fit's own run ended with it
    client = slipway.Client(fluent_uri)
    [run] = _runs(client)
    assert run.info.status == "FINISHED"
    assert run.data.params["C"] == "0.5" and run.data.params["max_iter"] == "300"
    assert run.data.tags["estimator_name"] == "LogisticRegression"
    assert run.data.tags["estimator_class"] == "sklearn.linear_model._logistic.LogisticRegression"
    for key in [
        "training_accuracy_score",
        "training_precision_score",
        "training_recall_score",
        "training_f1_score",
        "training_log_loss",
        "training_roc_auc",
        "training_score",
    ]:
        assert key in run.data.metrics, key
    assert run.data.metrics["training_score"] == pytest.approx(model.score(X_train, y_train))
    [dataset] = run.inputs
    assert dataset.tags["mlflow.data.context"] == "train"
    assert json.loads(dataset.dataset.profile)["num_rows"] == 150

    folder = Path(client.download_model(f"runs:/{run.info.run_id}/model", str(tmp_path / "m")))
    mlmodel = yaml.safe_load((folder / "MLmodel").read_text())
    assert "signature" in mlmodel and "saved_input_example_info" in mlmodel
    loaded = slipway.sklearn.load_model(f"runs:/{run.info.run_id}/model")
    assert (loaded.predict(X_test) == model.predict(X_test)).all()

    # post-training metrics go to the run the model was trained in, named after the data
    accuracy = metrics.accuracy_score(y_test, model.predict(X_test))
    metrics.accuracy_score(y_test, model.predict(X_test))
    score = model.score(X_test, y_test)
    after = client.get_run(run.info.run_id)
    logged = after.data.metrics
    assert logged["accuracy_score_X_test"] == pytest.approx(accuracy)
    assert logged["accuracy_score-2_X_test"] == pytest.approx(accuracy)  # as MLflow names it
    assert logged["LogisticRegression_score_X_test"] == pytest.approx(score)
    assert sorted(i.tags["mlflow.data.context"] for i in after.inputs) == ["eval", "train"]
    assert after.data.tags["mlflow.autologging"] == "sklearn"
    assert len(_runs(client)) == 1


def test_inside_an_active_run_the_fit_logs_there(fluent_uri: str, autolog_off, data) -> None:
    X_train, _, y_train, _ = data
    slipway.sklearn.autolog(log_models=False)
    with slipway.start_run() as run:
        make_pipeline(StandardScaler(), LogisticRegression()).fit(X_train, y_train)
        assert slipway.active_run().info.run_id == run.info.run_id
    client = slipway.Client(fluent_uri)
    [stored] = _runs(client)  # the inner fits of the pipeline's steps logged nothing
    assert stored.info.run_id == run.info.run_id
    assert stored.data.params["logisticregression__C"] == "1.0"
    assert stored.data.tags["estimator_name"] == "Pipeline"
    assert "training_accuracy_score" in stored.data.metrics
    assert not stored.model_outputs


def test_autolog_is_idempotent_and_disable_undoes_it(fluent_uri: str, autolog_off, data) -> None:
    X_train, _, y_train, _ = data
    original = LogisticRegression.fit
    slipway.autolog(log_models=False)
    slipway.sklearn.autolog(log_models=False)
    assert LogisticRegression.fit.__wrapped__ is original  # patched once
    LogisticRegression().fit(X_train, y_train)
    client = slipway.Client(fluent_uri)
    assert len(_runs(client)) == 1

    slipway.autolog(disable=True)
    assert LogisticRegression.fit is original
    LogisticRegression().fit(X_train, y_train)
    assert len(_runs(client)) == 1


def test_a_parameter_search_logs_best_params_and_child_runs(
    fluent_uri: str, autolog_off, data
) -> None:
    X_train, _, y_train, _ = data
    slipway.sklearn.autolog(log_models=False, max_tuning_runs=2)
    search = GridSearchCV(LogisticRegression(), {"C": [0.01, 0.1, 1.0]}, cv=3)
    search.fit(X_train, y_train)
    client = slipway.Client(fluent_uri)
    runs = _runs(client)
    [parent] = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert parent.data.params["best_C"] == str(search.best_params_["C"])
    assert parent.data.metrics["best_cv_score"] == pytest.approx(search.best_score_)
    assert len(children) == 2 and all("mean_test_score" in c.data.metrics for c in children)


def test_a_failing_store_never_breaks_training(
    fluent_uri: str, autolog_off, data, tmp_path: Path
) -> None:
    X_train, X_test, y_train, _ = data
    slipway.autolog()
    with slipway.start_run():
        db = fluent_uri.removeprefix("sqlite:///")
        with sqlite3.connect(db) as conn:  # the store breaks under the run
            conn.execute("DROP TABLE params")
            conn.execute("DROP TABLE inputs")
        with pytest.warns(AutologWarning, match="training was not affected"):
            model = LogisticRegression().fit(X_train, y_train)
    assert model.predict(X_test).shape == (50,)


def test_an_unreachable_server_never_breaks_training(autolog_off, data) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    X_train, X_test, y_train, _ = data
    slipway.set_tracking_uri(f"http://127.0.0.1:{port}")
    try:
        slipway.autolog()
        with pytest.warns(AutologWarning, match="start a run"):
            model = LogisticRegression().fit(X_train, y_train)
        assert model.predict(X_test).shape == (50,)
        assert slipway.active_run() is None
    finally:
        slipway.config.set_tracking_uri(None)


def test_xgboost_logs_every_iteration_and_the_importances(
    fluent_uri: str, autolog_off, data
) -> None:
    xgb = pytest.importorskip("xgboost")
    X_train, X_test, y_train, y_test = data
    slipway.xgboost.autolog()
    dtrain = xgb.DMatrix(X_train, label=y_train)
    dvalid = xgb.DMatrix(X_test, label=y_test)
    xgb.train(
        {"objective": "binary:logistic", "max_depth": 2, "eval_metric": "logloss"},
        dtrain,
        num_boost_round=7,
        evals=[(dtrain, "train"), (dvalid, "valid")],
        verbose_eval=False,
    )
    client = slipway.Client(fluent_uri)
    [run] = _runs(client)
    assert run.data.params["max_depth"] == "2" and run.data.params["num_boost_round"] == "7"
    history = client.get_metric_history(run.info.run_id, "valid-logloss")
    assert [m.step for m in history] == list(range(7))
    files = {f.path for f in client.list_artifacts(run.info.run_id)}
    assert {"feature_importance_weight.json", "feature_importance_gain.json"} <= files
    booster = slipway.xgboost.load_model(f"runs:/{run.info.run_id}/model")
    assert booster.num_boosted_rounds() == 7

    clf = xgb.XGBClassifier(n_estimators=5, max_depth=2)
    clf.fit(X_train, y_train, eval_set=[(X_test, y_test)], verbose=False)
    [sk_run] = [r for r in _runs(client) if r.info.run_id != run.info.run_id]
    assert sk_run.data.tags["estimator_name"] == "XGBClassifier"
    assert sk_run.data.params["n_estimators"] == "5"
    assert "training_accuracy_score" in sk_run.data.metrics
    steps = [m.step for m in client.get_metric_history(sk_run.info.run_id, "validation_0-logloss")]
    assert steps == list(range(5))


def test_lightgbm_logs_every_iteration_and_the_importances(
    fluent_uri: str, autolog_off, data
) -> None:
    lgb = pytest.importorskip("lightgbm")
    X_train, X_test, y_train, y_test = data
    slipway.lightgbm.autolog()
    clf = lgb.LGBMClassifier(n_estimators=6, num_leaves=4, verbose=-1)
    clf.fit(X_train, y_train, eval_set=[(X_test, y_test)])
    client = slipway.Client(fluent_uri)
    [run] = _runs(client)
    assert run.data.params["num_leaves"] == "4"
    assert "training_log_loss" in run.data.metrics
    history = client.get_metric_history(run.info.run_id, "valid_0-binary_logloss")
    assert [m.step for m in history] == list(range(6))
    files = {f.path for f in client.list_artifacts(run.info.run_id)}
    assert {"feature_importance_split.json", "feature_importance_gain.json"} <= files
    loaded = slipway.lightgbm.load_model(f"runs:/{run.info.run_id}/model")
    assert (loaded.predict(X_test) == clf.predict(X_test)).all()


def test_pytorch_lightning_logs_params_and_epoch_metrics(fluent_uri: str, autolog_off) -> None:
    pl = pytest.importorskip("lightning.pytorch")
    import torch

    class Tiny(pl.LightningModule):
        def __init__(self, lr: float = 0.1) -> None:
            super().__init__()
            self.save_hyperparameters()
            self.layer = torch.nn.Linear(3, 1)

        def training_step(self, batch, _):
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.layer(x), y)
            self.log("train_loss", loss, on_epoch=True, on_step=False)
            return loss

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    gen = torch.Generator().manual_seed(0)
    data = torch.utils.data.TensorDataset(torch.randn(32, 3, generator=gen), torch.randn(32, 1))
    slipway.pytorch.autolog(log_models=False)
    trainer = pl.Trainer(
        max_epochs=3,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(Tiny(), torch.utils.data.DataLoader(data, batch_size=8))
    client = slipway.Client(fluent_uri)
    [run] = _runs(client)
    assert run.data.params["lr"] == "0.1" and run.data.params["max_epochs"] == "3"
    assert run.data.params["optimizer_name"] == "SGD"
    assert run.data.params["optimizer_lr"] == "0.1"
    history = client.get_metric_history(run.info.run_id, "train_loss")
    assert [m.step for m in history] == [0, 1, 2]


def test_pytorch_lightning_is_skipped_cleanly_when_missing(autolog_off) -> None:
    from slipway.tracking.autolog.lightning import lightning_module

    turned_on = slipway.autolog(log_models=False)
    assert ("pytorch" in turned_on) == (lightning_module() is not None)


def test_the_readme_example_runs(fluent_uri: str, autolog_off) -> None:
    import re

    pytest.importorskip("optuna")
    readme = Path(__file__).resolve().parents[2] / "README.md"
    blocks = re.findall(r"```python\n(.*?)```", readme.read_text(), flags=re.S)
    example = next(b for b in blocks if "slipway.autolog()" in b)
    namespace: dict = {}
    exec(compile(example, str(readme), "exec"), namespace)
    client = slipway.Client(fluent_uri)
    fitted = [r for r in _runs(client) if r.data.tags.get("estimator_name")]
    assert any("f1_score_X_test" in r.data.metrics for r in fitted)
    watched = next(r for r in _runs(client) if r.info.run_name == "watched")
    assert "system/cpu_utilization_percentage" in watched.data.metrics
    study_runs = client.search_runs(
        [client.get_experiment_by_name("rf-depth").experiment_id], max_results=100
    )
    assert len(study_runs) == 5  # the study and its four trials


def test_autolog_through_a_server(live_server, autolog_off, data) -> None:
    X_train, X_test, y_train, _ = data
    slipway.set_tracking_uri(live_server.url)
    try:
        slipway.sklearn.autolog()
        model = LogisticRegression().fit(X_train, y_train)
        client = slipway.Client(live_server.url)
        [run] = _runs(client)
        assert "training_accuracy_score" in run.data.metrics
        loaded = slipway.sklearn.load_model(f"runs:/{run.info.run_id}/model")
        assert (loaded.predict(X_test) == model.predict(X_test)).all()
    finally:
        slipway.config.set_tracking_uri(None)
