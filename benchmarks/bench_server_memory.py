"""Benchmark 5: the tracking servers' resident memory after the benchmarks before it.

RSS (VmRSS from /proc) of the whole process tree each server command started, right
after it became ready and now. `mlflow server` runs a launcher process that starts
uvicorn in a child; the tree counts both, and the serving process alone is reported too.
The benchmarks run `mlflow server` without its GenAI job runner; an extra, idle server
with the default settings shows what that runner adds.
"""

from __future__ import annotations

import time

from harness import Measurement, Row, Server, Session, failed

UNIT = "MiB"


def _tree(server: Server, variant: str, rss: dict[str, float], note: str = "") -> Measurement:
    detail = "; ".join(f"{k}: {v} MiB" for k, v in rss.items())
    m = Measurement(server.name, variant, round(sum(rss.values()), 1), UNIT, n=len(rss))
    m.note = f"{note}; {detail}" if note else detail
    print(f"    {server.name:12s} {m.value:8.1f} MiB  {variant} ({len(rss)} processes)")
    return m


def _serving(server: Server, rss: dict[str, float]) -> Measurement:
    """The process that answers requests: the uvicorn child if there is one."""
    name = next((k for k in rss if "uvicorn" in k), next(iter(rss)))
    m = Measurement(server.name, "RSS, serving process only", rss[name], UNIT, n=1, note=name)
    print(f"    {server.name:12s} {m.value:8.1f} MiB  serving process ({name})")
    return m


def run(session: Session) -> list[Row]:
    # With `--only server_memory` nothing ran before: this then reports idle servers.
    sw, ml = session.slipway_server(), session.mlflow_server()
    sw_now, ml_now = sw.rss(), ml.rss()
    rows = [
        Row(
            "5. server RSS after the runs",
            _tree(sw, "RSS, process tree, after the benchmarks", sw_now),
            _tree(ml, "RSS, process tree, after the benchmarks", ml_now),
            None,
            False,
            extra=[_serving(sw, sw_now), _serving(ml, ml_now)],
        ),
        Row(
            "5. server RSS right after start",
            _tree(sw, "RSS, process tree, idle after start", sw.startup_rss),
            _tree(ml, "RSS, process tree, idle after start", ml.startup_rss),
            None,
            False,
        ),
    ]
    try:
        default = session.start_server("mlflow", mlflow_jobs=True)
        time.sleep(5)  # let the job runner's consumers finish starting
        note = "`mlflow server` with its default job runner and huey consumers, idle"
        rows[1].extra.append(_tree(default, "RSS, default settings, idle", default.rss(), note))
        default.stop()
    except Exception as exc:
        rows[1].extra.append(failed("mlflow", "RSS, default settings, idle", UNIT, exc))
    return rows
