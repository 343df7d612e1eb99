"""Serving fixtures: small models in a real registry, and real servers over real sockets.

`registry` (once per session) trains tiny seeded scikit-learn models, saves them as
slipway models and registers them in a SQLite tracking store:

    forest   RandomForestClassifier on 4 numeric columns; v1, v2 (other seed), v3 broken
             (its model file is garbage); @champion -> v1
    mixed    LogisticRegression pipeline on numeric + string + boolean columns; v1
    reg      LinearRegression on 4 numeric columns; v1

`serve(...)` runs `slipway.serving.create_app` under uvicorn in a thread on a free port and
waits for /ready; `start_cli(...)` runs `python -m slipway.cli.main serve ...` as a
subprocess in its own process group. Both are stopped at the end of the test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from serving_support import (
    Registry,
    Served,
    forest,
    mixed_data,
    mixed_pipeline,
    numeric_data,
    regressor,
    running_server,
)

from server_support import free_port


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    root = tmp_path_factory.mktemp("serving-registry")
    reg = Registry(f"sqlite:///{root / 'db.sqlite'}", root, {}, {})
    X, _ = numeric_data(1)
    reg.register("forest", forest(1), X)
    reg.register("forest", forest(2), X)
    reg.register("forest", forest(1), X, corrupt=True)
    reg.set_alias("forest", "champion", "1")
    mixed_X, _ = mixed_data()
    reg.register("mixed", mixed_pipeline(), mixed_X)
    reg.register("reg", regressor(), X)
    return reg


# ------------------------------------------------------------------------ in-process servers


@pytest.fixture
def serve(registry: Registry) -> Iterator[Callable[..., Served]]:
    """`serve(*uris, **settings)` → a running server (the registry's tracking URI by default)."""
    from contextlib import ExitStack

    from slipway.serving import ServeConfig

    with ExitStack() as stack:

        def start(*uris: str, wait_ready: bool = True, **settings: Any) -> Served:
            settings.setdefault("tracking_uri", registry.tracking_uri)
            settings.setdefault("prediction_log", False)
            config = ServeConfig(list(uris), **settings)
            return stack.enter_context(running_server(config, wait_ready=wait_ready))

        yield start


@pytest.fixture(scope="module")
def forest_server(registry: Registry) -> Iterator[Served]:
    """One server for a module's read-only tests: forest@champion, mixed/1 and reg/1."""
    from slipway.serving import ServeConfig

    config = ServeConfig(
        ["models:/forest@champion", "models:/mixed/1", "models:/reg/1"],
        tracking_uri=registry.tracking_uri,
        prediction_log=False,
        max_body_mb=1,
        request_timeout_s=10,
    )
    with running_server(config) as served:
        yield served


# ------------------------------------------------------------------------ subprocesses


@dataclass
class CliServer:
    proc: subprocess.Popen
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def signal(self, sig: int) -> None:
        os.killpg(self.proc.pid, sig)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


def start_cli_process(
    args: list[str],
    tmp_path: Path,
    *,
    wait_ready: bool = True,
    timeout: float = 90,
    env: dict[str, str] | None = None,
) -> CliServer:
    port = free_port()
    log = tmp_path / f"serve-{port}.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "slipway.cli.main", "serve", *args, "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
    server = CliServer(proc, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + timeout
    while wait_ready:
        if proc.poll() is not None:
            raise RuntimeError(f"slipway serve exited with {proc.returncode}:\n{server.output()}")
        try:
            if httpx.get(f"{server.url}/ready", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"slipway serve was not ready in {timeout} s:\n{server.output()}")
        time.sleep(0.1)
    return server


@pytest.fixture
def start_cli(tmp_path: Path) -> Iterator[Callable[..., CliServer]]:
    started: list[CliServer] = []

    def start(*args: str, wait_ready: bool = True, env: dict[str, str] | None = None) -> CliServer:
        server = start_cli_process(list(args), tmp_path, wait_ready=wait_ready, env=env)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
