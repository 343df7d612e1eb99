"""Load any saved model as one generic predictor: `load_model(uri).predict(data)`.

The `python_function` entry of the MLmodel file names a loader module. slipway never imports
the module a file names; it maps the names it knows (MLflow's and its own) to its own flavor
loaders, so a model directory cannot make us import arbitrary code:

    mlflow.sklearn / slipway.models.flavors.sklearn        -> flavors/sklearn.py
    mlflow.xgboost, mlflow.lightgbm, mlflow.onnx, mlflow.pytorch -> flavors/<name>.py
    mlflow.pyfunc.model / slipway.models.flavors.python_model -> flavors/python_model.py

Each flavor module provides `load_pyfunc(model_dir, model, allow_pickle) -> predictor`.
Pickled formats load only with `allow_pickle=True` (see `slipway.errors.UnsafeModelFormat`).

`PyFuncModel.predict` enforces the signature first (`slipway.models.signature`): every
problem with the input is reported at once in a `SchemaEnforcementError`.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from slipway.errors import InvalidParameterValue
from slipway.models.code import add_code_to_sys_path
from slipway.models.format import MLMODEL_FILE_NAME, PYFUNC_FLAVOR, Model
from slipway.models.resolve import local_model_path
from slipway.models.signature import ModelSignature, enforce_input, enforce_params

_FLAVORS = "slipway.models.flavors."

# loader_module written in MLmodel files -> our module that loads it
LOADERS: dict[str, str] = {
    "mlflow.sklearn": _FLAVORS + "sklearn",
    "mlflow.xgboost": _FLAVORS + "xgboost",
    "mlflow.lightgbm": _FLAVORS + "lightgbm",
    "mlflow.onnx": _FLAVORS + "onnx",
    "mlflow.pytorch": _FLAVORS + "pytorch",
    "mlflow.pyfunc.model": _FLAVORS + "python_model",
}
LOADERS.update({m: m for m in list(LOADERS.values())})


class PyFuncModel:
    """A loaded model behind one interface: `predict(data, params=None)`."""

    def __init__(self, metadata: Model, impl: Any, model_dir: str, loader_module: str) -> None:
        self.metadata = metadata
        self.model_dir = model_dir
        self.loader_module = loader_module
        self._impl = impl
        self._input_example: Any = None
        self._input_example_loaded = False

    @property
    def signature(self) -> ModelSignature | None:
        return self.metadata.signature

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        """Check `data` (and `params`) against the signature, then run the model on it."""
        signature = self.metadata.signature
        if signature is not None and signature.inputs is not None:
            data = enforce_input(data, signature.inputs)
        checked = enforce_params(params, signature.params if signature else None)
        return self._impl.predict(data, checked or None)

    def get_raw_model(self) -> Any:
        """The underlying native model (a scikit-learn estimator, an XGBoost booster, ...)."""
        return self._impl.raw_model

    def unwrap_python_model(self) -> Any:
        """The PythonModel instance of a custom pyfunc model."""
        from slipway.models.flavors.python_model import PythonModelPredictor

        if not isinstance(self._impl, PythonModelPredictor):
            raise InvalidParameterValue(
                f"This model was not saved from a PythonModel (its loader is "
                f"{self.loader_module}); use get_raw_model() to get the native model."
            )
        return self._impl.python_model

    @property
    def input_example(self) -> Any:
        """The input example saved with the model, or None."""
        if not self._input_example_loaded:
            from slipway.models.example import load_input_example

            self._input_example = load_input_example(self.model_dir, self.metadata)
            self._input_example_loaded = True
        return self._input_example

    def __repr__(self) -> str:
        flavors = ", ".join(f for f in self.metadata.flavors if f != PYFUNC_FLAVOR)
        return f"PyFuncModel(flavor={flavors or PYFUNC_FLAVOR}, path={self.model_dir!r})"


def resolve_model_dir(model_uri: str, dst_path: str | None = None) -> Path:
    """Local model directory for a local path or `file://` URI (a path to the MLmodel file
    means its directory); copied into `dst_path` when given."""
    local = Path(local_model_path(str(model_uri), dst_path))
    if local.is_file() and local.name == MLMODEL_FILE_NAME:
        local = local.parent
    return local


def load_model(
    model_uri: str, allow_pickle: bool = False, dst_path: str | None = None
) -> PyFuncModel:
    """Load a model directory (saved by slipway or MLflow) as a PyFuncModel.

    `model_uri` is a local path or `file://` URI; `slipway.pyfunc.load_model` also takes
    the URIs the tracking client resolves (`runs:/<run_id>/model`, `models:/<name>@<alias>`).
    `allow_pickle=True` is required to load pickle-based models; only pass it for models
    from a source you trust.
    """
    model_dir = resolve_model_dir(model_uri, dst_path)
    model = Model.load(model_dir)
    conf = model.pyfunc_conf
    if conf is None:
        raise InvalidParameterValue(
            f"The model at '{model_uri}' has no {PYFUNC_FLAVOR} flavor, so it cannot be loaded "
            f"as a generic predictor. Its flavors: {sorted(model.flavors)}; load it with the "
            "matching slipway.<flavor>.load_model."
        )
    loader_module = conf.get("loader_module")
    module_name = LOADERS.get(str(loader_module))
    if module_name is None:
        raise InvalidParameterValue(
            f"Cannot load the model at '{model_uri}': its loader module {loader_module!r} is "
            f"not one slipway supports. Supported: {sorted(LOADERS)}."
        )
    add_code_to_sys_path(model_dir, conf.get("code"))
    flavor = importlib.import_module(module_name)
    impl = flavor.load_pyfunc(model_dir, model, allow_pickle=allow_pickle)
    return PyFuncModel(model, impl, str(model_dir), str(loader_module))


__all__ = ["LOADERS", "PyFuncModel", "load_model", "resolve_model_dir"]
