"""Benchmark 9: a monitor evaluating one 1-hour window of 1,000,000 logged predictions.

A model version gets a reference profile (100,000 rows x 50 numeric features and its
prediction) and labelled reference predictions (for CBPE); the prediction log holds
1,000,000 rows x 50 features (with probabilities) in one hour, in files of 50,000 rows (the
log's default buffer), a tenth of them labelled, half of the features shifted. Then a fresh
process runs `run_monitor` on that window (drift and quality on a 100,000-row sample of it):
reading the log and joining labels, drift and quality against the profile, measured
performance, CBPE, storing the window and judging the alerts. Reported: the evaluation's
time (inside the process) and the whole process's peak RSS. Targets: < 5 s, < 1 GiB.

    .venv/bin/python benchmarks/bench_monitor.py           # 1M rows
    .venv/bin/python benchmarks/bench_monitor.py --quick   # 100k rows
    .venv/bin/python benchmarks/run_all.py --only monitor
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_drift import SLIPWAY_ENV, timed_process
from harness import WORK, Measurement, Row, Target

TIME_TARGET = Target("<=", 5.0, "s")
RSS_TARGET = Target("<=", 1024.0, "MiB")
FEATURES = 50
HOUR_MS = 3_600_000
WINDOW_START = 1_767_225_600_000  # 2026-01-01T00:00Z
REQUESTS = 20  # of 50,000 rows each at 1M rows

EVALUATE = r"""
import json, sys, time
from slipway.monitoring import monitors
from slipway.tracking.client import Client
client = Client(sys.argv[1])
t0 = time.perf_counter()
run = monitors.run_monitor("bench", at=int(sys.argv[2]), client=client, retrain=False)
seconds = time.perf_counter() - t0
monitors.wait_for_deliveries()
w = run.window
print("MONITOR-RESULT " + json.dumps({
    "seconds": seconds, "rows": w.rows, "labelled": w.labelled_rows, "status": w.status,
    "drift_share": w.metrics.get("drift_share"), "alerts": run.alerts,
    "estimated_accuracy": w.metrics.get("estimated.accuracy"),
    "accuracy": w.metrics.get("performance.accuracy"),
}))
"""


def _frame(rng: np.random.Generator, n: int, shifted: bool) -> pd.DataFrame:
    X = rng.normal(0.0, 1.0, (n, FEATURES)).astype(np.float64)
    if shifted:
        X[:, ::2] += 0.3
    return pd.DataFrame(X, columns=[f"x{i:02d}" for i in range(FEATURES)])


def _scores(X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    logit = X["x00"].to_numpy() - 0.5 * X["x01"].to_numpy()
    p1 = 1 / (1 + np.exp(-logit))
    return (p1 > 0.5).astype(np.int64), np.column_stack([1 - p1, p1])


def prepare(work: Path, rows: int) -> tuple[str, str]:
    """A store with the model version, its references and the monitor; the log filled."""
    from slipway.monitoring import log_reference, monitors
    from slipway.serving.predlog import PredictionLog
    from slipway.tracking.client import Client

    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    uri = f"sqlite:///{work / 'db.sqlite'}"
    client = Client(uri)
    rng = np.random.default_rng(0)
    experiment = client.create_experiment("bench", artifact_location=str(work / "artifacts"))
    run_id = client.create_run(experiment).info.run_id
    X_ref = _frame(rng, 100_000, shifted=False)
    pred, probs = _scores(X_ref)
    y_ref = (rng.random(len(X_ref)) < probs[:, 1]).astype(np.int64)
    log_reference(
        X_ref, y_ref, pred, run_id=run_id, client=client, probabilities=probs, classes=[0, 1]
    )
    client.create_registered_model("bench-model")
    version = client.create_model_version("bench-model", f"runs:/{run_id}/model", run_id).version
    client.set_registered_model_alias("bench-model", "champion", version)
    log_root = str(work / "predlog")
    monitors.create_monitor(
        "bench", model="bench-model@champion", window="1h", drift_share=0.3, min_rows=1000,
        performance=["accuracy drop 0.05"], alerts=["log"], prediction_log=log_root,
        client=client,
    )  # fmt: skip
    per_request = rows // REQUESTS
    # Files as a busy server writes them: the log flushes whenever 50,000 rows are buffered.
    with PredictionLog(log_root, flush_interval_s=3600, max_buffer_rows=per_request) as log:
        labels = []
        for r in range(REQUESTS):
            X = _frame(rng, per_request, shifted=True)
            pred, probs = _scores(X)
            log.record(
                request_id=f"req-{r}",
                model_name="bench-model",
                model_version=str(version),
                inputs=X,
                outputs={"prediction": pred, "probability": probs},
                timestamp_ms=WINDOW_START + (r + 1) * HOUR_MS // (REQUESTS + 1),
            )
            log.flush()
            if r % 10 == 0:
                labels.append({"request_id": f"req-{r}", "label": 1})
        log.record_feedback(labels)
        log.flush()
    client.close()
    return uri, log_root


def evaluate(uri: str) -> dict[str, Any]:
    argv = [sys.executable, "-c", EVALUATE, uri, str(WINDOW_START)]
    done = timed_process(argv, SLIPWAY_ENV)
    if done["returncode"] != 0:
        raise RuntimeError(done["stderr"][-3000:])
    line = next(x for x in done["stdout"].splitlines() if x.startswith("MONITOR-RESULT "))
    return {**json.loads(line[len("MONITOR-RESULT ") :]), "rss_mib": done["rss_mib"],
            "process_seconds": done["seconds"]}  # fmt: skip


def run(session: Any) -> list[Row]:
    """The benchmark for `run_all.py`."""
    quick = getattr(session, "sizes", None) is not None and session.sizes.runs < 1000
    rows = 100_000 if quick else 1_000_000
    work = WORK / "monitor"
    t0 = time.perf_counter()
    uri, _ = prepare(work, rows)
    print(f"  prepared {rows:,} logged rows x {FEATURES} features in "
          f"{time.perf_counter() - t0:.1f} s", flush=True)  # fmt: skip
    result = evaluate(uri)
    print(
        f"  run_monitor: {result['seconds']:.2f} s for {result['rows']:,} rows "
        f"({result['labelled']:,} labelled), status {result['status']}, drift share "
        f"{result['drift_share']:.2f}, alerts {result['alerts']}; process peak RSS "
        f"{result['rss_mib']:.0f} MiB ({result['process_seconds']:.1f} s with start-up)",
        flush=True,
    )
    note = f"{rows:,} rows x {FEATURES} features, 1-hour window, labels joined, CBPE"
    return [
        Row(
            "9. monitor window evaluation (time)",
            Measurement("slipway", "run_monitor", result["seconds"], "s", rows, note=note),
            None,
            target=TIME_TARGET,
            higher_is_better=False,
        ),
        Row(
            "9. monitor window evaluation (peak RSS)",
            Measurement("slipway", "whole process", result["rss_mib"], "MiB", rows, note=note),
            None,
            target=RSS_TARGET,
            higher_is_better=False,
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    import harness

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100k rows")
    args = parser.parse_args(argv)

    class _Session:
        sizes = harness.QUICK if args.quick else harness.FULL

    rows = run(_Session())
    print("\n" + harness.table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["prepare", "run"]
