"""Schema migrations: new and older databases reach head on open; head equals schema.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from slipway.errors import InvalidParameterValue, InvalidState, ServerUnavailable
from slipway.store import db, schema
from slipway.store.sql import SqlTrackingStore


def test_revisions_form_one_line_starting_with_tracking() -> None:
    scripts = ScriptDirectory.from_config(db._alembic_config())
    assert scripts.get_heads() == [db.head_revision()]
    chain = [rev.revision for rev in scripts.walk_revisions("base", "heads")]
    assert chain[-1] == "0001_tracking"
    assert len(chain) == len(set(chain))


def test_new_database_is_created_at_head(db_uri: str, tmp_path: Path) -> None:
    store = SqlTrackingStore(db_uri, str(tmp_path / "a"))
    assert db.current_revision(store.engine) == db.head_revision()
    store.close()


def test_migrated_schema_matches_schema_module(db_uri: str) -> None:
    engine = db.create_engine_for(db_uri)
    db.upgrade(engine)
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), schema.metadata)
    engine.dispose()
    assert diffs == []


def test_older_database_is_upgraded_on_open_and_keeps_its_data(db_uri: str, tmp_path) -> None:
    engine = db.create_engine_for(db_uri)
    db.upgrade(engine, "0001_tracking")
    assert db.current_revision(engine) == "0001_tracking"
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO experiments (experiment_id, name, artifact_location, "
                "lifecycle_stage, creation_time, last_update_time) "
                "VALUES (7, 'from-before', '/old/7', 'active', 1, 1)"
            )
        )
    engine.dispose()

    store = SqlTrackingStore(db_uri, str(tmp_path / "a"))
    assert db.current_revision(store.engine) == db.head_revision()
    assert store.get_experiment("7").name == "from-before"
    assert store.get_experiment("0").name == "Default"
    store.close()


def test_database_at_base_is_rebuilt_on_open(db_uri: str, tmp_path: Path) -> None:
    engine = db.create_engine_for(db_uri)
    db.upgrade(engine)
    db.downgrade(engine, "base")
    assert db.current_revision(engine) is None
    engine.dispose()
    store = SqlTrackingStore(db_uri, str(tmp_path / "a"))
    assert db.current_revision(store.engine) == db.head_revision()
    store.create_experiment("works")
    store.close()


def test_foreign_database_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'other.db'}"
    engine = db.create_engine_for(uri)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE experiments (id INTEGER)"))
    engine.dispose()
    with pytest.raises(InvalidState, match="not created by slipway"):
        SqlTrackingStore(uri, str(tmp_path / "a"))


def test_database_from_a_newer_slipway_is_refused(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'newer.db'}"
    engine = db.create_engine_for(uri)
    db.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    engine.dispose()
    with pytest.raises(InvalidState, match="newer slipway"):
        SqlTrackingStore(uri, str(tmp_path / "a"))


def test_sqlite_runs_in_wal_mode_with_busy_timeout(tmp_path: Path) -> None:
    engine = db.create_engine_for(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    engine.dispose()


def test_unsupported_database_urls() -> None:
    with pytest.raises(InvalidParameterValue, match="Unsupported database"):
        db.create_engine_for("mysql://u@h/db")
    with pytest.raises(InvalidParameterValue, match="Not a database URL"):
        db.create_engine_for("::::")


def test_unreachable_databases_fail_with_a_clear_message(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(InvalidParameterValue, match="Cannot"):
        SqlTrackingStore(f"sqlite:///{blocker}/sub/x.db", str(tmp_path / "a"))
    with pytest.raises(ServerUnavailable, match="Cannot reach the metadata database"):
        SqlTrackingStore("postgresql+psycopg://nobody:secret@127.0.0.1:1/none", str(tmp_path))
