"""The PyTorch flavor: TorchScript or a state_dict by default, a pickled module on request.

Layout (MLflow's `pytorch` flavor: a `data/` directory)::

    data/model.pth              TorchScript archive (serialization_format: torchscript)
                                or a pickled nn.Module (serialization_format: pickle)
    data/state_dict.pth         tensors only (serialization_format: state_dict)
    data/pickle_module_info.txt "pickle", which MLflow's loader reads
    MLmodel: flavors.pytorch = {model_data: data, pytorch_version, serialization_format,
                                code, [model_class, model_init_kwargs]}

What loads without opt-in, and why:

- **torchscript**: `torch.jit.load` runs the TorchScript interpreter on a serialized graph;
  no Python object is unpickled. MLflow loads it too (`loader_module: mlflow.pytorch`).
- **state_dict**: only tensors, read with `torch.load(weights_only=True)`. The module is
  rebuilt as `model_class(**model_init_kwargs)` from your code (`code_paths` or an installed
  package). MLflow cannot rebuild it, so it uses `loader_module:
  slipway.models.flavors.pytorch`.
- **pickle** (and MLflow's default `model.pth`): a pickled module runs arbitrary code when
  loaded, so it needs `allow_pickle=True`.

torch is an optional extra (`slipway[pytorch]`); nothing here imports it until used.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from slipway.errors import InvalidParameterValue
from slipway.models.code import add_code_to_sys_path, copy_code_paths
from slipway.models.flavors.python_model import import_class
from slipway.models.format import Model, resolve_inside
from slipway.models.optional import import_optional
from slipway.models.pyfunc import resolve_model_dir
from slipway.models.saving import finish_model_dir, new_model_dir
from slipway.models.unsafe import mlflow_allows_pickle, refuse_pickle

FLAVOR_NAME = "pytorch"
DATA_DIR = "data"
SERIALIZATION_FORMATS = ("torchscript", "state_dict", "pickle")
_MODEL_FILE = "model.pth"
_STATE_DICT_FILE = "state_dict.pth"
_PICKLE_MODULE_FILE = "pickle_module_info.txt"


class PyTorchPredictor:
    """Runs the module on a float32 tensor made from the input, without gradients."""

    def __init__(self, module: Any) -> None:
        self.raw_model = module

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        import pandas as pd

        torch = import_optional("torch", "Predicting with this PyTorch model")
        if isinstance(data, pd.DataFrame):
            data = data.to_numpy(dtype=np.float32)
        if not isinstance(data, np.ndarray):
            raise InvalidParameterValue(
                f"PyTorch models take a DataFrame or a numpy array, got {type(data).__name__}"
            )
        with torch.no_grad():
            out = self.raw_model(torch.from_numpy(np.ascontiguousarray(data)), **(params or {}))
        if isinstance(out, torch.Tensor):
            return out.detach().cpu().numpy()
        return out


def save_model(
    pytorch_model: Any,
    path: str,
    *,
    serialization_format: str | None = None,
    model_init_kwargs: dict[str, Any] | None = None,
    signature: Any = None,
    input_example: Any = None,
    code_paths: Iterable[str] | None = None,
    pip_requirements: Iterable[str] | None = None,
    extra_pip_requirements: Iterable[str] | None = None,
    metadata: dict[str, Any] | None = None,
) -> Model:
    """Save an `nn.Module` or TorchScript module at `path`.

    By default a TorchScript module is saved as TorchScript and any other module as its
    state_dict, rebuilt at load as `type(module)(**model_init_kwargs)` (so its class must
    live in an importable module, e.g. one passed in `code_paths`).
    """
    torch = import_optional("torch", "Saving a PyTorch model")
    if not isinstance(pytorch_model, torch.nn.Module):
        raise InvalidParameterValue(
            f"Expected a torch.nn.Module, got {type(pytorch_model).__name__}"
        )
    is_script = isinstance(pytorch_model, torch.jit.ScriptModule)
    fmt = serialization_format or ("torchscript" if is_script else "state_dict")
    if fmt not in SERIALIZATION_FORMATS:
        raise InvalidParameterValue(
            f"Unknown serialization_format {fmt!r}; use one of {list(SERIALIZATION_FORMATS)}"
        )
    if fmt == "torchscript" and not is_script:
        pytorch_model = torch.jit.script(pytorch_model)
    conf: dict[str, Any] = {
        "model_data": DATA_DIR,
        "pytorch_version": str(torch.__version__),
        "serialization_format": fmt,
    }
    loader = "mlflow.pytorch"
    if fmt == "state_dict":
        cls = type(pytorch_model)
        if cls.__module__ == "__main__" or "<locals>" in cls.__qualname__:
            raise InvalidParameterValue(
                f"{cls.__qualname__} is defined in __main__ or inside a function, so its "
                "state_dict could not be loaded back. Define it in a module passed in "
                "code_paths, or save with serialization_format='torchscript'."
            )
        conf["model_class"] = f"{cls.__module__}:{cls.__qualname__}"
        conf["model_init_kwargs"] = json.loads(json.dumps(model_init_kwargs or {}))
        loader = "slipway.models.flavors.pytorch"

    with new_model_dir(path) as model_dir:
        code = copy_code_paths(code_paths, model_dir)
        data_dir = model_dir / DATA_DIR
        data_dir.mkdir()
        if fmt == "state_dict":
            torch.save(pytorch_model.state_dict(), data_dir / _STATE_DICT_FILE)
        else:
            (data_dir / _PICKLE_MODULE_FILE).write_text("pickle")
            if fmt == "torchscript":
                torch.jit.save(pytorch_model, str(data_dir / _MODEL_FILE))
            else:
                torch.save(pytorch_model, data_dir / _MODEL_FILE)
        conf["code"] = code
        model = Model.new()
        model.add_flavor(FLAVOR_NAME, **conf)
        pyfunc = {"loader_module": loader, "data": DATA_DIR}
        if loader == "mlflow.pytorch":
            pyfunc["pickle_module_name"] = "pickle"
        return finish_model_dir(
            model_dir,
            model,
            predictor=PyTorchPredictor(pytorch_model),
            pyfunc=pyfunc,
            flavor_packages=["torch"] + (["slipway"] if fmt == "state_dict" else []),
            input_example=input_example,
            signature=signature,
            code=code,
            pip_requirements=pip_requirements,
            extra_pip_requirements=extra_pip_requirements,
            metadata=metadata,
        )


def _is_torchscript(path: Path) -> bool:
    """TorchScript archives are zips holding the compiled code under `<name>/code/`."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as zf:
        return any("/code/" in name for name in zf.namelist())


def load_module(model_dir: Path, conf: dict[str, Any], allow_pickle: bool) -> Any:
    """Rebuild the module described by a `pytorch` flavor entry."""
    torch = import_optional("torch", "Loading this PyTorch model")
    data_dir = resolve_inside(model_dir, conf.get("model_data") or DATA_DIR, "the PyTorch data")
    fmt = conf.get("serialization_format")
    if fmt == "state_dict":
        cls = import_class(str(conf.get("model_class")))
        module = cls(**(conf.get("model_init_kwargs") or {}))
        state = torch.load(data_dir / _STATE_DICT_FILE, map_location="cpu", weights_only=True)
        module.load_state_dict(state)
        return module.eval()
    model_file = data_dir / _MODEL_FILE
    if model_file.is_file() and (fmt == "torchscript" or _is_torchscript(model_file)):
        return torch.jit.load(str(model_file), map_location="cpu").eval()
    if model_file.is_file():
        refuse_pickle(
            model_dir,
            "a PyTorch module saved with torch.save",
            allow_pickle,
            safer="re-save it as TorchScript or a state_dict (slipway.pytorch.save_model)",
        )
        return torch.load(model_file, map_location="cpu", weights_only=False).eval()
    if (data_dir / "model.pt2").is_file():
        refuse_pickle(
            model_dir, "a torch.export program, which may hold pickled data", allow_pickle
        )
        return torch.export.load(str(data_dir / "model.pt2")).module()
    raise InvalidParameterValue(
        f"The PyTorch model in '{model_dir}' has no model file in '{data_dir}'"
    )


def load_model(model_uri: str, allow_pickle: bool = False, dst_path: str | None = None) -> Any:
    """Load the PyTorch module of a saved model directory."""
    model_dir = resolve_model_dir(model_uri, dst_path)
    model = Model.load(model_dir)
    conf = model.flavors.get(FLAVOR_NAME)
    if conf is None:
        raise InvalidParameterValue(
            f"The model at '{model_uri}' has no {FLAVOR_NAME} flavor (it has "
            f"{sorted(model.flavors)}); load it with slipway.pyfunc.load_model instead."
        )
    add_code_to_sys_path(model_dir, conf.get("code"))
    return load_module(model_dir, conf, allow_pickle)


def load_pyfunc(model_dir: Path, model: Model, allow_pickle: bool = False) -> PyTorchPredictor:
    conf = model.flavors.get(FLAVOR_NAME) or {"model_data": (model.pyfunc_conf or {}).get("data")}
    return PyTorchPredictor(load_module(Path(model_dir), conf, allow_pickle))


def _load_pyfunc(path: str) -> PyTorchPredictor:
    """MLflow's entry point for state_dict models (`path` is the model's data directory)."""
    model_dir = Path(path).parent if Path(path).name == DATA_DIR else Path(path)
    return load_pyfunc(model_dir, Model.load(model_dir), allow_pickle=mlflow_allows_pickle())


__all__ = [
    "FLAVOR_NAME",
    "PyTorchPredictor",
    "load_model",
    "load_pyfunc",
    "save_model",
]
