"""Benchmark 11: the web UI's server side, at 10,000 runs and with a 1,000,000-point metric.

What a person waits for when they open a page, measured as HTTP round trips to each running
server on loopback (median of 20 after 2 warm-ups; MLflow 10 after 1, or 3 when one call
takes more than 5 s):

- **Runs table**: slipway renders the whole HTML page (`GET /runs?e=…`: 50 runs sorted by a
  metric, 5 metric and 3 param columns, the total count and the pager). The MLflow UI is a
  single-page app that renders in the browser; its server's share is the `runs/search` JSON
  for the same page (`POST /ajax-api/2.0/mlflow/runs/search`, 50 runs, same order).
  Filtered: the same with `metrics.m0 > 0.5 and params.p0 = 'v3'`.
- **Run page with a 1,000,000-point metric**: slipway's page (`GET /runs/<id>`) plus the
  chart's data (`GET /runs/<id>/metrics.json`, thinned to 1,000 points on the server);
  MLflow's `runs/get` plus the sampled history its charts request
  (`metrics/get-history-bulk-interval`, 1,000 points).

Both sides use the same 10,000 runs of benchmark 4 (its seeded generator), written into each
server's SQLite database; the long metric is written with each store's bulk path (slipway's
`log_metric_columns`, MLflow's metric table through its SQLAlchemy models).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import httpx

from bench_search_runs import build_mlflow, build_slipway, dataset
from harness import Measurement, Row, Session, Target, attempt, latency

EXPERIMENT = "bench-ui"
PAGE = 50
POINTS = 1000
LONG_METRIC = "loss"
TABLE_TARGET = Target("<=", 300, "ms")
RUN_PAGE_TARGET = Target("<=", 500, "ms")
FILTER = "metrics.m0 > 0.5 and params.p0 = 'v3'"
ORDER = "metrics.m1 DESC"
SLOW_SECONDS = 5.0
SLOW_REPEATS = 3
COLUMNS = "metrics.m0,metrics.m1,metrics.m2,metrics.m3,metrics.m4,params.p0,params.p1,params.p2"


def _curve(n: int) -> tuple[list[int], list[float], list[int]]:
    steps = list(range(n))
    values = [1.0 / (1 + s * 1e-4) + 0.01 * math.sin(s) for s in steps]
    return steps, values, [1_700_000_000_000 + s for s in steps]


def long_metric_slipway(db: Path, artifacts: Path, experiment_id: str, n: int) -> str:
    from slipway.store.sql import SqlTrackingStore

    store = SqlTrackingStore(f"sqlite:///{db}", str(artifacts))
    run_id = store.create_run(experiment_id, "bench", 0, run_name="long-metric").info.run_id
    steps, values, times = _curve(n)
    for at in range(0, n, 100_000):
        part = slice(at, at + 100_000)
        chunk = steps[part]
        store.log_metric_columns(
            run_id, [LONG_METRIC] * len(chunk), values[part], times[part], chunk
        )
    store.close()
    return run_id


def long_metric_mlflow(db: Path, artifacts: Path, experiment_id: str, n: int) -> str:
    from mlflow.store.tracking.dbmodels.models import SqlLatestMetric, SqlMetric
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(f"sqlite:///{db}", str(artifacts))
    run_id = store.create_run(experiment_id, "bench", 0, [], "long-metric").info.run_id
    steps, values, times = _curve(n)
    rows = [
        {
            "key": LONG_METRIC,
            "value": v,
            "timestamp": t,
            "step": s,
            "is_nan": False,
            "run_uuid": run_id,
        }
        for s, v, t in zip(steps, values, times, strict=True)
    ]
    with store.engine.begin() as conn:
        for at in range(0, n, 100_000):
            conn.execute(SqlMetric.__table__.insert(), rows[at : at + 100_000])
        conn.execute(SqlLatestMetric.__table__.insert(), [rows[-1]])
    store.engine.dispose()
    return run_id


def timed(
    system: str, variant: str, calls: list[Any], n: int, warmups: int, repeats: int
) -> Measurement:
    """Median time of doing every call of `calls` in turn (each must answer 200)."""

    def once() -> None:
        for call in calls:
            response = call()
            if response.status_code != 200:
                raise RuntimeError(f"{response.status_code}: {response.text[:200]}")

    t0 = time.perf_counter()
    for _ in range(warmups):
        once()
    if warmups and (time.perf_counter() - t0) / warmups > SLOW_SECONDS:
        repeats = min(repeats, SLOW_REPEATS)  # seconds per call: a few samples say enough
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        once()
        samples.append(time.perf_counter() - t0)
    return latency(system, variant, samples, n, f"{warmups} warm-up(s), {repeats} timed")


def run(session: Session) -> list[Row]:
    n = session.sizes.search_runs
    points = 1_000_000 if n >= 10_000 else 50_000
    runs = dataset(n)
    repeats = {"slipway": (2, 20), "mlflow": (1, 10)}
    made: dict[str, tuple[str, str, str]] = {}

    def prepare(system: str) -> tuple[str, str, str]:
        if system not in made:
            server = session.slipway_server() if system == "slipway" else session.mlflow_server()
            artifacts = server.db.parent / f"{system}-ui-artifacts"
            build = build_slipway if system == "slipway" else build_mlflow
            t0 = time.perf_counter()
            exp_id, _ = build(server.db, artifacts, runs, EXPERIMENT)
            long = long_metric_slipway if system == "slipway" else long_metric_mlflow
            run_id = long(server.db, artifacts, exp_id, points)
            took = time.perf_counter() - t0
            print(f"    {system}: {n:,} runs and a {points:,}-point metric in {took:.0f} s")
            made[system] = (server.url, exp_id, run_id)
        return made[system]

    def table(system: str, filtered: bool) -> Measurement:
        url, exp_id, _ = prepare(system)
        http = httpx.Client(base_url=url, timeout=120)
        if system == "slipway":
            params = {"e": exp_id, "order": ORDER, "size": PAGE, "cols": COLUMNS}
            if filtered:
                params["filter"] = FILTER
            calls = [lambda: http.get("/runs", params=params)]
            variant = "HTML page (GET /runs)"
        else:
            body = {
                "experiment_ids": [exp_id],
                "max_results": PAGE,
                "order_by": [ORDER],
                "filter": FILTER if filtered else "",
            }
            calls = [lambda: http.post("/ajax-api/2.0/mlflow/runs/search", json=body)]
            variant = "runs/search JSON"
        warmups, count = repeats[system]
        return timed(system, variant, calls, n, warmups, count)

    def run_page(system: str) -> Measurement:
        url, _, run_id = prepare(system)
        http = httpx.Client(base_url=url, timeout=120)
        if system == "slipway":
            calls = [
                lambda: http.get(f"/runs/{run_id}"),
                lambda: http.get(
                    f"/runs/{run_id}/metrics.json", params={"key": LONG_METRIC, "points": POINTS}
                ),
            ]
            variant = "page + metrics.json"
        else:
            calls = [
                lambda: http.get("/ajax-api/2.0/mlflow/runs/get", params={"run_id": run_id}),
                lambda: http.get(
                    "/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval",
                    params={"run_ids": run_id, "metric_key": LONG_METRIC, "max_results": POINTS},
                ),
            ]
            variant = "runs/get + get-history-bulk-interval"
        warmups, count = repeats[system]
        return timed(system, variant, calls, points, warmups, count)

    def side(system: str, unit_of_work, *args) -> Measurement:  # type: ignore[no-untyped-def]
        return attempt(system, "ui", "ms", lambda: unit_of_work(system, *args))

    return [
        Row(
            f"10. UI runs table, {n:,} runs (page of {PAGE})",
            side("slipway", table, False),
            side("mlflow", table, False),
            TABLE_TARGET,
            False,
        ),
        Row(
            f"10. UI runs table, {n:,} runs, filtered",
            side("slipway", table, True),
            side("mlflow", table, True),
            TABLE_TARGET,
            False,
        ),
        Row(
            f"10. UI run page, {points:,}-point metric",
            side("slipway", run_page),
            side("mlflow", run_page),
            RUN_PAGE_TARGET,
            False,
        ),
    ]
