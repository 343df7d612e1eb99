"""Where slipway keeps things, read from the environment once per call (no global state).

Defaults: `./slipway-data/` (or `$SLIPWAY_HOME`) holds `slipway.db` and `artifacts/`.
`SLIPWAY_TRACKING_URI` overrides the metadata store; it may be a path, `sqlite:///…`,
`postgresql://…` (in-process SQL store) or `http(s)://…` (a `slipway server`).
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


def default_tracking_uri() -> str:
    return os.environ.get(TRACKING_URI_ENV) or f"sqlite:///{home() / 'slipway.db'}"


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
