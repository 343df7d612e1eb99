"""The explicit Client over each transport: CRUD, search paging, artifacts."""

from __future__ import annotations

from pathlib import Path

import pytest

from slipway import Client
from slipway.entities import Metric, Param, Tag
from slipway.errors import ResourceAlreadyExists, ResourceDoesNotExist


@pytest.fixture
def client(tracking_uri: str) -> Client:
    c = Client(tracking_uri)
    yield c
    c.close()


def test_experiment_crud(client: Client) -> None:
    exp_id = client.create_experiment("exp", tags={"team": "ml"})
    exp = client.get_experiment(exp_id)
    assert exp.name == "exp"
    assert exp.tags == {"team": "ml"}
    assert client.get_experiment_by_name("exp").experiment_id == exp_id
    assert client.get_experiment_by_name("nope") is None
    with pytest.raises(ResourceAlreadyExists):
        client.create_experiment("exp")
    client.rename_experiment(exp_id, "exp2")
    client.delete_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "deleted"
    names = [e.name for e in client.search_experiments()]
    assert "exp2" not in names and "Default" in names
    client.restore_experiment(exp_id)
    assert "exp2" in [e.name for e in client.search_experiments()]


def test_unknown_ids_are_resource_does_not_exist(client: Client) -> None:
    with pytest.raises(ResourceDoesNotExist):
        client.get_run("0" * 32)
    with pytest.raises(ResourceDoesNotExist):
        client.get_experiment("987654")


def test_log_batch_of_many_metrics_uses_bulk_path(client: Client) -> None:
    exp = client.create_experiment("bulk")
    run = client.create_run(exp)
    metrics = [Metric("loss", float(i), 1000 + i, i) for i in range(25_000)]
    client.log_batch(
        run.info.run_id, metrics=metrics, params=[Param("p", "1")], tags=[Tag("t", "x")]
    )
    stored = client.get_run(run.info.run_id)
    assert stored.data.params == {"p": "1"}
    assert stored.data.tags["t"] == "x"
    assert len(client.get_metric_history(run.info.run_id, "loss")) == 25_000


def test_search_runs_paging_visits_each_run_once(client: Client) -> None:
    exp = client.create_experiment("paging")
    ids = set()
    for i in range(25):
        run = client.create_run(exp, run_name=f"r{i}")
        client.log_batch(run.info.run_id, metrics=[Metric("acc", i / 25, 0, 0)])
        ids.add(run.info.run_id)
    seen, token = [], None
    while True:
        page = client.search_runs(
            [exp],
            "metrics.acc >= 0",
            max_results=10,
            page_token=token,
            order_by=["metrics.acc DESC"],
        )
        seen.extend(r.info.run_id for r in page)
        token = page.next_page_token
        if not token:
            break
    assert len(seen) == 25 and set(seen) == ids
    top = client.search_runs(
        [exp], "metrics.acc > 0.5", order_by=["metrics.acc DESC"], max_results=3
    )
    assert [r.data.metrics["acc"] for r in top] == [24 / 25, 23 / 25, 22 / 25]


def test_artifact_round_trip_of_a_folder(client: Client, tmp_path: Path) -> None:
    src = tmp_path / "model"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("A")
    (src / "sub" / "b.bin").write_bytes(bytes(range(256)) * 1000)
    exp = client.create_experiment("arts")
    run = client.create_run(exp)
    client.log_artifacts(run.info.run_id, src, "model")
    listing = client.list_artifacts(run.info.run_id, "model")
    assert [(f.path, f.is_dir) for f in listing] == [("model/a.txt", False), ("model/sub", True)]
    assert listing[0].file_size == 1
    out = Path(client.download_artifacts(run.info.run_id, "model", tmp_path / "dl"))
    assert (out / "sub" / "b.bin").read_bytes() == bytes(range(256)) * 1000
    assert (out / "a.txt").read_text() == "A"
