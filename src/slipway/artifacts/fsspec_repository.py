"""Artifacts in a local folder or any fsspec filesystem (s3://, gs://, memory://, …).

On the local filesystem a path must also stay inside the root once symbolic links are
resolved: a link inside the root that points outside it cannot be read, listed or
written through (links that stay inside are fine).
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable
from typing import BinaryIO

import fsspec

from slipway.artifacts.repository import ArtifactRepository, safe_artifact_path
from slipway.entities import FileInfo
from slipway.errors import InvalidParameterValue, MissingDependency, ResourceDoesNotExist

_EXTRA_FOR_PROTOCOL = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs", "abfs": "azure"}


class FsspecArtifactRepository(ArtifactRepository):
    """An artifact root on an fsspec filesystem; a bare path is the local filesystem."""

    def __init__(self, root_uri: str) -> None:
        super().__init__(root_uri)
        try:
            self.fs, root = fsspec.core.url_to_fs(root_uri)
        except ImportError as exc:
            protocol = root_uri.split("://", 1)[0]
            extra = _EXTRA_FOR_PROTOCOL.get(protocol, protocol)
            raise MissingDependency(
                f"Artifacts at {root_uri!r} need the fsspec driver for {protocol}://. "
                f"Install it with: pip install 'slipway[{extra}]' ({exc})"
            ) from exc
        self.root = root.rstrip("/") or "/"
        self._local = "file" in _protocols(self.fs)

    def _full(self, path: str) -> str:
        rel = safe_artifact_path(path)
        if not rel:
            return self.root
        full = posixpath.join(self.root, rel)
        if self._local and not self._inside_root(full):
            raise InvalidParameterValue(
                f"Invalid artifact path {path!r}: it leads through a symbolic link to outside "
                "the artifact root."
            )
        return full

    def _inside_root(self, full: str) -> bool:
        """Whether a local path, with its symbolic links resolved, is below the root."""
        root = os.path.realpath(self.root)
        real = os.path.realpath(full)
        return real == root or real.startswith(root.rstrip(os.sep) + os.sep)

    def write_stream(self, path: str, chunks: Iterable[bytes]) -> None:
        full = self._full(path)
        parent = posixpath.dirname(full)
        if self._local:
            self.fs.makedirs(parent, exist_ok=True)
        # Write to a temporary name and move into place, so a reader never sees half a file
        # and an interrupted upload leaves the old version intact (local filesystems).
        tmp = f"{full}.slipway-partial" if self._local else full
        try:
            with self.fs.open(tmp, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
        except BaseException:
            if self._local and self.fs.exists(tmp):
                self.fs.rm(tmp)
            raise
        if self._local:
            self.fs.mv(tmp, full)

    def open(self, path: str) -> BinaryIO:
        full = self._full(path)
        try:
            if self.fs.isdir(full):
                raise ResourceDoesNotExist(
                    f"Artifact {path!r} is a folder; list it or download it instead."
                )
            return self.fs.open(full, "rb")
        except FileNotFoundError as exc:
            raise ResourceDoesNotExist(f"No artifact at {path!r} under {self.root_uri}.") from exc

    def list(self, path: str = "") -> list[FileInfo]:
        rel = safe_artifact_path(path)
        full = self._full(rel)
        if not self.fs.isdir(full):
            return []
        out = []
        for entry in self.fs.ls(full, detail=True):
            name = posixpath.basename(entry["name"].rstrip("/"))
            if name.endswith(".slipway-partial"):
                continue
            if self._local and not self._inside_root(entry["name"]):
                continue  # a link out of the root: it cannot be read, so it is not listed
            child = f"{rel}/{name}" if rel else name
            is_dir = entry["type"] == "directory"
            out.append(FileInfo(child, is_dir, None if is_dir else int(entry.get("size") or 0)))
        return sorted(out, key=lambda f: f.path)

    def is_dir(self, path: str) -> bool:
        return bool(self.fs.isdir(self._full(path)))

    def exists(self, path: str) -> bool:
        return bool(self.fs.exists(self._full(path)))

    def delete(self, path: str = "") -> None:
        full = self._full(path)
        if not self.fs.exists(full):
            raise ResourceDoesNotExist(f"No artifact at {path!r} under {self.root_uri}.")
        self.fs.rm(full, recursive=True)


def _protocols(fs: fsspec.AbstractFileSystem) -> tuple[str, ...]:
    proto = fs.protocol
    return (proto,) if isinstance(proto, str) else tuple(proto)


__all__ = [
    "FsspecArtifactRepository",
]
