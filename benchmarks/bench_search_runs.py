"""Benchmark 4: `search_runs` over many runs, filtered on a metric, a param and a tag.

The same runs (seeded random values: 5 params, 5 metrics, a `team` tag, a run name) are
written into each server's SQLite database, then searched in-process (a client on the same
file) and through the server:

    metrics.m0 > 0.5 and params.p0 = 'v3' and tags.team = 'a'   order by metrics.m1 DESC, top 100

About 1 run in 20 matches. A third case gives MLflow's server a database of its own with
only `MLFLOW_SMALL` runs (the first 500 of the same data) and compares slipway's server
over all of them with it: the target is 10x faster while searching 20x more runs.

The slipway runs are built through its store API (create_run
with tags, one log_batch, update_run_info); the MLflow runs are inserted into MLflow's own
tables with its SQLAlchemy models, because its store API would take minutes. Both sides
must return the same 100 run names in the same order. Median of 20 searches after 2
warm-ups for slipway, of 5 after 1 for MLflow; every case runs in a fresh process.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path

from harness import Measurement, Row, Session, Target, attempt, isolated, latency

UNIT = "ms"
TARGET = Target("<=", 30, UNIT)
EXPERIMENT = "bench-search-runs"
FILTER = "metrics.m0 > 0.5 and params.p0 = 'v3' and tags.team = 'a'"
ORDER_BY = ["metrics.m1 DESC"]
TOP = 100
MLFLOW_SMALL = 500


def dataset(n: int) -> list[dict]:
    """The runs both sides store: name, params, metrics, tag — the same for both."""
    rng = random.Random(42)
    runs = []
    for i in range(n):
        runs.append(
            {
                "name": f"run-{i:05d}",
                "params": {f"p{k}": f"v{(i // (5**k)) % 5}" for k in range(5)},
                "metrics": {f"m{k}": rng.random() for k in range(5)},
                "team": "a" if rng.random() < 0.5 else "b",
            }
        )
    return runs


def expected(runs: list[dict]) -> list[str]:
    hits = [
        r
        for r in runs
        if r["metrics"]["m0"] > 0.5 and r["params"]["p0"] == "v3" and r["team"] == "a"
    ]
    hits.sort(key=lambda r: r["metrics"]["m1"], reverse=True)
    return [r["name"] for r in hits[:TOP]]


# --- building the data -------------------------------------------------------------------------
def build_slipway(
    db: Path, artifacts: Path, runs: list[dict], experiment: str = EXPERIMENT
) -> tuple[str, float]:
    from slipway.entities import Metric, Param, RunStatus
    from slipway.store.sql import SqlTrackingStore

    store = SqlTrackingStore(f"sqlite:///{db}", str(artifacts))
    t0 = time.perf_counter()
    exp_id = store.create_experiment(experiment)
    now = int(time.time() * 1000)
    for i, r in enumerate(runs):
        run_id = store.create_run(
            exp_id, "bench", now + i, tags={"team": r["team"]}, run_name=r["name"]
        ).info.run_id
        store.log_batch(
            run_id,
            metrics=[Metric(k, v, now + i, 0) for k, v in r["metrics"].items()],
            params=[Param(k, v) for k, v in r["params"].items()],
        )
        store.update_run_info(run_id, status=RunStatus.FINISHED.value, end_time=now + i + 1)
    seconds = time.perf_counter() - t0
    store.close()
    return exp_id, seconds


def build_mlflow(
    db: Path, artifacts: Path, runs: list[dict], experiment: str = EXPERIMENT
) -> tuple[str, float]:
    import uuid

    from mlflow.store.tracking.dbmodels.models import (
        SqlLatestMetric,
        SqlMetric,
        SqlParam,
        SqlRun,
        SqlTag,
    )
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(f"sqlite:///{db}", str(artifacts))
    t0 = time.perf_counter()
    exp_id = store.create_experiment(experiment)
    location = store.get_experiment(exp_id).artifact_location
    now = int(time.time() * 1000)
    run_rows, params, metrics, tags = [], [], [], []
    for i, r in enumerate(runs):
        run_id = uuid.uuid4().hex
        run_rows.append(
            {
                "run_uuid": run_id,
                "name": r["name"],
                "source_type": "LOCAL",
                "source_name": "",
                "entry_point_name": "",
                "user_id": "bench",
                "status": "FINISHED",
                "start_time": now + i,
                "end_time": now + i + 1,
                "source_version": "",
                "lifecycle_stage": "active",
                "artifact_uri": f"{location}/{run_id}/artifacts",
                "experiment_id": int(exp_id),
            }
        )
        params += [{"key": k, "value": v, "run_uuid": run_id} for k, v in r["params"].items()]
        metrics += [
            {
                "key": k,
                "value": v,
                "timestamp": now + i,
                "step": 0,
                "is_nan": False,
                "run_uuid": run_id,
            }
            for k, v in r["metrics"].items()
        ]
        tags += [
            {"key": "team", "value": r["team"], "run_uuid": run_id},
            {"key": "mlflow.runName", "value": r["name"], "run_uuid": run_id},
            {"key": "mlflow.user", "value": "bench", "run_uuid": run_id},
        ]
    with store.engine.begin() as conn:
        conn.execute(SqlRun.__table__.insert(), run_rows)
        conn.execute(SqlParam.__table__.insert(), params)
        conn.execute(SqlMetric.__table__.insert(), metrics)
        conn.execute(SqlLatestMetric.__table__.insert(), metrics)
        conn.execute(SqlTag.__table__.insert(), tags)
    seconds = time.perf_counter() - t0
    store.engine.dispose()
    return exp_id, seconds


# --- searching ----------------------------------------------------------------------------------
def search_case(
    system: str, uri: str, variant: str, want: list[str], warmups: int, repeats: int, n: int
) -> Measurement:
    """Time the search `repeats` times after `warmups`; the result must be `want`."""
    search = slipway_search(uri) if system == "slipway" else mlflow_search(uri)
    got: list[str] = []
    for _ in range(warmups):
        got = search()
    if got != want:
        raise RuntimeError(
            f"wrong result: {len(got)} runs, first {got[:3]}; expected {len(want)}, {want[:3]}"
        )
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        search()
        samples.append(time.perf_counter() - t0)
    note = f"{warmups} warm-up(s), {repeats} timed, result checked"
    return latency(system, variant, samples, n, note)


def slipway_search(uri: str) -> Callable[[], list[str]]:
    import slipway

    client = slipway.Client(uri)
    exp_id = client.get_experiment_by_name(EXPERIMENT).experiment_id

    def search() -> list[str]:
        page = client.search_runs([exp_id], FILTER, max_results=TOP, order_by=ORDER_BY)
        return [r.info.run_name for r in page.items]

    return search


def mlflow_search(uri: str) -> Callable[[], list[str]]:
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    exp_id = client.get_experiment_by_name(EXPERIMENT).experiment_id

    def search() -> list[str]:
        runs = client.search_runs([exp_id], FILTER, max_results=TOP, order_by=ORDER_BY)
        return [r.info.run_name for r in runs]

    return search


class SearchData:
    """One system's copy of the runs, written into its server's database on first use."""

    def __init__(self, system: str, server_fn: Callable, build: Callable, runs: list[dict]):
        self._system, self._server_fn, self._build, self._runs = system, server_fn, build, runs
        self._server = None

    def _ready(self):
        if self._server is None:
            server = self._server_fn()
            artifacts = server.db.parent / f"{self._system}-search-artifacts"
            _, seconds = self._build(server.db, artifacts, self._runs)
            print(f"    {self._system}: {len(self._runs):,} runs built in {seconds:.1f} s")
            self._server = server
        return self._server

    def server_url(self) -> str:
        return self._ready().url

    def db_uri(self) -> str:
        return f"sqlite:///{self._ready().db}"


def run(session: Session) -> list[Row]:
    sizes = session.sizes
    n = sizes.search_runs
    runs = dataset(n)
    want = expected(runs)
    print(f"    {n:,} runs, {len(want)} of them expected in the top {TOP}", flush=True)
    data = {
        "slipway": SearchData("slipway", session.slipway_server, build_slipway, runs),
        "mlflow": SearchData("mlflow", session.mlflow_server, build_mlflow, runs),
    }
    plan = {"slipway": (2, sizes.search_repeats), "mlflow": (1, sizes.search_repeats_mlflow)}

    def case(system: str, variant: str) -> Measurement:
        def go() -> Measurement:
            d = data[system]
            uri = d.db_uri() if variant.startswith("in-process") else d.server_url()
            warmups, repeats = plan[system]
            return isolated(
                __name__, "search_case", system, uri, variant, want, warmups, repeats, n
            )

        return attempt(system, variant, UNIT, go)

    small = runs[:MLFLOW_SMALL]
    small_data = SearchData(
        "mlflow",
        lambda: session.start_server("mlflow", label="mlflow-small"),
        build_mlflow,
        small,
    )

    def small_case() -> Measurement:
        def go() -> Measurement:
            warmups, repeats = plan["mlflow"]
            variant = f"server, {len(small):,} runs"
            url = small_data.server_url()
            want_small = expected(small)
            return isolated(
                __name__,
                "search_case",
                "mlflow",
                url,
                variant,
                want_small,
                warmups,
                repeats,
                len(small),
            )

        return attempt("mlflow", f"server, {len(small):,} runs", UNIT, go)

    local = "in-process sqlite"
    server_sw = case("slipway", "server")
    mlflow_small = small_case()
    tenfold = None
    if mlflow_small.ok and mlflow_small.value:
        tenfold = Target("<=", mlflow_small.value / 10, UNIT)
    return [
        Row(
            f"4. search_runs over {n:,} runs, in-process",
            case("slipway", local),
            case("mlflow", local),
            TARGET,
            False,
        ),
        Row(
            f"4. search_runs over {n:,} runs, via server",
            server_sw,
            case("mlflow", "server"),
            TARGET,
            False,
        ),
        Row(
            f"4. search via server: slipway {n:,} runs vs MLflow {len(small):,} (10x)",
            server_sw,
            mlflow_small,
            tenfold,
            False,
        ),
    ]
