"""Download what a model URI names to a local folder (used by `load_model`).

Local paths are returned as they are. `models:/…` and `runs:/…` are resolved through the
registry and tracking store of the current tracking URI; every other URI (`s3://…`,
`mlflow-artifacts:/…`) is read through the artifact layer.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

from slipway.artifacts import get_artifact_repository
from slipway.errors import ResourceDoesNotExist


def download_uri(model_uri: str, dst_path: str | None = None) -> str:
    """Return a local folder holding the files `model_uri` names.

    Downloads into `dst_path` (a new temporary folder when None). Unknown models, versions
    and aliases raise ResourceDoesNotExist naming what was missing.
    """
    parsed = urlparse(model_uri)
    if parsed.scheme in ("", "file") or len(parsed.scheme) == 1:
        local = Path(unquote(parsed.path) if parsed.scheme == "file" else model_uri)
        if not local.exists():
            raise ResourceDoesNotExist(f"No model at '{model_uri}': the path does not exist.")
        return str(local.absolute())
    from slipway.registry.client import registry_store_for
    from slipway.registry.uri import resolve_artifact_uri
    from slipway.tracking import fluent

    client = fluent._client()
    artifact_uri = resolve_artifact_uri(
        model_uri, registry_store_for(client), client.store, client.tracking_uri
    )
    return download_artifact_uri(artifact_uri, client.tracking_uri, dst_path, model_uri)


def download_artifact_uri(
    artifact_uri: str,
    tracking_uri: str | None,
    dst_path: str | Path | None = None,
    named_as: str | None = None,
) -> str:
    """Copy the folder (or file) at `artifact_uri` into `dst_path`; returns the local path."""
    dst = Path(dst_path) if dst_path else Path(tempfile.mkdtemp(prefix="slipway-model-"))
    dst.mkdir(parents=True, exist_ok=True)
    repo = get_artifact_repository(artifact_uri, tracking_uri)
    if repo.is_dir(""):
        local = Path(repo.download("", dst))
    else:
        parent, _, leaf = artifact_uri.rstrip("/").rpartition("/")
        local = Path(get_artifact_repository(parent, tracking_uri).download(leaf, dst))
    if local.is_dir() and not any(local.iterdir()):
        shown = f"{named_as} ({artifact_uri})" if named_as else artifact_uri
        raise ResourceDoesNotExist(f"No files found at {shown}.")
    return str(local)


__all__ = ["download_artifact_uri", "download_uri"]
