"""Turn a model URI into a local model directory.

Local paths and `file://` URIs are used where they are. Every other scheme (`runs:/`,
`models:/name@alias`, `models:/name/3`, `mlflow-artifacts:/`, `s3://`, ...) is the tracking
layer's business: we hand it to `slipway.tracking.artifacts_download.download_uri`, which
downloads the directory and returns its local path.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

from slipway.errors import InvalidParameterValue, ResourceDoesNotExist

_DOWNLOADER = "slipway.tracking.artifacts_download"


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


def download_model_uri(model_uri: str, dst_path: str | None = None) -> str:
    """Return a local directory holding the model `model_uri` names.

    A local model is used in place, or copied into `dst_path` when one is given. Remote URIs
    are downloaded by the tracking layer (into `dst_path`, or a temporary directory).
    """
    local = local_path_from_uri(model_uri)
    if local is not None:
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

    scheme = urlparse(str(model_uri)).scheme
    try:
        from slipway.tracking.artifacts_download import download_uri
    except ImportError as exc:
        if getattr(exc, "name", None) not in (_DOWNLOADER, "slipway.tracking"):
            raise
        raise InvalidParameterValue(
            f"Cannot load '{model_uri}': URIs with scheme '{scheme}:' need the slipway "
            "tracking client, which this installation does not have. Use a local path or a "
            "file:// URI."
        ) from exc
    return str(download_uri(model_uri, dst_path))


__all__ = ["download_model_uri", "local_path_from_uri"]
