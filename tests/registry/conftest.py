"""Registry fixtures: a `Client` per transport, and runs with metrics, params and data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import slipway
from slipway import Client
from slipway.entities import Dataset, DatasetInput, Metric, Param, Tag
from slipway.tracking import fluent


@pytest.fixture
def client(tracking_uri: str) -> Iterator[Client]:
    """A Client on SQLite, PostgreSQL and a live server (tests using it run three times)."""
    c = Client(tracking_uri)
    yield c
    c.close()


@pytest.fixture
def sqlite_client(tmp_path: Path) -> Iterator[Client]:
    c = Client(f"sqlite:///{tmp_path / 'registry.db'}")
    yield c
    c.close()


def _make_run(
    client: Client,
    metrics: dict[str, float] | None = None,
    params: dict[str, str] | None = None,
    *,
    commit: str = "0123456789abcdef0123456789abcdef01234567",
) -> str:
    """A finished run with metrics, params, a git commit tag and one training dataset."""
    run = client.create_run("0", tags={"mlflow.source.git.commit": commit})
    run_id = run.info.run_id
    client.log_batch(
        run_id,
        metrics=[Metric(k, v, 1, 0) for k, v in (metrics or {}).items()],
        params=[Param(k, v) for k, v in (params or {}).items()],
        tags=[Tag("mlflow.source.name", "train.py")],
    )
    client.log_inputs(
        run_id,
        [
            DatasetInput(
                Dataset("churn-train", "d1g3st", source_type="local", profile='{"num_rows": 120}'),
                tags={"mlflow.data.context": "training"},
            )
        ],
    )
    client.set_terminated(run_id)
    return run_id


def _register(
    client: Client, name: str, metrics: dict[str, float] | None = None, **params: str
) -> int:
    """Register a new version of `name` (created if missing) from a fresh run."""
    run_id = _make_run(client, metrics, params)
    if not client.search_registered_models(f"name = '{name}'").items:
        client.create_registered_model(name)
    return client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id).version


@pytest.fixture
def make_run():
    """`make_run(client, metrics, params)` → the id of a finished run with lineage data."""
    return _make_run


@pytest.fixture
def register():
    """`register(client, name, metrics, **params)` → the number of a new version."""
    return _register


@pytest.fixture
def fluent_uri(tracking_uri: str) -> Iterator[str]:
    """Point the fluent API at `tracking_uri`; reset its state afterwards."""
    slipway.set_tracking_uri(tracking_uri)
    yield tracking_uri
    reset_fluent()


@pytest.fixture
def fluent_sqlite(tmp_path: Path) -> Iterator[str]:
    """The fluent API on a fresh SQLite file; returns its URI."""
    uri = f"sqlite:///{tmp_path / 'fluent.db'}"
    slipway.set_tracking_uri(uri)
    yield uri
    reset_fluent()


@pytest.fixture
def fluent_server(live_server) -> Iterator[str]:
    """The fluent API on the live server; returns its URL."""
    slipway.set_tracking_uri(live_server.url)
    yield live_server.url
    reset_fluent()


def reset_fluent() -> None:
    while fluent.active_run() is not None:
        try:
            slipway.end_run()
        except slipway.SlipwayError:
            fluent._state.runs.clear()
    for batcher in fluent._state.batchers.values():
        batcher.close()
    fluent._state.batchers.clear()
    for c in fluent._state.clients.values():
        c.close()
    fluent._state.clients.clear()
    slipway.config.set_tracking_uri(None)
    fluent._state.experiment_id = None
