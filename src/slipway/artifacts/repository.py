"""The artifact repository interface and path safety.

A repository is rooted at one URI (a run's `artifact_uri`, an experiment's location, the
server's destination). Paths given to it are relative POSIX paths below that root;
`safe_artifact_path` refuses anything that could step outside it.
"""

from __future__ import annotations

import posixpath
from abc import ABC, abstractmethod
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote

from slipway.entities import FileInfo
from slipway.errors import InvalidParameterValue

CHUNK_SIZE = 1 << 20


def safe_artifact_path(path: str | None) -> str:
    """Normalise a relative artifact path; refuse `..`, absolute paths and drive letters.

    Returns "" for the root. The guard sees a path as the storage will: already decoded
    (the server's routes decode URLs before calling it), so a `%` is an ordinary
    character and `a%2Fb` names one file. As a second line of defence, a path that would
    step outside once percent-decoded again (`%2e%2e`, `..%2Fx`) is refused too, in case
    some layer below decodes it. Backslashes count as separators, so a Windows path
    cannot smuggle a `..` past the check; NUL bytes are refused.
    """
    if path is None:
        return ""
    text = str(path)
    parts = _checked_parts(text, path)
    decoded = _fully_unquoted(text)
    if decoded != text:
        _checked_parts(decoded, path)
    return "/".join(parts)


def _checked_parts(text: str, shown: object) -> list[str]:
    raw = text.replace("\\", "/")
    if raw.startswith("/") or (len(raw) > 1 and raw[1] == ":"):
        raise InvalidParameterValue(
            f"Invalid artifact path {shown!r}: it must be relative to the artifact root, "
            "not an absolute path."
        )
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise InvalidParameterValue(
            f"Invalid artifact path {shown!r}: '..' segments are not allowed; "
            "use a path below the artifact root."
        )
    if any("\x00" in p for p in parts):
        raise InvalidParameterValue(f"Invalid artifact path {shown!r}: it contains a NUL byte.")
    return parts


def _fully_unquoted(text: str) -> str:
    """`text` percent-decoded until nothing changes (a few rounds at most)."""
    for _ in range(5):
        decoded = unquote(text)
        if decoded == text:
            break
        text = decoded
    return text


def join_artifact_path(*parts: str | None) -> str:
    """Join relative artifact paths, each checked by `safe_artifact_path`."""
    checked = [safe_artifact_path(p) for p in parts if p]
    return safe_artifact_path(posixpath.join(*checked)) if checked else ""


class ArtifactRepository(ABC):
    """Files below one artifact root; the only code that reads or writes artifacts."""

    def __init__(self, root_uri: str) -> None:
        self.root_uri = root_uri

    @abstractmethod
    def write_stream(self, path: str, chunks: Iterable[bytes]) -> None:
        """Write a file from chunks, creating parent folders; replaces an existing file."""

    @abstractmethod
    def open(self, path: str) -> BinaryIO:
        """A binary read stream of one file (RESOURCE_DOES_NOT_EXIST if missing)."""

    @abstractmethod
    def list(self, path: str = "") -> list[FileInfo]:
        """Immediate children of a folder, with paths relative to the root, sorted."""

    @abstractmethod
    def is_dir(self, path: str) -> bool: ...

    @abstractmethod
    def exists(self, path: str) -> bool: ...

    @abstractmethod
    def delete(self, path: str = "") -> None:
        """Delete a file or a folder recursively (RESOURCE_DOES_NOT_EXIST if missing)."""

    # --- built on the primitives above ----------------------------------------------
    def write_bytes(self, path: str, data: bytes) -> None:
        self.write_stream(path, [data])

    def read_bytes(self, path: str) -> bytes:
        with self.open(path) as f:
            return f.read()

    def log_file(self, local_path: str | Path, artifact_path: str | None = None) -> None:
        """Copy one local file to `<artifact_path>/<file name>`."""
        local = Path(local_path)
        if not local.is_file():
            raise InvalidParameterValue(f"Cannot log {str(local)!r}: it is not a file.")
        dest = join_artifact_path(artifact_path, local.name)
        with local.open("rb") as f:
            self.write_stream(dest, iter(lambda: f.read(CHUNK_SIZE), b""))

    def log_dir(self, local_dir: str | Path, artifact_path: str | None = None) -> None:
        """Copy a local folder's contents (recursively) below `artifact_path`."""
        root = Path(local_dir)
        if not root.is_dir():
            raise InvalidParameterValue(f"Cannot log {str(root)!r}: it is not a folder.")
        for file in sorted(p for p in root.rglob("*") if p.is_file()):
            rel = file.parent.relative_to(root).as_posix()
            self.log_file(file, join_artifact_path(artifact_path, rel if rel != "." else ""))

    def download(self, path: str, dst_dir: str | Path) -> str:
        """Copy a file or folder to `dst_dir/<path>` and return the local path."""
        rel = safe_artifact_path(path)
        target = Path(dst_dir) / rel if rel else Path(dst_dir)
        if self.is_dir(rel):
            target.mkdir(parents=True, exist_ok=True)
            for child in self.list(rel):
                self.download(child.path, dst_dir)
            return str(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        with self.open(rel) as src, target.open("wb") as out:
            for chunk in iter(lambda: src.read(CHUNK_SIZE), b""):
                out.write(chunk)
        return str(target)


__all__ = [
    "ArtifactRepository",
    "CHUNK_SIZE",
    "join_artifact_path",
    "safe_artifact_path",
]
