"""The demo's production half: serve the champion, send normal then drifted traffic with
delayed labels, let a monitor alert a local webhook, retrain (a hurried retrain the gates
refuse, then a proper one), shadow the challenger beside the champion, promote; check drift.

The servers are `slipway serve`'s app under uvicorn on free local ports in this process
(so the demo can flush its prediction log before evaluating); clients talk to them over
HTTP only. `retrain_hastily` and `retrain_on_fresh_data` are the monitor's retrain actions
(`module:function`).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from slipway.demo.churn import FEATURES, make_churn

MONITOR = "churn-demo"
RETRAIN_ACTION = "slipway.demo.loop:retrain_on_fresh_data"
HASTY_RETRAIN_ACTION = "slipway.demo.loop:retrain_hastily"
FRESH_DRIFT, FRESH_CONCEPT = 0.4, 2.0  # the population after the price rise


@dataclass
class Webhook:
    """A local receiver for the monitor's alerts: the JSON bodies it got."""

    url: str
    received: list[dict[str, Any]] = field(default_factory=list)


@contextmanager
def webhook_receiver() -> Iterator[Webhook]:
    hook = Webhook("")

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            hook.received.append(json.loads(self.rfile.read(length) or b"{}"))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()


@contextmanager
def serving(model_uri: str, tracking_uri: str) -> Iterator[tuple[str, Any]]:
    """`slipway serve MODEL_URI` on a free local port; yields (url, app)."""
    from slipway.serving import ServeConfig
    from slipway.serving.app import serve_in_thread

    config = ServeConfig([model_uri], tracking_uri=tracking_uri, poll_interval_s=0.5)
    with serve_in_thread(config, timeout_s=120) as (url, app):
        yield url, app


@contextmanager
def shadowing(primary_uri: str, shadow_uri: str, tracking_uri: str) -> Iterator[str]:
    """`slipway serve --traffic` with the shadow strategy: `primary_uri` answers, a copy of
    each request goes to `shadow_uri`; yields the URL (`GET /traffic` has the comparison).

    The demo's monitor watches the production server's log, so this server logs nothing.
    """
    from slipway.serving import ServeConfig
    from slipway.serving.app import serve_in_thread

    traffic = {
        "name": f"churn-shadow-{os.getpid()}",
        "variants": {"champion": {"model": primary_uri}, "challenger": {"model": shadow_uri}},
        "strategy": "shadow",
        "shadow": {"primary": "champion", "shadow": "challenger", "sample": 1.0},
    }
    config = ServeConfig([], tracking_uri=tracking_uri, traffic=traffic, prediction_log=False)
    with serve_in_thread(config, timeout_s=120) as (url, _):
        yield url


def send_traffic(http: httpx.Client, customers: pd.DataFrame) -> list[dict[str, Any]]:
    """One request per customer; returns the answers (with their request ids)."""
    answers = []
    for record in customers[FEATURES].to_dict(orient="records"):
        response = http.post("/predict", json={"records": [record]})
        response.raise_for_status()
        answers.append(response.json())
    return answers


def post_labels(http: httpx.Client, answers: list[dict[str, Any]], labels: pd.Series) -> None:
    feedback = [
        {"request_id": a["request_id"], "label": int(y)}
        for a, y in zip(answers, labels, strict=True)
    ]
    http.post("/feedback", json={"records": feedback}).raise_for_status()


def check_drift(reference: pd.DataFrame, current: pd.DataFrame, report_path: Path) -> Any:
    """Drift of `current` against `reference`, with the HTML report written to a file."""
    from slipway.monitoring import detect_drift

    result = detect_drift(reference, current)
    report_path.parent.mkdir(parents=True, exist_ok=True)
    result.to_html(str(report_path))
    return result


def retrain_hastily() -> None:
    """A retrain done in a hurry: a one-split tree (classes weighted equally) on 150 of
    last quarter's customers. The demo's first retrain action; the gate refuses it."""
    from sklearn.tree import DecisionTreeClassifier

    hurried = make_churn(150, seed=29)
    tree = DecisionTreeClassifier(max_depth=1, class_weight="balanced", random_state=7)
    _retrain(tree, hurried, "retrain-hasty")


def retrain_on_fresh_data() -> None:
    """The proper retrain action: 3,000 customers after the change, the baseline's model."""
    from sklearn.ensemble import GradientBoostingClassifier

    fresh = make_churn(3000, seed=23, drift=FRESH_DRIFT, concept=FRESH_CONCEPT)
    _retrain(GradientBoostingClassifier(n_estimators=60, random_state=7), fresh, "retrain-on-drift")


def _retrain(model: Any, data: pd.DataFrame, run_name: str) -> None:
    """Fit `model` on `data` in a tracked run and register it as a new version.

    The monitor passes the model and store in environment variables; the new version
    logs its reference (with probabilities) so the next monitor windows compare with it.
    """
    import slipway

    slipway.set_tracking_uri(os.environ["SLIPWAY_TRACKING_URI"])
    slipway.set_experiment("churn-demo")
    x, y = data[FEATURES], data["churned"]
    with slipway.start_run(run_name=run_name):
        model.fit(x, y)
        slipway.log_params({"model": type(model).__name__, "trigger": "monitor"})
        slipway.log_reference(
            x, y, predictions=model.predict(x), probabilities=model.predict_proba(x)
        )
        slipway.sklearn.log_model(
            model,
            name="model",
            input_example=x.head(5),
            registered_model_name=os.environ["SLIPWAY_MODEL_NAME"],
        )


__all__ = [
    "FRESH_CONCEPT",
    "FRESH_DRIFT",
    "HASTY_RETRAIN_ACTION",
    "MONITOR",
    "check_drift",
    "RETRAIN_ACTION",
    "Webhook",
    "post_labels",
    "retrain_hastily",
    "retrain_on_fresh_data",
    "send_traffic",
    "serving",
    "shadowing",
    "webhook_receiver",
]
