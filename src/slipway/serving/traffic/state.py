"""The live state of one traffic experiment, shared by a server's workers and its restarts.

A folder (default `$SLIPWAY_HOME/traffic/<name>/`, or `state:` in the traffic file)::

    state.json          decisions: the weights set live, the canary's progress; a revision
    state.lock          advisory lock taken to change state.json (read, modify, replace)
    workers/<id>.json   each worker's counts (`stats.Window`s), rewritten every sync
    archive.json        the counts of workers that stopped, folded together

Why files and not the metadata store: the state is a few kilobytes that one host's
workers poll several times a second; SQL belongs to `slipway.store` (and a new table to a
migration), while a folder needs neither, survives restarts like the database next to it
does, and costs a `read()` per poll. Every write goes to a temporary name and is renamed
over the old file, so a reader sees the old or the new document, never half of one; only
changes of `state.json` take the lock. One server (with any number of workers) per folder
and host.

When the traffic file changed in what identifies the experiment (its `fingerprint`: the
variants, strategy, split, canary schedule), the folder starts over from the file.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from slipway.serving.traffic.stats import merge, scopes_json

logger = logging.getLogger("slipway.serving")

STATE_FILE = "state.json"
LOCK_FILE = "state.lock"
ARCHIVE_FILE = "archive.json"
WORKERS_DIR = "workers"


def new_worker_id() -> str:
    """`<host>-<pid>-<token>`: unique, and says which process on which host wrote it."""
    host = socket.gethostname().replace("-", "_") or "host"
    return f"{host}-{os.getpid()}-{secrets.token_hex(3)}"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a+b") as handle:
        try:
            import fcntl
        except ImportError:  # Windows
            import msvcrt

            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
            try:
                yield
            finally:
                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
            return
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _write_json(path: Path, doc: Any) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(3)}.tmp")
    temporary.write_bytes(json.dumps(doc, separators=(",", ":")).encode())
    os.replace(temporary, path)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except ValueError:
        logger.warning("Ignoring the unreadable traffic state file %s", path)
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


class StateFolder:
    """One experiment's state folder, as one worker uses it."""

    def __init__(self, path: Path, fingerprint: str, worker_id: str | None = None) -> None:
        self.path = Path(path)
        self.fingerprint = fingerprint
        self.worker_id = worker_id or new_worker_id()
        self._workers = self.path / WORKERS_DIR
        self._state = self.path / STATE_FILE
        self._lock = self.path / LOCK_FILE
        self._archive = self.path / ARCHIVE_FILE
        self._host = self.worker_id.split("-", 1)[0]

    # ------------------------------------------------------------------ decisions
    def open(self, initial: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """The current state: kept when it belongs to this file, else `initial()`, saved.

        Also folds the counts of this host's stopped workers into the archive.
        """
        self._workers.mkdir(parents=True, exist_ok=True)
        with _locked(self._lock):
            state = _read_json(self._state)
            if not isinstance(state, dict) or state.get("fingerprint") != self.fingerprint:
                if state is not None:
                    logger.info(
                        "The traffic file changed since %s was written: starting over",
                        self._state,
                    )
                for stale in self._workers.glob("*.json"):
                    stale.unlink(missing_ok=True)
                self._archive.unlink(missing_ok=True)
                state = {**initial(), "fingerprint": self.fingerprint, "revision": 1}
                state["updated"] = time.time()
                _write_json(self._state, state)
            else:
                self._fold(self._stopped_workers(), state)
        return state

    def read(self) -> dict[str, Any] | None:
        """The state as last written (no lock: files are replaced whole)."""
        state = _read_json(self._state)
        return state if isinstance(state, dict) else None

    def update(
        self, change: Callable[[dict[str, Any]], dict[str, Any] | None]
    ) -> tuple[dict[str, Any], bool]:
        """Apply `change` to the state under the lock; returns (state, whether it changed).

        `change` returns the new state, or None to leave it as it is.
        """
        with _locked(self._lock):
            state = _read_json(self._state) or {}
            new = change(dict(state))
            if new is None:
                return state, False
            new["fingerprint"] = self.fingerprint
            new["revision"] = int(state.get("revision", 0)) + 1
            new["updated"] = time.time()
            new["updated_by"] = self.worker_id
            _write_json(self._state, new)
            return new, True

    # ------------------------------------------------------------------ counts
    def write_worker(self, doc: dict[str, Any]) -> None:
        """Replace this worker's counts."""
        _write_json(self._workers / f"{self.worker_id}.json", doc)

    def worker_docs(self) -> list[dict[str, Any]]:
        """Every worker's counts, and the archive's."""
        docs = []
        for path in [self._archive, *sorted(self._workers.glob("*.json"))]:
            doc = _read_json(path)
            if isinstance(doc, dict):
                docs.append(doc)
        return docs

    def retire(self) -> None:
        """At a clean stop: fold this worker's counts into the archive."""
        own = self._workers / f"{self.worker_id}.json"
        if not own.exists():
            return
        with _locked(self._lock):
            state = _read_json(self._state) or {}
            self._fold([own], state)

    def _stopped_workers(self) -> list[Path]:
        stopped = []
        for path in self._workers.glob("*.json"):
            host, _, rest = path.stem.partition("-")
            pid = rest.partition("-")[0]
            if host == self._host and pid.isdigit() and not _alive(int(pid)):
                stopped.append(path)
        return stopped

    def _fold(self, paths: list[Path], state: dict[str, Any]) -> None:
        """Add the counts in `paths` to the archive and delete them (under the lock)."""
        if not paths:
            return
        docs = [d for d in (_read_json(p) for p in paths) if isinstance(d, dict)]
        archive = _read_json(self._archive)
        scopes, shadow = merge([*([archive] if isinstance(archive, dict) else []), *docs])
        step = (state.get("canary") or {}).get("step")
        keep = {"total", f"step:{step}"}
        scopes = {s: v for s, v in scopes.items() if s in keep}
        _write_json(self._archive, {"scopes": scopes_json(scopes), "shadow": shadow.to_json()})
        for path in paths:
            path.unlink(missing_ok=True)


__all__ = ["StateFolder", "new_worker_id"]
