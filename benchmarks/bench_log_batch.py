"""Benchmark 2: `log_batch` of many metric points over HTTP to the tracking server.

slipway: `Client(server_url).log_batch(run_id, metrics=[...])` with every point in one
call; above 1,000 points it takes the columnar `/api/2.0/slipway/runs/log-metrics` route.
MLflow: `MlflowClient(server_url).log_batch` in chunks of 1,000 (its per-request limit),
over fewer points. The `Metric` lists are built before the clock starts. Both clients are
also timed against their in-process SQLite store, for reference. slipway: median of 5
trials; every case runs in a fresh process.
"""

from __future__ import annotations

import time

from harness import Measurement, Row, Session, Target, attempt, isolated, rate

UNIT = "points/s"
TARGET = Target(">=", 300_000, UNIT)
MLFLOW_CHUNK = 1000
TRIALS = 5


def slipway_batch(uri: str, variant: str, n: int) -> Measurement:
    import slipway
    from slipway.entities import Metric

    client = slipway.Client(uri)
    exp = client.get_experiment_by_name("bench-log-batch")
    exp_id = exp.experiment_id if exp else client.create_experiment("bench-log-batch")
    now = int(time.time() * 1000)
    metrics = [Metric(f"m{i % 10}", i * 0.5, now + i, i // 10) for i in range(n)]
    warmup = client.create_run(exp_id).info.run_id
    client.log_batch(warmup, metrics=metrics[:10])  # opens the connection
    trials = []
    for _ in range(TRIALS):
        run_id = client.create_run(exp_id).info.run_id
        t0 = time.perf_counter()
        client.log_batch(run_id, metrics=metrics)
        trials.append(time.perf_counter() - t0)
        stored = sum(len(client.get_metric_history(run_id, f"m{k}")) for k in range(10))
        if stored != n:
            raise RuntimeError(f"{stored} of {n} points stored")
    return rate("slipway", variant, UNIT, n, trials, "one Client.log_batch call")


def mlflow_batch(uri: str, variant: str, n: int) -> Measurement:
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("bench-log-batch")
    exp_id = exp.experiment_id if exp else client.create_experiment("bench-log-batch")
    now = int(time.time() * 1000)
    metrics = [Metric(f"m{i % 10}", i * 0.5, now + i, i // 10) for i in range(n)]
    run_id = client.create_run(exp_id).info.run_id
    client.log_batch(run_id, metrics=metrics[:10])
    run_id = client.create_run(exp_id).info.run_id
    t0 = time.perf_counter()
    for i in range(0, n, MLFLOW_CHUNK):
        client.log_batch(run_id, metrics=metrics[i : i + MLFLOW_CHUNK])
    seconds = time.perf_counter() - t0
    stored = sum(len(client.get_metric_history(run_id, f"m{k}")) for k in range(10))
    if stored != n:
        raise RuntimeError(f"{stored} of {n} points stored")
    return rate(
        "mlflow", variant, UNIT, n, seconds, f"log_batch in chunks of {MLFLOW_CHUNK}; {n:,} points"
    )


def run(session: Session) -> list[Row]:
    n, n_ml = session.sizes.batch_points, session.sizes.batch_points_mlflow
    mod = __name__
    local_sw = f"sqlite:///{session.path('slipway-local.db')}"
    local_ml = f"sqlite:///{session.path('mlflow-local.db')}"
    local = "in-process sqlite"
    sw = attempt(
        "slipway",
        "server",
        UNIT,
        lambda: isolated(mod, "slipway_batch", session.slipway_server().url, "server", n),
    )
    ml = attempt(
        "mlflow",
        "server",
        UNIT,
        lambda: isolated(mod, "mlflow_batch", session.mlflow_server().url, "server", n_ml),
    )
    sw_local = attempt(
        "slipway", local, UNIT, lambda: isolated(mod, "slipway_batch", local_sw, local, n)
    )
    ml_local = attempt(
        "mlflow", local, UNIT, lambda: isolated(mod, "mlflow_batch", local_ml, local, n_ml)
    )
    return [
        Row(f"2. log_batch {n:,} pts over HTTP", sw, ml, TARGET),
        Row(f"2. log_batch {n:,} pts, in-process", sw_local, ml_local, None),
    ]
