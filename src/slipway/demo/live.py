"""The demo's production half: serve the champion, send it customers, post their labels,
then check a later, shifted population for drift.

`serve_champion` runs the real `slipway serve` as a subprocess on a free local port, the
way a user would, and talks to it over HTTP only. `check_drift` compares the training
data with a drifted batch and writes the HTML report.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
from rich.console import Console

from slipway.errors import ServerUnavailable


@dataclass
class TrafficSummary:
    """What the served model did: requests answered, labels posted, accuracy on them."""

    url: str
    requests: int
    labelled: int
    logged_rows: int
    accuracy: float


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_ready(url: str, proc: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerUnavailable(f"slipway serve exited with code {proc.returncode}.")
        try:
            if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise ServerUnavailable(f"slipway serve at {url} was not ready within {timeout_s:.0f} s.")


def serve_champion(
    model_uri: str,
    tracking_uri: str,
    customers: pd.DataFrame,
    labels: pd.Series,
    console: Console,
) -> TrafficSummary:
    """Serve `model_uri`, score each customer over HTTP, post the true labels, stop."""
    from slipway.serving.export import read_predictions

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "slipway.cli.main", "serve", model_uri]
    command += ["--tracking-uri", tracking_uri, "--port", str(port), "--drain-seconds", "0"]
    command += ["--log-level", "warning"]
    proc = subprocess.Popen(command, start_new_session=True)
    try:
        with console.status(f"starting slipway serve {model_uri} on {url}"):
            _wait_ready(url, proc, timeout_s=120)
        model_name = model_uri.split("/")[1].split("@")[0]
        answers = []
        with httpx.Client(base_url=url, timeout=30) as http:
            for record in customers.to_dict(orient="records"):
                response = http.post("/predict", json={"records": [record]})
                response.raise_for_status()
                answers.append(response.json())
            feedback = [
                {"request_id": a["request_id"], "label": int(y)}
                for a, y in zip(answers, labels, strict=True)
            ]
            http.post("/feedback", json={"records": feedback}).raise_for_status()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # drains, flushes the prediction log
        proc.wait(timeout=60)
    logged = read_predictions(model_name, tracking_uri=tracking_uri)
    scored = logged.dropna(subset=["label"])
    accuracy = float((scored["prediction"] == scored["label"]).mean()) if len(scored) else 0.0
    return TrafficSummary(url, len(answers), len(feedback), len(logged), accuracy)


def check_drift(reference: pd.DataFrame, current: pd.DataFrame, report_path: Path):
    """Drift of `current` against `reference`, with the HTML report written to a file."""
    from slipway.monitoring import detect_drift

    result = detect_drift(reference, current)
    report_path.parent.mkdir(parents=True, exist_ok=True)
    result.to_html(str(report_path))
    return result


__all__ = ["TrafficSummary", "check_drift", "serve_champion"]
