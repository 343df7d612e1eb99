"""The artifact proxy: clients read and write artifacts through the server, no bucket keys.

MLflow's wire format, under `/api/2.0/mlflow-artifacts`: `PUT artifacts/<path>` (raw body,
streamed to storage chunk by chunk), `GET artifacts/<path>` (streamed download; a folder
answers with its listing), `GET artifacts?path=<dir>` (listing with base names, as MLflow
does) and `DELETE artifacts/<path>`. `mlflow-artifacts:/<path>` URIs map to
`<artifacts_destination>/<path>`. Only the artifact repository touches storage.
"""

from __future__ import annotations

import mimetypes
import posixpath
from collections.abc import AsyncIterator, Iterator
from typing import BinaryIO
from urllib.parse import urlparse

import anyio.from_thread
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from slipway.artifacts import (
    PROXY_SCHEME,
    ArtifactRepository,
    get_artifact_repository,
    safe_artifact_path,
)
from slipway.artifacts.repository import CHUNK_SIZE
from slipway.entities import FileInfo
from slipway.errors import InvalidParameterValue, InvalidState, ResourceDoesNotExist
from slipway.server.protocol import empty_response, json_response

router = APIRouter()

# Types a browser would render or run: served as plain text so an uploaded page cannot
# script the server's origin.
_INERT_TYPES = {"text/html", "image/svg+xml", "application/javascript", "text/javascript"}


class ArtifactRoots:
    """Maps artifact URIs to repositories; `mlflow-artifacts:/…` goes to the destination."""

    def __init__(self, destination: str | None, serve_artifacts: bool = True) -> None:
        self.destination = destination
        self.serve_artifacts = serve_artifacts and destination is not None
        self._proxy = get_artifact_repository(destination) if self.serve_artifacts else None

    @property
    def proxy(self) -> ArtifactRepository:
        """The repository behind the proxy (the artifacts destination)."""
        if self._proxy is None:
            raise InvalidState(
                "This server does not serve artifacts (it was started without an artifacts "
                "destination or with serve_artifacts=False); mlflow-artifacts:/ URIs cannot "
                "be read through it."
            )
        return self._proxy

    def resolve(self, uri: str) -> tuple[ArtifactRepository, str]:
        """The repository holding `uri` and the path of `uri` inside it."""
        if uri.startswith(PROXY_SCHEME):
            return self.proxy, safe_artifact_path(urlparse(uri).path.lstrip("/"))
        return get_artifact_repository(uri), ""


def artifact_roots(request: Request) -> ArtifactRoots:
    return request.app.state.artifact_roots


def _listing(repo: ArtifactRepository, rel: str) -> Response:
    files = [
        FileInfo(posixpath.basename(f.path), f.is_dir, f.file_size).to_dict()
        for f in repo.list(rel)
    ]
    return json_response({"files": files})


@router.get("/artifacts")
def list_artifacts(request: Request, path: str | None = None) -> Response:
    """List a folder below the artifacts destination (`?path=<dir>`)."""
    return _listing(artifact_roots(request).proxy, safe_artifact_path(path))


@router.api_route("/artifacts/{path:path}", methods=["GET", "HEAD"])
def download_artifact(request: Request, path: str) -> Response:
    """Stream one file; a folder answers with its listing."""
    repo = artifact_roots(request).proxy
    rel = safe_artifact_path(path)
    if not rel or repo.is_dir(rel):
        return _listing(repo, rel)
    if request.method == "HEAD":
        if not repo.exists(rel):
            raise _no_artifact(rel)
        return Response(media_type=_media_type(rel))
    return send_file(repo, rel)


def send_file(repo: ArtifactRepository, rel: str, *, attachment: bool = False) -> Response:
    """Stream the file at `rel` of `repo` (404 when there is none). `attachment` asks a
    browser to save it rather than show it, as MLflow's UI download routes do."""
    try:
        stream = repo.open(rel)
    except ResourceDoesNotExist:
        raise _no_artifact(rel) from None
    headers = {"X-Content-Type-Options": "nosniff"}
    if attachment:
        name = posixpath.basename(rel).replace('"', "")
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return StreamingResponse(_read_chunks(stream), media_type=_media_type(rel), headers=headers)


def _media_type(path: str) -> str:
    guessed, _ = mimetypes.guess_type(path)
    if guessed is None:
        return "application/octet-stream"
    return "text/plain" if guessed in _INERT_TYPES else guessed


def _read_chunks(stream: BinaryIO) -> Iterator[bytes]:
    with stream:
        while chunk := stream.read(CHUNK_SIZE):
            yield chunk


@router.put("/artifacts/{path:path}")
async def upload_artifact(request: Request, path: str) -> Response:
    """Write the raw body to `path`, streaming: the file is never held in memory whole."""
    rel = safe_artifact_path(path)
    if not rel:
        raise InvalidParameterValue("An artifact upload needs a file path below the root.")
    repo = artifact_roots(request).proxy
    body = request.stream().__aiter__()

    def chunks() -> Iterator[bytes]:
        # Runs in a worker thread; each call hops to the event loop for the next chunk.
        while chunk := anyio.from_thread.run(_next_chunk, body):
            yield chunk

    await run_in_threadpool(repo.write_stream, rel, chunks())
    return empty_response()


async def _next_chunk(body: AsyncIterator[bytes]) -> bytes:
    """Up to ~1 MiB of the body (b"" at the end), so thread hops stay few."""
    parts: list[bytes] = []
    size = 0
    while size < CHUNK_SIZE:
        try:
            part = await body.__anext__()
        except StopAsyncIteration:
            break
        parts.append(part)
        size += len(part)
    return b"".join(parts)


@router.delete("/artifacts/{path:path}")
def delete_artifact(request: Request, path: str) -> Response:
    rel = safe_artifact_path(path)
    if not rel:
        raise InvalidParameterValue("Refusing to delete the whole artifact root; name a path.")
    try:
        artifact_roots(request).proxy.delete(rel)
    except ResourceDoesNotExist:
        raise _no_artifact(rel) from None
    return empty_response()


def _no_artifact(rel: str) -> ResourceDoesNotExist:
    # Said without the destination's location: clients need not know where the server keeps files.
    return ResourceDoesNotExist(f"No artifact at '{rel}' on this server.")


__all__ = ["ArtifactRoots", "artifact_roots", "router", "send_file"]
