"""The artifact proxy client on the shared REST session: auth, one session, streaming."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from slipway.artifacts import get_artifact_repository
from slipway.errors import ResourceDoesNotExist
from slipway.store.rest import RestRegistryStore, RestTrackingStore, shared_session

ART = "/api/2.0/mlflow-artifacts/artifacts"
URI = "mlflow-artifacts:/0/run1/artifacts"


class Recorder:
    """ASGI middleware around the real app that records each request's method, path and
    headers."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests: list[tuple[str, str, dict[str, str]]] = []

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "http":
            headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            self.requests.append((scope["method"], scope["path"], headers))
        await self.app(scope, receive, send)

    def artifact_requests(self) -> list[tuple[str, str, dict[str, str]]]:
        return [r for r in self.requests if r[1].startswith(ART)]


@pytest.fixture
def recorded_server(tmp_path: Path) -> Iterator[tuple[str, Recorder]]:
    """The real `slipway server` app on a socket, behind a `Recorder`."""
    import uvicorn

    from slipway.server.app import create_app

    app = Recorder(create_app(f"sqlite:///{tmp_path / 's.db'}", str(tmp_path / "artifacts")))
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _exercise(url: str) -> None:
    repo = get_artifact_repository(URI, tracking_uri=url)
    repo.write_bytes("model/MLmodel", b"flavors: {}")
    assert repo.read_bytes("model/MLmodel") == b"flavors: {}"
    assert [f.path for f in repo.list("model")] == ["model/MLmodel"]
    assert repo.exists("model/MLmodel") and not repo.exists("model/absent")
    repo.delete("model")


@pytest.mark.parametrize(
    ("env", "userinfo", "expected"),
    [
        ({"SLIPWAY_TRACKING_TOKEN": "t0ken"}, "", "Bearer t0ken"),
        ({}, "ann:pw@", "Basic YW5uOnB3"),
        (
            {"SLIPWAY_TRACKING_USERNAME": "bo", "SLIPWAY_TRACKING_PASSWORD": "s3"},
            "",
            "Basic Ym86czM=",
        ),
    ],
    ids=["token", "url-userinfo", "username-env"],
)
def test_every_proxy_request_carries_the_auth_header(
    recorded_server, monkeypatch: pytest.MonkeyPatch, env, userinfo, expected
) -> None:
    url, recorder = recorded_server
    for name in (
        "SLIPWAY_TRACKING_TOKEN",
        "SLIPWAY_TRACKING_USERNAME",
        "SLIPWAY_TRACKING_PASSWORD",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    _exercise(url.replace("http://", f"http://{userinfo}"))
    sent = recorder.artifact_requests()
    assert {method for method, _, _ in sent} >= {"PUT", "GET", "HEAD", "DELETE"}
    assert all(headers.get("authorization") == expected for _, _, headers in sent), sent


def test_repositories_and_stores_share_one_session(recorded_server) -> None:
    url, _ = recorded_server
    first = get_artifact_repository(URI, tracking_uri=url)
    second = get_artifact_repository("mlflow-artifacts:/0/run2/artifacts", tracking_uri=url)
    assert first.session is second.session is shared_session(url)
    assert RestTrackingStore(url).session is first.session
    assert RestRegistryStore(url).session is first.session
    named = get_artifact_repository(f"mlflow-artifacts://{url.removeprefix('http://')}/0/x")
    assert named.session is first.session


def test_uploads_stream_and_downloads_stream(recorded_server) -> None:
    url, recorder = recorded_server
    repo = get_artifact_repository(URI, tracking_uri=url)
    block = bytes(range(256)) * 4096  # 1 MiB
    sent_chunks = []

    def chunks() -> Iterator[bytes]:
        for i in range(3):
            sent_chunks.append(i)
            yield block

    repo.write_stream("big.bin", chunks())
    put = [h for m, _, h in recorder.artifact_requests() if m == "PUT"]
    assert put[-1].get("transfer-encoding") == "chunked"  # sent as it was produced
    assert sent_chunks == [0, 1, 2]
    with repo.open("big.bin") as f:
        parts = list(iter(lambda: f.read(300_000), b""))
    assert len(parts) > 1 and b"".join(parts) == block * 3


def test_errors_are_the_servers_typed_errors(recorded_server) -> None:
    url, _ = recorded_server
    repo = get_artifact_repository(URI, tracking_uri=url)
    with pytest.raises(ResourceDoesNotExist, match="No artifact"):
        repo.read_bytes("missing.txt")
    with pytest.raises(ResourceDoesNotExist):
        repo.delete("missing.txt")
