"""Custom models: subclass `PythonModel`, save it, load it anywhere as a pyfunc model.

    class Churn(slipway.pyfunc.PythonModel):
        def load_context(self, context):          # once, at load
            self.threshold = json.load(open(context.artifacts["config"]))["threshold"]

        def predict(self, context, model_input, params=None):
            return (model_input["score"] > self.threshold).astype(int)

How the model object is stored, and what that means when loading:

- **By reference (safe, recommended).** Pass the class, or its path as a string:
  `save_model(path, python_model=Churn, code_paths=["churn.py"])` or
  `python_model="churn:Churn"`. No object bytes are stored, only the class path
  (`python_model_class` in the MLmodel file). Loading imports the class (from the model's
  `code/` directory or your installed packages), calls it with no arguments, then calls
  `load_context(context)`: all state comes from `artifacts` and `model_config`. Nothing is
  unpickled, so no opt-in is needed. The code runs, though: it is plain source in the model
  directory that you can read before loading.
- **By value (pickle).** Pass an instance: `python_model=Churn()`. It is serialized with
  cloudpickle into `python_model.pkl` (MLflow's layout) so its attributes survive, but loading
  it unpickles bytes, which can run any code: it needs `allow_pickle=True`
  (`UnsafeModelFormat` otherwise). Needs the `cloudpickle` package (`slipway[cloudpickle]`).

Either way `artifacts` ({name: local path or URI}) are copied into the model's `artifacts/`
directory and `context.artifacts[name]` is their path at load time; `code_paths` are copied
into `code/` and put on `sys.path` at load.

MLflow loads these models through `loader_module: slipway.models.flavors.python_model`
(slipway must be installed where MLflow loads them); pickled ones then also need MLflow's
`MLFLOW_ALLOW_PICKLE_DESERIALIZATION=true`. slipway loads MLflow's own pickled PythonModels
(`loader_module: mlflow.pyfunc.model`) with `allow_pickle=True`, mlflow installed.
"""

from __future__ import annotations

import bz2
import gzip
import importlib
import inspect
import lzma
import shutil
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from slipway.errors import InvalidParameterValue
from slipway.models.code import copy_code_paths
from slipway.models.format import Model, resolve_inside
from slipway.models.optional import import_optional
from slipway.models.resolve import local_path_from_uri
from slipway.models.saving import finish_model_dir, new_model_dir
from slipway.models.unsafe import mlflow_allows_pickle, refuse_pickle

LOADER_MODULE = "slipway.models.flavors.python_model"
PICKLE_FILE = "python_model.pkl"
ARTIFACTS_DIR = "artifacts"
CONFIG_KEY = "config"  # MLflow's key for model_config in the python_function entry


class PythonModelContext:
    """What a PythonModel gets at load and predict time: artifact paths and config."""

    def __init__(
        self, artifacts: dict[str, str], model_config: dict[str, Any] | None = None
    ) -> None:
        self._artifacts = dict(artifacts)
        self._model_config = dict(model_config or {})

    @property
    def artifacts(self) -> dict[str, str]:
        """Artifact name -> absolute local path of its copy inside the model directory."""
        return self._artifacts

    @property
    def model_config(self) -> dict[str, Any]:
        """The `model_config` given at save time."""
        return self._model_config


class PythonModel:
    """Base class for custom models: override `predict`, and `load_context` if needed."""

    def load_context(self, context: PythonModelContext) -> None:
        """Load what predict needs from `context.artifacts`; called once, at load."""

    def predict(
        self, context: PythonModelContext, model_input: Any, params: dict[str, Any] | None = None
    ) -> Any:
        """Return predictions for `model_input` (already checked against the signature)."""
        raise NotImplementedError("PythonModel subclasses must implement predict()")


class PythonModelPredictor:
    """Calls a PythonModel's predict with (or without) the context, as its signature asks."""

    def __init__(self, python_model: Any, context: PythonModelContext) -> None:
        self.python_model = python_model
        self.context = context
        parameters = inspect.signature(python_model.predict).parameters
        positional = [
            p
            for p in parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "params"
        ]
        self._wants_context = "context" in parameters or len(positional) >= 2
        self._wants_params = "params" in parameters

    @property
    def raw_model(self) -> Any:
        return self.python_model

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        kwargs = {"params": params} if self._wants_params else {}
        if self._wants_context:
            return self.python_model.predict(self.context, data, **kwargs)
        return self.python_model.predict(data, **kwargs)


# --------------------------------------------------------------------------- saving


def _class_reference(python_model: Any) -> str | None:
    """'module:QualName' for a class or class-path string; None for an instance."""
    if isinstance(python_model, str):
        module, sep, qualname = python_model.rpartition(":")
        if not sep:
            module, _, qualname = python_model.rpartition(".")
        if not module or not qualname:
            raise InvalidParameterValue(
                f"python_model={python_model!r}: give a class path as 'module:ClassName'"
            )
        return f"{module}:{qualname}"
    if isinstance(python_model, type):
        if python_model.__module__ == "__main__" or "<locals>" in python_model.__qualname__:
            raise InvalidParameterValue(
                f"{python_model.__qualname__} is defined in __main__ or inside a function, so it "
                "cannot be imported when the model is loaded. Define it in a module and pass "
                "that module in code_paths, or pass an instance to save it with cloudpickle "
                "(loading then needs allow_pickle=True)."
            )
        return f"{python_model.__module__}:{python_model.__qualname__}"
    return None


def import_python_model_class(reference: str) -> type:
    """Import a PythonModel class: a class with a `predict` method."""
    cls = import_class(reference)
    if not callable(getattr(cls, "predict", None)):
        raise InvalidParameterValue(f"{reference!r} is not a class with a predict method.")
    return cls


def import_class(reference: str) -> type:
    """Import the class a 'module:QualName' reference names."""
    module_name, _, qualname = reference.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise InvalidParameterValue(
            f"Cannot import the PythonModel class {reference!r}: {exc}. Ship its module with "
            "the model (code_paths=[...]) or install it where the model is loaded."
        ) from exc
    if not isinstance(obj, type):
        raise InvalidParameterValue(f"{reference!r} is not a class.")
    return obj


def _copy_artifacts(
    artifacts: dict[str, str], model_dir: Path, download: Callable[[str], str] | None
) -> dict[str, dict[str, str]]:
    recorded = {}
    for name, uri in artifacts.items():
        if not name or "/" in name or "\\" in name or name in (".", ".."):
            raise InvalidParameterValue(f"Artifact name {name!r} must be a plain file name")
        source = local_path_from_uri(str(uri))
        if source is None:
            if download is None:
                raise InvalidParameterValue(
                    f"Artifact {name!r}: '{uri}' is not a local path; save with "
                    "slipway.pyfunc.save_model, which downloads runs:/, models:/ and remote "
                    "artifact URIs, or download it first."
                )
            source = Path(download(str(uri)))
        if not source.exists():
            raise InvalidParameterValue(f"Artifact {name!r}: '{uri}' does not exist")
        if source.is_dir():
            rel = f"{ARTIFACTS_DIR}/{name}"
            shutil.copytree(source, model_dir / rel)
        else:
            rel = f"{ARTIFACTS_DIR}/{name}/{source.name}"
            (model_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, model_dir / rel)
        recorded[name] = {"path": rel, "uri": str(uri)}
    return recorded


def _context(
    model_dir: Path, conf: dict[str, Any], model_config: dict[str, Any] | None
) -> PythonModelContext:
    artifacts = {
        name: str(resolve_inside(model_dir, info.get("path"), f"artifact {name!r}"))
        for name, info in (conf.get("artifacts") or {}).items()
    }
    config = conf.get(CONFIG_KEY) if model_config is None else model_config
    return PythonModelContext(artifacts, config)


def save_model(
    path: str,
    python_model: Any,
    *,
    artifacts: dict[str, str] | None = None,
    code_paths: Iterable[str] | None = None,
    model_config: dict[str, Any] | None = None,
    signature: Any = None,
    input_example: Any = None,
    pip_requirements: Iterable[str] | None = None,
    extra_pip_requirements: Iterable[str] | None = None,
    metadata: dict[str, Any] | None = None,
    download: Callable[[str], str] | None = None,
) -> Model:
    """Save a custom model: a PythonModel class / 'module:Class' path, or an instance.

    See the module docstring for what each choice means when the model is loaded.
    `download` fetches `artifacts` given as remote URIs to a local path (the tracking
    layer passes its model downloader; local paths need none).
    """
    reference = _class_reference(python_model)
    if reference is None and not callable(getattr(python_model, "predict", None)):
        raise InvalidParameterValue(
            f"python_model must be a PythonModel subclass, an instance of one, or a "
            f"'module:Class' path; got {type(python_model).__name__}"
        )
    with new_model_dir(path) as model_dir:
        code = copy_code_paths(code_paths, model_dir)
        conf: dict[str, Any] = {"loader_module": LOADER_MODULE}
        packages = ["slipway"]
        if reference is not None:
            conf["python_model_class"] = reference
            instance = _instantiate_for_save(reference, model_dir, code)
        else:
            cloudpickle = import_optional("cloudpickle", "Saving a PythonModel instance")
            with open(model_dir / PICKLE_FILE, "wb") as f:
                cloudpickle.dump(python_model, f)
            conf["python_model"] = PICKLE_FILE
            conf["cloudpickle_version"] = cloudpickle.__version__
            packages.append("cloudpickle")
            instance = python_model
        if artifacts:
            conf["artifacts"] = _copy_artifacts(artifacts, model_dir, download)
        if model_config:
            conf[CONFIG_KEY] = dict(model_config)
        predictor = None
        if input_example is not None and signature is None:
            context = _context(model_dir, conf, None)
            if callable(getattr(instance, "load_context", None)):
                instance.load_context(context)
            predictor = PythonModelPredictor(instance, context)
        return finish_model_dir(
            model_dir,
            Model.new(),
            predictor=predictor,
            pyfunc=conf,
            flavor_packages=packages,
            input_example=input_example,
            signature=signature,
            code=code,
            pip_requirements=pip_requirements,
            extra_pip_requirements=extra_pip_requirements,
            metadata=metadata,
        )


def _instantiate_for_save(reference: str, model_dir: Path, code: str | None) -> Any:
    """Prove the class imports (with the model's code on the path) and builds with no args."""
    code_dir = str(model_dir / code) if code else None
    if code_dir:
        sys.path.insert(0, code_dir)
    try:
        cls = import_python_model_class(reference)
        try:
            return cls()
        except TypeError as exc:
            raise InvalidParameterValue(
                f"{reference} must be constructible with no arguments, since a model saved by "
                f"reference is rebuilt as {reference.split(':')[1]}(): {exc}. Put its settings "
                "in model_config or artifacts and read them in load_context."
            ) from exc
    finally:
        if code_dir and code_dir in sys.path:
            sys.path.remove(code_dir)


# --------------------------------------------------------------------------- loading


def _unpickle(path: Path, compression: str | None) -> Any:
    cloudpickle = import_optional("cloudpickle", "Loading this pickled PythonModel")
    opener = {"lzma": lzma.open, "bzip2": bz2.open, "gzip": gzip.open}.get(compression or "", open)
    try:
        with opener(path, "rb") as f:
            return cloudpickle.load(f)
    except ModuleNotFoundError as exc:
        hint = (
            " MLflow PythonModels need mlflow installed."
            if (exc.name or "").startswith("mlflow")
            else ""
        )
        raise InvalidParameterValue(
            f"Cannot unpickle the PythonModel in '{path}': module {exc.name!r} is missing.{hint}"
        ) from exc


def load_pyfunc(
    model_dir: Path,
    model: Model,
    allow_pickle: bool = False,
    model_config: dict[str, Any] | None = None,
) -> PythonModelPredictor:
    """Rebuild the PythonModel (by reference, or unpickled if allowed) and call load_context."""
    model_dir = Path(model_dir)
    conf = model.pyfunc_conf or {}
    if reference := conf.get("python_model_class"):
        python_model = import_python_model_class(str(reference))()
    elif pickled := conf.get("python_model"):
        refuse_pickle(
            model_dir,
            "a PythonModel saved with cloudpickle",
            allow_pickle,
            safer="save it by class reference (python_model=MyModel or 'module:MyModel'), "
            "which stores no pickle",
        )
        path = resolve_inside(model_dir, pickled, "the pickled PythonModel")
        python_model = _unpickle(path, conf.get("python_model_compression"))
    elif conf.get("model_code_path"):
        raise InvalidParameterValue(
            f"The model at '{model_dir}' is an MLflow models-from-code model, which slipway "
            "does not load yet. Load it with mlflow.pyfunc.load_model."
        )
    else:
        raise InvalidParameterValue(
            f"The MLmodel file in '{model_dir}' names no python_model_class or python_model "
            "for its PythonModel; re-save the model."
        )
    context = _context(model_dir, conf, model_config)
    if callable(getattr(python_model, "load_context", None)):
        python_model.load_context(context)
    return PythonModelPredictor(python_model, context)


def _load_pyfunc(path: str, model_config: dict[str, Any] | None = None) -> PythonModelPredictor:
    """MLflow's entry point (`loader_module`): honours MLFLOW_ALLOW_PICKLE_DESERIALIZATION."""
    model_dir = Path(path)
    if model_dir.is_file():
        model_dir = model_dir.parent
    return load_pyfunc(
        model_dir,
        Model.load(model_dir),
        allow_pickle=mlflow_allows_pickle(),
        model_config=model_config,
    )


__all__ = [
    "PythonModel",
    "PythonModelContext",
    "PythonModelPredictor",
    "load_pyfunc",
    "save_model",
]
