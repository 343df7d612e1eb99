"""Engines and transactions for the metadata database (SQLite or PostgreSQL).

SQLite runs in WAL mode with a 30 s busy timeout. Write transactions start with
`BEGIN IMMEDIATE`, so several processes writing the same file queue on the lock instead of
failing halfway with "database is locked"; reads start a plain (deferred) `BEGIN` and never
block writers. `run_in_transaction` retries a write a few times if the lock still could not
be had. Opening a database runs the Alembic migrations up to head under a lock, so two
processes opening the same new file at once both succeed.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, inspect, pool
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from slipway.errors import (
    DatabaseLocked,
    InvalidParameterValue,
    InvalidState,
    MissingDependency,
    ServerUnreachable,
)

T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_S = 30.0
WRITE_RETRIES = 5
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# Arbitrary constant shared by every slipway process: the PostgreSQL advisory lock that
# serialises migrations.
_PG_MIGRATION_LOCK_ID = 0x5_11_97_A7

_WRITE_OPTION = "slipway_write"
_RETRYABLE_MESSAGES = (
    "database is locked",
    "database is busy",
    "deadlock detected",
    "could not serialize",
)


def create_engine_for(db_uri: str) -> Engine:
    """An SQLAlchemy engine for `db_uri` set up for slipway's access pattern.

    `db_uri` is an SQLAlchemy URL (`sqlite:///path`, `postgresql+psycopg://...`); see
    `slipway.config.normalize_db_uri` for turning a tracking URI into one.
    """
    try:
        url = make_url(db_uri)
    except ArgumentError as exc:
        raise InvalidParameterValue(f"Not a database URL: {db_uri!r} ({exc}).") from None
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    if url.get_backend_name() == "postgresql":
        if url.drivername == "postgresql":
            url = url.set(drivername="postgresql+psycopg")
        try:
            return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
        except ModuleNotFoundError:
            raise MissingDependency(
                "PostgreSQL needs the psycopg driver: pip install 'slipway[postgres]'."
            ) from None
    raise InvalidParameterValue(
        f"Unsupported database {url.get_backend_name()!r} in {db_uri!r}: "
        "use SQLite (sqlite:///path) or PostgreSQL (postgresql://...)."
    )


def _sqlite_engine(url: Any) -> Engine:
    database = url.database or ""
    in_memory = database in ("", ":memory:") or "mode=memory" in str(url)
    if not in_memory:
        path = Path(database).expanduser()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InvalidParameterValue(
                f"Cannot create the folder for the SQLite database {path}: {exc}"
            ) from None
    kwargs: dict[str, Any] = {
        "connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}
    }
    if in_memory:
        # One shared connection, or every thread would see its own empty database.
        kwargs["poolclass"] = pool.StaticPool
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite so that `begin` below decides.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        if not in_memory:
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get(_WRITE_OPTION):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")

    return engine


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _is_retryable(exc: Exception) -> bool:
    orig = getattr(exc, "orig", None)  # SQLAlchemy wraps the driver's error
    text = str(orig if orig is not None else exc).lower()
    return any(s in text for s in _RETRYABLE_MESSAGES)


def _retry_wait(attempt: int, exc: Exception) -> None:
    """Back off before retry `attempt`, or give up with ServerUnavailable after the last."""
    if attempt > WRITE_RETRIES:
        raise DatabaseLocked(
            f"The metadata database stayed locked through {WRITE_RETRIES} retries; "
            "another process holds a long write. Try again."
        ) from exc
    time.sleep(min(2.0, 0.05 * 2**attempt) * (0.5 + random.random()))


def run_in_transaction(engine: Engine, fn: Callable[[Connection], T], *, write: bool = True) -> T:
    """Run `fn(conn)` in one transaction, committed if it returns, rolled back if it raises.

    A write that still finds the database locked after the busy timeout (or, on
    PostgreSQL, loses a deadlock) is retried a few times with backoff, so `fn` must be
    safe to run again.
    """
    attempt = 0
    while True:
        try:
            with engine.connect() as conn:
                if write:
                    conn.execution_options(**{_WRITE_OPTION: True})
                with conn.begin():
                    return fn(conn)
        except OperationalError as exc:
            if not (write and _is_retryable(exc)):
                raise
            attempt += 1
            _retry_wait(attempt, exc)


def run_in_cursor_transaction(engine: Engine, fn: Callable[[Any], T], *, write: bool = True) -> T:
    """`run_in_transaction` for `fn(cursor)` on the bare driver connection.

    For the few statements every run makes (create, log, end): an SQLAlchemy
    `Connection`'s events and bookkeeping per transaction cost as much as SQLite's own
    work. Same locking (`BEGIN IMMEDIATE` for SQLite writes), same commit-before-return,
    same retries; `fn` gets a DBAPI cursor and writes SQL in the driver's paramstyle.
    """
    begin = ("BEGIN IMMEDIATE" if write else "BEGIN") if is_sqlite(engine) else None
    driver_error = engine.dialect.loaded_dbapi.OperationalError

    def attempt_once() -> T:
        raw = engine.raw_connection()
        try:
            dbapi_conn = raw.dbapi_connection
            cur = dbapi_conn.cursor()
            try:
                if begin:
                    cur.execute(begin)
                result = fn(cur)
                dbapi_conn.commit()
                return result
            except BaseException:
                dbapi_conn.rollback()
                raise
            finally:
                cur.close()
        finally:
            raw.close()

    attempt = 0
    while True:
        try:
            return attempt_once()
        except driver_error as exc:
            if not (write and _is_retryable(exc)):
                raise
            attempt += 1
            _retry_wait(attempt, exc)


# --- migrations ------------------------------------------------------------------------


def _alembic_config(connection: Connection | None = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The newest migration shipped with this slipway."""
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(_alembic_config()).get_heads()
    if len(heads) != 1:
        raise InvalidState(f"slipway's migrations have {len(heads)} heads ({heads}); expected 1.")
    return heads[0]


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for a database slipway never touched."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to `revision` (an empty database gets every table).

    Cheap when already there: it checks the version first and only then takes the
    migration lock (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: an advisory lock), and checks
    again under the lock, since another process may have migrated in the meantime.
    """
    target = head_revision() if revision == "head" else revision
    try:
        if current_revision(engine) == target:
            return
    except OperationalError:
        pass  # e.g. the file is being created by another process; decide under the lock
    try:
        run_in_transaction(engine, lambda conn: _upgrade_locked(conn, target))
    except OperationalError as exc:
        where = engine.url.render_as_string(hide_password=True)
        reason = exc.orig if exc.orig is not None else exc
        if is_sqlite(engine):
            raise InvalidParameterValue(
                f"Cannot open the SQLite database {where}: {reason}. Check the path and "
                "that it is writable."
            ) from None
        raise ServerUnreachable(
            f"Cannot reach the metadata database {where}: {reason}. Check that the server "
            "is running and the URL, user and password are right."
        ) from None


def _upgrade_locked(conn: Connection, target: str) -> None:
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.util.exc import CommandError

    _lock_migrations(conn)
    current = MigrationContext.configure(conn).get_current_revision()
    if current == target:
        return
    if current is None and inspect(conn).has_table("experiments"):
        raise InvalidState(
            f"The database {conn.engine.url.render_as_string(hide_password=True)} already "
            "has an 'experiments' table but no slipway schema version: it was not created "
            "by slipway. Point slipway at a new database."
        )
    try:
        command.upgrade(_alembic_config(conn), target)
    except CommandError as exc:
        raise InvalidState(
            f"Cannot migrate the database from revision {current!r} to {target!r}: {exc}. "
            "It may have been written by a newer slipway; upgrade slipway."
        ) from None


def downgrade(engine: Engine, revision: str) -> None:
    """Step the schema back to `revision` ("base" drops everything); for tests and rescue."""
    run_in_transaction(engine, lambda conn: _downgrade_locked(conn, revision))


def _downgrade_locked(conn: Connection, revision: str) -> None:
    from alembic import command

    _lock_migrations(conn)
    command.downgrade(_alembic_config(conn), revision)


def _lock_migrations(conn: Connection) -> None:
    """PostgreSQL: hold the migration lock until the transaction ends (SQLite's
    `BEGIN IMMEDIATE` already excludes other writers)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK_ID})")


__all__ = [
    "create_engine_for",
    "current_revision",
    "downgrade",
    "head_revision",
    "is_sqlite",
    "run_in_cursor_transaction",
    "run_in_transaction",
    "upgrade",
]
