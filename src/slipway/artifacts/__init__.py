"""Artifact persistence: the only code that touches files or buckets.

get_artifact_repository(uri)   the repository for a URI (factory.py)
ArtifactRepository             the interface (repository.py); fsspec and proxy backends
safe_artifact_path(path)       the traversal guard every path goes through
"""

from slipway.artifacts.factory import get_artifact_repository
from slipway.artifacts.proxy import PROXY_SCHEME
from slipway.artifacts.repository import (
    ArtifactRepository,
    join_artifact_path,
    safe_artifact_path,
)

__all__ = [
    "PROXY_SCHEME",
    "ArtifactRepository",
    "get_artifact_repository",
    "join_artifact_path",
    "safe_artifact_path",
]
