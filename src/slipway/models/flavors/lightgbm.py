"""The LightGBM flavor: boosters in LightGBM's native text format, sklearn-API models via skops.

Layout (MLflow's `lightgbm` flavor)::

    model.lgb      a lightgbm.Booster, LightGBM's own text format (model_class
                   lightgbm.basic.Booster)
    model.skops    an LGBMClassifier / LGBMRegressor / LGBMRanker (serialization_format skops)
    MLmodel: flavors.lightgbm = {data, model_class, lgb_version, code,
                                 [serialization_format, skops_trusted_types]}
             flavors.python_function.loader_module = mlflow.lightgbm

Why two formats: the text format holds only the booster, so a classifier saved that way
would come back predicting probabilities, not labels, and MLflow cannot rebuild a
scikit-learn wrapper from it. skops keeps the wrapper (labels, classes, feature names) and
is what MLflow 3 writes for these models, so both tools read either file. Pass
`serialization_format="native"` to store just the booster of a wrapper as text.
Both formats load without opt-in; skops follows the trust policy of the sklearn flavor.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from slipway.errors import InvalidParameterValue
from slipway.models.code import add_code_to_sys_path, copy_code_paths
from slipway.models.flavors.sklearn import load_skops, write_estimator
from slipway.models.format import Model, resolve_inside
from slipway.models.optional import import_optional
from slipway.models.pyfunc import resolve_model_dir
from slipway.models.saving import finish_model_dir, new_model_dir
from slipway.models.unsafe import PICKLE_FORMATS, load_pickle_file, refuse_pickle

FLAVOR_NAME = "lightgbm"
BOOSTER_CLASS = "lightgbm.basic.Booster"
SERIALIZATION_FORMATS = ("skops", "native", "pickle", "cloudpickle")


class LightGBMPredictor:
    def __init__(self, model: Any) -> None:
        self.raw_model = model

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        return self.raw_model.predict(data)


def _class_path(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def save_model(
    lgb_model: Any,
    path: str,
    *,
    serialization_format: str = "skops",
    signature: Any = None,
    input_example: Any = None,
    code_paths: Iterable[str] | None = None,
    pip_requirements: Iterable[str] | None = None,
    extra_pip_requirements: Iterable[str] | None = None,
    metadata: dict[str, Any] | None = None,
) -> Model:
    """Save a LightGBM Booster (native text) or sklearn-API model (skops by default)."""
    if serialization_format not in SERIALIZATION_FORMATS:
        raise InvalidParameterValue(
            f"Unknown serialization_format {serialization_format!r}; "
            f"use one of {list(SERIALIZATION_FORMATS)}"
        )
    lgb = import_optional("lightgbm", "Saving a LightGBM model")
    if not isinstance(lgb_model, (lgb.Booster, lgb.LGBMModel)):
        raise InvalidParameterValue(
            f"Expected a lightgbm Booster or LGBMModel, got {type(lgb_model).__name__}"
        )
    if isinstance(lgb_model, lgb.LGBMModel) and serialization_format == "native":
        lgb_model = lgb_model.booster_
    with new_model_dir(path) as model_dir:
        code = copy_code_paths(code_paths, model_dir)
        model = Model.new()
        packages = ["lightgbm"]
        if isinstance(lgb_model, lgb.Booster):
            data_file = "model.lgb"
            lgb_model.save_model(str(model_dir / data_file))
            model.add_flavor(
                FLAVOR_NAME,
                lgb_version=lgb.__version__,
                data=data_file,
                model_class=BOOSTER_CLASS,
                code=code,
            )
        else:
            data_file = "model.skops" if serialization_format == "skops" else "model.pkl"
            trusted = write_estimator(lgb_model, model_dir / data_file, serialization_format)
            model.add_flavor(
                FLAVOR_NAME,
                lgb_version=lgb.__version__,
                data=data_file,
                model_class=_class_path(lgb_model),
                serialization_format=serialization_format,
                skops_trusted_types=trusted,
                code=code,
            )
            packages.append("scikit-learn")
            if serialization_format in ("skops", "cloudpickle"):
                packages.append(serialization_format)
        return finish_model_dir(
            model_dir,
            model,
            predictor=LightGBMPredictor(lgb_model),
            pyfunc={"loader_module": "mlflow.lightgbm", "data": data_file},
            flavor_packages=packages,
            input_example=input_example,
            signature=signature,
            code=code,
            pip_requirements=pip_requirements,
            extra_pip_requirements=extra_pip_requirements,
            metadata=metadata,
        )


def load_native(model_dir: Path, conf: dict[str, Any], allow_pickle: bool) -> Any:
    """Rebuild the model described by a `lightgbm` flavor entry."""
    path = resolve_inside(model_dir, conf.get("data"), "the LightGBM model file")
    if not path.is_file():
        raise InvalidParameterValue(f"The model file '{path}' named in the MLmodel file is missing")
    model_class = conf.get("model_class") or BOOSTER_CLASS
    if model_class == BOOSTER_CLASS:
        lgb = import_optional("lightgbm", "Loading this LightGBM model")
        try:
            return lgb.Booster(model_file=str(path))
        except Exception as exc:
            raise InvalidParameterValue(
                f"Could not read the LightGBM model file '{path}': {exc}"
            ) from exc
    import_optional("lightgbm", "Loading this LightGBM model")
    # MLflow < 3 pickled sklearn-API models without recording the format.
    fmt = conf.get("serialization_format") or "cloudpickle"
    if fmt == "skops":
        return load_skops(path, conf.get("skops_trusted_types"), allow_pickle, model_dir)
    if fmt in PICKLE_FORMATS:
        refuse_pickle(
            model_dir, f"LightGBM {model_class}, serialization_format: {fmt}", allow_pickle
        )
        return load_pickle_file(path, fmt)
    raise InvalidParameterValue(
        f"The LightGBM model at '{model_dir}' uses serialization_format {fmt!r}, which slipway "
        f"cannot read (known: {list(SERIALIZATION_FORMATS)})"
    )


def load_model(model_uri: str, allow_pickle: bool = False, dst_path: str | None = None) -> Any:
    """Load the LightGBM model (Booster or LGBMModel) of a saved model directory."""
    model_dir = resolve_model_dir(model_uri, dst_path)
    model = Model.load(model_dir)
    conf = model.flavors.get(FLAVOR_NAME)
    if conf is None:
        raise InvalidParameterValue(
            f"The model at '{model_uri}' has no {FLAVOR_NAME} flavor (it has "
            f"{sorted(model.flavors)}); load it with slipway.pyfunc.load_model instead."
        )
    add_code_to_sys_path(model_dir, conf.get("code"))
    return load_native(model_dir, conf, allow_pickle)


def load_pyfunc(model_dir: Path, model: Model, allow_pickle: bool = False) -> LightGBMPredictor:
    conf = model.flavors.get(FLAVOR_NAME)
    if conf is None:
        conf = {"data": (model.pyfunc_conf or {}).get("data"), "model_class": BOOSTER_CLASS}
    return LightGBMPredictor(load_native(Path(model_dir), conf, allow_pickle))


__all__ = [
    "FLAVOR_NAME",
    "LightGBMPredictor",
    "load_model",
    "load_pyfunc",
    "save_model",
]
