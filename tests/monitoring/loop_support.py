"""Helpers for the closed-loop tests: tiny classifiers in a real registry, a prediction log
written with `PredictionLog` (no server), a webhook receiver on a real socket, and the
retrain actions monitors call (`loop_support:train_better`, `loop_support:train_worse`)."""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression

FEATURES = ["f0", "f1", "f2"]
HOUR_MS = 3_600_000
BASE_MS = 1_767_225_600_000  # 2026-01-01T00:00Z


def make_data(n: int, seed: int, shift: float = 0.0, flip: float = 0.0):
    """Inputs (shifted on f0, f1 when `shift`) and labels from a fixed rule (`flip` of them
    inverted: concept drift)."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(0, 1, (n, 3)), columns=FEATURES)
    X["f0"] += shift
    X["f1"] += shift
    logits = 2.0 * X["f0"] - 1.5 * X["f1"] + 0.5 * X["f2"]
    y = (rng.random(n) < 1 / (1 + np.exp(-logits))).astype(int)
    if flip:
        flipped = rng.random(n) < flip
        y[flipped] = 1 - y[flipped]
    return X, y


def register(client: Any, name: str, estimator: Any, X: pd.DataFrame, y: Any, tmp: Path) -> int:
    """Fit nothing: save `estimator` with its reference (profile + labelled predictions),
    log its F1 and register it as a new version of `name`."""
    from sklearn.metrics import f1_score

    import slipway.sklearn
    from slipway.monitoring import log_reference

    experiment = client.get_experiment_by_name("loop") or None
    experiment_id = experiment.experiment_id if experiment else client.create_experiment("loop")
    run_id = client.create_run(experiment_id).info.run_id
    folder = tmp / f"model-{run_id}"
    slipway.sklearn.save_model(estimator, str(folder), input_example=X.iloc[:3])
    client.log_artifacts(run_id, folder, "model")
    predictions = estimator.predict(X)
    log_reference(
        X,
        y,
        predictions,
        run_id=run_id,
        client=client,
        probabilities=estimator.predict_proba(X),
        classes=[0, 1],
    )
    from slipway.entities import Metric

    client.log_batch(run_id, metrics=[Metric("f1", f1_score(y, predictions), 0, 0)])
    client.set_terminated(run_id)
    if not client.search_registered_models(f"name = '{name}'").items:
        client.create_registered_model(name)
    return int(client.create_model_version(name, f"runs:/{run_id}/model", run_id).version)


def log_window(
    log_root: str,
    model: str,
    version: int,
    estimator: Any,
    X: pd.DataFrame,
    y: Any,
    start_ms: int,
    *,
    labelled: float = 1.0,
    tag: str = "",
) -> None:
    """Log one request per row in the hour from `start_ms`, with labels for a share."""
    from slipway.serving.predlog import PredictionLog

    probs = estimator.predict_proba(X)
    preds = estimator.predict(X)
    step = HOUR_MS // (len(X) + 1)
    feedback = []
    with PredictionLog(log_root, flush_interval_s=60, max_buffer_rows=10**6) as log:
        for i in range(len(X)):
            rid = f"{tag}{start_ms}-{i}"
            log.record(
                request_id=rid,
                model_name=model,
                model_version=str(version),
                inputs=X.iloc[[i]],
                outputs={"prediction": preds[i : i + 1], "probability": probs[i : i + 1]},
                timestamp_ms=start_ms + (i + 1) * step,
            )
            if i < labelled * len(X):
                feedback.append({"request_id": rid, "label": int(y[i])})
        log.record_feedback(feedback)
        log.flush()


class Receiver:
    """A webhook receiver on a free local port that keeps what it is sent."""

    def __init__(self) -> None:
        self.received: list[Any] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def closed_port_url() -> str:
    """A URL where nothing listens (the port was free a moment ago)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


@pytest.fixture
def loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A registered classifier `churn` v1 @champion with its reference, in a fresh store;
    yields (client, model, prediction log root, tmp_path)."""
    from slipway.tracking.client import Client

    uri = f"sqlite:///{tmp_path / 'db.sqlite'}"
    monkeypatch.setenv("SLIPWAY_TRACKING_URI", uri)
    monkeypatch.setenv("LOOP_TMP", str(tmp_path))
    client = Client(uri)
    X, y = make_data(1000, 1)
    model = LogisticRegression().fit(X, y)
    version = register(client, "churn", model, X, y, tmp_path)
    client.set_registered_model_alias("churn", "champion", version)
    yield client, model, str(tmp_path / "predlog"), tmp_path
    client.close()


def _retrain(estimator: Any) -> None:
    from slipway.tracking.client import Client

    client = Client(os.environ["SLIPWAY_TRACKING_URI"])
    X, y = make_data(2000, 11, shift=float(os.environ.get("LOOP_SHIFT", "0")))
    estimator.fit(X, y)
    register(
        client, os.environ["SLIPWAY_MODEL_NAME"], estimator, X, y, Path(os.environ["LOOP_TMP"])
    )


def train_better() -> None:
    """A retrain that learns the real rule on plenty of data."""
    _retrain(LogisticRegression())


def train_worse() -> None:
    """A retrain that predicts class 0 whatever the input (F1 of zero)."""
    _retrain(DummyClassifier(strategy="constant", constant=0))


def weak_champion(n: int = 300) -> tuple[LogisticRegression, pd.DataFrame, Any]:
    """A champion fitted on one uninformative column's worth of signal (beatable)."""
    X, y = make_data(n, 5)
    model = LogisticRegression().fit(X[["f2"]].assign(f0=0.0, f1=0.0)[FEATURES], y)
    return model, X, y


@contextmanager
def serving(config: Any) -> Iterator[tuple[str, Any]]:
    """A real `slipway serve` app under uvicorn on a free port; yields (url, app)."""
    from slipway.serving.app import serve_in_thread

    with serve_in_thread(config) as (url, app):
        yield url, app


RELEASE_TRAINING = threading.Event()


def train_when_released() -> None:
    """A retrain that takes as long as the test wants (it waits for `RELEASE_TRAINING`)."""
    if not RELEASE_TRAINING.wait(60):
        raise RuntimeError("the test never released the training")
    train_better()
