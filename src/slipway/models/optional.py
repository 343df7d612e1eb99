"""Import the optional packages a flavor needs, or say which extra installs them.

Flavor packages (scikit-learn, xgboost, onnxruntime, ...) are extras, never core
dependencies, and importing them is slow: every flavor imports them here, at the moment
it needs them, so `import slipway` stays fast and a missing one is a `MissingDependency`
that names the `pip install 'slipway[extra]'` line instead of a bare ImportError.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from slipway.errors import MissingDependency

# top-level import name -> (distribution name, slipway extra that installs it)
_PACKAGES: dict[str, tuple[str, str]] = {
    "sklearn": ("scikit-learn", "sklearn"),
    "skops": ("skops", "sklearn"),
    "scipy": ("scipy", "sklearn"),
    "xgboost": ("xgboost", "xgboost"),
    "lightgbm": ("lightgbm", "lightgbm"),
    "onnx": ("onnx", "onnx"),
    "onnxruntime": ("onnxruntime", "onnx"),
    "torch": ("torch", "pytorch"),
    "cloudpickle": ("cloudpickle", "cloudpickle"),
}


def missing_dependency(module: str, purpose: str) -> MissingDependency:
    """The error for a missing optional module: what needs it and the pip line to fix it."""
    top = module.split(".")[0]
    dist, extra = _PACKAGES.get(top, (top, top))
    return MissingDependency(
        f"{purpose} needs {dist}, which is not installed. "
        f"Install it with: pip install 'slipway[{extra}]'",
        package=dist,
        extra=extra,
    )


def is_optional_package(module: str) -> bool:
    """Whether `module` belongs to one of the packages slipway's extras install."""
    return module.split(".")[0] in _PACKAGES


def import_optional(module: str, purpose: str) -> ModuleType:
    """Import `module`, or raise MissingDependency saying what needs it and how to install it.

    `purpose` completes the sentence "<purpose> needs <package>", e.g. "Loading this model".
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise missing_dependency(module, purpose) from exc


__all__ = ["import_optional", "is_optional_package", "missing_dependency"]
