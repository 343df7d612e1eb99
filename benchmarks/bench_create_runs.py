"""Benchmark 3: creating many runs through the fluent API, each with 5 params, 5 metrics, a tag.

Per run: `start_run`, `log_params` (5), `log_metrics` (5), `set_tag`, `end_run` — the same
calls on both sides, in-process (SQLite) and through each one's server. MLflow creates
fewer runs (it manages about 22 a second) and the rate is compared. Every case runs
in a fresh process.
"""

from __future__ import annotations

import time
from typing import Any

from harness import Measurement, Row, Session, Target, attempt, isolated, rate

UNIT = "runs/s"
TARGET = Target(">=", 500, UNIT)
EXPERIMENT = "bench-create-runs"


def create_runs(api: Any, n: int) -> float:
    """Create `n` runs with the fluent functions of `api` (slipway or mlflow); seconds."""
    api.start_run(run_name="warmup")
    api.end_run()
    t0 = time.perf_counter()
    for i in range(n):
        api.start_run()
        api.log_params({f"p{k}": f"value-{(i + k) % 7}" for k in range(5)})
        api.log_metrics({f"m{k}": (i * 7 + k) % 101 / 100 for k in range(5)})
        api.set_tag("team", "a" if i % 2 else "b")
        api.end_run()
    return time.perf_counter() - t0


def slipway_runs(uri: str, variant: str, n: int) -> Measurement:
    import slipway

    slipway.set_tracking_uri(uri)
    exp = slipway.set_experiment(EXPERIMENT)
    seconds = create_runs(slipway, n)
    found = len(slipway.Client(uri).search_runs([exp.experiment_id], max_results=n + 10).items)
    if found != n + 1:
        raise RuntimeError(f"{found - 1} of {n} runs found")
    return rate("slipway", variant, UNIT, n, seconds)


def mlflow_runs(uri: str, variant: str, n: int) -> Measurement:
    import mlflow

    mlflow.set_tracking_uri(uri)
    exp = mlflow.set_experiment(EXPERIMENT)
    seconds = create_runs(mlflow, n)
    found = len(mlflow.MlflowClient(uri).search_runs([exp.experiment_id], max_results=n + 10))
    if found != n + 1:
        raise RuntimeError(f"{found - 1} of {n} runs found")
    return rate("mlflow", variant, UNIT, n, seconds, f"{n:,} runs, rate compared")


def run(session: Session) -> list[Row]:
    n, n_ml = session.sizes.runs, session.sizes.runs_mlflow
    mod = __name__
    local_sw = f"sqlite:///{session.path('slipway-local.db')}"
    local_ml = f"sqlite:///{session.path('mlflow-local.db')}"
    local = "in-process sqlite"

    def case(system: str, variant: str, uri, size: int) -> Measurement:
        func = "slipway_runs" if system == "slipway" else "mlflow_runs"
        return attempt(system, variant, UNIT, lambda: isolated(mod, func, uri(), variant, size))

    return [
        Row(
            f"3. create {n:,} runs, in-process",
            case("slipway", local, lambda: local_sw, n),
            case("mlflow", local, lambda: local_ml, n_ml),
            TARGET,
        ),
        Row(
            f"3. create {n:,} runs, via server",
            case("slipway", "server", lambda: session.slipway_server().url, n),
            case("mlflow", "server", lambda: session.mlflow_server().url, n_ml),
            TARGET,
        ),
    ]
