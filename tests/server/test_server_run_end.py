"""Ending a run through a slipway server: one request carries its last metric points and
its status, in one transaction; concurrent searches are queued, never refused."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

import slipway
from slipway.errors import FlushError

SLIPWAY_API = "/api/2.0/slipway"


@pytest.fixture
def url(shared_http: httpx.Client) -> str:
    return str(shared_http.base_url).rstrip("/")


def test_server_info_announces_the_end_route(shared_http: httpx.Client) -> None:
    info = shared_http.get("/api/3.0/mlflow/server-info").json()
    assert info["server"] == "slipway" and "runs/end" in info["slipway_capabilities"]


def test_a_fluent_run_ends_with_its_queued_metrics(url: str) -> None:
    slipway.set_tracking_uri(url)
    slipway.set_experiment("run-end")
    with slipway.start_run() as run:
        slipway.log_params({"lr": 0.1})
        slipway.log_metrics({"loss": 0.5, "bad": math.nan})
        slipway.log_metric("loss", 0.25, step=1)
        slipway.set_tag("team", "a")
    got = slipway.Client(url).get_run(run.info.run_id)
    assert got.info.status == "FINISHED" and got.info.end_time is not None
    assert got.data.metrics["loss"] == 0.25 and math.isnan(got.data.metrics["bad"])
    history = slipway.Client(url).get_metric_history(run.info.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 0.5), (1, 0.25)]


def test_the_end_route_writes_nothing_when_the_run_cannot_end(
    shared_http: httpx.Client, url: str
) -> None:
    client = slipway.Client(url)
    exp = client.create_experiment("run-end-deleted")
    run_id = client.create_run(exp).info.run_id
    client.delete_run(run_id)
    answer = shared_http.post(
        f"{SLIPWAY_API}/runs/end",
        json={
            "run_id": run_id,
            "status": "FINISHED",
            "keys": ["m"],
            "values": [1.0],
            "timestamps": [1],
            "steps": [0],
        },
    )
    assert answer.status_code == 400
    client.restore_run(run_id)
    run = client.get_run(run_id)
    assert run.info.status == "RUNNING" and run.data.metrics == {}


def test_metrics_that_cannot_be_stored_fail_the_end(url: str) -> None:
    slipway.set_tracking_uri(url)
    slipway.set_experiment("run-end-failing")
    run = slipway.start_run()
    slipway.log_metric("loss", 1.0)
    slipway.Client(url).delete_run(run.info.run_id)  # the points can no longer be written
    with pytest.raises(FlushError):
        slipway.end_run()
    assert slipway.active_run() is None


def test_many_concurrent_searches_are_all_answered(shared_http: httpx.Client, url: str) -> None:
    client = slipway.Client(url)
    exp = client.create_experiment("many-searches")
    for i in range(3):
        client.create_run(exp, tags={"i": str(i)})

    def search(_: int) -> int:
        return len(client.search_runs([exp], "tags.i != '9'").items)

    with ThreadPoolExecutor(12) as pool:
        assert list(pool.map(search, range(36))) == [3] * 36
