"""The XGBoost flavor: boosters and scikit-learn-API models in XGBoost's own file format.

Layout (MLflow's `xgboost` flavor)::

    model.ubj                    (UBJSON, default; or model.json)
    MLmodel: flavors.xgboost = {data, model_class, model_format, xgb_version, code}
             flavors.python_function.loader_module = mlflow.xgboost

The native format holds trees and parameters only, no code, so it loads without any
opt-in. `model_class` says which class to rebuild (`xgboost.sklearn.XGBClassifier`,
`xgboost.core.Booster`, ...); we only ever instantiate XGBoost's own classes.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from slipway.errors import InvalidParameterValue
from slipway.models.code import add_code_to_sys_path, copy_code_paths
from slipway.models.format import Model, resolve_inside
from slipway.models.optional import import_optional
from slipway.models.pyfunc import resolve_model_dir
from slipway.models.saving import finish_model_dir, new_model_dir

FLAVOR_NAME = "xgboost"
MODEL_FORMATS = ("ubj", "json")


class XGBoostPredictor:
    """Runs a booster on a DMatrix, or a scikit-learn-API model on the data as given."""

    def __init__(self, model: Any) -> None:
        self.raw_model = model

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        xgb = import_optional("xgboost", "Predicting with this model")
        params = dict(params or {})
        if isinstance(self.raw_model, xgb.Booster):
            return self.raw_model.predict(xgb.DMatrix(data), validate_features=True, **params)
        return self.raw_model.predict(data, validate_features=True, **params)


def _class_path(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def save_model(
    xgb_model: Any,
    path: str,
    *,
    model_format: str = "ubj",
    signature: Any = None,
    input_example: Any = None,
    code_paths: Iterable[str] | None = None,
    pip_requirements: Iterable[str] | None = None,
    extra_pip_requirements: Iterable[str] | None = None,
    metadata: dict[str, Any] | None = None,
) -> Model:
    """Save an XGBoost Booster or XGBModel (XGBClassifier, XGBRegressor, ...) at `path`."""
    if model_format not in MODEL_FORMATS:
        raise InvalidParameterValue(
            f"Unknown model_format {model_format!r}; use one of {list(MODEL_FORMATS)}"
        )
    xgb = import_optional("xgboost", "Saving an XGBoost model")
    if not isinstance(xgb_model, (xgb.Booster, xgb.XGBModel)):
        raise InvalidParameterValue(
            f"Expected an xgboost Booster or XGBModel, got {type(xgb_model).__name__}"
        )
    with new_model_dir(path) as model_dir:
        code = copy_code_paths(code_paths, model_dir)
        data_file = f"model.{model_format}"
        xgb_model.save_model(str(model_dir / data_file))
        model = Model.new()
        model.add_flavor(
            FLAVOR_NAME,
            xgb_version=xgb.__version__,
            data=data_file,
            model_class=_class_path(xgb_model),
            model_format=model_format,
            code=code,
        )
        return finish_model_dir(
            model_dir,
            model,
            predictor=XGBoostPredictor(xgb_model),
            pyfunc={"loader_module": "mlflow.xgboost", "data": data_file},
            flavor_packages=["xgboost"],
            input_example=input_example,
            signature=signature,
            code=code,
            pip_requirements=pip_requirements,
            extra_pip_requirements=extra_pip_requirements,
            metadata=metadata,
        )


def _xgboost_class(class_path: str, model_dir: Path) -> type:
    """Resolve `model_class`, refusing anything that is not an XGBoost model class."""
    xgb = import_optional("xgboost", "Loading this XGBoost model")
    module_name, _, name = class_path.rpartition(".")
    cls = None
    if module_name == "xgboost" or module_name.startswith("xgboost."):
        cls = getattr(importlib.import_module(module_name), name, None)
    if not (isinstance(cls, type) and issubclass(cls, (xgb.Booster, xgb.XGBModel))):
        raise InvalidParameterValue(
            f"The XGBoost model at '{model_dir}' names model_class {class_path!r}, which is "
            "not an XGBoost model class; refusing to load it."
        )
    return cls


def load_native(model_dir: Path, conf: dict[str, Any]) -> Any:
    """Rebuild the model described by an `xgboost` flavor entry."""
    cls = _xgboost_class(conf.get("model_class") or "xgboost.core.Booster", model_dir)
    path = resolve_inside(model_dir, conf.get("data"), "the XGBoost model file")
    if not path.is_file():
        raise InvalidParameterValue(f"The model file '{path}' named in the MLmodel file is missing")
    model = cls()
    try:
        model.load_model(str(path))
    except Exception as exc:
        raise InvalidParameterValue(
            f"Could not read the XGBoost model file '{path}': {exc}"
        ) from exc
    return model


def load_model(model_uri: str, allow_pickle: bool = False, dst_path: str | None = None) -> Any:
    """Load the XGBoost model (Booster or XGBModel) of a saved model directory."""
    model_dir = resolve_model_dir(model_uri, dst_path)
    model = Model.load(model_dir)
    conf = model.flavors.get(FLAVOR_NAME)
    if conf is None:
        raise InvalidParameterValue(
            f"The model at '{model_uri}' has no {FLAVOR_NAME} flavor (it has "
            f"{sorted(model.flavors)}); load it with slipway.pyfunc.load_model instead."
        )
    add_code_to_sys_path(model_dir, conf.get("code"))
    return load_native(model_dir, conf)


def load_pyfunc(model_dir: Path, model: Model, allow_pickle: bool = False) -> XGBoostPredictor:
    conf = model.flavors.get(FLAVOR_NAME)
    if conf is None:
        pyfunc = model.pyfunc_conf or {}
        conf = {"data": pyfunc.get("data"), "model_class": "xgboost.core.Booster"}
    return XGBoostPredictor(load_native(Path(model_dir), conf))


__all__ = [
    "FLAVOR_NAME",
    "XGBoostPredictor",
    "load_model",
    "load_pyfunc",
    "save_model",
]
