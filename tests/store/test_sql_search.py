"""search_runs over SQLite and PostgreSQL: every operator and entity, ordering, paging."""

from __future__ import annotations

import math

import pytest

from slipway.entities import Dataset, DatasetInput, Metric, Param, ViewType
from slipway.errors import InvalidFilter, InvalidParameterValue
from slipway.store.sql import SqlTrackingStore


@pytest.fixture
def world(sql_store: SqlTrackingStore) -> tuple[SqlTrackingStore, str, dict[str, str]]:
    """Five runs with different metrics, params, tags, datasets; returns name -> run id."""
    store = sql_store
    exp = store.create_experiment("search")
    spec = {
        # name: (start, user, metrics, params, tags)
        "alpha": (
            1000,
            "ann",
            {"acc": 0.9, "loss": 0.1},
            {"model": "rf", "lr": "0.1"},
            {"team": "Vision"},
        ),
        "beta": (
            2000,
            "bob",
            {"acc": 0.7, "loss": 0.3},
            {"model": "RF", "lr": "0.01"},
            {"team": "vision"},
        ),
        "gamma": (3000, "ann", {"acc": 0.8}, {"model": "xgb"}, {"team": "nlp", "my key": "x"}),
        "delta": (4000, "cy", {"acc": math.nan, "loss": 0.5}, {"model": "lin", "lr": "1"}, {}),
        "eps": (5000, "ann", {}, {}, {"team": "100%_sure"}),
    }
    ids: dict[str, str] = {}
    for name, (start, user, metrics, params, tags) in spec.items():
        run_id = store.create_run(exp, user, start, tags=tags, run_name=name).info.run_id
        store.log_batch(
            run_id,
            metrics=[Metric(k, v, start, 0) for k, v in metrics.items()],
            params=[Param(k, v) for k, v in params.items()],
        )
        ids[name] = run_id
    store.update_run_info(ids["alpha"], status="FINISHED", end_time=1500)
    store.update_run_info(ids["beta"], status="FAILED", end_time=2500)
    store.log_inputs(
        ids["alpha"],
        [DatasetInput(Dataset("iris", "d1"), {"mlflow.data.context": "train"})],
    )
    store.log_inputs(
        ids["beta"],
        [
            DatasetInput(Dataset("iris", "d2"), {"mlflow.data.context": "eval"}),
            DatasetInput(Dataset("wine", "d3"), {"mlflow.data.context": "train"}),
        ],
    )
    return store, exp, ids


def names(world, filter_string: str = "", **kwargs) -> list[str]:
    store, exp, ids = world
    by_id = {v: k for k, v in ids.items()}
    runs = store.search_runs([exp], filter_string, **kwargs)
    return [by_id[r.info.run_id] for r in runs]


def matching(world, filter_string: str) -> set[str]:
    return set(names(world, filter_string))


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("metrics.acc > 0.75", {"alpha", "gamma"}),
        ("metrics.acc >= 0.8", {"alpha", "gamma"}),
        ("metrics.acc < 0.8", {"beta"}),
        ("metrics.acc <= 0.8", {"beta", "gamma"}),
        ("metrics.acc = 0.7", {"beta"}),
        ("metrics.acc != 0.7", {"alpha", "gamma", "delta"}),  # NaN differs; eps lacks acc
        ("metrics.loss > -1e3", {"alpha", "beta", "delta"}),
        ("params.model = 'rf'", {"alpha"}),
        ("params.model != 'rf'", {"beta", "gamma", "delta"}),  # runs lacking it do not match
        ("params.model LIKE 'r%'", {"alpha"}),  # case-sensitive
        ("params.model LIKE 'R_'", {"beta"}),
        ("params.model ILIKE 'r%'", {"alpha", "beta"}),
        ("params.lr IS NULL", {"gamma", "eps"}),
        ("params.lr IS NOT NULL", {"alpha", "beta", "delta"}),
        ("tags.team = 'vision'", {"beta"}),
        ("tags.team ILIKE 'VISION'", {"alpha", "beta"}),
        ("tags.team LIKE '%sion'", {"alpha", "beta"}),
        ("tags.team LIKE 'V%'", {"alpha"}),
        ("tags.team LIKE '100\\%%'", {"eps"}),  # escaped % is literal
        ("tags.team LIKE '%\\_%'", {"eps"}),
        ("tags.team IS NULL", {"delta"}),
        ("tags.`my key` = 'x'", {"gamma"}),
        ("tags.\"my key\" != 'y'", {"gamma"}),
        ("tags.`mlflow.runName` = 'gamma'", {"gamma"}),
        ("attributes.run_name = 'beta'", {"beta"}),
        ("run_name LIKE '%a'", {"alpha", "beta", "gamma", "delta"}),
        ("attributes.status = 'FINISHED'", {"alpha"}),
        ("status != 'RUNNING'", {"alpha", "beta"}),
        ("attributes.user_id = 'ann'", {"alpha", "gamma", "eps"}),
        ("user_id ILIKE 'B%'", {"beta"}),
        ("attributes.start_time >= 3000", {"gamma", "delta", "eps"}),
        ("created < 2000", {"alpha"}),
        ("attributes.end_time <= 2000", {"alpha"}),
        ("attributes.artifact_uri LIKE '%/artifacts'", {"alpha", "beta", "gamma", "delta", "eps"}),
        ("attributes.lifecycle_stage = 'active'", {"alpha", "beta", "gamma", "delta", "eps"}),
        ("datasets.name = 'iris'", {"alpha", "beta"}),
        ("datasets.name IN ('wine', 'other')", {"beta"}),
        ("datasets.digest NOT IN ('d1')", {"beta"}),
        ("datasets.context = 'train'", {"alpha", "beta"}),
        ("datasets.context = 'eval'", {"beta"}),
        ("datasets.name LIKE 'w%'", {"beta"}),
        ("metrics.acc > 0.5 and params.model ILIKE 'rf' and tags.team = 'Vision'", {"alpha"}),
        ("", {"alpha", "beta", "gamma", "delta", "eps"}),
    ],
)
def test_filters(world, filter_string: str, expected: set[str]) -> None:
    assert matching(world, filter_string) == expected


def test_run_id_in_and_not_in(world) -> None:
    _, _, ids = world
    assert matching(world, f"attributes.run_id IN ('{ids['alpha']}', '{ids['gamma']}')") == {
        "alpha",
        "gamma",
    }
    assert matching(world, f"run_id NOT IN ('{ids['alpha']}')") == {
        "beta",
        "gamma",
        "delta",
        "eps",
    }
    assert matching(world, f"run_id = '{ids['beta']}'") == {"beta"}


def test_default_order_is_newest_first(world) -> None:
    assert names(world) == ["eps", "delta", "gamma", "beta", "alpha"]


def test_order_by_metric_puts_nan_then_missing_last(world) -> None:
    assert names(world, order_by=["metrics.acc DESC"]) == [
        "alpha",
        "gamma",
        "beta",
        "delta",  # NaN after every number
        "eps",  # missing last
    ]
    assert names(world, order_by=["metrics.acc"]) == ["beta", "gamma", "alpha", "delta", "eps"]


def test_order_by_param_and_tag_with_nulls_last(world) -> None:
    assert names(world, order_by=["params.lr ASC"]) == ["beta", "alpha", "delta", "eps", "gamma"]
    assert names(world, order_by=["params.lr DESC"]) == ["delta", "alpha", "beta", "eps", "gamma"]
    # byte order on both databases: upper case before lower case
    assert names(world, order_by=["tags.team"]) == ["eps", "alpha", "gamma", "beta", "delta"]


def test_order_by_several_keys_and_attributes(world) -> None:
    assert names(world, order_by=["attributes.user_id", "metrics.acc DESC"]) == [
        "alpha",
        "gamma",
        "eps",
        "beta",
        "delta",
    ]
    assert names(world, order_by=["start_time ASC"]) == ["alpha", "beta", "gamma", "delta", "eps"]
    assert names(world, order_by=["attributes.end_time DESC"])[:2] == ["beta", "alpha"]
    assert names(world, order_by=["tags.`mlflow.runName` DESC"])[0] == "gamma"


def test_paging_yields_every_run_once(world) -> None:
    store, exp, ids = world
    for order_by in (None, ["metrics.acc DESC"], ["params.model"]):
        seen: list[str] = []
        token = None
        while True:
            page = store.search_runs([exp], "", max_results=2, order_by=order_by, page_token=token)
            assert len(page) <= 2
            seen.extend(r.info.run_id for r in page)
            token = page.next_page_token
            if token is None:
                break
        assert sorted(seen) == sorted(ids.values())


def test_exact_page_size_has_no_extra_page(world) -> None:
    store, exp, _ = world
    page = store.search_runs([exp], "", max_results=5)
    assert len(page) == 5 and page.next_page_token is None


def test_results_carry_full_run_data(world) -> None:
    store, exp, ids = world
    (run,) = store.search_runs([exp], "attributes.run_name = 'alpha'")
    assert run.data.params == {"model": "rf", "lr": "0.1"}
    assert run.data.metrics == {"acc": 0.9, "loss": 0.1}
    assert run.data.tags["team"] == "Vision"
    assert [i.dataset.name for i in run.inputs] == ["iris"]
    assert run == store.get_run(ids["alpha"])


def test_run_view_type(world) -> None:
    store, _, ids = world
    store.delete_run(ids["beta"])
    assert "beta" not in matching(world, "")
    assert names(world, run_view_type=ViewType.DELETED_ONLY) == ["beta"]
    assert len(names(world, run_view_type=ViewType.ALL)) == 5
    assert names(world, run_view_type="DELETED_ONLY") == ["beta"]


def test_several_experiments(sql_store: SqlTrackingStore) -> None:
    a = sql_store.create_experiment("a")
    b = sql_store.create_experiment("b")
    ra = sql_store.create_run(a, "u", 1).info.run_id
    rb = sql_store.create_run(b, "u", 2).info.run_id
    got = [r.info.run_id for r in sql_store.search_runs([a, b])]
    assert got == [rb, ra]
    assert sql_store.search_runs([]).items == []
    assert sql_store.search_runs(["999"]).items == []


def test_search_rejects_bad_input(world) -> None:
    store, exp, _ = world
    with pytest.raises(InvalidFilter, match="OR is not supported"):
        store.search_runs([exp], "metrics.acc > 1 or params.a = 'b'")
    with pytest.raises(InvalidFilter, match="position 12"):
        store.search_runs([exp], "metrics.acc >> 1")
    with pytest.raises(InvalidFilter):
        store.search_runs([exp], "", order_by=["metrics.acc SIDEWAYS"])
    with pytest.raises(InvalidParameterValue, match="max_results"):
        store.search_runs([exp], "", max_results=50001)
    with pytest.raises(InvalidParameterValue, match="page_token"):
        store.search_runs([exp], "", page_token="garbage")
    with pytest.raises(InvalidParameterValue, match="experiment id"):
        store.search_runs(["not-a-number"], "")
    with pytest.raises(InvalidParameterValue, match="view type"):
        store.search_runs([exp], "", run_view_type="SOME")


def test_quotes_in_values_are_data_not_sql(world) -> None:
    store, _, ids = world
    store.log_param(ids["eps"], "q", "it's")
    assert matching(world, "params.q = 'it''s'") == {"eps"}
    assert matching(world, 'params.q = "it\'s"') == {"eps"}
    assert matching(world, "params.model = 'x'' OR 1=1 --'") == set()
    store.set_tag(ids["eps"], "glob", "a*b[c]?")
    assert matching(world, "tags.glob LIKE 'a*b[c]?'") == {"eps"}
    assert matching(world, "tags.glob LIKE 'a%'") == {"eps"}
    assert matching(world, "tags.glob LIKE 'ab%'") == set()
