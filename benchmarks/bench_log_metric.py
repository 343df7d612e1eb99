"""Benchmark 1: the fluent `log_metric` loop of a training script, until durable.

slipway: `slipway.log_metric` n times, then `slipway.flush()` (it returns once every point
is committed); the median of 5 trials, each in a new run. MLflow: `mlflow.log_metric` n
times, plain (each call is one write) and with `synchronous=False` followed by
`mlflow.flush_async_logging()`. MLflow runs fewer points (it manages about 80 a second)
and the rates are compared. Both read the history back afterwards (untimed) to check that
every point was stored. Every case runs in a fresh process.
"""

from __future__ import annotations

import time

from harness import Measurement, Row, Session, Target, attempt, isolated, rate

UNIT = "points/s"
TARGET = Target(">=", 200_000, UNIT)
TRIALS = 5


def slipway_loop(uri: str, variant: str, n: int) -> Measurement:
    import slipway

    slipway.set_tracking_uri(uri)
    slipway.set_experiment("bench-log-metric")
    client = slipway.Client(uri)
    trials = []
    for _ in range(TRIALS):
        with slipway.start_run() as run:
            slipway.log_metric("warmup", 0.0, step=0)
            slipway.flush()
            t0 = time.perf_counter()
            for i in range(n):
                slipway.log_metric("loss", 1.0 / (i + 1), step=i)
            slipway.flush()
            trials.append(time.perf_counter() - t0)
        stored = len(client.get_metric_history(run.info.run_id, "loss"))
        if stored != n:
            raise RuntimeError(f"{stored} of {n} points stored")
    return rate("slipway", variant, UNIT, n, trials, "loop + slipway.flush()")


def mlflow_loop(uri: str, variant: str, n: int, synchronous: bool) -> Measurement:
    import mlflow

    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("bench-log-metric")
    with mlflow.start_run() as run:
        mlflow.log_metric("warmup", 0.0, step=0, synchronous=synchronous)
        mlflow.flush_async_logging()
        t0 = time.perf_counter()
        for i in range(n):
            mlflow.log_metric("loss", 1.0 / (i + 1), step=i, synchronous=synchronous)
        if not synchronous:
            mlflow.flush_async_logging()
        seconds = time.perf_counter() - t0
    stored = len(mlflow.MlflowClient(uri).get_metric_history(run.info.run_id, "loss"))
    if stored != n:
        raise RuntimeError(f"{stored} of {n} points stored")
    how = "loop" if synchronous else "loop(synchronous=False) + flush_async_logging()"
    return rate("mlflow", variant, UNIT, n, seconds, f"{how}; {n:,} points, not 100k")


def _compare(label: str, sw: Measurement, ml: list[Measurement]) -> Row:
    """Compare with the faster MLflow mode; the other one is listed in the details."""
    ok = [m for m in ml if m.ok]
    best = max(ok, key=lambda m: m.value or 0) if ok else ml[0]
    return Row(label, sw, best, TARGET, extra=[m for m in ml if m is not best])


def run(session: Session) -> list[Row]:
    n, n_ml = session.sizes.metric_points, session.sizes.metric_points_mlflow
    mod = __name__
    local_sw = f"sqlite:///{session.path('slipway-local.db')}"
    local_ml = f"sqlite:///{session.path('mlflow-local.db')}"

    def slipway_case(variant: str, uri) -> Measurement:
        return attempt(
            "slipway", variant, UNIT, lambda: isolated(mod, "slipway_loop", uri(), variant, n)
        )

    def mlflow_case(variant: str, uri, synchronous: bool) -> Measurement:
        return attempt(
            "mlflow",
            variant,
            UNIT,
            lambda: isolated(mod, "mlflow_loop", uri(), variant, n_ml, synchronous),
        )

    local = "in-process sqlite"
    rows = [
        _compare(
            f"1. log_metric loop {n:,} pts, in-process",
            slipway_case(local, lambda: local_sw),
            [
                mlflow_case(local, lambda: local_ml, True),
                mlflow_case(local + ", async", lambda: local_ml, False),
            ],
        )
    ]

    def sw_url() -> str:
        return session.slipway_server().url

    def ml_url() -> str:
        return session.mlflow_server().url

    rows.append(
        _compare(
            f"1. log_metric loop {n:,} pts, via server",
            slipway_case("server", sw_url),
            [mlflow_case("server", ml_url, True), mlflow_case("server, async", ml_url, False)],
        )
    )
    return rows
