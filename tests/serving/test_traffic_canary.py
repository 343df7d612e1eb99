"""Canary releases against a real registry: a failing canary is rolled back within one
evaluation interval (and stays so across a restart), a healthy one steps up to 100% and
moves the alias; every decision is in the model's audit trail with its numbers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from serving_support import running_server
from traffic_support import register_folder, steered_model, traffic_doc, x_records

from slipway.serving import ServeConfig

pytestmark = pytest.mark.timeout(120)

EVERY = 0.5


@dataclass
class Canary:
    tracking_uri: str
    flag: Path  # while it exists, the canary's model fails

    def client(self):
        from slipway import Client

        return Client(self.tracking_uri)

    def config(self, **canary: object) -> ServeConfig:
        settings = {
            "primary": "champion",
            "canary": "challenger",
            "start": 20,
            "step": 40,
            "every": f"{EVERY}s",
            "min_requests": 20,
            "max_error_rate": 0.05,
            "promote_alias": "champion",
            **canary,
        }
        doc = traffic_doc(
            "canary",
            {"champion": "models:/svc@champion", "challenger": "models:/svc@challenger"},
            canary=settings,
            name="svc-canary",
        )
        return ServeConfig(
            [],
            tracking_uri=self.tracking_uri,
            traffic=doc,
            prediction_log=False,
            poll_interval_s=0.2,
        )


@pytest.fixture
def canary(tmp_path: Path) -> Iterator[Canary]:
    root = tmp_path / "registry"
    root.mkdir()
    uri = f"sqlite:///{root / 'db.sqlite'}"
    flag = tmp_path / "canary-fails"
    register_folder(uri, root, "svc", steered_model(tmp_path, "stable", factor=2.0))
    register_folder(uri, root, "svc", steered_model(tmp_path, "candidate", factor=2.0, fail=flag))
    setup = Canary(uri, flag)
    client = setup.client()
    client.set_registered_model_alias("svc", "champion", 1)
    client.set_registered_model_alias("svc", "challenger", 2)
    client.close()
    yield setup


def _drive(http: httpx.Client, requests: int = 20) -> list[tuple[str, int]]:
    out = []
    for i in range(requests):
        answer = http.post("/predict", json={"records": x_records(float(i))})
        out.append((answer.headers.get("x-slipway-variant", ""), answer.status_code))
    return out


def _history(setup: Canary) -> list:
    client = setup.client()
    try:
        return [e for e in client.get_model_history("svc") if e.action.startswith("canary_")]
    finally:
        client.close()


def test_a_failing_canary_is_rolled_back_within_one_interval_and_stays_so(canary):
    with running_server(canary.config()) as served:
        http = served.http
        status = http.get("/traffic").json()
        assert status["weights"] == {"champion": 80.0, "challenger": 20.0}
        while http.get("/traffic").json()["canary"]["step"] < 2:  # one healthy step first
            _drive(http)
        canary.flag.touch()
        failed_at = time.monotonic()
        while True:
            answers = _drive(http, 5)
            status = http.get("/traffic").json()
            if status["canary"]["status"] == "rolled_back":
                break
            assert time.monotonic() - failed_at < 10, status
        took = time.monotonic() - failed_at
        assert took <= EVERY + 0.5, f"rolled back {took:.2f} s after the canary broke"
        assert status["weights"] == {"champion": 100.0, "challenger": 0.0}
        assert status["canary"]["percent"] == 0.0
        assert {v for v, _ in _drive(http)} == {"champion"}
        assert all(code == 200 for _, code in _drive(http))
    events = _history(canary)
    actions = [e.action for e in events]
    assert actions[0] == "canary_started" and "canary_step" in actions
    assert actions[-1] == "canary_rollback"
    rollback = events[-1]
    assert rollback.version == 2
    assert "error rate" in rollback.reason and "requests" in rollback.reason, rollback.reason
    del answers

    # a restart keeps the rollback (the state folder), until an operator restarts the canary
    canary.flag.unlink()
    with running_server(canary.config()) as served:
        status = served.http.get("/traffic").json()
        assert status["canary"]["status"] == "rolled_back"
        assert status["weights"]["challenger"] == 0.0
        assert {v for v, _ in _drive(served.http, 10)} == {"champion"}
        restarted = served.http.post("/traffic", json={"canary": "restart"})
        assert restarted.status_code == 200, restarted.text
        assert restarted.json()["canary"]["status"] == "running"
        assert restarted.json()["weights"]["challenger"] == 20.0
    assert _history(canary)[-1].action == "canary_restart"


def test_a_healthy_canary_steps_up_to_100_percent_and_moves_the_alias(canary):
    with running_server(canary.config()) as served:
        http = served.http
        percents = []
        deadline = time.monotonic() + 30
        while True:
            _drive(http)
            status = http.get("/traffic").json()
            percents.append(status["canary"]["percent"])
            if status["canary"]["status"] == "promoted":
                break
            assert time.monotonic() < deadline, status
        assert sorted(set(percents)) == [20.0, 60.0, 100.0]
        assert status["weights"] == {"champion": 0.0, "challenger": 100.0}
        client = canary.client()
        assert str(client.get_model_version_by_alias("svc", "champion").version) == "2"
        client.close()
        # the champion variant follows its alias: it now serves the promoted version too
        deadline = time.monotonic() + 10
        while http.get("/traffic").json()["variants"]["champion"]["version"] != "2":
            assert time.monotonic() < deadline
            time.sleep(0.05)
    actions = [e.action for e in _history(canary)]
    assert actions == ["canary_started", "canary_step", "canary_promoted"]
    promoted = _history(canary)[-1]
    assert promoted.version == 2 and "promoted to @champion" in promoted.reason


def test_a_canary_worse_on_outcome_is_rolled_back(canary):
    config = canary.config(min_feedback=10, outcome_margin=0.1)
    config.prediction_log = True
    with running_server(config) as served:
        http = served.http
        deadline = time.monotonic() + 20
        while True:
            records = []
            for i in range(20):
                answer = http.post("/predict", json={"records": x_records(float(i))})
                good = answer.headers["x-slipway-variant"] == "champion"
                records.append({"request_id": answer.headers["x-request-id"], "reward": int(good)})
            assert http.post("/feedback", json={"records": records}).status_code == 200
            status = http.get("/traffic").json()
            if status["canary"]["status"] == "rolled_back":
                break
            assert time.monotonic() < deadline, status
    assert "mean reward" in _history(canary)[-1].reason
