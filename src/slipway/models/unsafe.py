"""The opt-in gate for pickle-based model files.

Unpickling runs whatever code the file's author put in it: a pickled model from an
untrusted source can take over the machine that loads it. slipway therefore saves in safe
formats by default (skops, native XGBoost/LightGBM, ONNX, TorchScript) and loads a pickled
model only when the caller says `allow_pickle=True`. Otherwise `UnsafeModelFormat` explains
the risk and how to opt in.

MLflow calls our loader modules without that argument; there we honour MLflow's own switch,
the `MLFLOW_ALLOW_PICKLE_DESERIALIZATION=true` environment variable.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

from slipway.errors import UnsafeModelFormat
from slipway.models.optional import import_optional

MLFLOW_PICKLE_ENV = "MLFLOW_ALLOW_PICKLE_DESERIALIZATION"
PICKLE_FORMATS = ("pickle", "cloudpickle")


def mlflow_allows_pickle() -> bool:
    """Whether the MLflow environment switch allows pickle deserialization."""
    return os.environ.get(MLFLOW_PICKLE_ENV, "").strip().lower() == "true"


_SAFE_FORMATS_HINT = (
    "re-save it in a safe format (skops for scikit-learn, native for XGBoost/LightGBM, ONNX)"
)


def refuse_pickle(
    model_dir: str | Path, what: str, allow_pickle: bool, safer: str = _SAFE_FORMATS_HINT
) -> None:
    """Raise UnsafeModelFormat unless the caller opted in to loading pickled bytes.

    `safer` completes "Better: ..." with the pickle-free way to save this kind of model.
    """
    if allow_pickle:
        return
    raise UnsafeModelFormat(
        f"The model at '{model_dir}' is pickled ({what}). Loading a pickle runs any code its "
        "author put in it, so a model from an untrusted source could take over this machine. "
        "If you trust where this model came from, load it with allow_pickle=True, e.g. "
        f"slipway.pyfunc.load_model(uri, allow_pickle=True). Better: {safer}."
    )


def load_pickle_file(path: Path, serialization_format: str) -> Any:
    """Unpickle a file with pickle or cloudpickle (callers must have passed the gate)."""
    with open(path, "rb") as f:
        if serialization_format == "cloudpickle":
            cloudpickle = import_optional("cloudpickle", "Loading this cloudpickled model")
            return cloudpickle.load(f)
        return pickle.load(f)


__all__ = [
    "MLFLOW_PICKLE_ENV",
    "PICKLE_FORMATS",
    "load_pickle_file",
    "mlflow_allows_pickle",
    "refuse_pickle",
]
