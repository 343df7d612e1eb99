"""The MLmodel directory: what a saved model contains, and clear errors for broken ones."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
import yaml

import slipway.pyfunc
import slipway.sklearn
from slipway.errors import InvalidParameterValue, ResourceAlreadyExists, ResourceDoesNotExist
from slipway.models import Model, ModelSignature
from slipway.models.format import mlflow_format_version


def test_saved_directory_has_mlflow_layout(tmp_path, iris, logreg):
    X, _ = iris
    path = tmp_path / "m"
    slipway.sklearn.save_model(logreg, str(path), input_example=X.head(3))

    names = {p.name for p in path.iterdir()}
    assert names == {
        "MLmodel",
        "model.skops",
        "requirements.txt",
        "python_env.yaml",
        "conda.yaml",
        "input_example.json",
        "serving_input_example.json",
    }
    doc = yaml.safe_load((path / "MLmodel").read_text())
    assert re.fullmatch(r"[0-9a-f]{32}", doc["model_uuid"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", doc["utc_time_created"])
    assert doc["mlflow_version"] == mlflow_format_version()
    assert doc["slipway_version"] == slipway.__version__
    pyfunc = doc["flavors"]["python_function"]
    assert pyfunc["loader_module"] == "mlflow.sklearn"
    assert pyfunc["predict_fn"] == "predict"
    assert pyfunc["env"] == {"conda": "conda.yaml", "virtualenv": "python_env.yaml"}
    assert pyfunc["python_version"] == ".".join(map(str, sys.version_info[:3]))
    assert doc["flavors"]["sklearn"]["serialization_format"] == "skops"
    assert doc["saved_input_example_info"] == {
        "artifact_path": "input_example.json",
        "serving_input_path": "serving_input_example.json",
        "type": "dataframe",
        "pandas_orient": "split",
    }
    inputs = doc["signature"]["inputs"]
    assert inputs.startswith('[{"type": "double", "name": "sepal length (cm)", "required": true}')
    assert "run_id" not in doc  # saved outside a run: absent, as MLflow writes it


def test_requirements_pin_installed_versions(tmp_path, logreg):
    path = tmp_path / "m"
    slipway.sklearn.save_model(logreg, str(path), extra_pip_requirements=["requests>=2"])
    lines = (path / "requirements.txt").read_text().splitlines()
    assert f"scikit-learn=={metadata.version('scikit-learn')}" in lines
    assert f"skops=={metadata.version('skops')}" in lines
    assert f"numpy=={metadata.version('numpy')}" in lines
    assert lines[-1] == "requests>=2"
    python_env = yaml.safe_load((path / "python_env.yaml").read_text())
    assert python_env["python"] == ".".join(map(str, sys.version_info[:3]))
    assert python_env["dependencies"] == ["-r requirements.txt"]
    conda = yaml.safe_load((path / "conda.yaml").read_text())
    assert {"pip": lines} in conda["dependencies"]


def test_input_example_reads_back(tmp_path, iris, logreg):
    X, _ = iris
    path = tmp_path / "m"
    slipway.sklearn.save_model(logreg, str(path), input_example=X.head(2))
    example = slipway.pyfunc.load_model(str(path)).input_example
    assert example.equals(X.head(2).reset_index(drop=True))


def test_mlmodel_round_trip_keeps_unknown_keys(tmp_path):
    text = (
        "flavors:\n  python_function: {loader_module: mlflow.sklearn}\n"
        "model_uuid: abc\nutc_time_created: '2024-01-01 00:00:00.000000'\n"
        "is_signature_from_type_hint: false\nprompts: null\n"
        'signature: {inputs: \'[{"type": "long", "name": "a", "required": true}]\','
        " outputs: null, params: null}\n"
    )
    (tmp_path / "MLmodel").write_text(text)
    model = Model.load(tmp_path)
    assert model.extra == {"is_signature_from_type_hint": False, "prompts": None}
    assert model.signature == ModelSignature.from_dict(
        {"inputs": '[{"type": "long", "name": "a", "required": true}]'}
    )
    model.save(tmp_path)
    assert yaml.safe_load((tmp_path / "MLmodel").read_text()) == yaml.safe_load(text)


def test_missing_path_is_resource_does_not_exist(tmp_path):
    with pytest.raises(ResourceDoesNotExist, match="does not exist"):
        slipway.pyfunc.load_model(str(tmp_path / "nope"))


def test_directory_without_mlmodel_names_the_path(tmp_path):
    with pytest.raises(InvalidParameterValue, match=re.escape(str(tmp_path))) as err:
        slipway.pyfunc.load_model(str(tmp_path))
    assert "no MLmodel file" in str(err.value)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("flavors: [unclosed\n", "not valid YAML"),
        ("- just\n- a list\n", "expected a YAML mapping"),
        ("model_uuid: x\n", "'flavors' must be a mapping"),
        ("flavors: {python_function: {}}\nsignature: {inputs: 'not json'}\n", "signature"),
    ],
)
def test_corrupt_mlmodel_is_a_clear_error(tmp_path, content, reason):
    (tmp_path / "MLmodel").write_text(content)
    with pytest.raises(InvalidParameterValue, match=reason) as err:
        slipway.pyfunc.load_model(str(tmp_path))
    assert str(tmp_path / "MLmodel") in str(err.value)


def test_file_uri_and_mlmodel_file_path_load(tmp_path, iris, logreg):
    X, _ = iris
    path = tmp_path / "m"
    slipway.sklearn.save_model(logreg, str(path))
    expected = logreg.predict(X.head(4))
    assert (slipway.pyfunc.load_model(path.as_uri()).predict(X.head(4)) == expected).all()
    assert (slipway.pyfunc.load_model(str(path / "MLmodel")).predict(X.head(4)) == expected).all()


def test_dst_path_gets_a_copy(tmp_path, logreg):
    path = tmp_path / "m"
    slipway.sklearn.save_model(logreg, str(path))
    dst = tmp_path / "dst"
    dst.mkdir()
    model = slipway.pyfunc.load_model(str(path), dst_path=str(dst))
    assert Path(model.model_dir) == dst / "m"
    assert (dst / "m" / "model.skops").is_file()


def test_model_layer_refuses_remote_uris_with_a_pointer():
    # The model layer reads local folders; the tracking client resolves runs:/ and models:/.
    from slipway.models.pyfunc import load_model as load_local

    with pytest.raises(InvalidParameterValue, match=r"'runs:' URIs.*slipway.pyfunc.load_model"):
        load_local("runs:/abc/model")


def test_unknown_loader_module_is_refused(tmp_path):
    (tmp_path / "MLmodel").write_text(
        "flavors:\n  python_function: {loader_module: os, data: x}\nmodel_uuid: a\n"
    )
    with pytest.raises(InvalidParameterValue, match="loader module 'os' is not one slipway"):
        slipway.pyfunc.load_model(str(tmp_path))


def test_model_without_pyfunc_flavor(tmp_path):
    (tmp_path / "MLmodel").write_text("flavors:\n  keras: {data: x}\nmodel_uuid: a\n")
    with pytest.raises(InvalidParameterValue, match=r"no python_function flavor.*\['keras'\]"):
        slipway.pyfunc.load_model(str(tmp_path))


def test_paths_outside_the_model_dir_are_refused(tmp_path, logreg):
    path = tmp_path / "m"
    slipway.sklearn.save_model(logreg, str(path))
    doc = yaml.safe_load((path / "MLmodel").read_text())
    doc["flavors"]["sklearn"]["pickled_model"] = "../../etc/passwd"
    (path / "MLmodel").write_text(yaml.safe_dump(doc))
    with pytest.raises(InvalidParameterValue, match="outside the model directory"):
        slipway.pyfunc.load_model(str(path))


def test_save_refuses_a_non_empty_directory(tmp_path, logreg):
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(ResourceAlreadyExists, match="not empty"):
        slipway.sklearn.save_model(logreg, str(tmp_path))
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_failed_save_leaves_nothing_behind(tmp_path):
    from sklearn.preprocessing import FunctionTransformer

    path = tmp_path / "m"
    # skops writes a lambda but cannot load it back: the save must fail and clean up.
    with pytest.raises(InvalidParameterValue, match="could not be saved in the skops format"):
        slipway.sklearn.save_model(FunctionTransformer(lambda x: x), str(path))
    assert not path.exists()


def test_import_pyfunc_stays_light():
    """`import slipway.pyfunc` must not pull in ML libraries or mlflow (they cost seconds)."""
    code = (
        "import sys, slipway, slipway.pyfunc, slipway.sklearn, slipway.xgboost, slipway.onnx;"
        "heavy = [m for m in ('sklearn', 'skops', 'xgboost', 'lightgbm', 'onnxruntime', 'torch',"
        " 'mlflow', 'scipy', 'cloudpickle') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
