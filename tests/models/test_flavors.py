"""Each flavor saves, loads natively and as pyfunc, and refuses unsafe files unless asked."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import textwrap
import uuid

import numpy as np
import pandas as pd
import pytest
import yaml

import slipway.lightgbm
import slipway.onnx
import slipway.pyfunc
import slipway.pytorch
import slipway.sklearn
import slipway.xgboost
from slipway.errors import (
    InvalidParameterValue,
    MissingDependency,
    SchemaEnforcementError,
    UnsafeModelFormat,
)


def _edit_mlmodel(path, change):
    doc = yaml.safe_load((path / "MLmodel").read_text())
    change(doc)
    (path / "MLmodel").write_text(yaml.safe_dump(doc))


# --------------------------------------------------------------------------- scikit-learn


def test_sklearn_skops_round_trip(tmp_path, iris, forest):
    X, _ = iris
    path = tmp_path / "rf"
    slipway.sklearn.save_model(forest, str(path), input_example=X.head(5))
    conf = yaml.safe_load((path / "MLmodel").read_text())["flavors"]["sklearn"]
    assert conf["skops_trusted_types"] == ["sklearn.tree._tree.Tree"]

    model = slipway.pyfunc.load_model(str(path))
    np.testing.assert_array_equal(model.predict(X), forest.predict(X))
    native = slipway.sklearn.load_model(str(path))
    assert type(native) is type(forest)
    np.testing.assert_array_equal(native.predict_proba(X), forest.predict_proba(X))
    assert model.get_raw_model().n_estimators == 5


def test_sklearn_predict_enforces_signature(tmp_path, iris, logreg):
    X, _ = iris
    path = tmp_path / "m"
    slipway.sklearn.save_model(logreg, str(path), input_example=X.head(3))
    model = slipway.pyfunc.load_model(str(path))
    bad = X.head(2).drop(columns=["petal width (cm)"]).assign(extra=1)
    bad["sepal length (cm)"] = "long"
    with pytest.raises(SchemaEnforcementError) as err:
        model.predict(bad)
    assert len(err.value.problems) == 3
    # Columns in another order are put in signature order before the model sees them.
    shuffled = X.head(4)[list(reversed(X.columns))]
    np.testing.assert_array_equal(model.predict(shuffled), logreg.predict(X.head(4)))


def test_sklearn_predict_fn(tmp_path, iris, logreg):
    X, _ = iris
    path = tmp_path / "m"
    slipway.sklearn.save_model(logreg, str(path), pyfunc_predict_fn="predict_proba")
    out = slipway.pyfunc.load_model(str(path)).predict(X.head(3))
    np.testing.assert_allclose(out, logreg.predict_proba(X.head(3)))


@pytest.mark.parametrize("fmt", ["pickle", "cloudpickle"])
def test_sklearn_pickle_needs_opt_in(tmp_path, iris, logreg, fmt):
    X, _ = iris
    path = tmp_path / "m"
    slipway.sklearn.save_model(logreg, str(path), serialization_format=fmt)
    assert (path / "model.pkl").is_file()
    with pytest.raises(UnsafeModelFormat) as err:
        slipway.pyfunc.load_model(str(path))
    message = str(err.value)
    assert "pickled" in message and "allow_pickle=True" in message and "runs any code" in message
    with pytest.raises(UnsafeModelFormat):
        slipway.sklearn.load_model(str(path))
    model = slipway.pyfunc.load_model(str(path), allow_pickle=True)
    np.testing.assert_array_equal(model.predict(X.head(5)), logreg.predict(X.head(5)))


def test_skops_types_outside_numeric_libraries_need_opt_in(tmp_path, iris):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    X, y = iris
    # A module-level function of this test module: importable, but not a numeric library.
    pipe = make_pipeline(FunctionTransformer(_double), LogisticRegression(max_iter=500)).fit(X, y)
    path = tmp_path / "m"
    slipway.sklearn.save_model(pipe, str(path))
    with pytest.raises(UnsafeModelFormat, match=r"outside scikit-learn.*_double"):
        slipway.pyfunc.load_model(str(path))
    model = slipway.pyfunc.load_model(str(path), allow_pickle=True)
    np.testing.assert_array_equal(model.predict(X.head(3)), pipe.predict(X.head(3)))


def _double(x):
    return x * 2


def test_skops_types_missing_from_mlmodel_are_refused(tmp_path, forest):
    path = tmp_path / "m"
    slipway.sklearn.save_model(forest, str(path))
    _edit_mlmodel(path, lambda d: d["flavors"]["sklearn"].update(skops_trusted_types=[]))
    with pytest.raises(UnsafeModelFormat, match=r"does not record as trusted.*_tree.Tree"):
        slipway.pyfunc.load_model(str(path))


def test_missing_optional_dependency_names_the_extra(tmp_path, monkeypatch, iris):
    import xgboost as xgb

    X, y = iris
    path = tmp_path / "m"
    slipway.xgboost.save_model(xgb.XGBClassifier(n_estimators=2).fit(X, y), str(path))
    real = importlib.import_module

    def without_xgboost(name, package=None):
        if name.split(".")[0] == "xgboost":
            raise ImportError(f"No module named {name!r}")
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", without_xgboost)
    with pytest.raises(MissingDependency) as err:
        slipway.pyfunc.load_model(str(path))
    assert str(err.value) == (
        "Loading this XGBoost model needs xgboost, which is not installed. "
        "Install it with: pip install 'slipway[xgboost]'"
    )


# --------------------------------------------------------------------------- XGBoost / LightGBM


@pytest.mark.parametrize("model_format", ["ubj", "json"])
def test_xgboost_classifier(tmp_path, iris, model_format):
    import xgboost as xgb

    X, y = iris
    clf = xgb.XGBClassifier(n_estimators=3, max_depth=2).fit(X, y)
    path = tmp_path / "m"
    slipway.xgboost.save_model(clf, str(path), model_format=model_format, input_example=X.head(2))
    conf = yaml.safe_load((path / "MLmodel").read_text())["flavors"]["xgboost"]
    assert conf["model_class"] == "xgboost.sklearn.XGBClassifier"
    assert conf["data"] == f"model.{model_format}"
    np.testing.assert_array_equal(slipway.pyfunc.load_model(str(path)).predict(X), clf.predict(X))
    native = slipway.xgboost.load_model(str(path))
    np.testing.assert_allclose(native.predict_proba(X), clf.predict_proba(X))


def test_xgboost_booster(tmp_path, iris):
    import xgboost as xgb

    X, y = iris
    booster = xgb.train({"max_depth": 2}, xgb.DMatrix(X, label=y), num_boost_round=3)
    path = tmp_path / "m"
    slipway.xgboost.save_model(booster, str(path))
    out = slipway.pyfunc.load_model(str(path)).predict(X)
    np.testing.assert_allclose(out, booster.predict(xgb.DMatrix(X)))


def test_xgboost_refuses_foreign_model_class(tmp_path, iris):
    import xgboost as xgb

    X, y = iris
    path = tmp_path / "m"
    slipway.xgboost.save_model(xgb.XGBRegressor(n_estimators=1).fit(X, y), str(path))
    _edit_mlmodel(path, lambda d: d["flavors"]["xgboost"].update(model_class="os.system"))
    with pytest.raises(InvalidParameterValue, match="not an XGBoost model class"):
        slipway.pyfunc.load_model(str(path))


def test_lightgbm_booster_is_native_text(tmp_path, iris):
    import lightgbm as lgb

    X, y = iris
    booster = lgb.train(
        {"objective": "multiclass", "num_class": 3, "verbose": -1}, lgb.Dataset(X, y), 3
    )
    path = tmp_path / "m"
    slipway.lightgbm.save_model(booster, str(path), input_example=X.head(2))
    assert (path / "model.lgb").read_text().startswith("tree")
    out = slipway.pyfunc.load_model(str(path)).predict(X)
    np.testing.assert_allclose(out, booster.predict(X))


def test_lightgbm_classifier_keeps_labels(tmp_path, iris):
    import lightgbm as lgb

    X, y = iris
    clf = lgb.LGBMClassifier(n_estimators=3, verbose=-1).fit(X, y)
    path = tmp_path / "m"
    slipway.lightgbm.save_model(clf, str(path))
    model = slipway.pyfunc.load_model(str(path))  # skops with lightgbm types: no opt-in
    np.testing.assert_array_equal(model.predict(X), clf.predict(X))
    native_path = tmp_path / "native"
    slipway.lightgbm.save_model(clf, str(native_path), serialization_format="native")
    booster = slipway.lightgbm.load_model(str(native_path))
    np.testing.assert_allclose(booster.predict(X), clf.predict_proba(X))


# --------------------------------------------------------------------------- ONNX


@pytest.fixture(scope="module")
def onnx_regressor(iris):
    from skl2onnx import to_onnx
    from sklearn.linear_model import LinearRegression

    X, y = iris
    reg = LinearRegression().fit(X.to_numpy(dtype=np.float32), y)
    return reg, to_onnx(reg, X.to_numpy(dtype=np.float32)[:1])


def test_onnx_round_trip(tmp_path, iris, onnx_regressor):
    X, _ = iris
    reg, onx = onnx_regressor
    path = tmp_path / "m"
    example = X.to_numpy(dtype=np.float32)[:3]
    slipway.onnx.save_model(onx, str(path), input_example=example)
    model = slipway.pyfunc.load_model(str(path))
    assert model.signature.inputs.to_dict()[0]["tensor-spec"] == {
        "dtype": "float32",
        "shape": [-1, 4],
    }
    out = model.predict(X.to_numpy())  # float64 in: cast safely to the graph's float32
    (name,) = out
    np.testing.assert_allclose(out[name].ravel(), reg.predict(X.to_numpy()), rtol=1e-4)
    assert len(slipway.onnx.load_model(str(path)).graph.input) == 1  # the ModelProto


# --------------------------------------------------------------------------- PythonModel


class AddN(slipway.pyfunc.PythonModel):
    """Used by value (pickled) in the tests below."""

    def __init__(self, n: int = 1) -> None:
        self.n = n

    def predict(self, context, model_input, params=None):
        return model_input["x"] + self.n


def _write_module(tmp_path, body: str) -> tuple[str, object]:
    name = f"custom_model_{uuid.uuid4().hex[:8]}"
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / f"{name}.py").write_text(textwrap.dedent(body))
    sys.path.insert(0, str(src))
    try:
        module = importlib.import_module(name)
    finally:
        sys.path.remove(str(src))
    return name, module


SCALER = """
    import json
    import slipway.pyfunc

    class Scaler(slipway.pyfunc.PythonModel):
        def load_context(self, context):
            with open(context.artifacts["config"]) as f:
                self.factor = json.load(f)["factor"]
            self.offset = context.model_config.get("offset", 0)

        def predict(self, context, model_input, params=None):
            scale = (params or {}).get("scale", 1)
            return model_input["x"] * self.factor * scale + self.offset
"""


def test_python_model_by_reference_needs_no_pickle(tmp_path):
    name, module = _write_module(tmp_path, SCALER)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"factor": 10}))
    path = tmp_path / "m"
    slipway.pyfunc.save_model(
        str(path),
        python_model=module.Scaler,
        code_paths=[str(tmp_path / "src" / f"{name}.py")],
        artifacts={"config": str(config)},
        model_config={"offset": 1},
        input_example=pd.DataFrame({"x": [1.0, 2.0]}),
    )
    assert not (path / "python_model.pkl").exists()
    conf = yaml.safe_load((path / "MLmodel").read_text())["flavors"]["python_function"]
    assert conf["python_model_class"] == f"{name}:Scaler"
    assert conf["artifacts"]["config"]["path"] == "artifacts/config/config.json"
    config.unlink()  # the model carries its own copy

    model = slipway.pyfunc.load_model(str(path))
    assert model.predict(pd.DataFrame({"x": [1.0, 3.0]})).tolist() == [11.0, 31.0]
    assert type(model.unwrap_python_model()).__name__ == "Scaler"


def test_python_model_reference_loads_in_a_fresh_process(tmp_path):
    name, _ = _write_module(tmp_path, SCALER)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"factor": 2}))
    path = tmp_path / "m"
    slipway.pyfunc.save_model(
        str(path),
        python_model=f"{name}:Scaler",
        code_paths=[str(tmp_path / "src" / f"{name}.py")],
        artifacts={"config": str(config)},
    )
    (tmp_path / "src" / f"{name}.py").unlink()  # only the model's code/ copy is left
    code = (
        "import pandas as pd, slipway.pyfunc;"
        f"m = slipway.pyfunc.load_model({str(path)!r});"
        "print(m.predict(pd.DataFrame({'x': [1.5]})).tolist())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[3.0]"


def test_python_model_instance_is_pickled_and_needs_opt_in(tmp_path):
    path = tmp_path / "m"
    slipway.pyfunc.save_model(str(path), python_model=AddN(5))
    with pytest.raises(UnsafeModelFormat, match="save it by class reference"):
        slipway.pyfunc.load_model(str(path))
    model = slipway.pyfunc.load_model(str(path), allow_pickle=True)
    assert model.predict(pd.DataFrame({"x": [1, 2]})).tolist() == [6, 7]
    assert model.unwrap_python_model().n == 5


def test_python_model_class_in_main_is_rejected_with_advice(tmp_path):
    klass = type("Local", (slipway.pyfunc.PythonModel,), {"__module__": "__main__"})
    with pytest.raises(InvalidParameterValue, match="code_paths"):
        slipway.pyfunc.save_model(str(tmp_path / "m"), python_model=klass)


def test_unwrap_python_model_on_other_flavors_is_clear(tmp_path, logreg):
    path = tmp_path / "m"
    slipway.sklearn.save_model(logreg, str(path))
    with pytest.raises(InvalidParameterValue, match="not saved from a PythonModel"):
        slipway.pyfunc.load_model(str(path)).unwrap_python_model()


# --------------------------------------------------------------------------- PyTorch


def test_pytorch_state_dict_and_torchscript(tmp_path):
    torch = pytest.importorskip("torch", reason="torch is not installed (optional extra)")
    name, module = _write_module(
        tmp_path,
        """
        import torch

        class Net(torch.nn.Module):
            def __init__(self, n_in=4):
                super().__init__()
                self.lin = torch.nn.Linear(n_in, 2)

            def forward(self, x):
                return self.lin(x)
        """,
    )
    net = module.Net(4)
    x = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    expected = net(torch.from_numpy(x)).detach().numpy()

    # Pickled first: loading with code_paths below re-imports the module, after which
    # `net`'s class is no longer the importable one and pickling it would fail.
    pk_path = tmp_path / "pk"
    slipway.pytorch.save_model(net, str(pk_path), serialization_format="pickle")

    sd_path = tmp_path / "sd"
    slipway.pytorch.save_model(
        net,
        str(sd_path),
        model_init_kwargs={"n_in": 4},
        code_paths=[str(tmp_path / "src" / f"{name}.py")],
    )
    np.testing.assert_allclose(
        slipway.pyfunc.load_model(str(sd_path)).predict(x), expected, rtol=1e-5
    )

    ts_path = tmp_path / "ts"
    slipway.pytorch.save_model(torch.jit.script(net), str(ts_path))
    np.testing.assert_allclose(
        slipway.pyfunc.load_model(str(ts_path)).predict(x), expected, rtol=1e-5
    )

    with pytest.raises(UnsafeModelFormat):
        slipway.pyfunc.load_model(str(pk_path))
