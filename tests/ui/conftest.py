"""Fixtures for the web UI tests: a real `slipway server` on loopback with seeded data,
and Debian's Chromium driven by Playwright.

The data goes in through a `Client` pointed at the server's URL, as a user's code would:
an experiment of runs with curves, artifacts of every previewable kind, a parent with
children, and a registered model with two versions. Browser tests skip with a reason
where Playwright or Chromium is absent, and fail instead with SLIPWAY_REQUIRE_INTEGRATION=1.
"""

from __future__ import annotations

import io
import os
import random
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from server_support import running_server
from slipway.entities import Metric, Param, Tag
from slipway.tracking.client import Client

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[1] / ".out" / "ui"

MODEL = "churn-classifier"
EXPERIMENT = "churn"
MONITOR = "churn-watch"


@dataclass
class Seeded:
    experiment_id: str
    run_ids: list[str] = field(default_factory=list)
    best_run: str = ""
    worst_run: str = ""
    parent_run: str = ""
    artifact_run: str = ""


def tiny_png(width: int = 24, height: int = 16) -> bytes:
    """A small gradient PNG written with the standard library."""
    rows = b"".join(
        b"\x00" + bytes(v for x in range(width) for v in (x * 10 % 256, y * 15 % 256, 160))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _parquet_bytes() -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"customer": [f"c{i:03d}" for i in range(50)], "tenure": list(range(50))})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def seed(url: str, runs: int = 12) -> Seeded:
    """Log the test data to the server at `url`."""
    rng = random.Random(7)
    c = Client(url)
    experiment_id = c.create_experiment(EXPERIMENT)
    c.create_experiment("fraud")
    out = Seeded(experiment_id)
    scores: dict[str, float] = {}
    for i in range(runs):
        model = ["rf", "gb", "lr"][i % 3]
        run = c.create_run(experiment_id, run_name=f"{model}-{i:02d}")
        run_id = run.info.run_id
        accuracy = round(0.70 + 0.02 * i + rng.uniform(-0.005, 0.005), 4)
        scores[run_id] = accuracy
        points = [
            Metric("loss", 1.0 / (1 + s * (0.05 + 0.01 * i)), 1_700_000_000_000 + s * 1000, s)
            for s in range(60)
        ]
        points += [
            Metric("val_loss", 1.1 / (1 + s * 0.04 * (1 + i / 10)), 1_700_000_000_000 + s * 1000, s)
            for s in range(60)
        ]
        points += [Metric("accuracy", accuracy, 1_700_000_100_000, 59)]
        c.log_batch(
            run_id,
            metrics=points,
            params=[
                Param("model", model),
                Param("learning_rate", str(round(0.01 * (i + 1), 3))),
                Param("max_depth", str(3 + i % 4)),
            ],
            tags=[Tag("team", "growth" if i % 2 else "risk")],
        )
        c.set_terminated(run_id, "FINISHED")
        out.run_ids.append(run_id)
    out.best_run = max(scores, key=scores.__getitem__)
    out.worst_run = min(scores, key=scores.__getitem__)

    parent = c.create_run(experiment_id, run_name="sweep")
    out.parent_run = parent.info.run_id
    for k in range(2):
        child = c.create_run(
            experiment_id,
            run_name=f"sweep-trial-{k}",
            tags={"mlflow.parentRunId": parent.info.run_id},
        )
        c.log_metric(child.info.run_id, "accuracy", 0.8 + k / 100)
        c.set_terminated(child.info.run_id, "FINISHED")
    c.set_tag(parent.info.run_id, "mlflow.note.content", "A small **sweep** over the depth.")
    c.set_terminated(parent.info.run_id, "FINISHED")

    run_id = out.best_run
    out.artifact_run = run_id
    c.log_text(run_id, "trained on 10,000 rows\nno warnings\n", "notes.txt")
    c.log_dict(run_id, {"model": "gb", "depth": 5, "features": ["tenure", "plan"]}, "config.json")
    c.log_dict(run_id, {"threshold": 0.5, "classes": ["stay", "churn"]}, "eval/settings.yaml")
    c.log_text(
        run_id,
        "<html><body><h1>Evaluation report</h1><p>AUC 0.93</p></body></html>",
        "eval/report.html",
    )
    repo = c.artifact_repository(run_id)
    repo.write_bytes("eval/confusion.png", tiny_png())
    repo.write_bytes("data/head.parquet", _parquet_bytes())

    c.create_registered_model(MODEL, description="Predicts which customers will leave.")
    c.create_model_version(MODEL, f"runs:/{out.worst_run}/model", run_id=out.worst_run)
    c.create_model_version(MODEL, f"runs:/{out.best_run}/model", run_id=out.best_run)
    c.set_registered_model_alias(MODEL, "champion", 1)
    c.create_model_version(MODEL, f"runs:/{out.run_ids[9]}/model", run_id=out.run_ids[9])
    _seed_monitor(url, out.run_ids[9])
    return out


def _seed_monitor(url: str, challenger_run: str) -> None:
    """A monitor of the model with three evaluated windows, an alert, a retrain, and a
    retrained challenger (version 3) waiting for a person's approval."""
    from slipway.entities import MonitorWindow
    from slipway.monitoring import create_monitor
    from slipway.store.factory import open_monitor_store

    c = Client(url)
    create_monitor(MONITOR, model=f"{MODEL}@champion", client=c, window="1h")
    store = open_monitor_store(url)
    hour = 3_600_000
    start = 1_764_540_000_000
    for i, share in enumerate((0.05, 0.12, 0.41)):
        store.put_monitor_window(
            MonitorWindow(
                MONITOR,
                start + i * hour,
                start + (i + 1) * hour,
                "ok" if share < 0.3 else "drift",
                1000,
                200,
                1,
                {"drift_share": share, "columns.tenure.statistic": share},
                {},
                start + (i + 1) * hour,
            )
        )
    store.append_monitor_event(MONITOR, "alert", "drift", "41% of columns drifted")
    store.append_monitor_event(MONITOR, "retrain", None, "retrained: version 3")
    monitor = store.get_monitor(MONITOR)
    state = {
        **monitor.state,
        "pending_approval": {"version": 3, "gate": [], "run_id": challenger_run},
    }
    store.update_monitor(MONITOR, state=state)
    store.close()


@dataclass
class UiServer:
    url: str
    seeded: Seeded


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiServer]:
    """`slipway server` (uvicorn on a real socket, in a thread) over seeded SQLite data."""
    tmp = tmp_path_factory.mktemp("ui-server")
    with running_server(f"sqlite:///{tmp / 'server.db'}", str(tmp / "artifacts")) as url:
        yield UiServer(url, seed(url))


def _unavailable(reason: str) -> None:
    if os.environ.get("SLIPWAY_REQUIRE_INTEGRATION") == "1":
        pytest.fail(f"{reason} (required: SLIPWAY_REQUIRE_INTEGRATION=1)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """Headless Chromium (Debian's package) through Playwright."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("browser tests need the playwright package (pip install playwright)")
    if not os.path.exists(CHROMIUM):
        _unavailable(f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, ui_server: UiServer) -> Iterator:
    """A fresh page at 1280x800 on the seeded server; failures keep a screenshot."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=ui_server.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def _shot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.evaluate("window.scrollTo(0, 0)")  # else the sticky header lands mid-picture
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def shot():
    """`shot(page, name)` saves a full-page screenshot as a test output (tests/.out/ui/)."""
    return _shot
