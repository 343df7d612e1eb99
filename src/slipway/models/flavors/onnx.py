"""The ONNX flavor: a `model.onnx` graph run with onnxruntime.

Layout (MLflow's `onnx` flavor)::

    model.onnx
    MLmodel: flavors.onnx = {data, onnx_version, providers, onnx_session_options, code}
             flavors.python_function.loader_module = mlflow.onnx

An ONNX file is a computation graph, not code, so it loads without opt-in. Saving accepts an
`onnx.ModelProto`, the serialized bytes, or a path to a `.onnx` file; loading needs only
onnxruntime. Predictions follow MLflow's pyfunc convention so both tools return the same:
a DataFrame in gives a DataFrame of outputs (one column per output); an array or a dict of
arrays in gives a dict of output name -> array. float64 input is cast to float32 where the
graph expects float, since JSON carries every number as a double.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from slipway.errors import InvalidParameterValue
from slipway.models.code import add_code_to_sys_path, copy_code_paths
from slipway.models.environment import installed_version
from slipway.models.format import Model, resolve_inside
from slipway.models.optional import import_optional
from slipway.models.pyfunc import resolve_model_dir
from slipway.models.saving import finish_model_dir, new_model_dir

logger = logging.getLogger(__name__)

FLAVOR_NAME = "onnx"
DATA_FILE = "model.onnx"
DEFAULT_PROVIDERS = ["CUDAExecutionProvider", "CPUExecutionProvider"]


class OnnxPredictor:
    """An onnxruntime session with MLflow's input and output conventions."""

    def __init__(self, session: Any) -> None:
        self.raw_model = session
        self.inputs = [(i.name, i.type) for i in session.get_inputs()]
        self.output_names = [o.name for o in session.get_outputs()]

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        import pandas as pd

        if isinstance(data, dict):
            feeds = {k: np.asarray(v) for k, v in data.items()}
        elif isinstance(data, np.ndarray):
            if len(self.inputs) != 1:
                raise InvalidParameterValue(
                    f"This ONNX model has {len(self.inputs)} inputs "
                    f"{[n for n, _ in self.inputs]}: pass a dict or a DataFrame, not one array"
                )
            feeds = {self.inputs[0][0]: data}
        elif isinstance(data, pd.DataFrame):
            if len(self.inputs) > 1:
                feeds = {name: data[name].to_numpy() for name, _ in self.inputs}
            else:
                feeds = {self.inputs[0][0]: data.to_numpy()}
        else:
            raise InvalidParameterValue(
                f"ONNX models take a DataFrame, a numpy array or a dict, got {type(data).__name__}"
            )
        for name, kind in self.inputs:
            feed = feeds.get(name)
            if kind == "tensor(float)" and feed is not None and feed.dtype == np.float64:
                feeds[name] = feed.astype(np.float32)
        outputs = self.raw_model.run(self.output_names, feeds)
        if isinstance(data, pd.DataFrame):
            return pd.DataFrame(
                {
                    n: np.asarray(o).reshape(-1)
                    for n, o in zip(self.output_names, outputs, strict=True)
                }
            )
        return dict(zip(self.output_names, outputs, strict=True))


def _model_bytes(onnx_model: Any) -> bytes:
    if isinstance(onnx_model, (bytes, bytearray)):
        return bytes(onnx_model)
    if isinstance(onnx_model, (str, os.PathLike)):
        return Path(onnx_model).read_bytes()
    if hasattr(onnx_model, "SerializeToString"):
        return onnx_model.SerializeToString()
    raise InvalidParameterValue(
        f"Expected an onnx.ModelProto, its bytes, or a path to a .onnx file; got "
        f"{type(onnx_model).__name__}"
    )


def save_model(
    onnx_model: Any,
    path: str,
    *,
    providers: list[str] | None = None,
    onnx_session_options: dict[str, Any] | None = None,
    signature: Any = None,
    input_example: Any = None,
    code_paths: Iterable[str] | None = None,
    pip_requirements: Iterable[str] | None = None,
    extra_pip_requirements: Iterable[str] | None = None,
    metadata: dict[str, Any] | None = None,
) -> Model:
    """Save an ONNX model at `path` (the signature is inferred from `input_example`)."""
    data = _model_bytes(onnx_model)
    with new_model_dir(path) as model_dir:
        code = copy_code_paths(code_paths, model_dir)
        (model_dir / DATA_FILE).write_bytes(data)
        model = Model.new()
        model.add_flavor(
            FLAVOR_NAME,
            onnx_version=installed_version("onnx"),
            data=DATA_FILE,
            providers=list(providers or DEFAULT_PROVIDERS),
            onnx_session_options=onnx_session_options,
            code=code,
        )
        predictor = None
        if input_example is not None and signature is None:
            predictor = OnnxPredictor(_session(model_dir / DATA_FILE, model.flavors[FLAVOR_NAME]))
        return finish_model_dir(
            model_dir,
            model,
            predictor=predictor,
            pyfunc={"loader_module": "mlflow.onnx", "data": DATA_FILE},
            flavor_packages=["onnx", "onnxruntime"],
            input_example=input_example,
            signature=signature,
            code=code,
            pip_requirements=pip_requirements,
            extra_pip_requirements=extra_pip_requirements,
            metadata=metadata,
        )


def _session(path: Path, conf: dict[str, Any]) -> Any:
    ort = import_optional("onnxruntime", "Loading this ONNX model")
    declared = conf.get("providers") or DEFAULT_PROVIDERS
    if isinstance(declared, str):
        declared = [declared]
    declared = [tuple(p) if isinstance(p, list) else p for p in declared]
    available = set(ort.get_available_providers())
    usable = [p for p in declared if (p[0] if isinstance(p, tuple) else p) in available]
    options = ort.SessionOptions()
    session_conf = conf.get("onnx_session_options") or {}
    if n := session_conf.get("inter_op_num_threads"):
        options.inter_op_num_threads = int(n)
    if n := session_conf.get("intra_op_num_threads"):
        options.intra_op_num_threads = int(n)
    if mode := session_conf.get("execution_mode"):
        parallel = str(mode).upper() == "PARALLEL"
        options.execution_mode = (
            ort.ExecutionMode.ORT_PARALLEL if parallel else ort.ExecutionMode.ORT_SEQUENTIAL
        )
    try:
        return ort.InferenceSession(
            str(path), sess_options=options, providers=usable or ["CPUExecutionProvider"]
        )
    except Exception as exc:
        raise InvalidParameterValue(f"onnxruntime could not load '{path}': {exc}") from exc


def load_model(model_uri: str, allow_pickle: bool = False, dst_path: str | None = None) -> Any:
    """Load the ONNX graph as an `onnx.ModelProto` (needs the onnx package)."""
    model_dir = resolve_model_dir(model_uri, dst_path)
    model = Model.load(model_dir)
    conf = model.flavors.get(FLAVOR_NAME)
    if conf is None:
        raise InvalidParameterValue(
            f"The model at '{model_uri}' has no {FLAVOR_NAME} flavor (it has "
            f"{sorted(model.flavors)}); load it with slipway.pyfunc.load_model instead."
        )
    add_code_to_sys_path(model_dir, conf.get("code"))
    onnx = import_optional("onnx", "Loading an ONNX graph")
    return onnx.load(str(resolve_inside(model_dir, conf.get("data"), "the ONNX model file")))


def load_pyfunc(model_dir: Path, model: Model, allow_pickle: bool = False) -> OnnxPredictor:
    conf = model.flavors.get(FLAVOR_NAME) or {"data": (model.pyfunc_conf or {}).get("data")}
    path = resolve_inside(model_dir, conf.get("data"), "the ONNX model file")
    if not path.is_file():
        raise InvalidParameterValue(f"The model file '{path}' named in the MLmodel file is missing")
    return OnnxPredictor(_session(path, conf))


__all__ = ["FLAVOR_NAME", "OnnxPredictor", "load_model", "load_pyfunc", "save_model"]
