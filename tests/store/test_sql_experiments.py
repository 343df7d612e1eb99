"""Experiments in the SQL store: create, find, rename, tag, delete and search."""

from __future__ import annotations

import pytest

from slipway.entities import ViewType
from slipway.errors import (
    InvalidFilter,
    InvalidParameterValue,
    InvalidState,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
)
from slipway.store.sql import SqlTrackingStore, join_uri


def test_default_experiment_exists_on_first_open(sql_store: SqlTrackingStore, tmp_path) -> None:
    exp = sql_store.get_experiment("0")
    assert exp.name == "Default"
    assert exp.lifecycle_stage == "active"
    assert exp.artifact_location == str(tmp_path / "artifacts" / "0")
    assert sql_store.get_experiment_by_name("Default").experiment_id == "0"


def test_reopening_keeps_one_default_experiment(open_store) -> None:
    first = open_store()
    first.create_experiment("kept")
    second = open_store()
    names = [e.name for e in second.search_experiments()]
    assert sorted(names) == ["Default", "kept"]


def test_create_and_get_experiment(sql_store: SqlTrackingStore, tmp_path) -> None:
    exp_id = sql_store.create_experiment("churn", tags={"team": "ml"})
    assert exp_id == "1"
    exp = sql_store.get_experiment(exp_id)
    assert exp.name == "churn"
    assert exp.tags == {"team": "ml"}
    assert exp.artifact_location == str(tmp_path / "artifacts" / "1")
    assert exp.creation_time and exp.creation_time == exp.last_update_time
    assert sql_store.create_experiment("second") == "2"


def test_explicit_artifact_location_is_kept(sql_store: SqlTrackingStore) -> None:
    exp_id = sql_store.create_experiment("s3", artifact_location="s3://bucket/some/path")
    assert sql_store.get_experiment(exp_id).artifact_location == "s3://bucket/some/path"


def test_proxied_artifact_root_joins_without_doubled_slashes(open_store) -> None:
    store = open_store(artifact_root="mlflow-artifacts:/")
    assert store.get_experiment("0").artifact_location == "mlflow-artifacts:/0"
    exp_id = store.create_experiment("proxied")
    assert store.get_experiment(exp_id).artifact_location == f"mlflow-artifacts:/{exp_id}"
    run = store.create_run(exp_id, "ann", 1)
    assert run.info.artifact_uri == f"mlflow-artifacts:/{exp_id}/{run.info.run_id}/artifacts"


@pytest.mark.parametrize(
    ("base", "parts", "expected"),
    [
        ("mlflow-artifacts:/", ("0",), "mlflow-artifacts:/0"),
        ("s3://b/root/", ("1", "abc"), "s3://b/root/1/abc"),
        ("s3://b/root", ("1",), "s3://b/root/1"),
        ("/data/art", ("2", "r", "artifacts"), "/data/art/2/r/artifacts"),
    ],
)
def test_join_uri(base: str, parts: tuple[str, ...], expected: str) -> None:
    assert join_uri(base, *parts) == expected


def test_duplicate_name_is_resource_already_exists(sql_store: SqlTrackingStore) -> None:
    sql_store.create_experiment("dup")
    with pytest.raises(ResourceAlreadyExists, match="dup"):
        sql_store.create_experiment("dup")


def test_names_of_deleted_experiments_stay_taken(sql_store: SqlTrackingStore) -> None:
    exp_id = sql_store.create_experiment("gone")
    sql_store.delete_experiment(exp_id)
    with pytest.raises(ResourceAlreadyExists):
        sql_store.create_experiment("gone")
    assert sql_store.get_experiment_by_name("gone").lifecycle_stage == "deleted"


@pytest.mark.parametrize("name", ["", "   ", "x" * 501, None])
def test_invalid_experiment_names(sqlite_store: SqlTrackingStore, name) -> None:
    with pytest.raises(InvalidParameterValue):
        sqlite_store.create_experiment(name)


def test_unknown_and_malformed_experiment_ids(sql_store: SqlTrackingStore) -> None:
    with pytest.raises(ResourceDoesNotExist, match="id=42"):
        sql_store.get_experiment("42")
    with pytest.raises(InvalidParameterValue, match="experiment id"):
        sql_store.get_experiment("abc")
    assert sql_store.get_experiment_by_name("nope") is None


def test_rename_experiment(sql_store: SqlTrackingStore) -> None:
    a = sql_store.create_experiment("a")
    sql_store.create_experiment("b")
    sql_store.rename_experiment(a, "a2")
    assert sql_store.get_experiment(a).name == "a2"
    assert sql_store.get_experiment_by_name("a") is None
    with pytest.raises(ResourceAlreadyExists):
        sql_store.rename_experiment(a, "b")
    with pytest.raises(InvalidParameterValue):
        sql_store.rename_experiment(a, "")
    sql_store.delete_experiment(a)
    with pytest.raises(InvalidState, match="deleted"):
        sql_store.rename_experiment(a, "a3")


def test_experiment_tags(sql_store: SqlTrackingStore) -> None:
    exp_id = sql_store.create_experiment("tagged")
    sql_store.set_experiment_tag(exp_id, "k", "v1")
    sql_store.set_experiment_tag(exp_id, "k", "v2")
    sql_store.set_experiment_tag(exp_id, "mlflow.note.content", "notes")
    assert sql_store.get_experiment(exp_id).tags == {"k": "v2", "mlflow.note.content": "notes"}
    sql_store.delete_experiment_tag(exp_id, "k")
    assert sql_store.get_experiment(exp_id).tags == {"mlflow.note.content": "notes"}
    with pytest.raises(ResourceDoesNotExist, match="No tag with name: k"):
        sql_store.delete_experiment_tag(exp_id, "k")
    with pytest.raises(InvalidParameterValue, match="key"):
        sql_store.set_experiment_tag(exp_id, "../x", "v")


def test_delete_and_restore_experiment_with_its_runs(sql_store: SqlTrackingStore) -> None:
    exp_id = sql_store.create_experiment("lifecycle")
    kept = sql_store.create_run(exp_id, "ann", 1).info.run_id
    deleted_before = sql_store.create_run(exp_id, "ann", 2).info.run_id
    sql_store.delete_run(deleted_before)

    sql_store.delete_experiment(exp_id)
    assert sql_store.get_experiment(exp_id).lifecycle_stage == "deleted"
    assert sql_store.get_run(kept).info.lifecycle_stage == "deleted"
    with pytest.raises(InvalidParameterValue, match="must be in the 'active' state"):
        sql_store.create_run(exp_id, "ann", 3)
    with pytest.raises(InvalidParameterValue, match="must be in the 'active' state"):
        sql_store.log_param(kept, "p", "1")

    sql_store.restore_experiment(exp_id)
    assert sql_store.get_experiment(exp_id).lifecycle_stage == "active"
    assert sql_store.get_run(kept).info.lifecycle_stage == "active"
    # as in MLflow, restoring the experiment restores all of its runs
    assert sql_store.get_run(deleted_before).info.lifecycle_stage == "active"


def test_default_experiment_cannot_be_deleted(sql_store: SqlTrackingStore) -> None:
    with pytest.raises(InvalidParameterValue, match="Default experiment"):
        sql_store.delete_experiment("0")
    assert sql_store.get_experiment("0").lifecycle_stage == "active"


def test_delete_unknown_experiment(sql_store: SqlTrackingStore) -> None:
    with pytest.raises(ResourceDoesNotExist):
        sql_store.delete_experiment("99")


def test_search_experiments_filters_orders_and_pages(sql_store: SqlTrackingStore) -> None:
    ids = {name: sql_store.create_experiment(name) for name in ["Alpha", "alpha-2", "beta"]}
    sql_store.set_experiment_tag(ids["beta"], "team", "ml")
    sql_store.delete_experiment(ids["alpha-2"])

    def names(**kwargs) -> list[str]:
        return [e.name for e in sql_store.search_experiments(**kwargs)]

    assert names(order_by=["name"]) == ["Alpha", "Default", "beta"]
    assert names(order_by=["name DESC"]) == ["beta", "Default", "Alpha"]
    assert names(view_type=ViewType.ALL, order_by=["name"]) == [
        "Alpha",
        "Default",
        "alpha-2",
        "beta",
    ]
    assert names(view_type=ViewType.DELETED_ONLY) == ["alpha-2"]
    assert names(filter_string="name = 'beta'") == ["beta"]
    assert names(filter_string="name != 'beta'", order_by=["name"]) == ["Alpha", "Default"]
    assert names(filter_string="name LIKE 'al%'", view_type=ViewType.ALL) == ["alpha-2"]
    assert names(filter_string="name ILIKE 'al%'", view_type=ViewType.ALL, order_by=["name"]) == [
        "Alpha",
        "alpha-2",
    ]
    assert names(filter_string="tags.team = 'ml'") == ["beta"]
    assert names(filter_string="tags.team IS NULL", order_by=["experiment_id"]) == [
        "Default",
        "Alpha",
    ]
    assert names(filter_string="creation_time >= 0 and last_update_time > 0", max_results=50)
    # default order: newest first
    assert names()[0] == "beta"

    page1 = sql_store.search_experiments(max_results=2, order_by=["experiment_id"])
    assert [e.name for e in page1] == ["Default", "Alpha"]
    page2 = sql_store.search_experiments(
        max_results=2, order_by=["experiment_id"], page_token=page1.next_page_token
    )
    assert [e.name for e in page2] == ["beta"]
    assert page2.next_page_token is None


def test_search_experiments_rejects_bad_input(sql_store: SqlTrackingStore) -> None:
    with pytest.raises(InvalidFilter):
        sql_store.search_experiments(filter_string="name = 'a' OR name = 'b'")
    with pytest.raises(InvalidParameterValue, match="max_results"):
        sql_store.search_experiments(max_results=50001)
    with pytest.raises(InvalidParameterValue, match="max_results"):
        sql_store.search_experiments(max_results=0)
