"""Shared harness for the slipway-vs-MLflow benchmarks.

Every benchmark module exposes `run(session) -> list[Row]`. A `Session` owns the scratch
folder (a fresh `benchmarks/.work/run-*/`, removed at the end), the problem sizes (full or
`--quick`) and the two tracking servers, which it starts lazily on free ports of 127.0.0.1
and always tears down (the whole process group). A `Row` pairs one slipway `Measurement`
with the MLflow one it is compared to; `run_all.py` prints the rows as a table and appends
everything to `benchmarks/.work/results.json`.

The environment is set here, before anything imports mlflow, so that no client retries
or hangs and no telemetry leaves the machine.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / ".work"
RESULTS_JSON = WORK / "results.json"
VENV_BIN = Path(sys.executable).parent
ANCHOR_VENVS = WORK / "venvs"

QUIET_ENV = {
    # A failing request must fail, not back off for minutes.
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "300",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "GIT_PYTHON_REFRESH": "quiet",
    "PYTHONWARNINGS": "ignore",
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
    "MLFLOW_LOGGING_LEVEL": "WARNING",
}
for _name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "SLIPWAY_TRACKING_URI"):
    os.environ.pop(_name, None)
os.environ.update(QUIET_ENV)
warnings.simplefilter("ignore")
# Measure the slipway of this tree, also from a worktree whose venv is an editable install
# of another checkout: its src/ goes first for this process and every child.
_SRC = str(ROOT / "src")
if os.environ.get("PYTHONPATH", "").split(os.pathsep)[0] != _SRC:
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [_SRC, os.environ.get("PYTHONPATH")]))
if sys.path[:1] != [_SRC]:
    sys.path.insert(0, _SRC)


# --- sizes --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sizes:
    """Problem sizes. MLflow gets smaller ones where it would take minutes; rates scale."""

    metric_points: int = 100_000
    metric_points_mlflow: int = 1_000
    batch_points: int = 100_000
    batch_points_mlflow: int = 20_000
    runs: int = 5_000
    runs_mlflow: int = 200
    search_runs: int = 10_000
    search_repeats: int = 20
    search_repeats_mlflow: int = 5
    forest_trees: int = 100
    cold_loads: int = 3
    serve_seconds: float = 15.0  # each load measurement of the serving benchmark
    serve_warmup_requests: int = 300
    contention_writers: int = 8  # benchmark 10: writer processes, runs each, search threads
    contention_runs: int = 200
    contention_readers: int = 32


FULL = Sizes()
QUICK = Sizes(
    metric_points=5_000,
    metric_points_mlflow=50,
    batch_points=10_000,
    batch_points_mlflow=2_000,
    runs=200,
    runs_mlflow=10,
    search_runs=1_000,
    search_repeats=5,
    search_repeats_mlflow=2,
    forest_trees=10,
    cold_loads=1,
    serve_seconds=3.0,
    serve_warmup_requests=100,
    contention_writers=4,
    contention_runs=20,
    contention_readers=8,
)


# --- what a benchmark reports ---------------------------------------------------------------
@dataclass
class Measurement:
    """One timed thing: `value` in `unit`, over a problem of size `n`."""

    system: str  # "slipway" or "mlflow"
    variant: str  # e.g. "in-process sqlite", "server (sqlite)", "server, synchronous=False"
    value: float | None
    unit: str
    n: int = 0
    seconds: float | None = None
    note: str = ""
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.value is not None


@dataclass
class Target:
    op: str  # ">=" or "<="
    value: float
    unit: str

    def met(self, value: float | None) -> bool | None:
        if value is None:
            return None
        return value >= self.value if self.op == ">=" else value <= self.value

    def __str__(self) -> str:
        return f"{self.op} {fmt(self.value)} {self.unit}"


@dataclass
class Row:
    """One line of the final table: slipway vs the MLflow number it is compared to."""

    benchmark: str
    slipway: Measurement | None
    mlflow: Measurement | None
    target: Target | None = None
    higher_is_better: bool = True
    extra: list[Measurement] = field(default_factory=list)  # reported, not compared

    def ratio(self) -> float | None:
        """How many times better slipway is (>1 means slipway wins)."""
        s, m = self.slipway, self.mlflow
        if not (s and m and s.ok and m.ok) or s.value is None or m.value is None:
            return None
        if s.value <= 0 or m.value <= 0:  # e.g. an overhead below the noise: no ratio
            return None
        return s.value / m.value if self.higher_is_better else m.value / s.value

    def met(self) -> bool | None:
        if self.target is None or self.slipway is None or not self.slipway.ok:
            return None
        return self.target.met(self.slipway.value)


def attempt(system: str, variant: str, unit: str, fn: Callable[[], Measurement]) -> Measurement:
    """Run one side of a benchmark; a failure becomes an error measurement, not a crash."""
    try:
        return fn()
    except Exception as exc:  # the other side and the other benchmarks still run
        return failed(system, variant, unit, exc)


def failed(system: str, variant: str, unit: str, exc: BaseException) -> Measurement:
    """The measurement that records why one side could not be measured."""
    detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    print(f"    ! {system} {variant} failed: {detail}", flush=True)
    if os.environ.get("BENCH_TRACEBACK"):
        traceback.print_exception(exc)
    return Measurement(system, variant, None, unit, error=detail.splitlines()[-1][:300])


def rate(
    system: str, variant: str, unit: str, n: int, seconds: float | list[float], note: str = ""
) -> Measurement:
    """A throughput measurement: `n` things in `seconds` (the median, given several trials)."""
    trials = seconds if isinstance(seconds, list) else [seconds]
    median = statistics.median(trials)
    if len(trials) > 1:
        spread = ", ".join(f"{n / t:,.0f}" for t in trials)
        note = f"median of {len(trials)} trials ({spread}){'; ' + note if note else ''}"
    m = Measurement(system, variant, n / median, unit, n=n, seconds=median, note=note)
    print(f"    {system:8s} {variant:40s} {fmt(m.value):>10s} {unit}  ({n} in {median:.2f} s)")
    return m


def latency(system: str, variant: str, samples: list[float], n: int, note: str = "") -> Measurement:
    """A latency measurement in ms: the median of `samples` (seconds)."""
    median_ms = statistics.median(samples) * 1000
    spread = f"min {min(samples) * 1000:.1f}, max {max(samples) * 1000:.1f} ms"
    m = Measurement(
        system,
        variant,
        median_ms,
        "ms",
        n=n,
        seconds=sum(samples),
        note=f"median of {len(samples)} ({spread}){'; ' + note if note else ''}",
    )
    print(f"    {system:8s} {variant:40s} {median_ms:10.1f} ms  ({m.note})")
    return m


def fmt(value: float | None) -> str:
    """A number for humans: thousands separators, about three significant digits."""
    if value is None:
        return "n/a"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


# --- one measurement, one fresh process ------------------------------------------------------
def isolated(module: str, func: str, *args: Any) -> Measurement:
    """Run `module.func(*args)` (it returns a Measurement) in a fresh Python process.

    Each side of each benchmark runs alone: the heap, threads and imports one library
    leaves behind (MLflow's async-logging pools, 100,000 metric objects, …) would
    otherwise slow down whatever runs next in the same process; a garbage collection over
    a large heap alone doubled a 16 ms search. Arguments and result travel as JSON.
    """
    code = "import sys, harness; harness.child(sys.argv[1:])"
    proc = subprocess.run(
        [sys.executable, "-c", code, module, func, json.dumps(args)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent,
        timeout=900,
    )
    result = None
    for line in proc.stdout.splitlines():
        if line.startswith(_RESULT):
            result = json.loads(line[len(_RESULT) :])
        else:
            print(line, flush=True)
    if proc.returncode != 0 or result is None:
        tail = proc.stderr.strip().splitlines()[-1:] or [f"exit code {proc.returncode}"]
        if os.environ.get("BENCH_TRACEBACK"):
            print(proc.stderr)
        raise RuntimeError(tail[0])
    return Measurement(**result)


_RESULT = "BENCH-RESULT "


def child(argv: list[str]) -> None:
    """The fresh process's side of `isolated`."""
    import importlib

    module, func, args = argv[0], argv[1], json.loads(argv[2])
    measurement = getattr(importlib.import_module(module), func)(*args)
    print(_RESULT + json.dumps(asdict(measurement)), flush=True)


# --- processes -----------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # the command name is in parentheses and may hold spaces: split after it
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            kids.append(int(entry.name))
    return kids


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants."""
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(_children(p))
    return tree


def rss_mib(pid: int) -> float:
    """Resident memory of one process (VmRSS), MiB; 0 if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return " ".join(Path(a).name if i == 0 else a for i, a in enumerate(raw.decode().split("\0")))


class Server:
    """A server subprocess (tracking or model serving) in its own process group.

    `startup_seconds` runs from just before the command is launched to the first 200 from
    its `health` path: interpreter start, imports and model loading all count.
    """

    def __init__(
        self,
        name: str,
        argv: list[str],
        port: int,
        db: Path | None,
        health: str,
        log: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.db = db
        self.argv = argv
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._health = health
        self._log_path = log
        self._log = log.open("wb")
        self._launched = time.perf_counter()
        self.proc = subprocess.Popen(
            argv,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=cwd or log.parent,
            env={**os.environ, **(env or {})},
        )
        self.startup_seconds: float | None = None
        self.startup_rss: dict[str, float] = {}
        self.unreaped_cpu = 0.0

    def wait_ready(self, timeout: float = 180.0, poll: float = 0.2) -> None:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} server exited with {self.proc.returncode}: {self.log_tail()}"
                )
            try:
                if httpx.get(self.url + self._health, timeout=2).status_code == 200:
                    self.startup_seconds = time.perf_counter() - self._launched
                    self.startup_rss = self.rss()
                    return
            except httpx.HTTPError:
                pass
            time.sleep(poll)
        raise RuntimeError(f"{self.name} server not ready after {timeout} s: {self.log_tail()}")

    def rss(self) -> dict[str, float]:
        """MiB per process of the server's tree, keyed 'pid command'."""
        return {
            f"{pid} {cmdline(pid)[:80]}": round(rss_mib(pid), 1)
            for pid in process_tree(self.proc.pid)
        }

    def log_tail(self, chars: int = 2000) -> str:
        self._log.flush()
        return self._log_path.read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            tree = process_tree(self.proc.pid)
            # Descendants below our direct child are not reaped by us: count their CPU now.
            self.unreaped_cpu = sum(process_cpu_seconds(p) for p in tree if p != self.proc.pid)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
            # A descendant that moved to a session of its own escaped the group kill.
            for pid in tree[1:]:
                if Path(f"/proc/{pid}").exists():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
        self._log.close()


def slipway_server_argv(db: Path, artifacts: Path, port: int, workers: int) -> list[str]:
    """`slipway server …`, the command users run."""
    return [
        str(VENV_BIN / "slipway"),
        "server",
        "--backend-store-uri",
        f"sqlite:///{db}",
        "--artifacts-destination",
        str(artifacts),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]


def mlflow_server_argv(db: Path, artifacts: Path, port: int, workers: int) -> list[str]:
    return [
        str(VENV_BIN / "mlflow"),
        "server",
        "--backend-store-uri",
        f"sqlite:///{db}",
        "--artifacts-destination",
        str(artifacts),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]


def tree_rss_mib(server: Server) -> tuple[float, dict[str, float]]:
    """Resident memory of a server's whole process tree, MiB, and the per-process detail."""
    detail = server.rss()
    return round(sum(detail.values()), 1), detail


# --- anchor tools in virtualenvs of their own ---------------------------------------------------
def anchor_venv(name: str, requirements: list[str]) -> Path:
    """The bin folder of a virtualenv holding `requirements`, made once under .work/venvs/.

    Anchors whose dependencies clash with slipway's (MLServer pins FastAPI and pandas,
    BentoML brings its own stack) run from a venv of their own, on this same Python. The
    folder is named after a hash of the requirements and the Python version, so a changed
    pin makes a new one; later runs reuse it (the first install takes minutes). A lock
    keeps two invocations from building it at once. pip's output goes to `<venv>.log`;
    a failed install raises with its last lines.
    """
    key = hashlib.sha256("\n".join([sys.version, *requirements]).encode()).hexdigest()[:10]
    venv = ANCHOR_VENVS / f"{name}-{key}"
    stamp = venv / "requirements.lock"
    if stamp.exists():
        return venv / "bin"
    ANCHOR_VENVS.mkdir(parents=True, exist_ok=True)
    with (ANCHOR_VENVS / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists():  # another invocation built it while we waited
            return venv / "bin"
        shutil.rmtree(venv, ignore_errors=True)
        log = venv.with_suffix(".log")
        print(f"  creating the {name} venv (first run only): {' '.join(requirements)}", flush=True)
        t0 = time.perf_counter()
        pip = [str(venv / "bin" / "python"), "-m", "pip"]
        with log.open("w") as out:
            for argv in (
                [sys.executable, "-m", "venv", str(venv)],
                [*pip, "install", "--disable-pip-version-check", *requirements],
            ):
                out.write(f"$ {' '.join(argv)}\n")
                out.flush()
                proc = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, timeout=1800)
                if proc.returncode != 0:
                    lines = log.read_text(errors="replace").strip().splitlines()
                    tail = [ln[:200] for ln in lines if ln.startswith("ERROR")][-2:] or lines[-3:]
                    raise RuntimeError(
                        f"installing {name} ({' '.join(requirements)}) failed: " + " / ".join(tail)
                    )
        freeze = subprocess.run([*pip, "freeze"], capture_output=True, text=True, check=True)
        stamp.write_text(freeze.stdout)
        print(f"  {name} venv ready after {time.perf_counter() - t0:.0f} s", flush=True)
    return venv / "bin"


def venv_versions(bin_dir: Path, names: list[str]) -> dict[str, str]:
    """Installed versions of `names` in an `anchor_venv`, from its pip freeze."""
    pins = {}
    for line in (bin_dir.parent / "requirements.lock").read_text().splitlines():
        if "==" in line:
            pkg, version = line.split("==", 1)
            pins[pkg.lower().replace("_", "-")] = version
    return {n: pins.get(n.lower().replace("_", "-"), "missing") for n in names}


# --- the session -----------------------------------------------------------------------------
class Session:
    """Scratch folder, sizes and the lazily started servers of one `run_all` invocation."""

    def __init__(self, sizes: Sizes, workers: int = 1, keep: bool = False) -> None:
        self.sizes = sizes
        self.workers = workers
        self.keep = keep
        # One folder per invocation: two runs at once must not share databases.
        WORK.mkdir(parents=True, exist_ok=True)
        self.dir = Path(tempfile.mkdtemp(prefix="run-", dir=WORK))
        self._servers: dict[str, Server] = {}
        self._started: list[Server] = []  # every server started, for teardown
        self._failed: dict[str, Exception] = {}  # a server that would not start is not retried

    def path(self, name: str) -> Path:
        return self.dir / name

    def _server(self, name: str) -> Server:
        if name in self._failed:
            raise RuntimeError(f"the {name} server could not start: {self._failed[name]}")
        server = self._servers.get(name)
        if server is None:
            try:
                server = self._servers[name] = self.start_server(name)
            except Exception as exc:
                self._failed[name] = exc
                raise
        return server

    def start_server(self, name: str, mlflow_jobs: bool = False, label: str = "") -> Server:
        """Start a server and wait until it answers; the session stops it at the end.

        `mlflow server` also starts a job runner and a pool of huey consumers for its GenAI
        jobs unless MLFLOW_SERVER_ENABLE_JOB_EXECUTION is false; they play no part in
        tracking, so the benchmarks run without them (`mlflow_jobs=False`), and the memory
        benchmark reports what they add.
        """
        port = free_port()
        label = label or (f"{name}-jobs" if mlflow_jobs else name)
        db = self.path(f"{label}-server.db")
        artifacts = self.path(f"{label}-server-artifacts")
        artifacts.mkdir(exist_ok=True)
        make_argv = slipway_server_argv if name == "slipway" else mlflow_server_argv
        argv = make_argv(db, artifacts, port, self.workers)
        env = {}
        if name == "mlflow":
            env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "true" if mlflow_jobs else "false"
        print(f"  starting {label} server on port {port} ({self.workers} worker(s))", flush=True)
        server = Server(label, argv, port, db, "/health", self.path(f"{label}-server.log"), env)
        self._started.append(server)
        server.wait_ready()
        print(f"  {label} server ready after {server.startup_seconds:.1f} s", flush=True)
        return server

    def slipway_server(self) -> Server:
        return self._server("slipway")

    def mlflow_server(self) -> Server:
        return self._server("mlflow")

    def running_servers(self) -> dict[str, Server]:
        return {k: s for k, s in self._servers.items() if s.proc.poll() is None}

    def close(self) -> None:
        for server in self._started:
            server.stop()
        if self.keep:
            print(f"  scratch data kept in {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def unreaped_cpu(self) -> float:
        """CPU seconds of server descendants that `os.times` does not count."""
        return sum(server.unreaped_cpu for server in self._started)


@contextlib.contextmanager
def session(sizes: Sizes, workers: int = 1, keep: bool = False) -> Iterator[Session]:
    s = Session(sizes, workers, keep)
    try:
        yield s
    finally:
        s.close()


# --- output ------------------------------------------------------------------------------------
def _cell(m: Measurement | None) -> str:
    if m is None:
        return "-"
    if not m.ok:
        return "error"
    return f"{fmt(m.value)} {m.unit}"


def table(rows: list[Row]) -> str:
    """The final table as Markdown (it is also what RESULTS.md shows)."""
    header = ["benchmark", "slipway", "mlflow", "ratio", "target", "met?"]
    lines = [header]
    for r in rows:
        ratio = r.ratio()
        met = r.met()
        lines.append(
            [
                r.benchmark,
                _cell(r.slipway),
                _cell(r.mlflow),
                f"{ratio:,.1f}x" if ratio is not None else "n/a",
                str(r.target) if r.target else "(report)",
                {True: "yes", False: "NO", None: "-"}[met],
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for i, line in enumerate(lines):
        out.append("| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |")
        if i == 0:
            out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


def details(rows: list[Row]) -> str:
    """Every measurement with its size and notes, one line each."""
    out = []
    for r in rows:
        out.append(f"- {r.benchmark}")
        for m in [r.slipway, r.mlflow, *r.extra]:
            if m is None:
                continue
            if m.ok:
                desc = f"{fmt(m.value)} {m.unit}"
                if m.n:
                    desc += f" (n={m.n:,}"
                    desc += f", {m.seconds:.2f} s)" if m.seconds is not None else ")"
            else:
                desc = f"error: {m.error}"
            note = f" — {m.note}" if m.note else ""
            out.append(f"  - {m.system}, {m.variant}: {desc}{note}")
    return "\n".join(out)


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions: dict[str, str] = {"python": sys.version.split()[0]}
    for mod in ("slipway", "mlflow", "sqlalchemy", "sklearn", "fastapi", "uvicorn"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:
            versions[mod] = "missing"
    return {"cores": os.cpu_count(), "cpu": model, "versions": versions, "load": load_average()}


def load_average() -> float:
    """The 1-minute load average (this benchmark's own processes count too)."""
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError):
        return -1.0


_TICK = os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent in processes (or stolen by the hypervisor) since boot.

    From /proc/stat: user + nice + system + steal. Interrupt time is left out: most of it
    here is the loopback traffic of the benchmarks themselves, and no process is charged.
    """
    user, nice, system, _idle, _iowait, _irq, _softirq, steal = (
        int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:9]
    )
    return (user + nice + system + steal) / _TICK


def process_cpu_seconds(pid: int) -> float:
    """CPU seconds of one live process and its reaped children (utime+stime+cutime+cstime)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(v) for v in fields[11:15]) / _TICK


class CpuMeter:
    """How busy other processes kept the machine while the benchmarks ran.

    Busy CPU time of the whole machine minus our own: this process, every child it
    waited for (`os.times`), and the server descendants no one of ours reaps (uvicorn
    under `mlflow server`), which `Server.stop` samples before killing them.
    """

    def __init__(self) -> None:
        self._start = time.perf_counter()
        self._busy = machine_busy_seconds()
        self._own = self._own_seconds()

    @staticmethod
    def _own_seconds() -> float:
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system

    def other_cores(self, unreaped_seconds: float) -> float:
        """Average number of cores other processes kept busy."""
        busy = machine_busy_seconds() - self._busy
        own = self._own_seconds() - self._own + unreaped_seconds
        return max(0.0, busy - own) / (time.perf_counter() - self._start)


def append_results(record: dict[str, Any]) -> None:
    """Append one invocation to `benchmarks/.work/results.json` (a JSON list)."""
    WORK.mkdir(parents=True, exist_ok=True)
    with (WORK / "results.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another invocation may be appending too
        history: list[Any] = []
        if RESULTS_JSON.exists():
            with contextlib.suppress(ValueError):
                history = json.loads(RESULTS_JSON.read_text())
        history.append(record)
        RESULTS_JSON.write_text(json.dumps(history, indent=1, default=str))


def row_record(r: Row) -> dict[str, Any]:
    return {
        "benchmark": r.benchmark,
        "slipway": asdict(r.slipway) if r.slipway else None,
        "mlflow": asdict(r.mlflow) if r.mlflow else None,
        "extra": [asdict(m) for m in r.extra],
        "target": asdict(r.target) if r.target else None,
        "higher_is_better": r.higher_is_better,
        "ratio": r.ratio(),
        "met": r.met(),
    }
