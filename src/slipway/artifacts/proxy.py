"""Artifacts through a tracking server's proxy (`mlflow-artifacts:/…` URIs).

The server owns the bucket or folder; clients need no storage credentials. Wire format
is MLflow's: `PUT/GET/DELETE /api/2.0/mlflow-artifacts/artifacts/<path>` and
`GET /api/2.0/mlflow-artifacts/artifacts?path=<dir>` for listings.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Iterator
from typing import BinaryIO
from urllib.parse import quote, urlparse

import httpx
import orjson

from slipway.artifacts.repository import ArtifactRepository, safe_artifact_path
from slipway.entities import FileInfo
from slipway.errors import InvalidParameterValue, ResourceDoesNotExist, SlipwayError

PROXY_SCHEME = "mlflow-artifacts:"
API = "/api/2.0/mlflow-artifacts/artifacts"


class ProxyArtifactRepository(ArtifactRepository):
    """An artifact root below a server's proxy; `prefix` is the path after the scheme."""

    def __init__(self, root_uri: str, server_url: str, prefix: str) -> None:
        super().__init__(root_uri)
        self.server_url = server_url.rstrip("/")
        self.prefix = safe_artifact_path(prefix)
        self._http = httpx.Client(timeout=httpx.Timeout(120.0, connect=10.0))

    @classmethod
    def from_uri(cls, uri: str, tracking_uri: str | None = None) -> ProxyArtifactRepository:
        parsed = urlparse(uri)
        if parsed.netloc:  # mlflow-artifacts://host:port/path names its server
            server = f"http://{parsed.netloc}"
        else:
            server = tracking_uri or os.environ.get("SLIPWAY_TRACKING_URI", "")
            if not server.startswith(("http://", "https://")):
                raise InvalidParameterValue(
                    f"{uri!r} lives on a slipway server's artifact proxy, but no server "
                    "tracking URI is set. Call slipway.set_tracking_uri('http://host:port') "
                    "or set SLIPWAY_TRACKING_URI."
                )
        return cls(uri, server, parsed.path.lstrip("/"))

    def _url(self, path: str = "") -> str:
        rel = safe_artifact_path(path)
        full = "/".join(p for p in (self.prefix, rel) if p)
        return f"{self.server_url}{API}/{quote(full)}"

    def _check(self, response: httpx.Response) -> httpx.Response:
        if response.status_code < 400:
            return response
        try:
            body = orjson.loads(response.read())
            raise SlipwayError.from_error_code(body["error_code"], body["message"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            if response.status_code == 404:
                raise ResourceDoesNotExist(f"No artifact at {response.url}.") from None
            raise SlipwayError(
                f"Artifact request {response.request.method} {response.url} failed "
                f"with HTTP {response.status_code}."
            ) from None

    def write_stream(self, path: str, chunks: Iterable[bytes]) -> None:
        self._check(self._http.put(self._url(path), content=_iterate(chunks)))

    def open(self, path: str) -> BinaryIO:
        with self._http.stream("GET", self._url(path)) as response:
            self._check(response)
            return io.BytesIO(response.read())

    def list(self, path: str = "") -> list[FileInfo]:
        rel = safe_artifact_path(path)
        full = "/".join(p for p in (self.prefix, rel) if p)
        response = self._check(self._http.get(f"{self.server_url}{API}", params={"path": full}))
        files = orjson.loads(response.content).get("files", [])
        out = []
        for f in files:
            child = f"{rel}/{f['path']}" if rel else f["path"]
            size = f.get("file_size")
            out.append(FileInfo(child, bool(f.get("is_dir")), None if size is None else int(size)))
        return sorted(out, key=lambda f: f.path)

    def is_dir(self, path: str) -> bool:
        rel = safe_artifact_path(path)
        return rel == "" or bool(self.list(rel))

    def exists(self, path: str) -> bool:
        if self.is_dir(path):
            return True
        try:
            response = self._http.head(self._url(path))
        except httpx.HTTPError:
            return False
        return response.status_code < 400

    def delete(self, path: str = "") -> None:
        self._check(self._http.delete(self._url(path)))


def _iterate(chunks: Iterable[bytes]) -> Iterator[bytes]:
    yield from chunks


__all__ = ["PROXY_SCHEME", "ProxyArtifactRepository"]
