"""Seeded data for the UI tests: an experiment of runs with curves, artifacts of every
previewable kind, a parent with children, and a registered model with two versions.

Everything goes through a `Client` pointed at the server's URL, as a user's code would.
"""

from __future__ import annotations

import io
import json
import random
import struct
import zlib
from dataclasses import dataclass, field

from slipway.entities import Metric, Param, Tag
from slipway.tracking.client import Client

MODEL = "churn-classifier"
EXPERIMENT = "churn"


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
    json.dumps(scores)  # keeps the seeded scores printable when a test fails
    return out


__all__ = ["EXPERIMENT", "MODEL", "Seeded", "seed", "tiny_png"]
