"""Benchmark 7: `slipway drift` vs Evidently 0.7.23's DataDriftPreset, side by side.

Seeded reference and current frames (100,000 rows x 50 numeric + 5 categorical columns,
several shifted) are written to Parquet. Each side runs as a whole fresh process: for
slipway the command users type (`slipway drift ref.parquet cur.parquet -o report.html
--json result.json`: start-up, reading Parquet, tests, HTML and JSON); for Evidently a
script that reads the same files with pandas, runs `Report([DataDriftPreset()])` and saves
the HTML. Evidently needs pandas < 3, so it lives in its own virtualenv, created here on
first use under `benchmarks/.work/evidently-0.7.23/`.

The same run checks parity: every column must get the same test and the same verdict, and
the Wasserstein and Jensen-Shannon values must agree within 1e-3. Then 1,000,000 rows
(slipway only: time and peak RSS), and with `--large` a 10,000,000-row reference profiled
once and 1,000,000 current rows x 100 columns (time and peak RSS of both commands; the
target is under 2 GB).

    .venv/bin/python benchmarks/bench_drift.py            # 100k side by side + 1M
    .venv/bin/python benchmarks/bench_drift.py --large    # also 10M x 100 (minutes)
    .venv/bin/python benchmarks/run_all.py --only drift   # inside the full suite
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import ROOT, WORK, Measurement, Row, Target, fmt

EVIDENTLY_VERSION = "0.7.23"
EVIDENTLY_VENV = WORK / f"evidently-{EVIDENTLY_VERSION}"
EVIDENTLY_PYTHON = EVIDENTLY_VENV / "bin" / "python"
SPEEDUP_TARGET = Target(">=", 20.0, "x")
RSS_TARGET = Target("<=", 2048.0, "MiB")
VALUE_TOLERANCE = 1e-3
TRIALS = 3  # slipway's side is cheap: the median of 3 (Evidently's: one run)

# Evidently's display names of its tests -> ours
EVIDENTLY_TESTS = {
    "K-S p_value": "ks",
    "chi-square p_value": "chisquare",
    "Z-test p_value": "z",
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
}

EVIDENTLY_SCRIPT = r"""
import json, sys, time
t0 = time.perf_counter()
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset
t1 = time.perf_counter()
ref = pd.read_parquet(sys.argv[1])
cur = pd.read_parquet(sys.argv[2])
t2 = time.perf_counter()
snapshot = Report([DataDriftPreset()]).run(cur, ref)
t3 = time.perf_counter()
snapshot.save_html(sys.argv[3])
t4 = time.perf_counter()
columns, drifted_count = {}, None
for m in snapshot.dict()["metrics"]:
    config = m["config"]
    if config["type"].endswith("ValueDrift"):
        columns[config["column"]] = {
            "method": config["method"], "threshold": config["threshold"], "value": m["value"]
        }
    elif config["type"].endswith("DriftedColumnsCount"):
        drifted_count = m["value"]["count"]
print("EVIDENTLY-RESULT " + json.dumps({
    "import": t1 - t0, "read": t2 - t1, "run": t3 - t2, "html": t4 - t3,
    "columns": columns, "drifted_count": drifted_count,
}))
"""


# --- data ------------------------------------------------------------------------------------
def make_tables(
    rows: int, numeric: int = 50, categorical: int = 5, seed: int = 0, dtype: Any = np.float64
) -> tuple[pa.Table, pa.Table, list[str]]:
    """Reference and current tables; every 5th numeric and 2 categorical columns shift."""
    rng = np.random.default_rng(seed)
    ref: dict[str, Any] = {}
    cur: dict[str, Any] = {}
    shifted = []
    for i in range(numeric):
        name = f"num_{i:02d}"
        kind = i % 4
        shift = i % 5 == 0
        if kind == 0:
            a, b = rng.normal(0, 1, rows), rng.normal(0.4 if shift else 0, 1, rows)
        elif kind == 1:
            a, b = rng.lognormal(3, 0.5, rows), rng.lognormal(3.3 if shift else 3, 0.5, rows)
        elif kind == 2:
            a = rng.uniform(0, 100, rows)
            b = rng.uniform(10 if shift else 0, 110 if shift else 100, rows)
        else:  # few distinct values: the binned (value-per-bin) path
            values = np.array([0.5, 1.5, 2.5, 3.5])
            a = rng.choice(values, rows, p=[0.4, 0.3, 0.2, 0.1])
            b = rng.choice(values, rows, p=[0.1, 0.2, 0.3, 0.4] if shift else [0.4, 0.3, 0.2, 0.1])
        ref[name], cur[name] = a.astype(dtype), b.astype(dtype)
        if shift:
            shifted.append(name)
    for j in range(categorical):
        name = f"cat_{j}"
        k = 3 + 4 * j
        labels = np.array([f"v{m}" for m in range(k + 1)])
        p = np.linspace(1, 2, k)
        p /= p.sum()
        ref[name] = labels[rng.choice(k, rows, p=p)]
        if j < 2:
            q = p[::-1].copy() if j == 0 else np.r_[p[:-1] * 0.7, 0]
            if j == 1:  # a category the reference never saw
                q = np.r_[q, 0.0]
                q[-1] = 1 - q.sum()
                cur[name] = labels[rng.choice(k + 1, rows, p=q)]
            else:
                cur[name] = labels[rng.choice(k, rows, p=q)]
            shifted.append(name)
        else:
            cur[name] = labels[rng.choice(k, rows, p=p)]
    return pa.table(ref), pa.table(cur), shifted


def write_pair(directory: Path, rows: int, numeric: int = 50, **kwargs: Any) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    ref_path, cur_path = directory / "reference.parquet", directory / "current.parquet"
    if not (ref_path.exists() and cur_path.exists()):
        ref, cur, _ = make_tables(rows, numeric=numeric, **kwargs)
        pq.write_table(ref, ref_path)
        pq.write_table(cur, cur_path)
    return ref_path, cur_path


def write_large(directory: Path, ref_rows: int, cur_rows: int, columns: int) -> tuple[Path, Path]:
    """Parquet files written a slice at a time (the generator never holds 10M rows)."""
    directory.mkdir(parents=True, exist_ok=True)
    ref_path, cur_path = directory / "reference.parquet", directory / "current.parquet"
    for path, rows, side in ((ref_path, ref_rows, 0), (cur_path, cur_rows, 1)):
        if path.exists():
            continue
        writer = None
        step = 500_000
        for k, start in enumerate(range(0, rows, step)):
            ref, cur, _ = make_tables(
                min(step, rows - start), numeric=columns - 5, seed=1000 + k, dtype=np.float32
            )
            table = cur if side else ref
            writer = writer or pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
        assert writer is not None
        writer.close()
    return ref_path, cur_path


# --- running one side ------------------------------------------------------------------------
def timed_process(argv: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run a command; its wall time, its own peak RSS (MiB, from wait4) and output."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            argv, stdout=out, stderr=err, env={**os.environ, **(env or {})}, cwd=ROOT
        )
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return {
            "seconds": seconds,
            "rss_mib": usage.ru_maxrss / 1024,
            "returncode": proc.returncode,
            "stdout": out.read().decode(errors="replace"),
            "stderr": err.read().decode(errors="replace"),
        }


def slipway_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "slipway.cli.main", *args]


SLIPWAY_ENV = {"PYTHONPATH": str(ROOT / "src")}


def run_slipway_drift(ref: Path, cur: Path, out: Path, label: str) -> dict[str, Any]:
    html, js = out / f"{label}.html", out / f"{label}.json"
    r = timed_process(
        slipway_argv("drift", str(ref), str(cur), "-o", str(html), "--json", str(js)),
        SLIPWAY_ENV,
    )
    if r["returncode"] not in (0, 1):
        raise RuntimeError(f"slipway drift exited {r['returncode']}: {r['stderr'][-500:]}")
    r["html_bytes"] = html.stat().st_size
    r["result"] = json.loads(js.read_text())
    return r


def ensure_evidently() -> Path:
    """The Evidently virtualenv's python, created (pip, PyPI) on first use."""
    if EVIDENTLY_PYTHON.exists():
        check = subprocess.run(
            [str(EVIDENTLY_PYTHON), "-c", "import evidently; print(evidently.__version__)"],
            capture_output=True,
            text=True,
        )
        if check.returncode == 0 and check.stdout.strip() == EVIDENTLY_VERSION:
            return EVIDENTLY_PYTHON
    print(f"  creating {EVIDENTLY_VENV} (evidently=={EVIDENTLY_VERSION}, pandas<3)", flush=True)
    base = os.environ.get("BENCH_BASE_PYTHON", "python3")
    subprocess.run([base, "-m", "venv", str(EVIDENTLY_VENV)], check=True)
    subprocess.run(
        [
            str(EVIDENTLY_VENV / "bin" / "pip"),
            "install",
            "--quiet",
            f"evidently=={EVIDENTLY_VERSION}",
            "pandas<3",
            "pyarrow",
        ],
        check=True,
    )
    return EVIDENTLY_PYTHON


def run_evidently(ref: Path, cur: Path, out: Path) -> dict[str, Any]:
    python = ensure_evidently()
    script = out / "evidently_drift.py"
    script.write_text(EVIDENTLY_SCRIPT)
    html = out / "evidently.html"
    r = timed_process([str(python), str(script), str(ref), str(cur), str(html)])
    if r["returncode"] != 0:
        raise RuntimeError(f"evidently exited {r['returncode']}: {r['stderr'][-800:]}")
    for line in r["stdout"].splitlines():
        if line.startswith("EVIDENTLY-RESULT "):
            r.update(json.loads(line[len("EVIDENTLY-RESULT ") :]))
    r["html_bytes"] = html.stat().st_size
    return r


# --- parity ----------------------------------------------------------------------------------
def evidently_verdict(test: str, value: float, threshold: float) -> bool:
    """Evidently's own comparison for each test (its stattest modules)."""
    if test == "ks":
        return value <= threshold
    if test in ("chisquare", "z"):
        return value < threshold
    return value >= threshold


def parity(ours: dict[str, Any], theirs: dict[str, Any]) -> list[str]:
    """Every difference between the two runs (empty list: parity)."""
    problems = []
    for name, ev in theirs["columns"].items():
        col = ours["columns"].get(name)
        test = EVIDENTLY_TESTS.get(ev["method"], ev["method"])
        if col is None:
            problems.append(f"{name}: not in slipway's result")
            continue
        if col["test"] != test:
            problems.append(f"{name}: test {col['test']} vs evidently {test}")
            continue
        drifted = evidently_verdict(test, ev["value"], ev["threshold"])
        if col["drifted"] != drifted:
            problems.append(f"{name}: drifted {col['drifted']} vs evidently {drifted}")
        ours_value = col["p_value"] if col["p_value"] is not None else col["statistic"]
        close = ours_value is not None and abs(ours_value - ev["value"]) <= VALUE_TOLERANCE
        if test in ("wasserstein", "jensenshannon") and not close:
            problems.append(f"{name}: {test} {ours_value} vs evidently {ev['value']}")
    extra = set(ours["columns"]) - set(theirs["columns"])
    problems += [f"{name}: tested by slipway only" for name in sorted(extra)]
    ours_drifted = sum(c["drifted"] for c in ours["columns"].values())
    if theirs.get("drifted_count") is not None and ours_drifted != theirs["drifted_count"]:
        problems.append(f"drifted columns: {ours_drifted} vs evidently {theirs['drifted_count']}")
    return problems


# --- the benchmark ---------------------------------------------------------------------------
def side_by_side(work: Path, rows: int) -> tuple[list[Row], dict[str, Any]]:
    ref, cur = write_pair(work / f"data-{rows}", rows)
    print(f"  slipway drift, {rows:,} rows x 55 columns (median of {TRIALS})", flush=True)
    trials = [run_slipway_drift(ref, cur, work, f"slipway-{rows}") for _ in range(TRIALS)]
    ours = sorted(trials, key=lambda r: r["seconds"])[TRIALS // 2]
    spread = ", ".join(f"{r['seconds']:.2f}" for r in trials)
    print(
        f"    slipway  {ours['seconds']:.2f} s, peak RSS {fmt(ours['rss_mib'])} MiB, "
        f"HTML {ours['html_bytes'] / 1024:.0f} KiB",
        flush=True,
    )
    info: dict[str, Any] = {"slipway": _brief(ours)}
    try:
        print("  evidently DataDriftPreset + HTML, same files", flush=True)
        theirs = run_evidently(ref, cur, work)
        print(
            f"    evidently {theirs['seconds']:.2f} s (run {theirs['run']:.2f} s, html "
            f"{theirs['html']:.2f} s), peak RSS {fmt(theirs['rss_mib'])} MiB, "
            f"HTML {theirs['html_bytes'] / 1e6:.1f} MB",
            flush=True,
        )
        problems = parity(ours["result"], theirs)
        info["evidently"] = _brief(theirs) | {
            k: theirs[k] for k in ("import", "read", "run", "html")
        }
        info["parity_problems"] = problems
        print(
            "    parity: "
            + ("same tests, verdicts and values" if not problems else "; ".join(problems)),
            flush=True,
        )
        ev = Measurement(
            "evidently",
            f"DataDriftPreset + HTML, {rows:,} rows",
            theirs["seconds"],
            "s",
            n=rows,
            seconds=theirs["seconds"],
            note=f"run {theirs['run']:.1f} s + HTML {theirs['html']:.1f} s; HTML "
            f"{theirs['html_bytes'] / 1e6:.1f} MB; peak RSS {theirs['rss_mib']:.0f} MiB",
        )
        ev_rss = Measurement("evidently", "peak RSS", theirs["rss_mib"], "MiB")
    except Exception as exc:  # slipway's side is still reported
        print(f"    ! evidently failed: {exc}", flush=True)
        ev = Measurement("evidently", "DataDriftPreset", None, "s", error=str(exc)[:300])
        ev_rss = None
        info["evidently_error"] = str(exc)[:300]
    parity_note = (
        "parity: same test, verdict and value for every column"
        if not info.get("parity_problems")
        else f"parity problems: {info['parity_problems']}"
    )
    ours_m = Measurement(
        "slipway",
        f"slipway drift CLI, {rows:,} rows",
        ours["seconds"],
        "s",
        n=rows,
        seconds=ours["seconds"],
        note=f"median of {TRIALS} ({spread} s); HTML {ours['html_bytes'] / 1024:.0f} KiB; "
        f"peak RSS {ours['rss_mib']:.0f} MiB; " + parity_note,
    )
    rows_out = [
        Row(
            f"7. drift {rows // 1000}k x 55 cols, whole command",
            ours_m,
            ev,
            target=None,
            higher_is_better=False,
        )
    ]
    if ev_rss is not None:
        rows_out.append(
            Row(
                "7. drift peak RSS",
                Measurement("slipway", "peak RSS", ours["rss_mib"], "MiB"),
                ev_rss,
                higher_is_better=False,
            )
        )
    return rows_out, info


def million(work: Path, rows: int = 1_000_000) -> tuple[Row, dict[str, Any]]:
    ref, cur = write_pair(work / f"data-{rows}", rows, seed=1)
    data_mib = (ref.stat().st_size + cur.stat().st_size) / 2**20
    in_memory_mib = rows * 2 * (50 * 8 + 5 * 8) / 2**20
    print(f"  slipway drift, {rows:,} rows x 55 columns (median of {TRIALS})", flush=True)
    trials = [run_slipway_drift(ref, cur, work, f"slipway-{rows}") for _ in range(TRIALS)]
    ours = sorted(trials, key=lambda r: r["seconds"])[TRIALS // 2]
    spread = ", ".join(f"{r['seconds']:.2f}" for r in trials)
    print(
        f"    slipway  {ours['seconds']:.2f} s, peak RSS {ours['rss_mib']:.0f} MiB "
        f"(both frames as float64 arrays: {in_memory_mib:.0f} MiB)",
        flush=True,
    )
    m = Measurement(
        "slipway",
        f"slipway drift CLI, {rows:,} rows",
        ours["seconds"],
        "s",
        n=rows,
        seconds=ours["seconds"],
        note=f"median of {TRIALS} ({spread} s); peak RSS {ours['rss_mib']:.0f} MiB; "
        f"the two frames take {in_memory_mib:.0f} MiB "
        f"as arrays, {data_mib:.0f} MiB as Parquet; HTML {ours['html_bytes'] / 1024:.0f} KiB",
    )
    return Row(f"7. drift {rows // 1_000_000}M x 55 cols", m, None, higher_is_better=False), {
        "seconds": ours["seconds"],
        "rss_mib": ours["rss_mib"],
    }


def large(work: Path, ref_rows: int = 10_000_000, cur_rows: int = 1_000_000) -> list[Row]:
    directory = work / "large"
    print(f"  writing {ref_rows:,} + {cur_rows:,} rows x 100 columns (once)", flush=True)
    t0 = time.perf_counter()
    ref, cur = write_large(directory, ref_rows, cur_rows, 100)
    print(f"    data ready in {time.perf_counter() - t0:.0f} s", flush=True)
    prof = directory / "reference.profile"
    progress = {"SLIPWAY_PROGRESS": "1"}
    p = timed_process(slipway_argv("profile", str(ref), "-o", str(prof)), SLIPWAY_ENV | progress)
    if p["returncode"] != 0:
        raise RuntimeError(f"slipway profile failed: {p['stderr'][-500:]}")
    print(f"    profile: {p['seconds']:.1f} s, peak RSS {p['rss_mib']:.0f} MiB", flush=True)
    d = timed_process(
        slipway_argv(
            "drift",
            str(prof),
            str(cur),
            "-o",
            str(directory / "report.html"),
            "--json",
            str(directory / "result.json"),
        ),
        SLIPWAY_ENV | progress,
    )
    if d["returncode"] not in (0, 1):
        raise RuntimeError(f"slipway drift failed: {d['stderr'][-500:]}")
    print(f"    drift:   {d['seconds']:.1f} s, peak RSS {d['rss_mib']:.0f} MiB", flush=True)
    size = prof.stat().st_size
    return [
        Row(
            "7. profile 10M x 100 cols (peak RSS)",
            Measurement(
                "slipway",
                "slipway profile",
                p["rss_mib"],
                "MiB",
                n=ref_rows,
                seconds=p["seconds"],
                note=f"{p['seconds']:.0f} s; profile file {size / 2**20:.0f} MiB",
            ),
            None,
            target=RSS_TARGET,
            higher_is_better=False,
        ),
        Row(
            "7. drift profile(10M) vs 1M x 100 cols (RSS)",
            Measurement(
                "slipway",
                "slipway drift",
                d["rss_mib"],
                "MiB",
                n=cur_rows,
                seconds=d["seconds"],
                note=f"{d['seconds']:.0f} s",
            ),
            None,
            target=RSS_TARGET,
            higher_is_better=False,
        ),
    ]


def run(session: Any, with_large: bool = False) -> list[Row]:
    """The benchmark for `run_all.py` (its session's scratch folder holds the data)."""
    work = WORK / "drift"
    work.mkdir(parents=True, exist_ok=True)
    quick = getattr(session, "sizes", None) is not None and session.sizes.runs < 1000
    rows, info = side_by_side(work, 10_000 if quick else 100_000)
    first = rows[0]
    ratio = first.ratio()
    if ratio is not None:
        rows.insert(
            1,
            Row(
                "7. drift speed-up over Evidently",
                Measurement("slipway", "Evidently's time / slipway's", ratio, "x"),
                None,
                target=SPEEDUP_TARGET,
            ),
        )
    if not quick:
        row, _ = million(work)
        rows.append(row)
    if with_large or os.environ.get("SLIPWAY_BENCH_LARGE") == "1":
        rows.extend(large(work))
    (work / "last.json").write_text(json.dumps(info, indent=2, default=str))
    return rows


def _brief(r: dict[str, Any]) -> dict[str, Any]:
    return {k: r.get(k) for k in ("seconds", "rss_mib", "html_bytes", "returncode")}


def main(argv: list[str] | None = None) -> int:
    import harness

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--large", action="store_true", help="also 10M x 100 (minutes)")
    parser.add_argument("--quick", action="store_true", help="10k rows, no 1M")
    args = parser.parse_args(argv)
    sizes = harness.QUICK if args.quick else harness.FULL

    class _Session:
        pass

    session = _Session()
    session.sizes = sizes  # type: ignore[attr-defined]
    rows = run(session, with_large=args.large)
    print("\n" + harness.table(rows) + "\n\n" + harness.details(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = [
    "make_tables",
    "parity",
    "run",
]
