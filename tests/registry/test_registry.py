"""The registry through `Client`, over SQLite, PostgreSQL and a live server alike."""

from __future__ import annotations

import pytest

from slipway import Client
from slipway.errors import (
    InvalidParameterValue,
    InvalidState,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
)


def actions(client: Client, name: str) -> list[str]:
    return [e.action for e in client.get_model_history(name)]


def test_registered_model_lifecycle(client: Client, make_run, register) -> None:
    model = client.create_registered_model("churn", tags={"team": "risk"}, description="v0")
    assert (model.name, model.tags, model.description) == ("churn", {"team": "risk"}, "v0")
    with pytest.raises(
        ResourceAlreadyExists, match=r"Registered Model \(name=churn\) already exists"
    ):
        client.create_registered_model("churn")

    client.update_registered_model("churn", description="Predicts churn.")
    client.set_registered_model_tag("churn", "owner", "ana")
    client.delete_registered_model_tag("churn", "team")
    renamed = client.rename_registered_model("churn", "churn-classifier")
    assert renamed.description == "Predicts churn."
    assert renamed.tags == {"owner": "ana"}
    with pytest.raises(ResourceDoesNotExist, match="Registered Model with name=churn not found"):
        client.get_registered_model("churn")

    # History follows the model across the rename.
    assert actions(client, "churn-classifier") == [
        "model_created",
        "description_updated",
        "tag_set",
        "tag_deleted",
        "model_renamed",
    ]
    client.delete_registered_model("churn-classifier", reason="retired")
    with pytest.raises(ResourceDoesNotExist):
        client.get_registered_model("churn-classifier")
    # Events outlive the model they describe.
    last = client.get_model_history("churn-classifier")[-1]
    assert (last.action, last.reason) == ("model_deleted", "retired")


def test_invalid_names_are_refused(client: Client, make_run, register) -> None:
    for bad in ("", "a/b", "a:b"):
        with pytest.raises(InvalidParameterValue):
            client.create_registered_model(bad)


def test_versions_increment_and_snapshot_their_run(client: Client, make_run, register) -> None:
    v1 = register(client, "churn", {"accuracy": 0.81}, max_depth="3")
    v2 = register(client, "churn", {"accuracy": 0.86}, max_depth="5")
    assert (v1, v2) == (1, 2)
    mv = client.get_model_version("churn", 2)
    assert mv.metrics == {"accuracy": 0.86}
    assert mv.params == {"max_depth": "5"}
    assert mv.status == "READY"
    assert mv.current_stage == "None"

    client.delete_model_version("churn", 2)
    # A deleted version's number is never given out again.
    assert register(client, "churn") == 3
    with pytest.raises(ResourceDoesNotExist, match=r"version=2\) not found"):
        client.get_model_version("churn", 2)


def test_version_of_unknown_model_is_a_clear_error(client: Client, make_run, register) -> None:
    with pytest.raises(ResourceDoesNotExist, match="Registered Model with name=ghost not found"):
        client.create_model_version("ghost", "/tmp/model")
    client.create_registered_model("real")
    with pytest.raises(ResourceDoesNotExist, match=r"version=7\) not found"):
        client.get_model_version("real", 7)


def test_sources_resolve_to_artifact_locations(client: Client, make_run, register) -> None:
    run_id = make_run(client, {"accuracy": 0.9})
    run = client.get_run(run_id)
    logged = client.create_logged_model("0", name="model", source_run_id=run_id)
    assert logged.model_id.startswith("m-") and len(logged.model_id) == 34
    assert logged.artifact_location.endswith(f"/models/{logged.model_id}/artifacts")
    assert logged.status == "PENDING"
    assert client.finalize_logged_model(logged.model_id, "READY").status == "READY"

    client.create_registered_model("churn")
    by_id = client.create_model_version("churn", f"models:/{logged.model_id}")
    assert by_id.run_id == run_id  # taken from the logged model
    assert by_id.model_id == logged.model_id
    assert client.get_model_version_download_uri("churn", 1) == logged.artifact_location

    # runs:/<run>/<name> means that run's logged model called <name> (MLflow 3).
    by_run = client.create_model_version("churn", f"runs:/{run_id}/model")
    assert client.get_model_version_download_uri("churn", 2) == logged.artifact_location
    assert by_run.model_id == logged.model_id
    # Other run paths are the run's own artifacts.
    client.create_model_version("churn", f"runs:/{run_id}/other")
    assert client.get_model_version_download_uri("churn", 3) == (
        run.info.artifact_uri.rstrip("/") + "/other"
    )
    with pytest.raises(ResourceDoesNotExist, match="m-nope"):
        client.create_model_version("churn", "models:/m-nope")


def test_aliases(client: Client, make_run, register) -> None:
    for _ in range(3):
        register(client, "churn", {"accuracy": 0.8})
    client.set_registered_model_alias("churn", "champion", 1)
    client.set_registered_model_alias("churn", "challenger", 2)
    client.set_registered_model_alias("churn", "champion", 3)  # moves it
    assert client.get_model_version_by_alias("churn", "champion").version == 3
    model = client.get_registered_model("churn")
    assert model.aliases == {"champion": 3, "challenger": 2}
    assert client.get_model_version("churn", 3).aliases == ["champion"]

    for bad in ("v3", "3", "V12", "latest", "LATEST", "has space", ""):
        with pytest.raises(InvalidParameterValue):
            client.set_registered_model_alias("churn", bad, 1)
    with pytest.raises(ResourceDoesNotExist, match=r"version=9\) not found"):
        client.set_registered_model_alias("churn", "shadow", 9)

    client.delete_registered_model_alias("churn", "challenger")
    with pytest.raises(ResourceDoesNotExist, match=r"no alias '@challenger'.*@champion"):
        client.get_model_version_by_alias("churn", "challenger")

    events = [e for e in client.get_model_history("churn") if e.field == "champion"]
    assert [(e.action, e.old_value, e.new_value) for e in events] == [
        ("alias_set", None, "1"),
        ("alias_set", "1", "3"),
    ]


def test_deleting_an_aliased_version_needs_force(client: Client, make_run, register) -> None:
    register(client, "churn")
    register(client, "churn")
    client.set_registered_model_alias("churn", "champion", 2)
    with pytest.raises(InvalidState, match=r"@champion.*--force"):
        client.delete_model_version("churn", 2)
    assert client.get_model_version("churn", 2).aliases == ["champion"]

    client.delete_model_version("churn", 2, force=True, reason="bad data")
    assert client.get_registered_model("churn").aliases == {}
    tail = client.get_model_history("churn")[-2:]
    assert [(e.action, e.field, e.version) for e in tail] == [
        ("alias_deleted", "champion", 2),
        ("version_deleted", None, 2),
    ]
    assert tail[1].reason == "bad data"


def test_stages_and_archive_existing(client: Client, make_run, register) -> None:
    for _ in range(3):
        register(client, "churn")
    client.transition_model_version_stage("churn", 1, "production")
    client.transition_model_version_stage("churn", 2, "Staging")
    mv = client.transition_model_version_stage(
        "churn", 3, "Production", archive_existing_versions=True
    )
    assert mv.current_stage == "Production"
    assert client.get_model_version("churn", 1).current_stage == "Archived"
    assert client.get_model_version("churn", 2).current_stage == "Staging"
    latest = {v.current_stage: v.version for v in client.get_latest_versions("churn")}
    assert latest == {"Archived": 1, "Staging": 2, "Production": 3}
    assert [v.version for v in client.get_latest_versions("churn", ["Production"])] == [3]

    with pytest.raises(InvalidParameterValue, match="Invalid stage 'Prod'"):
        client.transition_model_version_stage("churn", 1, "Prod")
    with pytest.raises(InvalidParameterValue, match="Staging and Production"):
        client.transition_model_version_stage("churn", 1, "Archived", True)

    archived = [e for e in client.get_model_history("churn") if e.action == "stage_transition"][-1]
    assert (archived.version, archived.old_value, archived.new_value) == (
        1,
        "Production",
        "Archived",
    )
    assert "version 3 moved to Production" in archived.reason


def test_search(client: Client, make_run, register) -> None:
    run_id = make_run(client)
    for name in ("churn-a", "churn-b", "fraud"):
        client.create_registered_model(name, tags={"team": "risk" if "churn" in name else "ops"})
        client.create_model_version(name, "/models/x", run_id=run_id)
    client.create_model_version("churn-a", "/models/y")

    names = lambda page: [m.name for m in page]  # noqa: E731
    assert names(client.search_registered_models("name LIKE 'churn%'")) == ["churn-a", "churn-b"]
    assert names(client.search_registered_models("tags.team = 'ops'")) == ["fraud"]
    assert names(client.search_registered_models("name ILIKE 'CHURN-B'")) == ["churn-b"]
    assert names(client.search_registered_models(order_by=["name DESC"])) == [
        "fraud",
        "churn-b",
        "churn-a",
    ]
    first = client.search_registered_models(max_results=2)
    assert len(first) == 2 and first.next_page_token
    rest = client.search_registered_models(max_results=2, page_token=first.next_page_token)
    assert names(rest) == ["fraud"] and rest.next_page_token is None

    found = client.search_model_versions(f"run_id = '{run_id}'")
    assert sorted(v.name for v in found) == ["churn-a", "churn-b", "fraud"]
    found = client.search_model_versions("name = 'churn-a' and version_number > 1")
    assert [(v.name, v.version) for v in found] == [("churn-a", 2)]
    ordered = client.search_model_versions("name = 'churn-a'", order_by=["version_number ASC"])
    assert [v.version for v in ordered] == [1, 2]
    # A model without the tag differs from any value (as mlflow's prompt filter expects).
    client.create_registered_model("untagged")
    assert names(client.search_registered_models("tags.team != 'risk'")) == ["fraud", "untagged"]
    with pytest.raises(InvalidParameterValue):
        client.search_model_versions("name = 'a' OR name = 'b'")
    with pytest.raises(InvalidParameterValue, match="Invalid attribute"):
        client.search_registered_models("flavor = 'x'")


def test_model_version_tags_and_description(client: Client, make_run, register) -> None:
    register(client, "churn")
    client.set_model_version_tag("churn", 1, "validated", "yes")
    client.update_model_version("churn", 1, description="first try")
    mv = client.get_model_version("churn", 1)
    assert (mv.tags, mv.description) == ({"validated": "yes"}, "first try")
    client.delete_model_version_tag("churn", 1, "validated")
    assert client.get_model_version("churn", 1).tags == {}
    assert actions(client, "churn")[-3:] == ["tag_set", "description_updated", "tag_deleted"]


def test_audit_events_name_the_actor(
    client: Client, register, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLIPWAY_USER", "ana")
    register(client, "churn")
    monkeypatch.setenv("SLIPWAY_USER", "bo")
    client.set_registered_model_alias("churn", "champion", 1, reason="best so far")
    events = client.get_model_history("churn")
    assert [(e.action, e.actor) for e in events] == [
        ("model_created", "ana"),
        ("version_created", "ana"),
        ("alias_set", "bo"),
    ]
    assert events[-1].reason == "best so far"
    assert events[0].timestamp <= events[-1].timestamp
    assert [e.event_id for e in events] == sorted(e.event_id for e in events)


def test_the_audit_trail_has_no_edit_api(client: Client, make_run, register) -> None:
    store = client.registry_store
    editing = [
        name
        for name in dir(store)
        if ("audit" in name or "event" in name or "history" in name)
        and not name.startswith(("get_", "append_", "_"))
    ]
    assert editing == []


def test_history_of_unknown_model(client: Client, make_run, register) -> None:
    with pytest.raises(ResourceDoesNotExist, match="no recorded history"):
        client.get_model_history("never-existed")


def test_logged_models(client: Client, make_run, register) -> None:
    run_id = make_run(client)
    a = client.create_logged_model(
        "0", name="model", source_run_id=run_id, tags={"flavor": "sklearn"}, params={"C": "1"}
    )
    b = client.create_logged_model("0", name="other")
    client.set_logged_model_tags(a.model_id, {"stage": "eval"})
    client.delete_logged_model_tag(a.model_id, "flavor")
    got = client.get_logged_model(a.model_id)
    assert (got.tags, got.params, got.source_run_id) == ({"stage": "eval"}, {"C": "1"}, run_id)
    assert [m.model_id for m in client.search_logged_models(["0"], "name = 'model'")] == [
        a.model_id
    ]
    found = client.search_logged_models(["0"], f"source_run_id = '{run_id}'")
    assert [m.name for m in found] == ["model"]
    client.delete_logged_model(b.model_id)
    with pytest.raises(ResourceDoesNotExist):
        client.get_logged_model(b.model_id)
    assert [m.name for m in client.search_logged_models(["0"])] == ["model"]
    with pytest.raises(ResourceDoesNotExist, match="Experiment '42'"):
        client.create_logged_model("42")
    # Logging a model is not registering it.
    assert client.search_registered_models().items == []
