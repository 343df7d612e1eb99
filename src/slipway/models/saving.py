"""The steps every flavor's `save_model` shares, so each flavor only writes its own files.

A flavor opens the directory with `new_model_dir`, writes its serialized model and its
flavor entry, then calls `finish_model_dir`, which adds the input example, the signature
(inferred from the example when not given), the `python_function` entry, the environment
files and the MLmodel file. A save that fails leaves no half-written directory behind.
"""

from __future__ import annotations

import logging
import os
import platform
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from copy import deepcopy
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from slipway.errors import InvalidParameterValue, ResourceAlreadyExists
from slipway.models.environment import resolve_requirements, write_environment
from slipway.models.example import save_input_example
from slipway.models.format import PYFUNC_FLAVOR, Model
from slipway.models.signature import ModelSignature, infer_schema

logger = logging.getLogger(__name__)


class Predictor(Protocol):
    """What a flavor's pyfunc loader returns and what signature inference calls."""

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any: ...


@contextmanager
def new_model_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Create (or take an empty) directory for a new model; clean it up if saving fails."""
    target = Path(path)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ResourceAlreadyExists(
            f"Cannot save the model to '{path}': it already exists and is not empty. "
            "Choose a new path or remove the old one."
        )
    created = not target.exists()
    target.mkdir(parents=True, exist_ok=True)
    try:
        yield target
    except BaseException:
        if created:
            shutil.rmtree(target, ignore_errors=True)
        else:
            for child in target.iterdir():
                if child.is_dir():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)
        raise


def coerce_signature(signature: Any) -> ModelSignature | None:
    """Accept our ModelSignature, MLflow's (anything with the same `to_dict`), or None."""
    if signature is None or isinstance(signature, ModelSignature):
        return signature
    if hasattr(signature, "to_dict"):
        return ModelSignature.from_dict(signature.to_dict())
    raise InvalidParameterValue(
        f"signature must be a ModelSignature (see slipway.models.infer_signature), "
        f"got {type(signature).__name__}"
    )


def infer_signature_from_example(example: Any, predictor: Predictor) -> ModelSignature | None:
    """Infer inputs from the example and outputs from the model's prediction on it.

    Never fails a save: a model that cannot predict on its example gets an input-only
    signature, and an example we cannot read gets none (both with a warning).
    """
    import pandas as pd

    try:
        inputs = infer_schema(example)
    except Exception as exc:
        logger.warning("Could not infer a signature from the input example: %s", exc)
        return None
    try:
        prediction = predictor.predict(deepcopy(example), None)
        # Row-wise predictions for tabular input read as one column, as MLflow infers them.
        if (
            not inputs.is_tensor_spec()
            and isinstance(prediction, np.ndarray)
            and prediction.ndim == 1
        ):
            prediction = pd.Series(prediction)
        outputs = infer_schema(prediction)
    except Exception as exc:
        logger.warning("Could not infer the output schema from the input example: %s", exc)
        outputs = None
    return ModelSignature(inputs, outputs)


def finish_model_dir(
    model_dir: Path,
    model: Model,
    *,
    predictor: Predictor | None,
    pyfunc: dict[str, Any] | None,
    flavor_packages: Iterable[str],
    input_example: Any = None,
    signature: Any = None,
    code: str | None = None,
    pip_requirements: Iterable[str] | None = None,
    extra_pip_requirements: Iterable[str] | None = None,
    metadata: dict[str, Any] | None = None,
) -> Model:
    """Write example, signature, pyfunc flavor, environment and MLmodel; return the Model.

    `signature=False` saves no signature even when an example is given. `pyfunc` is the
    `python_function` entry (loader_module and its keys); None makes a model that loads only
    with its own flavor.
    """
    if input_example is not None:
        model.saved_input_example_info = save_input_example(model_dir, input_example)
    if signature is False:
        model.signature = None
    elif signature is not None:
        model.signature = coerce_signature(signature)
    elif input_example is not None and predictor is not None:
        model.signature = infer_signature_from_example(input_example, predictor)
    if metadata is not None:
        model.metadata = dict(metadata)

    requirements = resolve_requirements(flavor_packages, pip_requirements, extra_pip_requirements)
    env = write_environment(model_dir, requirements)
    if pyfunc is not None:
        conf = dict(pyfunc)
        conf["python_version"] = platform.python_version()
        conf["env"] = env
        if code:
            conf["code"] = code
        model.flavors = {PYFUNC_FLAVOR: conf, **model.flavors}
    model.model_size_bytes = sum(p.stat().st_size for p in model_dir.rglob("*") if p.is_file())
    model.save(model_dir)
    return model


__all__ = [
    "Predictor",
    "coerce_signature",
    "finish_model_dir",
    "infer_signature_from_example",
    "new_model_dir",
]
