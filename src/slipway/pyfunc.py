"""Load any model as one predictor, and save custom Python models.

    model = slipway.pyfunc.load_model("models:/churn-classifier@champion")
    model.predict(X_new)

`load_model` reads models saved by slipway or MLflow. Pickled models load only with
`allow_pickle=True`. For custom models subclass `PythonModel` and use `save_model` /
`log_model` (see `slipway.models.flavors.python_model` for how they are stored).
"""

from slipway.models.flavors.python_model import (
    PythonModel,
    PythonModelContext,
    log_model,
    save_model,
)
from slipway.models.pyfunc import PyFuncModel, load_model
from slipway.models.signature import infer_signature

__all__ = [
    "PyFuncModel",
    "PythonModel",
    "PythonModelContext",
    "infer_signature",
    "load_model",
    "log_model",
    "save_model",
]
