"""The URI → repository switch: which `ArtifactRepository` serves an artifact URI."""

from __future__ import annotations

from slipway.artifacts.proxy import PROXY_SCHEME, ProxyArtifactRepository
from slipway.artifacts.repository import ArtifactRepository


def get_artifact_repository(uri: str, tracking_uri: str | None = None) -> ArtifactRepository:
    """The repository for an artifact URI.

    `mlflow-artifacts:/…` goes through a tracking server's artifact proxy (the server
    named in the URI, else `tracking_uri`); anything else is a local path or fsspec URL.
    """
    if uri.startswith(PROXY_SCHEME):
        return ProxyArtifactRepository.from_uri(uri, tracking_uri)
    # fsspec on first use: `import slipway` and a model load through a server's proxy
    # need none of it (a cold load counts every import).
    from slipway.artifacts.fsspec_repository import FsspecArtifactRepository

    return FsspecArtifactRepository(uri)


__all__ = ["get_artifact_repository"]
