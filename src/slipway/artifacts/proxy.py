"""Artifacts through a tracking server's proxy (`mlflow-artifacts:/…` URIs).

The server owns the bucket or folder; clients need no storage credentials. Wire format
is MLflow's: `PUT/GET/DELETE /api/2.0/mlflow-artifacts/artifacts/<path>` and
`GET /api/2.0/mlflow-artifacts/artifacts?path=<dir>` for listings. Requests go through
the same `RestSession` as the stores (`shared_session`): one keep-alive connection pool,
auth and retries per server, and its typed errors. Uploads stream and are not retried;
downloads stream.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import BinaryIO
from urllib.parse import quote, urlparse

from slipway.artifacts.repository import ArtifactRepository, safe_artifact_path
from slipway.entities import FileInfo
from slipway.errors import InvalidParameterValue, ServerUnavailable, SlipwayError
from slipway.store.rest.session import RestSession, shared_session

PROXY_SCHEME = "mlflow-artifacts:"
API = "/api/2.0/mlflow-artifacts/artifacts"


class ProxyArtifactRepository(ArtifactRepository):
    """An artifact root below a server's proxy; `prefix` is the path after the scheme."""

    def __init__(
        self, root_uri: str, server_url: str, prefix: str, session: RestSession | None = None
    ) -> None:
        super().__init__(root_uri)
        self.session = session or shared_session(server_url)
        self.server_url = self.session.base_url
        self.prefix = safe_artifact_path(prefix)

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

    def _full(self, path: str) -> str:
        """The checked path below the server's artifacts destination."""
        return "/".join(p for p in (self.prefix, safe_artifact_path(path)) if p)

    def _path(self, path: str) -> str:
        return f"{API}/{quote(self._full(path))}"

    def write_stream(self, path: str, chunks: Iterable[bytes]) -> None:
        self.session.request("PUT", self._path(path), content=_iterate(chunks))

    def open(self, path: str) -> BinaryIO:
        return self.session.open(self._path(path))

    def list(self, path: str = "") -> list[FileInfo]:
        rel = safe_artifact_path(path)
        answer = self.session.call("GET", API, params={"path": self._full(rel)})
        out = []
        for f in answer.get("files", []):
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
            self.session.request("HEAD", self._path(path))
        except ServerUnavailable:
            raise
        except SlipwayError:  # the server answered: not there (or not a file it can serve)
            return False
        return True

    def delete(self, path: str = "") -> None:
        self.session.request("DELETE", self._path(path))


def _iterate(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The chunks as a one-shot iterator: httpx streams it (and the session never retries
    a body it cannot send twice)."""
    yield from chunks


__all__ = ["PROXY_SCHEME", "ProxyArtifactRepository"]
