"""The scikit-learn flavor: estimators saved with skops by default, pickle only on request.

Layout (MLflow's `sklearn` flavor, so MLflow loads our models and we load its models)::

    model.skops                 (or model.pkl for serialization_format pickle/cloudpickle)
    MLmodel: flavors.sklearn = {pickled_model, serialization_format, sklearn_version,
                                skops_trusted_types, code}
             flavors.python_function.loader_module = mlflow.sklearn

Why skops is safe enough to load by default, and where it is not: skops rebuilds objects
from a description instead of running pickled code, and refuses every type not on an
allow-list. At save time we record the extra types the file needs
(`skops.io.get_untrusted_types`) as `skops_trusted_types`; MLflow reads the same key. At
load time slipway trusts those recorded types only when they come from scikit-learn, NumPy,
SciPy or LightGBM. A file that needs anything else (a function from your own module, say),
or types its MLmodel does not list, loads only with `allow_pickle=True`, because trusting
arbitrary types can run arbitrary code. Note that trusted scikit-learn tree types are still
native code reading the file's numbers: load models from sources you trust.

Pickle and cloudpickle files load only with `allow_pickle=True` (`UnsafeModelFormat`
otherwise). MLflow itself loads any sklearn model only with
`MLFLOW_ALLOW_PICKLE_DESERIALIZATION=true`.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import json
import logging
import pickle
import sys
import threading
import types
import warnings
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from slipway.errors import InvalidParameterValue, UnsafeModelFormat
from slipway.models.code import add_code_to_sys_path, copy_code_paths
from slipway.models.format import Model, resolve_inside
from slipway.models.optional import import_optional, is_optional_package, missing_dependency
from slipway.models.pyfunc import resolve_model_dir
from slipway.models.saving import finish_model_dir, new_model_dir
from slipway.models.unsafe import PICKLE_FORMATS, load_pickle_file, refuse_pickle

logger = logging.getLogger(__name__)

# scikit-learn's array-API shims for optional tensor libraries; they define no estimators.
_SKOPS_IMPORT_LOCK = threading.Lock()
_ARRAY_API_SHIMS = tuple(
    f"sklearn.externals.array_api_compat.{lib}" for lib in ("torch", "cupy", "dask")
)
# Whether skops' default estimator list is whole ("complete") or holds only the estimators
# of the files loaded so far (see `_skops_for_loading`).
_SKOPS_STATE = {"complete": False}
# Package names `sklearn.utils.discovery.all_estimators` does not walk.
_MODULES_ALL_ESTIMATORS_SKIPS = frozenset(
    {"tests", "externals", "setup", "conftest", "experimental", "estimator_checks"}
)

FLAVOR_NAME = "sklearn"
SERIALIZATION_FORMAT_SKOPS = "skops"
SERIALIZATION_FORMAT_PICKLE = "pickle"
SERIALIZATION_FORMAT_CLOUDPICKLE = "cloudpickle"
SERIALIZATION_FORMATS = (
    SERIALIZATION_FORMAT_SKOPS,
    SERIALIZATION_FORMAT_PICKLE,
    SERIALIZATION_FORMAT_CLOUDPICKLE,
)
_MODEL_FILES = {"skops": "model.skops", "pickle": "model.pkl", "cloudpickle": "model.pkl"}

# skops types we trust when a model's MLmodel lists them: numeric-library internals only.
_SAFE_SKOPS_PREFIXES = ("sklearn.", "numpy.", "scipy.", "lightgbm.")
_SAFE_SKOPS_TYPES = frozenset({"collections.OrderedDict", "collections.defaultdict"})


class SklearnPredictor:
    """Calls the estimator's chosen predict method (`predict`, `predict_proba`, ...)."""

    def __init__(self, estimator: Any, predict_fn: str = "predict") -> None:
        self.raw_model = estimator
        self.predict_fn = predict_fn
        fn = getattr(estimator, predict_fn, None)
        if not callable(fn):
            raise InvalidParameterValue(
                f"The scikit-learn model {type(estimator).__name__} has no method {predict_fn!r}"
            )
        self._fn = fn

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        return self._fn(data)


# --------------------------------------------------------------------------- saving


def save_model(
    sk_model: Any,
    path: str,
    *,
    serialization_format: str = SERIALIZATION_FORMAT_SKOPS,
    pyfunc_predict_fn: str = "predict",
    signature: Any = None,
    input_example: Any = None,
    code_paths: Iterable[str] | None = None,
    pip_requirements: Iterable[str] | None = None,
    extra_pip_requirements: Iterable[str] | None = None,
    metadata: dict[str, Any] | None = None,
) -> Model:
    """Save a scikit-learn estimator (or pipeline) as a model directory at `path`.

    `serialization_format` is "skops" (safe, default), or "pickle" / "cloudpickle" for
    objects skops cannot describe; those load only with `allow_pickle=True`.
    """
    if serialization_format not in SERIALIZATION_FORMATS:
        raise InvalidParameterValue(
            f"Unknown serialization_format {serialization_format!r}; "
            f"use one of {list(SERIALIZATION_FORMATS)}"
        )
    sklearn = import_optional("sklearn", "Saving a scikit-learn model")
    with new_model_dir(path) as model_dir:
        code = copy_code_paths(code_paths, model_dir)
        data_file = _MODEL_FILES[serialization_format]
        trusted = write_estimator(sk_model, model_dir / data_file, serialization_format)
        model = Model.new()
        model.add_flavor(
            FLAVOR_NAME,
            pickled_model=data_file,
            sklearn_version=sklearn.__version__,
            serialization_format=serialization_format,
            code=code,
            skops_trusted_types=trusted,
        )
        pyfunc = None
        predictor = None
        if callable(getattr(sk_model, pyfunc_predict_fn, None)):
            predictor = SklearnPredictor(sk_model, pyfunc_predict_fn)
            pyfunc = {
                "loader_module": "mlflow.sklearn",
                "model_path": data_file,
                "predict_fn": pyfunc_predict_fn,
            }
        else:
            logger.warning(
                "%s has no %s method: saved without the python_function flavor",
                type(sk_model).__name__,
                pyfunc_predict_fn,
            )
        return finish_model_dir(
            model_dir,
            model,
            predictor=predictor,
            pyfunc=pyfunc,
            flavor_packages=_packages(serialization_format),
            input_example=input_example,
            signature=signature,
            code=code,
            pip_requirements=pip_requirements,
            extra_pip_requirements=extra_pip_requirements,
            metadata=metadata,
        )


def _packages(serialization_format: str) -> list[str]:
    extra = {"skops": ["skops"], "cloudpickle": ["cloudpickle"]}.get(serialization_format, [])
    return ["scikit-learn", "scipy", *extra]


def write_estimator(obj: Any, path: Path, serialization_format: str) -> list[str] | None:
    """Serialize `obj` to `path`; for skops, return the extra types the file needs."""
    if serialization_format == SERIALIZATION_FORMAT_SKOPS:
        return _write_skops(obj, path)
    logger.warning(
        "Saving %s with %s: loading it will need allow_pickle=True, because unpickling can "
        "run arbitrary code. The safe default is serialization_format='skops'.",
        type(obj).__name__,
        serialization_format,
    )
    if serialization_format == SERIALIZATION_FORMAT_CLOUDPICKLE:
        cloudpickle = import_optional(
            "cloudpickle", "Saving with serialization_format='cloudpickle'"
        )
        with open(path, "wb") as f:
            cloudpickle.dump(obj, f)
    else:
        with open(path, "wb") as f:
            pickle.dump(obj, f)
    return None


def _write_skops(obj: Any, path: Path) -> list[str]:
    sio = skops_io("Saving in the skops format")
    try:
        sio.dump(obj, path)
        trusted = sorted(sio.get_untrusted_types(file=path))
        sio.load(path, trusted=trusted)  # prove it loads back before calling it saved
    except Exception as exc:
        raise InvalidParameterValue(
            f"{type(obj).__name__} could not be saved in the skops format: {exc}. skops "
            "handles scikit-learn objects and functions defined at module level in importable "
            "modules. If the model needs more, save it with serialization_format='cloudpickle' "
            "(it will then load only with allow_pickle=True)."
        ) from exc
    if main := [t for t in trusted if t.startswith("__main__.")]:
        logger.warning(
            "The model references %s, defined in __main__: it will not load in another "
            "process. Move it to a module and pass that module in code_paths.",
            main,
        )
    return trusted


# --------------------------------------------------------------------------- loading


def skops_io(purpose: str) -> Any:
    """`skops.io` with its whole default trust list, imported without torch, cupy or dask.

    At import skops lists scikit-learn's estimators with `all_estimators()`, which imports
    every scikit-learn package, including the array-API shims that import torch (or cupy,
    dask) when it is installed: seconds and hundreds of MiB for no estimator. Inert modules
    stand in for those shims while the list is made, then are taken out again, so the
    trusted list is the same and a later real import of a shim still works. Saving needs
    the whole list (it decides which types a file must record); loading does not, see
    `_skops_for_loading`.
    """
    # One import at a time: a second thread must wait for the first's import to finish
    # rather than see a half-initialised module or the stand-ins.
    with _SKOPS_IMPORT_LOCK:
        if "skops.io" not in sys.modules:
            with _without_array_api_shims(), _indexed_skops_type_names():
                sio = import_optional("skops.io", purpose)
            _SKOPS_STATE["complete"] = True
            return sio
        sio = import_optional("skops.io", purpose)
        if not _SKOPS_STATE["complete"]:
            with _without_array_api_shims():
                from sklearn.utils.discovery import all_estimators

                _extend_estimator_names([cls for _, cls in all_estimators()])
            _SKOPS_STATE["complete"] = True
        return sio


class _IndexedTypeNames(importlib.abc.MetaPathFinder):
    """Runs `skops.io._trusted_types` with an indexed `whichmodule`.

    That module names every NumPy and SciPy ufunc at import; skops' `whichmodule` finds a
    ufunc's module by trying `getattr(module, name)` on the loaded modules in order, for
    each of some 400 ufuncs: with scikit-learn loaded, about as long as loading the model.
    """

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != "skops.io._trusted_types":
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        inner = spec.loader

        class Loader(importlib.abc.Loader):
            def create_module(self, spec: Any) -> Any:
                return inner.create_module(spec)

            def exec_module(self, module: types.ModuleType) -> None:
                utils = sys.modules["skops.io._utils"]
                original = utils.whichmodule
                utils.whichmodule = _indexed_whichmodule(original)
                try:
                    inner.exec_module(module)
                finally:
                    utils.whichmodule = original

        spec.loader = Loader()
        return spec


def _indexed_whichmodule(original: Any) -> Any:
    """`skops.io._utils.whichmodule`'s answers, reading plain modules' `__dict__`s.

    The same walk over the loaded modules in order, but a plain module is asked with a dict
    lookup (a failed `getattr` on a module raises and catches an AttributeError inside);
    modules that compute attributes (a module `__getattr__`, a module subclass) are still
    asked with `getattr`, so every answer is the one skops' own function gives.
    """
    modules = []
    for name, module in list(sys.modules.items()):
        if module is None or name in ("__main__", "__mp_main__"):
            continue
        namespace = getattr(module, "__dict__", None)
        plain = type(module) is types.ModuleType and namespace is not None
        if plain and "__getattr__" not in namespace:
            modules.append((name, namespace, None))
        else:
            modules.append((name, None, module))
    missing = object()

    def whichmodule(obj: Any, name: str) -> str:
        module_name = getattr(obj, "__module__", None)
        if module_name is not None:
            return module_name
        if "." in name:
            return original(obj, name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            for mod_name, namespace, module in modules:
                if namespace is not None:
                    if namespace.get(name, missing) is obj:
                        return mod_name
                    continue
                try:
                    if getattr(module, name, None) is obj:
                        return mod_name
                except (AttributeError, ImportError):
                    continue
        return original(obj, name)

    return whichmodule


@contextmanager
def _indexed_skops_type_names() -> Iterator[None]:
    finder = _IndexedTypeNames()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


@contextmanager
def _without_array_api_shims() -> Iterator[None]:
    stand_ins = {
        name: types.ModuleType(name) for name in _ARRAY_API_SHIMS if name not in sys.modules
    }
    sys.modules.update(stand_ins)
    try:
        yield
    finally:
        for name, module in stand_ins.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]


def _skops_for_loading(path: Path, purpose: str) -> Any:
    """`skops.io` trusting by default at least the estimators the file at `path` names.

    skops trusts every public scikit-learn estimator by default; to know which those are it
    imports all of scikit-learn when it is imported (about 1 s, more than the model's own
    load). Here, the first time, `skops.io` is imported with that list holding only the
    estimator classes the file names that `listed_estimator` proves to be on it, so the
    list is a subset of skops' own. A type missed this way looks untrusted, and
    `load_skops` completes the list before it refuses anything, so every decision is the
    one the whole list gives.
    """
    estimators = [cls for name in skops_file_types(path) if (cls := listed_estimator(name))]
    with _SKOPS_IMPORT_LOCK:
        if "skops.io" in sys.modules:
            sio = import_optional("skops.io", purpose)
            if not _SKOPS_STATE["complete"]:
                _extend_estimator_names(estimators)
            return sio
        import_optional("sklearn", purpose)
        utils = importlib.import_module("sklearn.utils")
        original = utils.all_estimators
        utils.all_estimators = lambda *args, **kwargs: [(c.__name__, c) for c in estimators]
        try:
            with _indexed_skops_type_names():
                sio = import_optional("skops.io", purpose)
        except BaseException:
            for name in [m for m in sys.modules if m == "skops.io" or m.startswith("skops.io.")]:
                del sys.modules[name]  # a half-made trust list must not stay behind
            raise
        finally:
            utils.all_estimators = original
        _SKOPS_STATE["complete"] = False
        return sio


def _extend_estimator_names(classes: Iterable[type]) -> None:
    """Add estimator classes to skops' default trust list, in place (its modules share it)."""
    from skops.io import _trusted_types

    names = _trusted_types.SKLEARN_ESTIMATOR_TYPE_NAMES
    known = set(names)
    for cls in classes:
        name = f"{cls.__module__}.{cls.__name__}"
        if name.startswith("sklearn.") and name not in known:
            names.append(name)
            known.add(name)


def skops_file_types(path: Path) -> set[str]:
    """Every `module.Class` a skops file names, read from its schema (nothing imported)."""
    try:
        with zipfile.ZipFile(path) as archive:
            schema = json.loads(archive.read("schema.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return set()  # not readable as skops: skops itself says what is wrong
    found: set[str] = set()
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            module, cls = node.get("__module__"), node.get("__class__")
            if isinstance(module, str) and isinstance(cls, str):
                found.add(f"{module}.{cls}")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def listed_estimator(type_name: str) -> type | None:
    """The class `type_name` if scikit-learn's `all_estimators()` certainly lists it.

    That is: a public, non-abstract `BaseEstimator` subclass that a public scikit-learn
    module (one `all_estimators` walks) exposes under its own name. Only that public module
    is imported. None when unsure: the caller then asks the whole list.
    """
    parts = type_name.split(".")
    if len(parts) < 3 or parts[0] != "sklearn" or not all(p.isidentifier() for p in parts):
        return None
    *module_parts, cls_name = parts
    public = []
    for part in module_parts:
        if part.startswith("_"):
            break
        public.append(part)
    if len(public) < 2 or cls_name.startswith("_") or cls_name == "BaseEstimator":
        return None
    if any(part in _MODULES_ALL_ESTIMATORS_SKIPS for part in public):
        return None
    try:
        module = importlib.import_module(".".join(public))
    except ImportError:
        return None
    cls = getattr(module, cls_name, None)
    if not isinstance(cls, type) or f"{cls.__module__}.{cls.__name__}" != type_name:
        return None
    from sklearn.base import BaseEstimator

    if not issubclass(cls, BaseEstimator) or getattr(cls, "__abstractmethods__", None):
        return None
    return cls


def is_safe_skops_type(type_name: str) -> bool:
    """Whether slipway trusts a skops type without allow_pickle (numeric-library internals)."""
    return type_name in _SAFE_SKOPS_TYPES or type_name.startswith(_SAFE_SKOPS_PREFIXES)


def load_skops(
    path: Path, recorded: Iterable[str] | None, allow_pickle: bool, model_dir: Path
) -> Any:
    """Load a skops file trusting only what the policy in the module docstring allows."""
    sio = _skops_for_loading(path, "Loading this skops model")
    needed = sorted(sio.get_untrusted_types(file=path))
    if not allow_pickle and _refusal(needed, recorded, model_dir) and not _SKOPS_STATE["complete"]:
        # Decide with skops' whole default list, as a plain `import skops.io` would.
        sio = skops_io("Loading this skops model")
        needed = sorted(sio.get_untrusted_types(file=path))
    if not allow_pickle and (refusal := _refusal(needed, recorded, model_dir)):
        raise refusal
    try:
        return sio.load(path, trusted=needed)
    except ModuleNotFoundError as exc:
        raise _missing_module(exc, path) from exc
    except Exception as exc:
        raise InvalidParameterValue(f"Could not load the skops model file '{path}': {exc}") from exc


def _refusal(
    needed: list[str], recorded: Iterable[str] | None, model_dir: Path
) -> UnsafeModelFormat | None:
    """Why the policy refuses a file needing `needed` beyond skops' defaults, or None."""
    unrecorded = sorted(set(needed) - set(recorded or ()))
    if unrecorded:
        return UnsafeModelFormat(
            f"The skops file of the model at '{model_dir}' needs types that its MLmodel "
            f"file does not record as trusted: {unrecorded}. The file may have been "
            "changed after it was saved. If you trust its source, load it with "
            "allow_pickle=True."
        )
    if risky := [t for t in needed if not is_safe_skops_type(t)]:
        return UnsafeModelFormat(
            f"The skops model at '{model_dir}' needs types from outside scikit-learn, "
            f"NumPy and SciPy: {risky}. Loading them can run their code, so slipway does "
            "not trust them by default. If you trust the model's source, load it with "
            "allow_pickle=True."
        )
    return None


def _missing_module(exc: ModuleNotFoundError, path: Path) -> Exception:
    if exc.name and is_optional_package(exc.name):
        return missing_dependency(exc.name, "Loading this model")
    return InvalidParameterValue(
        f"The model file '{path}' needs the module {exc.name!r}, which is not importable. "
        "Install it, or save the model with code_paths so its code travels with it."
    )


def load_estimator(model_dir: Path, conf: dict[str, Any], allow_pickle: bool) -> Any:
    """Deserialize the estimator described by an `sklearn` flavor entry."""
    fmt = conf.get("serialization_format") or SERIALIZATION_FORMAT_PICKLE
    path = resolve_inside(model_dir, conf.get("pickled_model"), "the scikit-learn model file")
    if not path.is_file():
        raise InvalidParameterValue(f"The model file '{path}' named in the MLmodel file is missing")
    if fmt == SERIALIZATION_FORMAT_SKOPS:
        import_optional("sklearn", "Loading this scikit-learn model")
        return load_skops(path, conf.get("skops_trusted_types"), allow_pickle, model_dir)
    if fmt in PICKLE_FORMATS:
        refuse_pickle(model_dir, f"scikit-learn, serialization_format: {fmt}", allow_pickle)
        import_optional("sklearn", "Loading this scikit-learn model")
        try:
            return load_pickle_file(path, fmt)
        except ModuleNotFoundError as exc:
            raise _missing_module(exc, path) from exc
    raise InvalidParameterValue(
        f"The scikit-learn model at '{model_dir}' uses serialization_format {fmt!r}, which "
        f"slipway cannot read (known: {list(SERIALIZATION_FORMATS)})"
    )


def load_model(model_uri: str, allow_pickle: bool = False, dst_path: str | None = None) -> Any:
    """Load the scikit-learn estimator of a model (saved by slipway or MLflow)."""
    model_dir = resolve_model_dir(model_uri, dst_path)
    model = Model.load(model_dir)
    conf = model.flavors.get(FLAVOR_NAME)
    if conf is None:
        raise InvalidParameterValue(
            f"The model at '{model_uri}' has no {FLAVOR_NAME} flavor (it has "
            f"{sorted(model.flavors)}); load it with slipway.pyfunc.load_model instead."
        )
    add_code_to_sys_path(model_dir, conf.get("code"))
    return load_estimator(model_dir, conf, allow_pickle)


def load_pyfunc(model_dir: Path, model: Model, allow_pickle: bool = False) -> SklearnPredictor:
    """The pyfunc predictor of an sklearn model."""
    pyfunc = model.pyfunc_conf or {}
    conf = model.flavors.get(FLAVOR_NAME)
    if conf is None:  # very old MLflow models: the pyfunc entry alone, pickled
        conf = {"pickled_model": pyfunc.get("model_path") or pyfunc.get("data")}
    estimator = load_estimator(Path(model_dir), conf, allow_pickle)
    return SklearnPredictor(estimator, pyfunc.get("predict_fn") or "predict")


__all__ = [
    "FLAVOR_NAME",
    "SERIALIZATION_FORMATS",
    "SklearnPredictor",
    "is_safe_skops_type",
    "skops_io",
    "load_model",
    "load_pyfunc",
    "save_model",
]
