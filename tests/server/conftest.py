"""Fixtures for the server tests: HTTP clients and `slipway server` as a real subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from server_support import free_port, running_server


@pytest.fixture
def mlflow_uri(live_server, monkeypatch: pytest.MonkeyPatch):
    """Point an unmodified mlflow client at the live server; no retries, no telemetry, no
    leftover runs."""
    mlflow = pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", live_server.url)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("DO_NOT_TRACK", "true")
    # mlflow.set_experiment leaves the experiment id in a global and in the environment;
    # both are cleared afterwards, so a later test's server is not asked for it.
    monkeypatch.setattr(mlflow.tracking.fluent, "_active_experiment_id", None, raising=False)
    mlflow.set_tracking_uri(live_server.url)
    yield live_server.url
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(None)
    os.environ.pop("MLFLOW_EXPERIMENT_ID", None)


@pytest.fixture
def http(live_server) -> Iterator[httpx.Client]:
    """A plain HTTP client on the live server's root."""
    with httpx.Client(base_url=live_server.url, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def shared_http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """One server for a whole module, for the many small tests that change nothing."""
    tmp = tmp_path_factory.mktemp("shared-server")
    with (
        running_server(f"sqlite:///{tmp / 'server.db'}", str(tmp / "artifacts")) as url,
        httpx.Client(base_url=url, timeout=60) as client,
    ):
        yield client


@dataclass
class ServerProcess:
    proc: subprocess.Popen
    url: str
    db_path: Path
    artifacts_dir: Path

    def kill(self) -> None:
        """SIGKILL the whole process group (the server and any workers it spawned)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        """Graceful shutdown (SIGINT, as Ctrl-C), then SIGKILL if it does not stop."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def start_server_process(tmp_path: Path, workers: int = 1) -> ServerProcess:
    """Run `run_server()` (what `slipway server` calls) in its own process group."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    db_path = tmp_path / "server-proc.db"
    artifacts = tmp_path / "server-proc-artifacts"
    port = free_port()
    code = (
        "from slipway.server.app import run_server; "
        f"run_server({f'sqlite:///{db_path}'!r}, {str(artifacts)!r}, '127.0.0.1', {port}, "
        f"{workers}, log_level='warning', access_log=False)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    server = ServerProcess(proc, f"http://127.0.0.1:{port}", db_path, artifacts)
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"slipway server exited with {proc.returncode} on start")
        try:
            if httpx.get(f"{server.url}/health", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            server.kill()
            raise RuntimeError("slipway server did not answer /health within 60 s")
        time.sleep(0.1)


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start `slipway server` processes (`start_server(workers=2)`); all stopped at the end."""
    started: list[ServerProcess] = []

    def start(workers: int = 1) -> ServerProcess:
        server = start_server_process(tmp_path / f"server-{len(started)}", workers)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def server_process(start_server: Callable[..., ServerProcess]) -> ServerProcess:
    return start_server()
