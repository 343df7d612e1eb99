"""`RegistryStore.append_audit_event` over SQLite, PostgreSQL and a live server."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from slipway.errors import InvalidParameterValue, ResourceDoesNotExist
from slipway.store.factory import open_registry_store
from slipway.store.interface import RegistryStore

ROUTE = "/api/2.0/slipway/registry/audit-events/create"


@pytest.fixture
def registry(tracking_uri: str) -> Iterator[RegistryStore]:
    store = open_registry_store(tracking_uri)
    store.create_registered_model("churn", actor="ana")
    store.create_model_version("churn", "/models/churn/1", actor="ana")
    yield store
    store.close()


def test_an_appended_event_joins_the_trail(
    registry: RegistryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLIPWAY_USER", "serving-bot")
    event = registry.append_audit_event(
        "churn",
        "deployed",
        version=1,
        reason="canary at 10%",
        field="endpoint",
        old_value=None,
        new_value="prod-eu",
    )
    assert (event.model_name, event.action, event.version, event.actor) == (
        "churn",
        "deployed",
        1,
        "serving-bot",
    )
    assert (event.field, event.old_value, event.new_value, event.reason) == (
        "endpoint",
        None,
        "prod-eu",
        "canary at 10%",
    )
    trail = registry.get_audit_events("churn")
    assert [e.action for e in trail] == ["model_created", "version_created", "deployed"]
    assert trail[-1] == event
    assert event.event_id > trail[-2].event_id and event.timestamp >= trail[-2].timestamp


def test_minimal_event_and_explicit_actor(registry: RegistryStore) -> None:
    event = registry.append_audit_event("churn", "traffic_shifted", actor="ops")
    assert (event.actor, event.version, event.field, event.reason) == ("ops", None, None, None)
    registry.rename_registered_model("churn", "churn2")
    assert registry.get_audit_events("churn2")[-2] == event  # found by the model, renamed


def test_custom_events_do_not_disturb_alias_rollback(registry: RegistryStore) -> None:
    registry.create_model_version("churn", "/models/churn/2")
    registry.set_registered_model_alias("churn", "champion", 1)
    registry.set_registered_model_alias("churn", "champion", 2)
    registry.append_audit_event("churn", "deployed", version=2, field="champion", new_value="x")
    assert registry.rollback_registered_model_alias("churn", "champion").version == 1


@pytest.mark.parametrize(
    "action",
    ["", "Deployed", "1st", "_x", "has-dash", "has space", "x" * 33, "é", "alias_set", "tag_set"],
)
def test_bad_or_reserved_actions_are_refused(registry: RegistryStore, action: str) -> None:
    with pytest.raises(InvalidParameterValue):
        registry.append_audit_event("churn", action)
    assert len(registry.get_audit_events("churn")) == 2


@pytest.mark.parametrize("version", [0, -1, "abc"])
def test_bad_versions_are_refused(registry: RegistryStore, version) -> None:
    with pytest.raises(InvalidParameterValue):
        registry.append_audit_event("churn", "deployed", version=version)


def test_an_unknown_model_does_not_exist(registry: RegistryStore) -> None:
    with pytest.raises(ResourceDoesNotExist):
        registry.append_audit_event("ghost", "deployed")


def test_the_longest_action_fits_the_column(registry: RegistryStore) -> None:
    action = "a" * 32
    assert registry.append_audit_event("churn", action, field="f" * 255).action == action


def test_the_route_speaks_json(live_server) -> None:
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        created = http.post("/api/2.0/mlflow/registered-models/create", json={"name": "churn"})
        assert created.status_code == 200
        answer = http.post(
            ROUTE,
            json={"model_name": "churn", "action": "deployed", "version": 3, "new_value": "v"},
            headers={"X-Slipway-User": "ci"},
        )
        assert answer.status_code == 200, answer.text
        event = answer.json()["event"]
        assert (event["action"], event["version"], event["actor"], event["new_value"]) == (
            "deployed",
            "3",
            "ci",
            "v",
        )
        bad = http.post(ROUTE, json={"model_name": "churn", "action": "Bad Action"})
        assert (bad.status_code, bad.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
        missing = http.post(ROUTE, json={"model_name": "churn"})
        assert (missing.status_code, missing.json()["error_code"]) == (
            400,
            "INVALID_PARAMETER_VALUE",
        )
        ghost = http.post(ROUTE, json={"model_name": "ghost", "action": "deployed"})
        assert (ghost.status_code, ghost.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
        history = http.get("/api/2.0/slipway/registered-models/history", params={"name": "churn"})
        assert history.json()["events"][-1] == event
