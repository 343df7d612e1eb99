"""Load any model as one predictor, and save custom Python models.

    model = slipway.pyfunc.load_model("models:/churn-classifier@champion")
    model.predict(X_new)

`load_model` reads models saved by slipway or MLflow. Pickled models load only with
`allow_pickle=True`. For custom models subclass `PythonModel` and use `save_model` /
`log_model` (see `slipway.models.flavors.python_model` for how they are stored).
"""

from __future__ import annotations

from typing import Any

from slipway._shortcuts import make_load_model, make_log_model
from slipway.models import pyfunc as _pyfunc
from slipway.models.flavors import python_model as _flavor
from slipway.models.flavors.python_model import PythonModel, PythonModelContext
from slipway.models.format import Model
from slipway.models.pyfunc import PyFuncModel
from slipway.models.signature import infer_signature
from slipway.tracking import fluent


def save_model(path: str, python_model: Any, **kwargs: Any) -> Model:
    """Save a custom model to `path` (options: `slipway.models.flavors.python_model`).

    `artifacts` may name local paths or any URI the tracking client downloads
    (`runs:/…`, `models:/…`, `s3://…`).
    """
    return _flavor.save_model(path, python_model, download=fluent.download_model, **kwargs)


log_model = make_log_model(
    lambda obj, path, **kwargs: save_model(path, obj, **kwargs), "custom PythonModel"
)
load_model = make_load_model(_pyfunc.load_model, "model, as a generic predictor,")

__all__ = [
    "PyFuncModel",
    "PythonModel",
    "PythonModelContext",
    "infer_signature",
    "load_model",
    "log_model",
    "save_model",
]
