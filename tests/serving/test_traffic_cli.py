"""`slipway serve --traffic` as real processes: sticky keys across two workers and a
restart, live weights reaching every worker, and typed errors for a bad traffic file."""

from __future__ import annotations

import http.client
import json
import signal
import time

import httpx
import pytest
from serving_support import numeric_data
from traffic_support import traffic_doc, write_traffic
from typer.testing import CliRunner

from slipway.cli.main import app
from slipway.serving.traffic.routing import Split

pytestmark = pytest.mark.timeout(240)

KEYS = [f"customer-{i}" for i in range(30)]


RECORDS = numeric_data(5, rows=1)[0].to_dict(orient="records")


def _fresh_predict(url: str, key: str | None = None) -> str:
    """A request on a new connection (so either worker may take it); its variant."""
    host, port = url.removeprefix("http://").split(":")
    headers = {"content-type": "application/json", **({"x-user-id": key} if key else {})}
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request("POST", "/predict", json.dumps({"records": RECORDS}), headers)
        answer = connection.getresponse()
        body = answer.read()
    finally:
        connection.close()
    assert answer.status == 200, body
    return answer.headers["x-slipway-variant"]


def _pids(url: str) -> set[int]:
    pids: set[int] = set()
    deadline = time.monotonic() + 60
    while len(pids) < 2 and time.monotonic() < deadline:
        with httpx.Client(timeout=10) as fresh:
            health = fresh.get(f"{url}/health").json()
            if health["ready"]:
                pids.add(health["pid"])
    return pids


def _counted(url: str, requests: int) -> dict:
    """The status once it counts `requests` (other workers' counts lag by up to a sync)."""
    deadline = time.monotonic() + 5
    while True:
        status = httpx.get(f"{url}/traffic", timeout=10).json()
        counted = sum(v["requests"] for v in status["variants"].values())
        if counted == requests or time.monotonic() > deadline:
            assert counted == requests, status
            return status
        time.sleep(0.1)


def test_sticky_keys_hold_across_two_workers_and_a_restart(start_cli, registry, tmp_path):
    path = write_traffic(
        tmp_path / "ab.yaml",
        traffic_doc(
            "ab",
            {"champion": "models:/forest@champion", "challenger": "models:/forest/2"},
            split={"champion": 50, "challenger": 50},
            ab={"key": "user_id"},
            name="sticky",
        ),
    )
    args = ["--traffic", str(path), "--tracking-uri", registry.tracking_uri]
    args += ["--workers", "2", "--no-prediction-log", "--drain-seconds", "0"]
    server = start_cli(*args)
    assert len(_pids(server.url)) == 2, "both workers answer"
    file_split = Split({"champion": 50, "challenger": 50})
    seen = {k: {_fresh_predict(server.url, k) for _ in range(3)} for k in KEYS}
    assert {k: v.pop() for k, v in seen.items() if len(v) == 1} == {
        k: file_split.choose(k) for k in KEYS
    }
    status = _counted(server.url, 3 * len(KEYS))
    assert status["workers"] == 2

    # a live change reaches both workers within a second
    result = CliRunner().invoke(
        app, ["traffic", "set", "--url", server.url, "champion=0", "challenger=100"]
    )
    assert result.exit_code == 0, result.output
    time.sleep(1.0)
    assert {_fresh_predict(server.url, k) for k in KEYS} == {"challenger"}
    result = CliRunner().invoke(
        app, ["traffic", "set", "--url", server.url, "champion=70", "challenger=30"]
    )
    assert result.exit_code == 0, result.output
    time.sleep(1.0)
    live_split = Split({"champion": 70, "challenger": 30})
    before = {k: _fresh_predict(server.url, k) for k in KEYS}
    assert before == {k: live_split.choose(k) for k in KEYS}

    _counted(server.url, 5 * len(KEYS))
    server.signal(signal.SIGTERM)
    assert server.proc.wait(timeout=60) == 0, server.output()
    again = start_cli(*args)
    assert len(_pids(again.url)) == 2
    assert {k: _fresh_predict(again.url, k) for k in KEYS} == before  # same keys, same variants
    status = _counted(again.url, 6 * len(KEYS))  # the counts survive the restart
    assert status["weights"] == {"champion": 70.0, "challenger": 30.0}  # the live weights


def test_a_bad_traffic_file_lists_every_problem_and_exits_2(tmp_path):
    bad = write_traffic(
        tmp_path / "bad.yaml",
        {
            "name": "exp",
            "variants": {"champion": {"model": "models:/m@champion"}, "challenger": {}},
            "strategy": "blue-green",
            "split": {"champion": 80, "challenger": 10, "stranger": 5},
            "canary": {"primary": "champion", "canary": "nobody", "every": "soon"},
        },
    )
    runner = CliRunner()
    result = runner.invoke(app, ["serve", "--traffic", str(bad)])
    assert result.exit_code == 2, result.output
    for expected in (
        "variants.challenger: missing key 'model'",
        "unknown strategy 'blue-green'",
        "split: unknown variant 'stranger'",
        "the weights must sum to 100, got 95",
        "canary.canary: unknown variant 'nobody'",
        "canary.every must be a duration",
    ):
        assert expected in " ".join(result.output.split()), result.output
    both = runner.invoke(app, ["serve", "models:/m/1", "--traffic", str(bad)])
    assert both.exit_code == 2 and "not both" in both.output
    assert runner.invoke(app, ["serve"]).exit_code == 2
    missing = runner.invoke(app, ["serve", "--traffic", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 2 and "cannot read the file" in missing.output
    no_log = write_traffic(
        tmp_path / "bandit.yaml",
        traffic_doc("bandit", {"a": "models:/m/1", "b": "models:/m/2"}),
    )
    result = runner.invoke(app, ["serve", "--traffic", str(no_log), "--no-prediction-log"])
    assert result.exit_code == 1 and "prediction log" in result.output


def test_traffic_commands_explain_a_server_without_traffic(serve):
    served = serve("models:/forest/1")
    answer = served.http.get("/traffic")
    assert answer.status_code == 404 and "--traffic" in answer.json()["message"]
    result = CliRunner().invoke(app, ["traffic", "status", "--url", served.url])
    assert result.exit_code == 1 and "--traffic" in result.output
    unreachable = CliRunner().invoke(app, ["traffic", "status", "--url", "http://127.0.0.1:9"])
    assert unreachable.exit_code == 1 and "cannot reach" in unreachable.output
