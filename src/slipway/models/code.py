"""Python code shipped inside a model directory (`code_paths`).

Saving copies each given file or package into `<model>/code/`; loading puts that directory
first on `sys.path` so the model's own modules (a custom transformer, a PythonModel class)
import. The code is plain source in the model directory: review it before loading a model
from someone else, because importing it runs it.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path

from slipway.errors import InvalidParameterValue
from slipway.models.format import resolve_inside

CODE_DIR = "code"


def copy_code_paths(
    code_paths: Iterable[str | os.PathLike[str]] | None, model_dir: Path
) -> str | None:
    """Copy files/directories into `model_dir/code`; return "code", or None if none given."""
    if not code_paths:
        return None
    if isinstance(code_paths, (str, os.PathLike)):
        code_paths = [code_paths]
    target = model_dir / CODE_DIR
    target.mkdir(exist_ok=True)
    for src in code_paths:
        src = Path(src)
        if not src.exists():
            raise InvalidParameterValue(f"code_paths entry '{src}' does not exist")
        dst = target / src.resolve().name
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(src, dst)
    return CODE_DIR


def add_code_to_sys_path(model_dir: str | os.PathLike[str], code: str | None) -> Path | None:
    """Put the model's code directory first on sys.path; return it (None if the model has none).

    Modules of the same name imported earlier from elsewhere (say, another model's code) are
    dropped from sys.modules so this model gets its own.
    """
    if not code:
        return None
    code_dir = resolve_inside(model_dir, code, "its code directory")
    if not code_dir.is_dir():
        raise InvalidParameterValue(
            f"The model in '{model_dir}' lists code in '{code}', but that directory is missing"
        )
    path = str(code_dir)
    if path in sys.path:
        sys.path.remove(path)
    sys.path.insert(0, path)
    shipped = {
        p.stem if p.is_file() else p.name for p in code_dir.iterdir() if p.suffix in (".py", "")
    }
    for name in list(sys.modules):
        top = name.split(".")[0]
        if top in shipped:
            origin = getattr(sys.modules[name], "__file__", None) or ""
            if not origin.startswith(path):
                del sys.modules[name]
    return code_dir


__all__ = ["CODE_DIR", "add_code_to_sys_path", "copy_code_paths"]
