"""Fixtures for the SQL store tests: the same store over SQLite and PostgreSQL.

PostgreSQL tests share one database per session and get a fresh schema each (through
`search_path`): a schema is created in milliseconds where a database takes a second.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from slipway.config import normalize_db_uri
from slipway.store.sql import SqlTrackingStore

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def store_test_database(postgres_server_uri: str) -> Iterator[str]:
    """A PostgreSQL database for this session's store tests, dropped at the end."""
    import psycopg

    name = f"slipway_store_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server_uri, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"{postgres_server_uri.rsplit('/', 1)[0]}/{name}"
    with psycopg.connect(postgres_server_uri, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_schema_uri(store_test_database: str) -> Iterator[str]:
    """An SQLAlchemy URL whose connections see only a new, empty schema."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(store_test_database, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    yield f"{normalize_db_uri(store_test_database)}?options=-csearch_path%3D{schema}"
    with psycopg.connect(store_test_database, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=BACKENDS)
def db_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An SQLAlchemy URL of an empty database, once per backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("postgres_schema_uri")


@pytest.fixture
def open_store(db_uri: str, tmp_path: Path) -> Iterator[Callable[..., SqlTrackingStore]]:
    """Open (more) stores on the test's database; all are closed at the end."""
    opened: list[SqlTrackingStore] = []

    def _open(artifact_root: str | None = None) -> SqlTrackingStore:
        store = SqlTrackingStore(db_uri, artifact_root or str(tmp_path / "artifacts"))
        opened.append(store)
        return store

    yield _open
    for store in opened:
        store.close()


@pytest.fixture
def sql_store(open_store: Callable[..., SqlTrackingStore]) -> SqlTrackingStore:
    """A fresh SqlTrackingStore on SQLite and on PostgreSQL."""
    return open_store()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqlTrackingStore]:
    """SQLite only: for checks that fail before any SQL runs (input validation)."""
    store = SqlTrackingStore(f"sqlite:///{tmp_path / 'v.db'}", str(tmp_path / "artifacts"))
    yield store
    store.close()
