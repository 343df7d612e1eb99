"""One run: params, latest metrics, tags, description, datasets, parent and children, the
models it logged, metric charts and its artifacts (browsed, previewed, downloaded).

Charts read `metrics.json`, which thins a long history on the server (min/max buckets,
`TrackingStore.get_metric_history_thinned`), so a 1,000,000-point metric draws as fast as
a short one. Artifact files are served with a sandboxing Content-Security-Policy, so an
HTML report shows in a frame but cannot script the server's origin.
"""

from __future__ import annotations

import mimetypes
import posixpath
from typing import Any

import orjson
from fastapi import Query, Request
from starlette.responses import Response, StreamingResponse

from slipway.artifacts import join_artifact_path, safe_artifact_path
from slipway.entities import FileInfo, Run
from slipway.errors import ResourceDoesNotExist, SlipwayError
from slipway.store.sampling import DEFAULT_MAX_POINTS
from slipway.ui.context import artifact_location, client
from slipway.ui.preview import kind_of, preview
from slipway.ui.routing import page_router
from slipway.ui.templating import render

router = page_router()
PARENT_TAG = "mlflow.parentRunId"
NOTE_TAG = "mlflow.note.content"
MAX_CHILDREN = 200
CHARTED_BY_DEFAULT = 4
MAX_CHART_POINTS = 20_000
# Served files may be HTML or SVG written by anyone who can log to a run.
SANDBOX = "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'"


def _run_files(request: Request, run: Run, path: str) -> tuple[Any, str]:
    repo, base = artifact_location(request, run.info.artifact_uri)
    return repo, join_artifact_path(base, safe_artifact_path(path))


def _listing(request: Request, run: Run, folder: str) -> list[FileInfo]:
    repo, where = _run_files(request, run, folder)
    try:
        found = repo.list(where)
    except (FileNotFoundError, SlipwayError):
        return []
    items = [
        FileInfo(join_artifact_path(folder, posixpath.basename(f.path)), f.is_dir, f.file_size)
        for f in found
    ]
    return sorted(items, key=lambda f: (not f.is_dir, f.path))


def artifacts_context(request: Request, run: Run, artifact: str) -> dict[str, Any]:
    """The artifact browser at `artifact`: its folder's listing and, for a file, a preview."""
    artifact = safe_artifact_path(artifact)
    repo, where = _run_files(request, run, artifact)
    shown = None
    folder = artifact
    if artifact and not repo.is_dir(where):
        if not repo.exists(where):
            raise ResourceDoesNotExist(f"No artifact {artifact!r} in run {run.info.run_id}.")
        folder = posixpath.dirname(artifact)
        shown = preview(repo, where)
        shown.path = artifact
    crumbs = []
    parts = folder.split("/") if folder else []
    for i, part in enumerate(parts):
        crumbs.append((part, "/".join(parts[: i + 1])))
    return {
        "folder": folder,
        "crumbs": crumbs,
        "files": _listing(request, run, folder),
        "shown": shown,
    }


@router.get("/runs/{run_id}")
def run_page(request: Request, run_id: str, artifact: str = "") -> Response:
    c = client(request)
    run = c.get_run(run_id)
    artifacts = artifacts_context(request, run, artifact)
    if request.headers.get("HX-Request") and request.headers.get("HX-Target") == "artifacts":
        return render(request, "run.html", fragment="artifacts", run=run, **artifacts)
    experiment = c.get_experiment(run.info.experiment_id)
    parent_id = run.data.tags.get(PARENT_TAG)
    parent = None
    if parent_id:
        try:
            parent = c.get_run(parent_id)
        except SlipwayError:
            parent = None
    children = c.search_runs(
        [run.info.experiment_id],
        f"tags.`{PARENT_TAG}` = '{run_id}'",
        max_results=MAX_CHILDREN,
    ).items
    logged = []
    for output in run.model_outputs:
        try:
            logged.append(c.get_logged_model(str(output.get("model_id"))))
        except SlipwayError:
            continue
    versions = c.search_model_versions(f"run_id = '{run_id}'").items
    metric_keys = sorted(run.data.metrics)
    tags = {k: v for k, v in sorted(run.data.tags.items()) if not k.startswith("mlflow.")}
    system_tags = {k: v for k, v in sorted(run.data.tags.items()) if k.startswith("mlflow.")}
    return render(
        request,
        "run.html",
        run=run,
        experiment=experiment,
        parent=parent,
        children=children,
        logged_models=logged,
        versions=versions,
        metric_keys=metric_keys,
        charted=metric_keys[:CHARTED_BY_DEFAULT],
        description=run.data.tags.get(NOTE_TAG, ""),
        tags=tags,
        system_tags=system_tags,
        **artifacts,
    )


def metric_series(c: Any, run_id: str, keys: list[str], points: int) -> dict[str, Any]:
    """Each metric's thinned history as columns: steps, values, times (ms)."""
    series = []
    for key in keys:
        history = c.store.get_metric_history_thinned(run_id, key, points)
        series.append(
            {
                "key": key,
                "step": [m.step for m in history],
                "value": [m.value for m in history],
                "time": [m.timestamp for m in history],
            }
        )
    return {"run_id": run_id, "series": series}


@router.get("/runs/{run_id}/metrics.json")
def metrics_json(
    request: Request,
    run_id: str,
    key: list[str] = Query(default=[]),
    points: int = DEFAULT_MAX_POINTS,
) -> Response:
    points = max(10, min(points, MAX_CHART_POINTS))
    body = metric_series(client(request), run_id, key, points)
    return Response(orjson.dumps(body), media_type="application/json")


@router.get("/runs/{run_id}/files")
def artifact_file(request: Request, run_id: str, path: str, download: bool = False) -> Response:
    """One artifact's bytes: inline (sandboxed) for previews, or as a download."""
    run = client(request).get_run(run_id)
    repo, where = _run_files(request, run, path)
    if not path or repo.is_dir(where) or not repo.exists(where):
        raise ResourceDoesNotExist(f"No artifact file {path!r} in run {run_id}.")
    media = mimetypes.guess_type(path)[0] or "application/octet-stream"
    if kind_of(path) == "text":
        media = "text/plain; charset=utf-8"
    name = posixpath.basename(path).replace('"', "")
    disposition = "attachment" if download else "inline"
    headers = {
        "Content-Security-Policy": SANDBOX,
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": f'{disposition}; filename="{name}"',
    }

    def chunks() -> Any:
        with repo.open(where) as f:
            while chunk := f.read(1 << 20):
                yield chunk

    return StreamingResponse(chunks(), media_type=media, headers=headers)


__all__ = ["metric_series", "router"]
