"""`slipway ui` starts the server with the UI on the embedded default store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from server_support import free_port


def test_slipway_ui_serves_the_pages_on_the_embedded_store(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "SLIPWAY_HOME": str(tmp_path / "home")}
    code = "import sys; from slipway.cli.main import main; sys.argv[0] = 'slipway'; main()"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "ui", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, "slipway ui exited on start"
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "slipway ui did not answer within 60 s"
                time.sleep(0.2)
        assert page.status_code == 200
        assert "<h1>Experiments</h1>" in page.text
        assert "Default" in page.text  # the embedded store's default experiment
        assert (tmp_path / "home" / "slipway.db").exists()
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    assert f"http://127.0.0.1:{port}/" in out
