"""Shared fixtures: real stores over SQLite, PostgreSQL and a live `slipway server`.

PostgreSQL tests run when `SLIPWAY_TEST_POSTGRES_URI` points at a server (CI sets it);
otherwise they skip with a one-line reason. With `SLIPWAY_REQUIRE_INTEGRATION=1` (CI) an
unreachable server is a failure instead of a skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from server_support import running_server

POSTGRES_ENV = "SLIPWAY_TEST_POSTGRES_URI"
REQUIRE_ENV = "SLIPWAY_REQUIRE_INTEGRATION"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own SLIPWAY_HOME and no inherited tracking URI."""
    home = tmp_path / "slipway-home"
    monkeypatch.setenv("SLIPWAY_HOME", str(home))
    monkeypatch.delenv("SLIPWAY_TRACKING_URI", raising=False)
    monkeypatch.delenv("SLIPWAY_ARTIFACT_ROOT", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    from slipway import config

    config.set_tracking_uri(None)  # a URI a previous test chose must not leak into this one
    return home


def _integration_unavailable(reason: str) -> None:
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} (required: {REQUIRE_ENV}=1)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_server_uri() -> str:
    """URI of a reachable PostgreSQL server's maintenance database."""
    uri = os.environ.get(POSTGRES_ENV)
    if not uri:
        _integration_unavailable(f"PostgreSQL tests need {POSTGRES_ENV}")
    try:
        import psycopg

        with psycopg.connect(uri, connect_timeout=5):
            pass
    except Exception as exc:  # not reachable: skip (or fail in CI)
        _integration_unavailable(f"PostgreSQL at {uri} not reachable: {exc.__class__.__name__}")
    return uri


@pytest.fixture
def postgres_uri(postgres_server_uri: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    import psycopg

    name = f"slipway_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server_uri, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = postgres_server_uri.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(postgres_server_uri, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class LiveServer:
    url: str
    store_uri: str
    artifacts_dir: Path


@pytest.fixture
def server_factory() -> Iterator:
    """Start live servers over any backend store and artifact destination: `factory(a, b)`."""
    with ExitStack() as stack:
        yield lambda store_uri, artifacts: stack.enter_context(running_server(store_uri, artifacts))


@pytest.fixture
def live_server(tmp_path: Path, server_factory) -> LiveServer:
    """A live server over a fresh SQLite store with a local artifact folder."""
    store_uri = f"sqlite:///{tmp_path / 'server.db'}"
    artifacts = tmp_path / "server-artifacts"
    url = server_factory(store_uri, str(artifacts))
    return LiveServer(url=url, store_uri=store_uri, artifacts_dir=artifacts)


@pytest.fixture(params=["sqlite", "postgres", "rest"])
def tracking_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A tracking URI for each transport; tests using it run three times."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'slipway.db'}"
    if request.param == "postgres":
        return request.getfixturevalue("postgres_uri")
    return request.getfixturevalue("live_server").url


@pytest.fixture
def tracking_store(tracking_uri: str, tmp_path: Path):
    """The TrackingStore behind `tracking_uri` (SQL in-process or REST)."""
    from slipway.store.factory import open_tracking_store

    store = open_tracking_store(tracking_uri, artifact_root=str(tmp_path / "artifacts"))
    yield store
    store.close()
