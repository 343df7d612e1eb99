"""The same store behaviours over every transport: SQLite, PostgreSQL and REST to a server.

What a user of `TrackingStore` sees must not depend on where the store lives; these run
three times each (the `tracking_store` fixture is parametrized).
"""

from __future__ import annotations

import math

import pytest

from slipway.entities import Dataset, DatasetInput, Metric, Param, Tag, ViewType
from slipway.errors import (
    InvalidParameterValue,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
)


@pytest.fixture
def run_id(tracking_store) -> str:
    exp = tracking_store.create_experiment("transports")
    return tracking_store.create_run(exp, "alice", 1_000, run_name="r1").info.run_id


def test_experiment_round_trip_and_typed_errors(tracking_store) -> None:
    exp_id = tracking_store.create_experiment("exp-a", tags={"team": "ml"})
    exp = tracking_store.get_experiment(exp_id)
    assert (exp.name, exp.tags, exp.lifecycle_stage) == ("exp-a", {"team": "ml"}, "active")
    assert tracking_store.get_experiment_by_name("exp-a").experiment_id == exp_id
    assert tracking_store.get_experiment_by_name("no-such-experiment") is None
    with pytest.raises(ResourceAlreadyExists):
        tracking_store.create_experiment("exp-a")
    with pytest.raises(ResourceDoesNotExist):
        tracking_store.get_experiment("987654")

    tracking_store.rename_experiment(exp_id, "exp-b")
    tracking_store.set_experiment_tag(exp_id, "stage", "dev")
    tracking_store.delete_experiment_tag(exp_id, "team")
    exp = tracking_store.get_experiment(exp_id)
    assert (exp.name, exp.tags) == ("exp-b", {"stage": "dev"})

    tracking_store.delete_experiment(exp_id)
    active = [e.name for e in tracking_store.search_experiments()]
    deleted = [e.name for e in tracking_store.search_experiments(ViewType.DELETED_ONLY)]
    assert "exp-b" not in active and deleted == ["exp-b"]
    tracking_store.restore_experiment(exp_id)
    assert tracking_store.get_experiment(exp_id).lifecycle_stage == "active"


def test_search_experiments_pages_through_everything(tracking_store) -> None:
    for i in range(5):
        tracking_store.create_experiment(f"paged-{i}")
    seen, token = [], None
    while True:
        page = tracking_store.search_experiments(
            max_results=2, filter_string="name LIKE 'paged-%'", page_token=token
        )
        assert len(page) <= 2
        seen += [e.name for e in page]
        token = page.next_page_token
        if not token:
            break
    assert sorted(seen) == [f"paged-{i}" for i in range(5)]


def test_run_lifecycle(tracking_store, run_id: str) -> None:
    run = tracking_store.get_run(run_id)
    assert run.info.status == "RUNNING"
    assert run.info.run_name == "r1"
    assert run.data.tags["mlflow.runName"] == "r1"
    info = tracking_store.update_run_info(run_id, status="FINISHED", end_time=2_000)
    assert (info.status, info.end_time) == ("FINISHED", 2_000)
    tracking_store.delete_run(run_id)
    assert tracking_store.get_run(run_id).info.lifecycle_stage == "deleted"
    tracking_store.restore_run(run_id)
    assert tracking_store.get_run(run_id).info.lifecycle_stage == "active"
    with pytest.raises(ResourceDoesNotExist):
        tracking_store.get_run("0" * 32)


def test_log_batch_with_non_finite_values_and_param_immutability(
    tracking_store, run_id: str
) -> None:
    tracking_store.log_batch(
        run_id,
        metrics=[
            Metric("loss", 1.5, 10, 0),
            Metric("loss", math.nan, 11, 1),
            Metric("gain", math.inf, 12, 0),
            Metric("drop", -math.inf, 13, 0),
        ],
        params=[Param("lr", "0.1")],
        tags=[Tag("team", "ml")],
    )
    run = tracking_store.get_run(run_id)
    assert run.data.params == {"lr": "0.1"}
    assert run.data.tags["team"] == "ml"
    assert math.isnan(run.data.metrics["loss"])
    assert run.data.metrics["gain"] == math.inf and run.data.metrics["drop"] == -math.inf
    history = tracking_store.get_metric_history(run_id, "loss")
    assert [m.step for m in history] == [0, 1]
    assert history[0].value == 1.5 and math.isnan(history[1].value)

    tracking_store.log_param(run_id, "lr", "0.1")  # the same value again is fine
    with pytest.raises(InvalidParameterValue):
        tracking_store.log_param(run_id, "lr", "0.2")
    tracking_store.set_tag(run_id, "team", "infra")
    tracking_store.delete_tag(run_id, "team")
    assert "team" not in tracking_store.get_run(run_id).data.tags


def test_batch_limits_are_the_same_everywhere(tracking_store, run_id: str) -> None:
    metrics = [Metric("m", float(i), 1_000 + i, i) for i in range(1_000)]
    params = [Param(f"p{i}", str(i)) for i in range(100)]
    tags = [Tag(f"t{i}", str(i)) for i in range(100)]
    tracking_store.log_batch(run_id, metrics=metrics, params=params, tags=tags)
    run = tracking_store.get_run(run_id)
    assert len(run.data.params) == 100
    assert sum(k.startswith("t") for k in run.data.tags) == 100
    assert run.data.metrics["m"] == 999.0
    assert len(tracking_store.get_metric_history(run_id, "m")) == 1_000

    too_many = [Metric("n", 1.0, 1, i) for i in range(1_001)]
    with pytest.raises(InvalidParameterValue):
        tracking_store.log_batch(run_id, metrics=too_many)
    with pytest.raises(InvalidParameterValue):
        tracking_store.log_batch(run_id, params=[Param(f"q{i}", "1") for i in range(101)])
    assert "n" not in tracking_store.get_run(run_id).data.metrics


def test_metric_columns_round_trip(tracking_store, run_id: str) -> None:
    n = 60_000  # more than one REST chunk
    keys = ["a" if i % 3 else "b" for i in range(n)]
    values = [float(i) for i in range(n)]
    values[5] = math.nan
    values[7] = -math.inf
    tracking_store.log_metric_columns(run_id, keys, values, [1_000 + i for i in range(n)], range(n))
    a = tracking_store.get_metric_history(run_id, "a")
    b = tracking_store.get_metric_history(run_id, "b")
    assert len(a) + len(b) == n
    by_step = {m.step: m.value for m in a}
    assert math.isnan(by_step[5]) and by_step[7] == -math.inf and by_step[8] == 8.0
    assert tracking_store.get_run(run_id).data.metrics["a"] == float(n - 1)
    with pytest.raises(InvalidParameterValue):
        tracking_store.log_metric_columns(run_id, ["a", "b"], [1.0], [1], [0])


def test_metric_history_paging(tracking_store, run_id: str) -> None:
    tracking_store.log_metric_columns(run_id, ["x"] * 7, [1.0] * 7, [5] * 7, list(range(7)))
    steps, token = [], None
    while True:
        page = tracking_store.get_metric_history(run_id, "x", max_results=3, page_token=token)
        steps += [m.step for m in page]
        token = page.next_page_token
        if not token:
            break
    assert steps == list(range(7))


def test_search_runs_filter_order_and_view(tracking_store) -> None:
    exp = tracking_store.create_experiment("search")
    ids = []
    for i in range(4):
        run = tracking_store.create_run(exp, "bob", 1_000 + i, run_name=f"run-{i}")
        tracking_store.log_batch(
            run.info.run_id,
            metrics=[Metric("acc", i / 10, 1, 0)],
            params=[Param("depth", str(i))],
        )
        ids.append(run.info.run_id)
    found = tracking_store.search_runs([exp], "metrics.acc >= 0.1", order_by=["metrics.acc DESC"])
    assert [r.info.run_id for r in found] == [ids[3], ids[2], ids[1]]
    found = tracking_store.search_runs([exp], "params.depth = '2'")
    assert [r.info.run_name for r in found] == ["run-2"]
    tracking_store.delete_run(ids[0])
    assert len(tracking_store.search_runs([exp])) == 3
    deleted = tracking_store.search_runs([exp], run_view_type=ViewType.DELETED_ONLY)
    assert [r.info.run_id for r in deleted] == [ids[0]]
    page = tracking_store.search_runs([exp], run_view_type=ViewType.ALL, max_results=3)
    assert len(page) == 3 and page.next_page_token
    rest = tracking_store.search_runs(
        [exp], run_view_type=ViewType.ALL, max_results=3, page_token=page.next_page_token
    )
    assert len(rest) == 1
    with pytest.raises(InvalidParameterValue):
        tracking_store.search_runs([exp], "metrics.acc >")


def test_inputs_and_outputs(tracking_store, run_id: str) -> None:
    ds = Dataset("train", "abc123", "local", '{"uri": "x"}')
    tracking_store.log_inputs(run_id, [DatasetInput(ds, {"mlflow.data.context": "training"})])
    tracking_store.log_outputs(run_id, [{"model_id": "m-" + "1" * 32, "step": 3}])
    run = tracking_store.get_run(run_id)
    assert [i.dataset.name for i in run.inputs] == ["train"]
    assert run.inputs[0].tags == {"mlflow.data.context": "training"}
    assert run.model_outputs[0]["model_id"] == "m-" + "1" * 32
