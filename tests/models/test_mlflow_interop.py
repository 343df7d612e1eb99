"""Model directories cross between slipway and the real mlflow package, both ways."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import slipway.lightgbm
import slipway.onnx
import slipway.pyfunc
import slipway.sklearn
import slipway.xgboost
from slipway.errors import UnsafeModelFormat
from slipway.models import ModelSignature

pytest.importorskip("mlflow", reason="mlflow is not installed")
import mlflow
import mlflow.lightgbm
import mlflow.pyfunc
import mlflow.sklearn
import mlflow.xgboost

TREE = ["sklearn.tree._tree.Tree"]


@pytest.fixture(autouse=True)
def _mlflow_env(monkeypatch, tmp_path):
    # MLflow 3 refuses to deserialize any sklearn/pickled model without this switch.
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())


def _mlflow_predict(path, X):
    return mlflow.pyfunc.load_model(str(path), suppress_warnings=True).predict(X)


def _assert_same(a, b):
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b, check_dtype=False)
    elif isinstance(a, pd.Series):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b))
    else:
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6)


# --------------------------------------------------------------------------- slipway -> mlflow


def test_sklearn_skops_loads_in_mlflow(tmp_path, iris, forest):
    X, _ = iris
    path = tmp_path / "m"
    slipway.sklearn.save_model(forest, str(path), input_example=X.head(3))
    theirs = mlflow.pyfunc.load_model(str(path), suppress_warnings=True)
    _assert_same(theirs.predict(X), slipway.pyfunc.load_model(str(path)).predict(X))
    ours = slipway.pyfunc.load_model(str(path)).signature
    assert theirs.metadata.signature.to_dict() == ours.to_dict()
    assert type(mlflow.sklearn.load_model(str(path))) is type(forest)


def test_xgboost_loads_in_mlflow(tmp_path, iris):
    import xgboost as xgb

    X, y = iris
    path = tmp_path / "m"
    slipway.xgboost.save_model(xgb.XGBClassifier(n_estimators=3).fit(X, y), str(path))
    _assert_same(_mlflow_predict(path, X), slipway.pyfunc.load_model(str(path)).predict(X))


@pytest.mark.parametrize("kind", ["classifier", "booster"])
def test_lightgbm_loads_in_mlflow(tmp_path, iris, kind):
    import lightgbm as lgb

    X, y = iris
    if kind == "classifier":
        model = lgb.LGBMClassifier(n_estimators=3, verbose=-1).fit(X, y)
    else:
        model = lgb.train({"objective": "regression", "verbose": -1}, lgb.Dataset(X, y), 3)
    path = tmp_path / "m"
    slipway.lightgbm.save_model(model, str(path))
    _assert_same(_mlflow_predict(path, X), slipway.pyfunc.load_model(str(path)).predict(X))


def test_onnx_loads_in_mlflow(tmp_path, iris):
    from skl2onnx import to_onnx
    from sklearn.linear_model import LinearRegression

    X, y = iris
    Xf = X.astype(np.float32)
    onx = to_onnx(LinearRegression().fit(Xf, y), Xf.to_numpy()[:1])
    path = tmp_path / "m"
    slipway.onnx.save_model(onx, str(path))
    _assert_same(_mlflow_predict(path, Xf), slipway.pyfunc.load_model(str(path)).predict(Xf))


class Doubler(slipway.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input * 2


def test_python_model_loads_in_mlflow(tmp_path):
    data = pd.DataFrame({"x": [1.0, 2.0]})
    by_ref, by_value = tmp_path / "ref", tmp_path / "val"
    slipway.pyfunc.save_model(str(by_ref), python_model=Doubler, input_example=data)
    slipway.pyfunc.save_model(str(by_value), python_model=Doubler(), input_example=data)
    for path in (by_ref, by_value):
        _assert_same(_mlflow_predict(path, data), data * 2)


def test_pickled_python_model_follows_mlflow_switch_in_mlflow(tmp_path, monkeypatch):
    path = tmp_path / "m"
    slipway.pyfunc.save_model(str(path), python_model=Doubler())
    monkeypatch.delenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION")
    with pytest.raises(UnsafeModelFormat):
        mlflow.pyfunc.load_model(str(path), suppress_warnings=True)


# --------------------------------------------------------------------------- mlflow -> slipway


def test_mlflow_sklearn_default_format_loads(tmp_path, iris, logreg):
    X, _ = iris
    path = tmp_path / "m"
    mlflow.sklearn.save_model(logreg, str(path), input_example=X.head(3), pip_requirements=[])
    model = slipway.pyfunc.load_model(str(path))
    _assert_same(model.predict(X), _mlflow_predict(path, X))
    assert model.signature == ModelSignature.from_dict(
        mlflow.models.Model.load(str(path)).signature.to_dict()
    )


def test_mlflow_sklearn_skops_with_trusted_types_loads(tmp_path, iris, forest):
    X, _ = iris
    path = tmp_path / "m"
    mlflow.sklearn.save_model(
        forest,
        str(path),
        serialization_format="skops",
        skops_trusted_types=TREE,
        pip_requirements=[],
    )
    _assert_same(slipway.pyfunc.load_model(str(path)).predict(X), _mlflow_predict(path, X))
    assert type(slipway.sklearn.load_model(str(path))) is type(forest)


def test_mlflow_cloudpickle_sklearn_needs_opt_in(tmp_path, iris, logreg):
    X, _ = iris
    path = tmp_path / "m"
    mlflow.sklearn.save_model(
        logreg, str(path), serialization_format="cloudpickle", pip_requirements=[]
    )
    with pytest.raises(UnsafeModelFormat, match="allow_pickle=True"):
        slipway.pyfunc.load_model(str(path))
    model = slipway.pyfunc.load_model(str(path), allow_pickle=True)
    _assert_same(model.predict(X), _mlflow_predict(path, X))


def test_mlflow_xgboost_loads(tmp_path, iris):
    import xgboost as xgb

    X, y = iris
    path = tmp_path / "m"
    mlflow.xgboost.save_model(
        xgb.XGBRegressor(n_estimators=3).fit(X, y), str(path), pip_requirements=[]
    )
    _assert_same(slipway.pyfunc.load_model(str(path)).predict(X), _mlflow_predict(path, X))


@pytest.mark.parametrize("kind", ["classifier", "booster"])
def test_mlflow_lightgbm_loads(tmp_path, iris, kind):
    import lightgbm as lgb

    X, y = iris
    if kind == "classifier":
        model = lgb.LGBMClassifier(n_estimators=3, verbose=-1).fit(X, y)
    else:
        model = lgb.train({"objective": "regression", "verbose": -1}, lgb.Dataset(X, y), 3)
    path = tmp_path / "m"
    mlflow.lightgbm.save_model(model, str(path), pip_requirements=[])
    _assert_same(slipway.pyfunc.load_model(str(path)).predict(X), _mlflow_predict(path, X))


class MlflowAdder(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        self.offset = context.model_config.get("offset", 0)

    def predict(self, context, model_input, params=None):
        return model_input["x"] + self.offset


def test_mlflow_python_model_loads_only_with_opt_in(tmp_path):
    path = tmp_path / "m"
    data = pd.DataFrame({"x": [1.0, 2.0]})
    mlflow.pyfunc.save_model(
        str(path),
        python_model=MlflowAdder(),
        model_config={"offset": 10},
        input_example=data,
        pip_requirements=[],
    )
    with pytest.raises(UnsafeModelFormat, match="cloudpickle"):
        slipway.pyfunc.load_model(str(path))
    model = slipway.pyfunc.load_model(str(path), allow_pickle=True)
    _assert_same(model.predict(data), _mlflow_predict(path, data))
    assert model.predict(data).tolist() == [11.0, 12.0]
