"""The REST transport's own behaviour: retries, typed errors, auth, fallbacks, throughput."""

from __future__ import annotations

import math
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from slipway.entities import Metric, Param
from slipway.errors import (
    InvalidParameterValue,
    ResourceDoesNotExist,
    ServerUnavailable,
    SlipwayError,
)
from slipway.store.rest import RestSession, RestTrackingStore


class ScriptedServer:
    """A real HTTP server that answers from a script, and records what it was sent."""

    def __init__(self, answers: list[tuple[int, bytes]]) -> None:
        self.answers = answers
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                outer.requests.append((self.command, self.path, dict(self.headers)))
                status, body = outer.answers[min(len(outer.requests), len(outer.answers)) - 1]
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def scripted() -> Iterator[type[ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def make(answers: list[tuple[int, bytes]]) -> ScriptedServer:
        server = ScriptedServer(answers)
        servers.append(server)
        return server

    yield make  # type: ignore[misc]
    for server in servers:
        server.close()


EXPERIMENT = b'{"experiment": {"experiment_id": "1", "name": "e", "artifact_location": "x"}}'


def test_unreachable_server_is_server_unavailable() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    session = RestSession(url, max_retries=2, backoff=0.01)
    started = time.monotonic()
    with pytest.raises(ServerUnavailable, match="Is `slipway server` running"):
        RestTrackingStore(url, session).get_experiment("1")
    assert time.monotonic() - started < 5


def test_503_and_429_are_retried_then_succeed(scripted) -> None:
    server = scripted([(503, b"busy"), (429, b"{}"), (200, EXPERIMENT)])
    store = RestTrackingStore(server.url, RestSession(server.url, backoff=0.01))
    assert store.get_experiment("1").name == "e"
    assert len(server.requests) == 3
    store.close()


def test_client_errors_are_typed_and_not_retried(scripted) -> None:
    body = b'{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "No experiment 9."}'
    server = scripted([(404, body)])
    store = RestTrackingStore(server.url, RestSession(server.url, backoff=0.01))
    with pytest.raises(ResourceDoesNotExist, match="No experiment 9"):
        store.get_experiment("9")
    assert len(server.requests) == 1
    store.close()


def test_persistent_503_gives_up_with_the_servers_error(scripted) -> None:
    body = b'{"error_code": "TEMPORARILY_UNAVAILABLE", "message": "database is busy"}'
    server = scripted([(503, body)])
    session = RestSession(server.url, max_retries=2, backoff=0.01)
    with pytest.raises(ServerUnavailable, match="database is busy"):
        RestTrackingStore(server.url, session).get_experiment("1")
    assert len(server.requests) == 3


def test_non_json_errors_still_say_what_happened(scripted) -> None:
    server = scripted([(502, b"<html>Bad Gateway</html>")])
    store = RestTrackingStore(server.url)
    with pytest.raises(SlipwayError, match="HTTP 502"):
        store.get_experiment("1")
    assert len(server.requests) == 1  # a 502 is not one of the retried answers
    not_found = scripted([(404, b"<html>nope</html>")])
    with pytest.raises(SlipwayError, match="slipway server") as err:
        RestTrackingStore(not_found.url).get_experiment("1")
    assert err.value.error_code == "ENDPOINT_NOT_FOUND"


def test_auth_from_token_env_and_url_userinfo(scripted, monkeypatch) -> None:
    server = scripted([(200, EXPERIMENT)])
    monkeypatch.setenv("SLIPWAY_TRACKING_TOKEN", "s3cret")
    RestTrackingStore(server.url).get_experiment("1")
    assert server.requests[-1][2]["Authorization"] == "Bearer s3cret"
    monkeypatch.delenv("SLIPWAY_TRACKING_TOKEN")
    with_user = server.url.replace("http://", "http://ann:pw@")
    store = RestTrackingStore(with_user)
    assert "ann" not in store.base_url
    store.get_experiment("1")
    assert server.requests[-1][2]["Authorization"].startswith("Basic ")


def test_falls_back_to_mlflow_log_batch_without_the_columnar_endpoint(tmp_path) -> None:
    """Against a server that only speaks MLflow (no /api/2.0/slipway), nothing is lost."""
    import uvicorn

    from slipway.server.app import create_app

    app = create_app(f"sqlite:///{tmp_path / 'plain.db'}", str(tmp_path / "arts"))
    app.router.routes = [
        r for r in app.router.routes if not getattr(r, "path", "").startswith("/api/2.0/slipway")
    ]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    try:
        store = RestTrackingStore(url)
        run_id = store.create_run("0", "u", 0).info.run_id
        n = 2_500
        store.log_metric_columns(run_id, ["k"] * n, [float(i) for i in range(n)], [1] * n, range(n))
        assert len(store.get_metric_history(run_id, "k")) == n
        # a batch over MLflow's 1000-item total is split into MLflow-sized requests
        store.log_batch(
            run_id,
            metrics=[Metric("j", 1.0, 1, i) for i in range(1_000)],
            params=[Param(f"p{i}", "v") for i in range(100)],
        )
        assert len(store.get_metric_history(run_id, "j")) == 1_000
        assert len(store.get_run(run_id).data.params) == 100
        store.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_columns_accept_numpy_and_send_non_finite_values(live_server) -> None:
    store = RestTrackingStore(live_server.url)
    run_id = store.create_run("0", "u", 0).info.run_id
    values = np.array([0.5, np.nan, np.inf, -np.inf])
    store.log_metric_columns(
        run_id, np.array(["a", "a", "b", "c"]), values, np.arange(4) + 10, np.arange(4)
    )
    run = store.get_run(run_id)
    assert math.isnan(run.data.metrics["a"])
    assert run.data.metrics["b"] == math.inf and run.data.metrics["c"] == -math.inf
    with pytest.raises(InvalidParameterValue):
        store.log_metric_columns(run_id, ["a"], [1.0, 2.0], [1], [1])
    store.close()


def test_session_streams_uploads_and_downloads(live_server) -> None:
    """The artifact proxy client can reuse the session: streamed PUT, streamed GET, typed 404."""
    session = RestSession(live_server.url)
    path = "/api/2.0/mlflow-artifacts/artifacts/s/f.bin"
    session.request("PUT", path, content=iter([b"ab", b"cd"]))
    with session.stream("GET", path) as response:
        assert response.read() == b"abcd"
    with pytest.raises(ResourceDoesNotExist), session.stream("GET", path + ".missing"):
        pass
    session.close()


@pytest.mark.slow
def test_columnar_throughput(server_process) -> None:
    """100,000 points from a Python client over loopback; prints points/s (target 300k)."""
    store = RestTrackingStore(server_process.url)
    exp = store.create_experiment("throughput")
    n = 100_000
    keys = [f"metric_{i % 10}" for i in range(n)]
    values = np.random.default_rng(0).random(n).tolist()
    stamps = [1_700_000_000_000 + i for i in range(n)]
    steps = [i // 10 for i in range(n)]
    rates = []
    for _ in range(3):
        run_id = store.create_run(exp, "u", 0).info.run_id
        started = time.perf_counter()
        store.log_metric_columns(run_id, keys, values, stamps, steps)
        rates.append(n / (time.perf_counter() - started))
    assert len(store.get_metric_history(run_id, "metric_3")) == n // 10
    store.close()
    print(f"\ncolumnar endpoint: best {max(rates):,.0f} points/s over {len(rates)} runs")
    assert max(rates) > 150_000
