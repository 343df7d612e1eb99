"""`slipway serve` as a real process: the CLI, draining on SIGTERM, several workers."""

from __future__ import annotations

import signal
import threading
import time

import httpx
import pytest
from serving_support import numeric_data, python_model
from typer.testing import CliRunner

from slipway.cli.main import app

pytestmark = pytest.mark.timeout(180)

SLOW_MODEL = """
import time

class Model:
    def predict(self, context, model_input, params=None):
        time.sleep(1.5)
        return model_input["x"] * 2
"""


def _records(rows: int = 2) -> list[dict]:
    X, _ = numeric_data(71, rows=rows)
    return X.to_dict(orient="records")


def test_cli_serves_registered_models_and_exits_0_on_sigterm(start_cli, registry):
    server = start_cli(
        "models:/forest@champion",
        "models:/reg/1",
        "--tracking-uri",
        registry.tracking_uri,
        "--no-prediction-log",
        "--drain-seconds",
        "0.2",
    )
    answer = httpx.post(
        f"{server.url}/predict", json={"model": "forest", "records": _records()}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    X, _ = numeric_data(71, rows=2)
    assert answer.json()["predictions"] == registry.models["forest/1"].predict(X).tolist()
    invocations = httpx.post(f"{server.url}/invocations", json={"inputs": X.values.tolist()})
    assert invocations.json()["predictions"] == answer.json()["predictions"]
    server.signal(signal.SIGTERM)
    assert server.proc.wait(timeout=30) == 0, server.output()
    assert "Serving forest version 1" in server.output()


def test_sigterm_drains_ready_first_then_finishes_requests_in_flight(start_cli, tmp_path):
    import pandas as pd

    from slipway.models.signature import infer_signature

    path = python_model(
        tmp_path, SLOW_MODEL, name="slow", signature=infer_signature(pd.DataFrame({"x": [1.0]}))
    )
    server = start_cli(str(path), "--no-prediction-log", "--drain-seconds", "1.0")
    in_flight: dict[str, httpx.Response] = {}

    def call() -> None:
        in_flight["answer"] = httpx.post(
            f"{server.url}/invocations", json={"dataframe_records": [{"x": 21.0}]}, timeout=30
        )

    caller = threading.Thread(target=call)
    caller.start()
    time.sleep(0.4)  # the request is in the model now
    server.signal(signal.SIGTERM)
    time.sleep(0.2)
    ready = httpx.get(f"{server.url}/ready", timeout=5)
    assert ready.status_code == 503 and "draining" in ready.json()["reason"]
    assert httpx.get(f"{server.url}/v2/health/ready", timeout=5).json() == {"ready": False}
    caller.join(timeout=30)
    assert in_flight["answer"].status_code == 200
    assert in_flight["answer"].json() == {"predictions": [{"x": 42.0}]}
    assert server.proc.wait(timeout=30) == 0, server.output()


def test_two_workers_share_one_port_and_one_metrics_view(start_cli, registry, tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    server = start_cli(
        "models:/forest/1",
        "--tracking-uri",
        registry.tracking_uri,
        "--workers",
        "2",
        "--no-prediction-log",
        "--drain-seconds",
        "0",
        env={"TMPDIR": str(temp)},
    )
    assert list(temp.glob("slipway-serve-metrics-*")), "the workers share a metrics directory"
    pids = set()
    deadline = time.monotonic() + 60
    while len(pids) < 2 and time.monotonic() < deadline:
        with httpx.Client(timeout=10) as fresh:  # a new connection each time
            health = fresh.get(f"{server.url}/health").json()
            if health["ready"]:
                pids.add(health["pid"])
    assert len(pids) == 2, "both workers answer"
    for _ in range(20):
        with httpx.Client(timeout=10) as fresh:
            answer = fresh.post(f"{server.url}/predict", json={"records": _records(1)})
            assert answer.status_code == 200
    sample = (
        'slipway_serving_requests_total{endpoint="predict",model="forest",status="200",'
        'variant="",version="1"}'
    )
    for _ in range(4):  # whichever worker answers the scrape sees every worker's counts
        with httpx.Client(timeout=10) as fresh:
            text = fresh.get(f"{server.url}/metrics").text
        values = [
            float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(sample)
        ]
        assert values == [20.0], text
    server.signal(signal.SIGTERM)
    assert server.proc.wait(timeout=60) == 0, server.output()
    assert not list(temp.glob("slipway-serve-metrics-*")), "and it is removed at the end"


def test_sigterm_to_the_process_group_stops_two_workers_once_and_keeps_every_prediction(
    start_cli, tmp_path
):
    # `kill -TERM -<pgid>` (and a terminal's Ctrl-C) reaches the supervisor and both
    # workers. Each worker must drain once: finish the requests in flight and flush its
    # prediction log, not be forced out by the supervisor's copy of the same signal.
    import pandas as pd

    from slipway.models.signature import infer_signature

    path = python_model(
        tmp_path, SLOW_MODEL, name="slow", signature=infer_signature(pd.DataFrame({"x": [1.0]}))
    )
    root = tmp_path / "predictions"
    server = start_cli(
        str(path),
        "--workers",
        "2",
        "--drain-seconds",
        "0",
        env={"SLIPWAY_PREDICTION_LOG_URI": str(root)},
    )
    pids: set[int] = set()
    deadline = time.monotonic() + 60
    while len(pids) < 2 and time.monotonic() < deadline:
        with httpx.Client(timeout=10) as fresh:
            health = fresh.get(f"{server.url}/health").json()
            if health["ready"]:
                pids.add(health["pid"])
    assert len(pids) == 2, "both workers answer"
    ids = [f"group-signal-{i}" for i in range(4)]
    answers: dict[str, int | str] = {}

    def call(request_id: str) -> None:
        try:
            answers[request_id] = httpx.post(  # a connection each: both workers get some
                f"{server.url}/invocations",
                json={"dataframe_records": [{"x": 1.0}]},
                headers={"x-request-id": request_id},
                timeout=30,
            ).status_code
        except httpx.HTTPError as exc:  # what a forced exit does to a request in flight
            answers[request_id] = repr(exc)

    callers = [threading.Thread(target=call, args=(rid,)) for rid in ids]
    for caller in callers:
        caller.start()
    deadline = time.monotonic() + 30
    while _in_flight(server.url) < len(ids) and time.monotonic() < deadline:
        time.sleep(0.05)  # until every request is being answered (1.5 s each in the model)
    server.signal(signal.SIGTERM)  # to the whole process group
    for caller in callers:
        caller.join(timeout=30)
    assert [answers.get(rid) for rid in ids] == [200] * 4, server.output()
    assert server.proc.wait(timeout=60) == 0, server.output()
    from slipway.serving.export import read_predictions

    logged = read_predictions("slow", root=str(root))
    assert sorted(logged["request_id"]) == sorted(ids), server.output()


def _in_flight(url: str) -> float:
    with httpx.Client(timeout=10) as fresh:
        text = fresh.get(f"{url}/metrics").text
    prefix = "slipway_serving_requests_in_flight"
    return sum(float(ln.rsplit(" ", 1)[1]) for ln in text.splitlines() if ln.startswith(prefix))


def test_a_model_that_cannot_load_stops_the_server_with_status_1(registry):
    from server_support import free_port

    result = CliRunner().invoke(
        app,
        [
            "serve",
            "models:/forest/3",
            "--tracking-uri",
            registry.tracking_uri,
            "--port",
            str(free_port()),
            "--no-prediction-log",
        ],
    )
    assert result.exit_code == 1, result.output


def test_cli_rejects_bad_settings_before_starting():
    runner = CliRunner()
    both = runner.invoke(app, ["serve", "models:/a/1", "models:/b/1", "--name", "x"])
    assert both.exit_code == 1
    assert "--name" in both.output
    switch = runner.invoke(app, ["serve", "models:/a/1", "--model-batching", "a=maybe"])
    assert switch.exit_code == 1 and "NAME=on" in switch.output
    unknown = runner.invoke(app, ["serve", "ftp://nowhere/model"])
    assert unknown.exit_code == 1


def test_help_lists_the_options():
    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    for option in (
        "--max-batch-size",
        "--max-wait-ms",
        "--no-batching",
        "--model-batching",
        "--poll-interval",
        "--log-sample-rate",
        "--no-prediction-log",
        "--max-body-mb",
        "--workers",
        "--tracking-uri",
    ):
        assert option in result.output
