"""Model URIs → artifact URIs: what `models:/…` and `runs:/…` point at.

`models:/name/3`, `models:/name@champion`, `models:/name/Production` (newest version in the
stage), `models:/name/latest` (newest version), `models:/m-<id>` (an MLflow 3 logged
model) and `runs:/<run_id>/<path>` (a run's artifact, or the logged model of that run named
`<path>`, which is where MLflow 3 keeps models logged in a run). Anything else is already an
artifact URI and is returned as is. `download_artifact_uri` fetches what one names.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from slipway.artifacts import get_artifact_repository
from slipway.entities import ModelUri, ModelVersion
from slipway.errors import InvalidParameterValue, ResourceDoesNotExist
from slipway.store.interface import RegistryStore, TrackingStore


def _join(base: str, path: str) -> str:
    return f"{base.rstrip('/')}/{path.strip('/')}" if path else base


def quote_filter_value(value: str) -> str:
    """A string literal for a search filter (single quotes doubled)."""
    return "'" + value.replace("'", "''") + "'"


def resolve_model_version(registry: RegistryStore, uri: ModelUri) -> ModelVersion:
    """The version a `models:/name/…` URI names (not for logged-model URIs)."""
    if uri.name is None:
        raise InvalidParameterValue(f"models:/{uri.model_id} names a logged model, not a version.")
    if uri.version is not None:
        return registry.get_model_version(uri.name, uri.version)
    if uri.alias is not None:
        return registry.get_model_version_by_alias(uri.name, uri.alias)
    latest = registry.get_latest_versions(uri.name, [uri.stage] if uri.stage else None)
    if not latest:
        where = f" in stage {uri.stage}" if uri.stage else ""
        raise ResourceDoesNotExist(f"Model '{uri.name}' has no version{where}.")
    return max(latest, key=lambda v: v.version)


def resolve_runs_uri(
    uri: str, registry: RegistryStore, tracking: TrackingStore, tracking_uri: str | None
) -> tuple[str, str | None]:
    """(artifact URI, logged model id or None) of `runs:/<run_id>/<path>`.

    The run's own artifacts win when something is there; otherwise the run's logged model
    named after the path's first part (`runs:/<id>/model/sub` → model `model`, then `sub`).
    """
    rest = uri[len("runs:/") :].strip("/")
    run_id, _, path = rest.partition("/")
    if not run_id:
        raise InvalidParameterValue(f"Invalid runs URI {uri!r}: use runs:/<run_id>/<path>.")
    run = tracking.get_run(run_id)
    root = run.info.artifact_uri
    if not path or get_artifact_repository(root, tracking_uri).exists(path):
        return _join(root, path), None
    head, _, sub = path.partition("/")
    page = registry.search_logged_models(
        [run.info.experiment_id],
        f"name = {quote_filter_value(head)} AND source_run_id = {quote_filter_value(run_id)}",
    )
    if not page.items:
        raise ResourceDoesNotExist(
            f"Run {run_id} has no artifact and no logged model at '{path}' ({uri})."
        )
    model = page.items[0]
    return _join(model.artifact_location, sub), model.model_id


def resolve_artifact_uri(
    model_uri: str,
    registry: RegistryStore,
    tracking: TrackingStore,
    tracking_uri: str | None = None,
) -> str:
    """Where the files of `model_uri` are, as an artifact URI."""
    if model_uri.startswith("models:/"):
        uri = ModelUri.parse(model_uri)
        if uri.model_id is not None:
            return _join(registry.get_logged_model(uri.model_id).artifact_location, uri.path)
        version = resolve_model_version(registry, uri)
        location = registry.get_model_version_download_uri(version.name, version.version)
        return _join(location, uri.path)
    if model_uri.startswith("runs:/"):
        return resolve_runs_uri(model_uri, registry, tracking, tracking_uri)[0]
    return model_uri


def download_artifact_uri(
    artifact_uri: str,
    tracking_uri: str | None,
    dst_path: str | Path | None = None,
    named_as: str | None = None,
) -> str:
    """Copy the folder (or file) at `artifact_uri` into `dst_path`; returns the local path.

    `dst_path` None means a new temporary folder. Nothing there raises ResourceDoesNotExist
    naming the URI the user gave (`named_as`) and where it pointed.
    """
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


__all__ = [
    "download_artifact_uri",
    "quote_filter_value",
    "resolve_artifact_uri",
    "resolve_model_version",
    "resolve_runs_uri",
]
