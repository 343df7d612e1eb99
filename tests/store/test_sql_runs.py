"""Runs in the SQL store: lifecycle, params, tags, metrics, inputs (SQLite and PostgreSQL)."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from slipway.entities import Dataset, DatasetInput, Metric, Param, RunStatus, Tag
from slipway.errors import InvalidParameterValue, ResourceDoesNotExist
from slipway.store.names import generate_run_name
from slipway.store.sql import SqlTrackingStore


@pytest.fixture
def exp_id(sql_store: SqlTrackingStore) -> str:
    return sql_store.create_experiment("runs")


@pytest.fixture
def run_id(sql_store: SqlTrackingStore, exp_id: str) -> str:
    return sql_store.create_run(exp_id, "ann", 1000).info.run_id


@pytest.fixture
def v_store(sqlite_store: SqlTrackingStore) -> SqlTrackingStore:
    """For input validation, which fails before SQL: SQLite only."""
    return sqlite_store


@pytest.fixture
def v_run(v_store: SqlTrackingStore) -> str:
    return v_store.create_run("0", "ann", 1000).info.run_id


def test_create_run(sql_store: SqlTrackingStore, exp_id: str, tmp_path) -> None:
    run = sql_store.create_run(exp_id, "ann", 1234, tags={"team": "ml"}, run_name="first")
    info = run.info
    assert re.fullmatch(r"[0-9a-f]{32}", info.run_id)
    assert (info.experiment_id, info.user_id, info.start_time) == (exp_id, "ann", 1234)
    assert (info.status, info.lifecycle_stage, info.end_time) == ("RUNNING", "active", None)
    assert info.run_name == "first"
    assert info.artifact_uri == str(tmp_path / "artifacts" / exp_id / info.run_id / "artifacts")
    assert run.data.tags == {"team": "ml", "mlflow.runName": "first"}
    assert sql_store.get_run(info.run_id) == run


def test_run_name_is_generated_when_missing(sql_store: SqlTrackingStore, exp_id: str) -> None:
    run = sql_store.create_run(exp_id, "ann", 1)
    assert re.fullmatch(r"[a-z]+-[a-z]+-\d{1,3}", run.info.run_name)
    assert run.data.tags["mlflow.runName"] == run.info.run_name
    assert re.fullmatch(r"[a-z]+-[a-z]+-\d{1,3}", generate_run_name())


def test_run_name_tag_is_used_when_no_name_given(sql_store: SqlTrackingStore, exp_id) -> None:
    run = sql_store.create_run(exp_id, "ann", 1, tags={"mlflow.runName": "from-tag"})
    assert run.info.run_name == "from-tag"
    with pytest.raises(InvalidParameterValue, match="different values"):
        sql_store.create_run(exp_id, "ann", 1, tags={"mlflow.runName": "a"}, run_name="b")


def test_create_run_in_unknown_experiment(sql_store: SqlTrackingStore) -> None:
    with pytest.raises(ResourceDoesNotExist):
        sql_store.create_run("77", "ann", 1)


def test_unknown_run_ids(sql_store: SqlTrackingStore) -> None:
    missing = "f" * 32
    for call in (
        lambda: sql_store.get_run(missing),
        lambda: sql_store.log_param(missing, "p", "1"),
        lambda: sql_store.log_metric_columns(missing, ["m"], [1.0], [1], [0]),
        lambda: sql_store.update_run_info(missing, status="FINISHED"),
        lambda: sql_store.delete_run(missing),
        lambda: sql_store.get_metric_history(missing, "m"),
    ):
        with pytest.raises(ResourceDoesNotExist, match=f"Run with id={missing} not found"):
            call()


def test_update_run_info(sql_store: SqlTrackingStore, run_id: str) -> None:
    info = sql_store.update_run_info(run_id, status="FINISHED", end_time=2000, run_name="renamed")
    assert (info.status, info.end_time, info.run_name) == ("FINISHED", 2000, "renamed")
    run = sql_store.get_run(run_id)
    assert run.info.run_name == "renamed"
    assert run.data.tags["mlflow.runName"] == "renamed"
    assert sql_store.update_run_info(run_id, status=RunStatus.FAILED).status == "FAILED"
    with pytest.raises(InvalidParameterValue, match="Invalid run status"):
        sql_store.update_run_info(run_id, status="DONE")


def test_setting_run_name_tag_renames_the_run(sql_store: SqlTrackingStore, run_id: str) -> None:
    sql_store.set_tag(run_id, "mlflow.runName", "via-tag")
    assert sql_store.get_run(run_id).info.run_name == "via-tag"


def test_delete_and_restore_run(sql_store: SqlTrackingStore, run_id: str) -> None:
    sql_store.delete_run(run_id)
    assert sql_store.get_run(run_id).info.lifecycle_stage == "deleted"
    with pytest.raises(InvalidParameterValue, match="must be in the 'active' state"):
        sql_store.log_metric(run_id, Metric("m", 1.0, 1, 0))
    with pytest.raises(InvalidParameterValue, match="must be in the 'active' state"):
        sql_store.log_metric_columns(run_id, ["m"], [1.0], [1], [0])
    sql_store.restore_run(run_id)
    assert sql_store.get_run(run_id).info.lifecycle_stage == "active"
    sql_store.log_metric(run_id, Metric("m", 1.0, 1, 0))


def test_params_are_immutable(sql_store: SqlTrackingStore, run_id: str) -> None:
    sql_store.log_param(run_id, "lr", "0.1")
    sql_store.log_param(run_id, "lr", "0.1")  # same value again is fine
    with pytest.raises(InvalidParameterValue) as info:
        sql_store.log_param(run_id, "lr", "0.2")
    assert "'lr'" in info.value.message
    assert "'0.1'" in info.value.message and "'0.2'" in info.value.message
    assert sql_store.get_run(run_id).data.params == {"lr": "0.1"}


def test_duplicate_param_keys_in_one_batch(sql_store: SqlTrackingStore, run_id: str) -> None:
    sql_store.log_batch(run_id, params=[Param("a", "1"), Param("a", "1")])
    with pytest.raises(InvalidParameterValue, match="appears twice"):
        sql_store.log_batch(run_id, params=[Param("b", "1"), Param("b", "2")])
    assert sql_store.get_run(run_id).data.params == {"a": "1"}


def test_batch_is_all_or_nothing(sql_store: SqlTrackingStore, run_id: str) -> None:
    sql_store.log_param(run_id, "fixed", "1")
    with pytest.raises(InvalidParameterValue):
        sql_store.log_batch(
            run_id,
            metrics=[Metric("acc", 0.5, 10, 0)],
            params=[Param("new", "x"), Param("fixed", "2")],
            tags=[Tag("t", "v")],
        )
    run = sql_store.get_run(run_id)
    assert run.data.params == {"fixed": "1"}
    assert run.data.metrics == {}
    assert "t" not in run.data.tags
    assert sql_store.get_metric_history(run_id, "acc").items == []


def test_batch_with_one_invalid_key_writes_nothing(sql_store: SqlTrackingStore, run_id) -> None:
    with pytest.raises(InvalidParameterValue, match="key"):
        sql_store.log_batch(
            run_id,
            metrics=[Metric("ok", 1.0, 1, 0), Metric("bad key!", 1.0, 1, 0)],
            params=[Param("p", "1")],
        )
    run = sql_store.get_run(run_id)
    assert run.data.metrics == {} and run.data.params == {}


@pytest.mark.parametrize(
    "key",
    ["", "a" * 251, "/abs", "../up", "a/../b", "a//b", "trailing/", "semi;colon", "star*", "."],
)
def test_invalid_keys_are_rejected(v_store: SqlTrackingStore, v_run: str, key: str) -> None:
    for call in (
        lambda: v_store.log_param(v_run, key, "v"),
        lambda: v_store.set_tag(v_run, key, "v"),
        lambda: v_store.log_metric(v_run, Metric(key, 1.0, 1, 0)),
        lambda: v_store.log_metric_columns(v_run, [key], [1.0], [1], [0]),
    ):
        with pytest.raises(InvalidParameterValue):
            call()


def test_valid_key_characters(sql_store: SqlTrackingStore, run_id: str) -> None:
    keys = ["a_b", "a-b", "a.b", "a b", "train/loss", "x:y", "Größe"]
    sql_store.log_batch(run_id, params=[Param(k, "1") for k in keys])
    assert set(sql_store.get_run(run_id).data.params) == set(keys)


def test_value_length_limits(v_store: SqlTrackingStore, v_run: str) -> None:
    v_store.log_param(v_run, "p", "x" * 6000)
    with pytest.raises(InvalidParameterValue, match="6000"):
        v_store.log_param(v_run, "q", "x" * 6001)
    v_store.set_tag(v_run, "t", "y" * 8000)
    with pytest.raises(InvalidParameterValue, match="8000"):
        v_store.set_tag(v_run, "u", "y" * 8001)


def test_batch_size_limits(v_store: SqlTrackingStore, v_run: str) -> None:
    with pytest.raises(InvalidParameterValue, match="at most 100 params"):
        v_store.log_batch(v_run, params=[Param(f"p{i}", "1") for i in range(101)])
    with pytest.raises(InvalidParameterValue, match="at most 1000 metrics"):
        v_store.log_batch(v_run, metrics=[Metric("m", 1.0, 1, i) for i in range(1001)])


def test_tags_upsert_and_delete(sql_store: SqlTrackingStore, run_id: str) -> None:
    sql_store.log_batch(run_id, tags=[Tag("t", "1"), Tag("t", "2")])
    sql_store.set_tag(run_id, "u", "x")
    sql_store.set_tag(run_id, "u", "y")
    tags = sql_store.get_run(run_id).data.tags
    assert (tags["t"], tags["u"]) == ("2", "y")
    sql_store.delete_tag(run_id, "u")
    assert "u" not in sql_store.get_run(run_id).data.tags
    with pytest.raises(ResourceDoesNotExist, match="No tag with name: u"):
        sql_store.delete_tag(run_id, "u")


def test_nan_and_infinities_round_trip(sql_store: SqlTrackingStore, run_id: str) -> None:
    sql_store.log_batch(
        run_id,
        metrics=[
            Metric("nan", math.nan, 1, 0),
            Metric("pinf", math.inf, 1, 0),
            Metric("ninf", -math.inf, 1, 0),
        ],
    )
    sql_store.log_metric_columns(
        run_id, ["col"] * 3, [math.nan, math.inf, -math.inf], [1, 2, 3], [0, 1, 2]
    )
    metrics = sql_store.get_run(run_id).data.metrics
    assert math.isnan(metrics["nan"])
    assert metrics["pinf"] == math.inf and metrics["ninf"] == -math.inf
    assert metrics["col"] == -math.inf  # step 2 is the latest
    history = [m.value for m in sql_store.get_metric_history(run_id, "col")]
    assert math.isnan(history[0]) and history[1:] == [math.inf, -math.inf]


def test_metric_history_is_ordered_by_step_then_timestamp(sql_store, run_id) -> None:
    sql_store.log_batch(
        run_id,
        metrics=[
            Metric("loss", 0.3, timestamp=30, step=2),
            Metric("loss", 0.9, timestamp=10, step=0),
            Metric("loss", 0.5, timestamp=25, step=1),
            Metric("loss", 0.6, timestamp=20, step=1),
            Metric("other", 1.0, timestamp=1, step=0),
        ],
    )
    history = sql_store.get_metric_history(run_id, "loss")
    assert [(m.step, m.timestamp, m.value) for m in history] == [
        (0, 10, 0.9),
        (1, 20, 0.6),
        (1, 25, 0.5),
        (2, 30, 0.3),
    ]
    assert all(m.key == "loss" for m in history)
    assert history.next_page_token is None
    assert sql_store.get_metric_history(run_id, "absent").items == []


def test_metric_history_pages(sql_store: SqlTrackingStore, run_id: str) -> None:
    n = 2500
    sql_store.log_metric_columns(
        run_id, ["m"] * n, [float(i) for i in range(n)], [5] * n, list(range(n))
    )
    seen: list[int] = []
    token = None
    pages = 0
    while True:
        page = sql_store.get_metric_history(run_id, "m", max_results=1000, page_token=token)
        seen.extend(m.step for m in page)
        pages += 1
        token = page.next_page_token
        if token is None:
            break
    assert pages == 3
    assert seen == list(range(n))


def test_latest_metric_is_greatest_step_not_last_logged(sql_store, run_id) -> None:
    sql_store.log_metric(run_id, Metric("acc", 0.9, timestamp=100, step=5))
    sql_store.log_metric(run_id, Metric("acc", 0.1, timestamp=200, step=3))  # older step, later
    latest = {m.key: m for m in sql_store.get_run(run_id).data.latest_metrics}
    assert (latest["acc"].value, latest["acc"].step, latest["acc"].timestamp) == (0.9, 5, 100)
    # same step, later timestamp wins
    sql_store.log_metric_columns(run_id, ["acc"], [0.7], [300], [5])
    assert sql_store.get_run(run_id).data.metrics["acc"] == 0.7
    # same step and timestamp: the greater value wins, whatever the order
    sql_store.log_metric_columns(run_id, ["acc", "acc"], [0.8, 0.75], [300, 300], [5, 5])
    assert sql_store.get_run(run_id).data.metrics["acc"] == 0.8
    assert len(sql_store.get_metric_history(run_id, "acc")) == 5


def test_log_metric_columns_many_keys(sql_store: SqlTrackingStore, run_id: str) -> None:
    keys = [f"k{i % 7}" for i in range(700)]
    sql_store.log_metric_columns(
        run_id, keys, [float(i) for i in range(700)], [1] * 700, list(range(700))
    )
    run = sql_store.get_run(run_id)
    assert run.data.metrics == {f"k{j}": float(693 + j) for j in range(7)}
    assert len(sql_store.get_metric_history(run_id, "k3")) == 100


def test_log_metric_columns_accepts_numpy(sql_store: SqlTrackingStore, run_id: str) -> None:
    n = 50
    sql_store.log_metric_columns(
        run_id,
        np.array(["m"] * n),
        np.linspace(0, 1, n),
        np.arange(n, dtype=np.int64) + 1000,
        np.arange(n, dtype=np.int64),
    )
    assert sql_store.get_run(run_id).data.metrics["m"] == 1.0
    assert [m.step for m in sql_store.get_metric_history(run_id, "m")] == list(range(n))


def test_log_metric_columns_validates_input(v_store: SqlTrackingStore, v_run: str) -> None:
    with pytest.raises(InvalidParameterValue, match="differ in length"):
        v_store.log_metric_columns(v_run, ["a", "b"], [1.0], [1, 2], [0, 1])
    with pytest.raises(InvalidParameterValue, match="must be numbers"):
        v_store.log_metric_columns(v_run, ["a", "a"], [1.0, "high"], [1, 2], [0, 1])
    with pytest.raises(InvalidParameterValue, match="integers"):
        v_store.log_metric_columns(v_run, ["a"], [1.0], ["noon"], [0])
    with pytest.raises(InvalidParameterValue, match=">= 0"):
        v_store.log_metric_columns(v_run, ["a"], [1.0], [-5], [0])
    v_store.log_metric_columns(v_run, [], [], [], [])
    assert v_store.get_run(v_run).data.metrics == {}


def test_log_batch_validates_metric_values(v_store: SqlTrackingStore, v_run: str) -> None:
    with pytest.raises(InvalidParameterValue, match="must be a number"):
        v_store.log_batch(v_run, metrics=[Metric("m", "x", 1, 0)])  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterValue, match=">= 0"):
        v_store.log_batch(v_run, metrics=[Metric("m", 1.0, -1, 0)])


def test_log_inputs_dedupes_datasets(sql_store: SqlTrackingStore, exp_id, run_id) -> None:
    train = DatasetInput(
        Dataset("iris", "abc123", source_type="local", source='{"uri": "/d"}', schema="{}"),
        tags={"mlflow.data.context": "train"},
    )
    test = DatasetInput(Dataset("iris", "def456"), tags={"mlflow.data.context": "test"})
    sql_store.log_inputs(run_id, [train])
    sql_store.log_inputs(run_id, [train, test])
    inputs = sql_store.get_run(run_id).inputs
    assert sorted((i.dataset.digest, i.tags["mlflow.data.context"]) for i in inputs) == [
        ("abc123", "train"),
        ("def456", "test"),
    ]
    assert next(i for i in inputs if i.dataset.digest == "abc123").dataset == train.dataset

    other = sql_store.create_run(exp_id, "ann", 2).info.run_id
    sql_store.log_inputs(other, [train])
    assert [i.dataset.digest for i in sql_store.get_run(other).inputs] == ["abc123"]
    with pytest.raises(InvalidParameterValue, match="digest"):
        sql_store.log_inputs(run_id, [DatasetInput(Dataset("x", "d" * 37))])


def test_log_outputs(sql_store: SqlTrackingStore, run_id: str) -> None:
    sql_store.log_outputs(run_id, [{"model_id": "m-1", "step": 3}])
    sql_store.log_outputs(run_id, [{"model_id": "m-1", "step": 4}, {"model_id": "m-2"}])
    assert sql_store.get_run(run_id).model_outputs == [
        {"model_id": "m-2", "step": 0},
        {"model_id": "m-1", "step": 4},
    ]
    with pytest.raises(InvalidParameterValue, match="model_id"):
        sql_store.log_outputs(run_id, [{"step": 1}])
