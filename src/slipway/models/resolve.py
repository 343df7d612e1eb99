"""Local model paths: which URIs name a folder on this machine, and copying one.

The model layer reads and writes model directories on the local filesystem. `models:/…`,
`runs:/…` and remote artifact URIs need the registry and tracking stores, which sit above
this layer: `slipway.pyfunc.load_model` (and each `slipway.<flavor>.load_model`) resolves
them through `slipway.Client.download_model` and hands the local folder down here.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

from slipway.errors import InvalidParameterValue, ResourceDoesNotExist


def local_path_from_uri(model_uri: str) -> Path | None:
    """The local path a URI names, or None if it is not a local path or `file://` URI."""
    parsed = urlparse(str(model_uri))
    # A one-letter scheme is a Windows drive ("C:\\models\\m"), not a URI scheme.
    if parsed.scheme == "" or len(parsed.scheme) == 1:
        return Path(str(model_uri)).expanduser()
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise InvalidParameterValue(
                f"Cannot load '{model_uri}': file:// URIs must name a local path "
                "(file:///path/to/model)."
            )
        return Path(unquote(parsed.path))
    return None


def copy_local_model(model_uri: str, local: Path, dst_path: str | Path | None) -> str:
    """`local` itself, or a copy of it inside `dst_path` when one is given."""
    if not local.exists():
        raise ResourceDoesNotExist(f"No model at '{model_uri}': the path does not exist.")
    if dst_path is None:
        return str(local)
    target = Path(dst_path) / local.name
    if local.is_dir():
        shutil.copytree(local, target, dirs_exist_ok=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(local, target)
    return str(target)


def local_model_path(model_uri: str, dst_path: str | None = None) -> str:
    """The local folder (or file) `model_uri` names; remote URIs are refused with a pointer
    to the functions that resolve them."""
    local = local_path_from_uri(model_uri)
    if local is None:
        scheme = urlparse(str(model_uri)).scheme
        raise InvalidParameterValue(
            f"Cannot load '{model_uri}' here: the model layer reads local folders, and "
            f"'{scheme}:' URIs are resolved by the tracking client. Use "
            "slipway.pyfunc.load_model (or slipway.<flavor>.load_model), or download the "
            "model first with slipway.Client().download_model(uri)."
        )
    return copy_local_model(model_uri, local, dst_path)


__all__ = ["copy_local_model", "local_model_path", "local_path_from_uri"]
