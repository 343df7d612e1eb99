"""Benchmark 10: reads must not starve writes, on one `slipway server` shared by a team.

Writers: `contention_writers` processes, each creating `contention_runs` runs with the fluent
API (5 params, 20 metric points, a tag per run). Readers: `contention_readers` threads in
`READER_PROCESSES` processes, each calling `search_runs` in a loop with no pause (the filter
and order of benchmark 4, top 100) on the experiment the writers fill.

Each configuration runs twice on a fresh server: writers alone, then writers with the readers
(started first, stopped when the last writer is done). Reported: the writers' rate with
readers as a share of their rate alone (target >= 50 %), and the searches' p50 / p99 while
the writers ran (target p99 < 100 ms). Configurations: SQLite with 1 worker, SQLite with
`--workers 2`, and PostgreSQL with 1 worker when `SLIPWAY_BENCH_POSTGRES_URI` (or
`SLIPWAY_TEST_POSTGRES_URI`) names a server (a scratch database is created and dropped).
The load generators run on the same machine as the server: on a 2-core box they take a
large share of the CPU, so the numbers are pessimistic for the server itself.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

from harness import (
    VENV_BIN,
    Measurement,
    Row,
    Server,
    Session,
    Target,
    attempt,
    free_port,
)

READER_PROCESSES = 4
FILTER = "metrics.m0 > 0.5 and params.p0 = 'v3' and tags.team = 'a'"
ORDER_BY = ["metrics.m1 DESC"]
SHARE_TARGET = Target(">=", 50, "%")
P99_TARGET = Target("<=", 100, "ms")


# --- the load generators (each a fresh process: `python bench_contention.py ROLE ...`) ------
def writer(url: str, experiment: str, runs: int, seed: int) -> dict:
    import random

    import slipway

    rng = random.Random(seed)
    slipway.set_tracking_uri(url)
    slipway.set_experiment(experiment)
    t0 = time.perf_counter()
    for _ in range(runs):
        with slipway.start_run():
            slipway.log_params({f"p{k}": f"v{rng.randrange(5)}" for k in range(5)})
            for step in range(4):
                for k in range(5):
                    slipway.log_metric(f"m{k}", rng.random(), step=step)
            slipway.set_tag("team", "a" if rng.random() < 0.5 else "b")
    return {"runs": runs, "seconds": time.perf_counter() - t0, "end": time.time()}


def reader(url: str, experiment: str, threads: int, stop_file: str) -> dict:
    import threading

    import slipway

    client = slipway.Client(url)
    exp_id = client.get_experiment_by_name(experiment).experiment_id
    samples: list[tuple[float, float]] = []  # (wall clock at the end, seconds)
    lock = threading.Lock()

    def loop() -> None:
        mine = []
        while not os.path.exists(stop_file):
            t0 = time.perf_counter()
            client.search_runs([exp_id], FILTER, max_results=100, order_by=ORDER_BY)
            mine.append((time.time(), time.perf_counter() - t0))
        with lock:
            samples.extend(mine)

    pool = [threading.Thread(target=loop) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return {"samples": samples}


def _spawn(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), *args],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parent,
    )


def _result(proc: subprocess.Popen, timeout: float) -> dict:
    out, _ = proc.communicate(timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"load generator exited with {proc.returncode}")
    return json.loads(out.strip().splitlines()[-1])


# --- one configuration ------------------------------------------------------------------------
def _writers(url: str, experiment: str, n: int, runs: int) -> tuple[float, float, float]:
    """Run the writers; (runs per second, start, end wall clock)."""
    import slipway

    slipway.Client(url).create_experiment(experiment)
    start = time.time()
    procs = [_spawn("writer", url, experiment, str(runs), str(i)) for i in range(n)]
    results = [_result(p, 1800) for p in procs]
    end = max(r["end"] for r in results)
    return n * runs / (end - start), start, end


def measure(url: str, sizes, label: str, work: Path) -> dict:
    writers, runs = sizes.contention_writers, sizes.contention_runs
    alone, _, _ = _writers(url, f"alone-{label}", writers, runs)
    print(f"    {label}: {writers} writers alone {alone:,.1f} runs/s", flush=True)

    experiment = f"shared-{label}"
    import slipway

    slipway.Client(url).create_experiment(experiment)
    stop = work / f"stop-{label}-{uuid.uuid4().hex}"
    per = max(1, sizes.contention_readers // READER_PROCESSES)
    readers = [
        _spawn("reader", url, experiment, str(per), str(stop)) for _ in range(READER_PROCESSES)
    ]
    time.sleep(3)  # the readers are searching before the first writer starts
    start = time.time()
    procs = [_spawn("writer", url, experiment, str(runs), str(100 + i)) for i in range(writers)]
    results = [_result(p, 3600) for p in procs]
    end = max(r["end"] for r in results)
    stop.touch()
    samples = [s for p in readers for s in _result(p, 600)["samples"]]
    during = sorted(sec for at, sec in samples if start <= at <= end)
    shared = writers * runs / (end - start)
    q = statistics.quantiles(during, n=100) if len(during) >= 2 else [float("nan")] * 99
    out = {
        "alone": alone,
        "shared": shared,
        "share": 100 * shared / alone,
        "p50": 1000 * statistics.median(during) if during else float("nan"),
        "p99": 1000 * q[98],
        "max": 1000 * during[-1] if during else float("nan"),
        "searches": len(during),
    }
    print(
        f"    {label}: with {per * READER_PROCESSES} readers {shared:,.1f} runs/s "
        f"({out['share']:.0f} % of alone); {len(during)} searches, p50 {out['p50']:.1f} ms, "
        f"p99 {out['p99']:.1f} ms, max {out['max']:.0f} ms",
        flush=True,
    )
    return out


def _server(session: Session, label: str, backend: str, workers: int) -> Server:
    port = free_port()
    artifacts = session.path(f"{label}-artifacts")
    artifacts.mkdir(exist_ok=True)
    argv = [
        str(VENV_BIN / "slipway"),
        "server",
        "--backend-store-uri",
        backend,
        "--artifacts-destination",
        str(artifacts),
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    server = Server(label, argv, port, None, "/health", session.path(f"{label}-server.log"))
    try:
        server.wait_ready()
    except Exception:
        server.stop()
        raise
    return server


def _postgres_database() -> tuple[str, str] | None:
    """(URI of a scratch database, its name) on the PostgreSQL named in the environment."""
    base = os.environ.get("SLIPWAY_BENCH_POSTGRES_URI") or os.environ.get(
        "SLIPWAY_TEST_POSTGRES_URI"
    )
    if not base:
        return None
    from sqlalchemy import create_engine, text

    name = "slipway_bench_" + uuid.uuid4().hex[:8]
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return base.rsplit("/", 1)[0] + "/" + name, name


def _drop_postgres(name: str) -> None:
    from sqlalchemy import create_engine, text

    base = os.environ.get("SLIPWAY_BENCH_POSTGRES_URI") or os.environ["SLIPWAY_TEST_POSTGRES_URI"]
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    engine.dispose()


def _rows(label: str, result: dict | Exception) -> list[Row]:
    def m(value_key: str, unit: str, variant: str) -> Measurement:
        if isinstance(result, Exception):
            raise result
        r = result
        note = (
            f"alone {r['alone']:,.1f} runs/s, with readers {r['shared']:,.1f} runs/s; "
            f"{r['searches']} searches, p50 {r['p50']:.1f} ms, max {r['max']:.0f} ms"
        )
        return Measurement("slipway", variant, r[value_key], unit, n=r["searches"], note=note)

    share = attempt("slipway", label, "%", lambda: m("share", "%", label))
    p99 = attempt("slipway", label, "ms", lambda: m("p99", "ms", label))
    return [
        Row(f"10. writers' rate with readers / alone, {label}", share, None, SHARE_TARGET),
        Row(f"10. search p99 while writing, {label}", p99, None, P99_TARGET, False),
    ]


def run(session: Session) -> list[Row]:
    sizes = session.sizes
    rows: list[Row] = []
    configs: list[tuple[str, str | None, int]] = [
        ("sqlite, 1 worker", f"sqlite:///{session.path('contention-1.db')}", 1),
        ("sqlite, 2 workers", f"sqlite:///{session.path('contention-2.db')}", 2),
        ("postgresql, 1 worker", None, 1),
    ]
    for label, backend, workers in configs:
        scratch = None
        result: dict | Exception
        try:
            if backend is None:
                scratch = _postgres_database()
                if scratch is None:
                    print(f"    {label}: skipped (no SLIPWAY_BENCH_POSTGRES_URI)", flush=True)
                    continue
                backend = scratch[0]
            server = _server(session, label.replace(", ", "-").replace(" ", ""), backend, workers)
            try:
                result = measure(server.url, sizes, label.split(",")[0] + str(workers), session.dir)
            finally:
                server.stop()
        except Exception as exc:
            result = exc
        finally:
            if scratch is not None:
                _drop_postgres(scratch[1])
        rows += _rows(label, result)
    return rows


if __name__ == "__main__":
    role, *rest = sys.argv[1:]
    if role == "writer":
        answer = writer(rest[0], rest[1], int(rest[2]), int(rest[3]))
    else:
        answer = reader(rest[0], rest[1], int(rest[2]), rest[3])
    print(json.dumps(answer), flush=True)
