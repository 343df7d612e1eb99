"""Where slipway keeps things, read from the environment on each call.

Defaults: `./slipway-data/` (or `$SLIPWAY_HOME`) holds `slipway.db` and `artifacts/`.
`SLIPWAY_TRACKING_URI` overrides the metadata store; it may be a path, `sqlite:///…`,
`postgresql://…` (in-process SQL store) or `http(s)://…` (a `slipway server`).

The one piece of process state is the tracking URI a script chose with
`slipway.set_tracking_uri`: it lives here, below every client, so that `slipway.Client()`
and the fluent API agree on where data goes (as `MlflowClient()` follows
`mlflow.set_tracking_uri`).
"""

from __future__ import annotations

import getpass
import os
from functools import lru_cache
from pathlib import Path

from slipway.errors import InvalidParameterValue

HOME_ENV = "SLIPWAY_HOME"
TRACKING_URI_ENV = "SLIPWAY_TRACKING_URI"
ARTIFACT_ROOT_ENV = "SLIPWAY_ARTIFACT_ROOT"
USER_ENV = "SLIPWAY_USER"


def home() -> Path:
    """The data folder: `$SLIPWAY_HOME` or `./slipway-data`."""
    return Path(os.environ.get(HOME_ENV) or "slipway-data").absolute()


_chosen_tracking_uri: str | None = None


def default_tracking_uri() -> str:
    """The store used when nothing was chosen: `$SLIPWAY_TRACKING_URI`, else the home's SQLite."""
    return os.environ.get(TRACKING_URI_ENV) or f"sqlite:///{home() / 'slipway.db'}"


def set_tracking_uri(uri: str | None) -> None:
    """Choose the tracking URI for this process (None goes back to the default)."""
    global _chosen_tracking_uri
    _chosen_tracking_uri = None if uri is None else str(uri)


def get_tracking_uri() -> str:
    """The tracking URI chosen with `set_tracking_uri`, else the default."""
    return _chosen_tracking_uri or default_tracking_uri()


def default_artifact_root() -> str:
    return os.environ.get(ARTIFACT_ROOT_ENV) or str(home() / "artifacts")


def current_user() -> str:
    """The actor recorded on runs and audit events: `$SLIPWAY_USER`, else the OS user."""
    return os.environ.get(USER_ENV) or _os_user()


@lru_cache(maxsize=1)
def _os_user() -> str:
    """The login name; looked up once, since it cannot change while the process runs."""
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"


def is_rest_uri(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


def normalize_db_uri(uri: str) -> str:
    """Turn a tracking URI for the SQL store into an SQLAlchemy URL.

    A bare path (file or folder) means SQLite; a folder gets `slipway.db` inside it.
    `postgresql://` uses the psycopg 3 driver.
    """
    if uri.startswith("sqlite:"):
        return uri
    if uri.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + uri.split("://", 1)[1]
    if uri.startswith("postgresql+"):
        return uri
    if "://" in uri:
        raise InvalidParameterValue(
            f"Unsupported tracking URI {uri!r}: use a path, sqlite:///…, postgresql://… "
            "or http(s)://… of a slipway server."
        )
    path = Path(uri).expanduser().absolute()
    if path.is_dir() or not path.suffix:
        path = path / "slipway.db"
    return f"sqlite:///{path}"


__all__ = [
    "ARTIFACT_ROOT_ENV",
    "HOME_ENV",
    "TRACKING_URI_ENV",
    "USER_ENV",
    "current_user",
    "default_artifact_root",
    "default_tracking_uri",
    "get_tracking_uri",
    "home",
    "is_rest_uri",
    "normalize_db_uri",
    "set_tracking_uri",
]
