"""Run the slipway-vs-MLflow benchmarks side by side and print the ratios (`make bench`).

    .venv/bin/python benchmarks/run_all.py                 # everything (a few minutes)
    .venv/bin/python benchmarks/run_all.py --only search_runs
    .venv/bin/python benchmarks/run_all.py --quick         # small sizes: a smoke test

`--only serving` (or `benchmarks/bench_serving.py`) runs the model-serving benchmark, which
starts its own servers, anchors included (MLServer and BentoML in venvs of their own under
`benchmarks/.work/venvs/`, built on first use).

Both tracking servers (`slipway server`, `mlflow server`, SQLite backends) are started on free
ports of 127.0.0.1 when a benchmark first needs them and stopped at the end, whatever
happens. Scratch data goes to a fresh `benchmarks/.work/run-*/` (removed at the end unless
`--keep`). Every invocation is appended to `benchmarks/.work/results.json` and its table
written to `benchmarks/.work/results.md`.
The exit code is 1 when the slipway side of some benchmark could not run (a missed
target is a result, not a failure).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # sets the environment before anything imports mlflow

BENCHMARKS = [
    "log_metric",
    "log_batch",
    "create_runs",
    "search_runs",
    "server_memory",
    "models",
    "drift",
    "serving",
    "monitor",
    "contention",
    "ui",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", action="append", choices=BENCHMARKS, help="run only these")
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes per server")
    parser.add_argument("--keep", action="store_true", help="keep the scratch databases")
    args = parser.parse_args(argv)

    names = args.only or BENCHMARKS
    sizes = harness.QUICK if args.quick else harness.FULL
    rows: list[harness.Row] = []
    started = time.perf_counter()
    meter = harness.CpuMeter()
    with harness.session(sizes, workers=args.workers, keep=args.keep) as session:
        for name in names:
            module = __import__(f"bench_{name}")
            print(f"\n== {name} ==", flush=True)
            t0 = time.perf_counter()
            try:
                rows.extend(module.run(session))
            except Exception as exc:  # one broken benchmark must not hide the others
                print(f"  ! benchmark {name} failed: {exc!r}", flush=True)
            print(f"  ({time.perf_counter() - t0:.1f} s)", flush=True)
        server_logs = {k: s.log_tail(1500) for k, s in session.running_servers().items()}
    elapsed = time.perf_counter() - started
    other_cores = meter.other_cores(session.unreaped_cpu())

    info = harness.machine()
    header = (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {info['cores']} cores · {info['cpu']} · "
        + ", ".join(f"{k} {v}" for k, v in info["versions"].items())
        + f" · {'quick' if args.quick else 'full'} sizes · {args.workers} server worker(s)"
        + f" · {elapsed:.0f} s"
        + f" · other processes kept {other_cores:.2f} of {info['cores']} cores busy on average"
    )
    if other_cores > 0.25:
        header += " (WARNING: they competed for the CPU; the numbers are pessimistic)"
    text = f"{header}\n\n{harness.table(rows)}\n\n{harness.details(rows)}\n"
    print("\n" + text)
    harness.WORK.mkdir(parents=True, exist_ok=True)
    (harness.WORK / "results.md").write_text(text)
    harness.append_results(
        {
            "date": datetime.now(UTC).isoformat(),
            "machine": info,
            "args": vars(args),
            "sizes": asdict(sizes),
            "seconds": round(elapsed, 1),
            "other_cores_busy": round(other_cores, 3),
            "rows": [harness.row_record(r) for r in rows],
            "server_log_tails": server_logs
            if any(not r.slipway or not r.slipway.ok for r in rows)
            else {},
        }
    )
    # A missed target is a result; a slipway side that could not run at all is a failure.
    failed = [r.benchmark for r in rows if not (r.slipway and r.slipway.ok)]
    if failed:
        print(f"slipway side failed in: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
