"""The audit trail is append-only in the database itself, not just by the absence of an API."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from slipway.config import normalize_db_uri
from slipway.errors import InvalidParameterValue, ResourceDoesNotExist
from slipway.store.sql import SqlRegistryStore


@pytest.fixture(params=["sqlite", "postgres"])
def registry(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "sqlite":
        uri = f"sqlite:///{tmp_path / 'audit.db'}"
    else:
        uri = request.getfixturevalue("postgres_uri")
    store = SqlRegistryStore(normalize_db_uri(uri))
    yield store
    store.close()


def test_events_cannot_be_updated_or_deleted_even_with_sql(registry: SqlRegistryStore) -> None:
    registry.create_registered_model("churn", actor="ana")
    for statement in (
        "UPDATE audit_events SET actor = 'mallory'",
        "DELETE FROM audit_events",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            registry.engine.begin() as conn,
        ):
            conn.execute(text(statement))
    events = registry.get_audit_events("churn")
    assert [(e.action, e.actor) for e in events] == [("model_created", "ana")]


def test_a_failed_change_records_no_event(registry: SqlRegistryStore) -> None:
    registry.create_registered_model("churn")
    registry.create_model_version("churn", "/models/1")
    with pytest.raises(InvalidParameterValue, match="looks like a version"):
        registry.set_registered_model_alias("churn", "v1", 1)
    with pytest.raises(ResourceDoesNotExist, match=r"version=5\) not found"):
        registry.set_registered_model_alias("churn", "champion", 5)
    assert [e.action for e in registry.get_audit_events("churn")] == [
        "model_created",
        "version_created",
    ]
