"""Benchmark 7: `slipway serve` against mlflow models serve, MLServer and BentoML, under load.

    python benchmarks/bench_serving.py --quick            # 3 s per measurement
    python benchmarks/bench_serving.py                    # 15 s per measurement
    python benchmarks/bench_serving.py --servers slipway --slipway-arg=--max-batch-size=32

One fitted `RandomForestClassifier(n_estimators=50, max_depth=8)` on 20 float features
(`make_classification(n_samples=5000, n_features=20, random_state=0)`) is served by every
server, one after the other:

- `slipway serve models:/bench-rf@champion` from a temporary SQLite store, measured on
  `/invocations` (MLflow's scoring body) and on the OIP route `/v2/models/bench-rf/infer`;
- `mlflow models serve -m <dir> --env-manager local` (slipway's venv, as the other
  benchmarks), on the same pickle file MLServer loads;
- MLServer 1.7.1 with its scikit-learn runtime over OIP v2 REST, without and with adaptive
  batching (32 rows / 5 ms), in a venv of its own;
- BentoML 1.4 with a `@bentoml.api(batchable=True)` endpoint taking a numpy array, loading
  a joblib copy of the same estimator, in a venv of its own;
- `slipway serve --traffic` with two variants (`bench-rf@champion` and `@challenger`, two
  registered versions of the same forest): a 90/10 split, and the champion with the
  challenger as a shadow. Their cost is read against plain `slipway serve` of the same run
  (the traffic table: throughput and p99 within 15% is the target).

Each server is started (cold start: launch to the first 200 from its readiness route),
checked to answer exactly `model.predict` on 1, 64 and 200 rows on every route measured,
warmed with sequential requests, then loaded from a second process on loopback by `wrk`
(a Lua script POSTs a fixed JSON body; an asyncio httpx generator stands in when wrk is
missing): single rows over 16 connections (req/s, p50, p99), single rows over 1
connection (p50, and its overhead over a bare in-process `model.predict` of one row), and
64-row requests over 16 connections (rows/s). Then the RSS of its whole process tree is
read and its process group killed. Anchors are compared with slipway on the same protocol:
mlflow and BentoML with `/invocations`, MLServer with slipway's OIP route. A server that
cannot be installed, started or verified is in the table with the reason.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx

import harness
from harness import Measurement, Row, Server, Session, Target, failed, fmt

MODEL = "bench-rf"
FEATURES = 20
CONNECTIONS = 16
BATCH_ROWS = 64
VERIFY_ROWS = 200
JOBLIB = "model.joblib"  # BentoML's copy of the forest; also what bare_predict loads
MLSERVER = "1.7.1"
BENTOML = "1.4.40"
SPEEDUP_OVER_MLFLOW = 30.0
TRAFFIC_TOLERANCE = 0.15  # a traffic strategy's throughput and p99 against one model's
P99_TARGET = Target("<=", 40.0, "ms")
OVERHEAD_TARGET = Target("<=", 1.0, "ms")


@dataclass
class Options:
    """What the command line of this script sets; `run_all.py` runs with the defaults."""

    servers: list[str] | None = None  # None: all
    load_generator: str = "auto"  # "auto" (wrk if installed), "wrk" or "httpx"
    slipway_args: list[str] = field(default_factory=list)


OPTIONS = Options()


# --- the wire formats ----------------------------------------------------------------------------
Rows = list[list[float]]


@dataclass(frozen=True)
class Protocol:
    name: str
    path: str
    body: Callable[[Rows], Any]
    predictions: Callable[[Any], list[Any]]


def _flat(values: Any) -> list[Any]:
    if isinstance(values, list) and values and isinstance(values[0], list):
        return [v for row in values for v in _flat(row)]
    return values


SCORING = Protocol(
    "/invocations",
    "/invocations",
    lambda rows: {"inputs": rows},
    lambda answer: _flat(answer["predictions"]),
)


def _oip_body(rows: Rows) -> Any:
    data = [v for row in rows for v in row]
    tensor = {"name": "input-0", "shape": [len(rows), FEATURES], "datatype": "FP64", "data": data}
    return {"inputs": [tensor]}


OIP = Protocol(
    "OIP v2",
    f"/v2/models/{MODEL}/infer",
    _oip_body,
    lambda answer: _flat(answer["outputs"][0]["data"]),
)
BENTO = Protocol("/predict", "/predict", lambda rows: {"x": rows}, _flat)


# --- the servers -------------------------------------------------------------------------------
@dataclass
class Context:
    session: Session
    work: Path  # model copies, stores, bodies, logs
    versions: dict[str, str] = field(default_factory=dict)  # what an anchor venv holds


@dataclass(frozen=True)
class Contender:
    key: str  # what --servers names
    system: str  # Measurement.system
    variant: str
    ready: str  # readiness route
    protocols: tuple[Protocol, ...]
    launch: Callable[[Context, int], tuple[list[str], dict[str, str], Path | None]]


def _slipway(
    extra: list[str], traffic: dict[str, Any] | None = None
) -> Callable[[Context, int], Any]:
    def launch(ctx: Context, port: int) -> tuple[list[str], dict[str, str], Path | None]:
        home = ctx.work / "slipway"
        argv = [sys.executable, "-m", "slipway.cli.main", "serve"]
        if traffic is None:
            argv.append(f"models:/{MODEL}@champion")
        else:
            path = ctx.work / f"traffic-{traffic['strategy']}.yaml"
            path.write_text(json.dumps(traffic))  # JSON is YAML
            argv += ["--traffic", str(path)]
        argv += ["--port", str(port), "--workers", str(ctx.session.workers)]
        env = {"SLIPWAY_HOME": str(home), "SLIPWAY_TRACKING_URI": f"sqlite:///{home}/slipway.db"}
        return [*argv, *extra, *OPTIONS.slipway_args], env, None

    return launch


def _mlflow(ctx: Context, port: int) -> tuple[list[str], dict[str, str], Path | None]:
    argv = [str(harness.VENV_BIN / "mlflow"), "models", "serve", "-m", str(ctx.work / "mlflow")]
    argv += ["--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--workers", str(ctx.session.workers)]
    # It execs `uvicorn` through a shell: the venv's bin must be on PATH.
    return argv, {"PATH": f"{harness.VENV_BIN}{os.pathsep}{os.environ['PATH']}"}, None


def _pins() -> list[str]:
    """The anchors unpickle the same trees: the same scikit-learn and numpy as slipway's."""
    return [f"scikit-learn=={version('scikit-learn')}", f"numpy=={version('numpy')}"]


def mlserver_venv() -> Path:
    # uvloop 0.22 breaks its workers ("There is no current event loop"); pandas 3 its codecs.
    reqs = [f"mlserver=={MLSERVER}", f"mlserver-sklearn=={MLSERVER}", *_pins()]
    return harness.anchor_venv("mlserver", [*reqs, "uvloop<0.22", "pandas<3"])


def bentoml_venv() -> Path:
    return harness.anchor_venv("bentoml", [f"bentoml=={BENTOML}", *_pins()])


def _installed(ctx: Context, bin_dir: Path, names: list[str]) -> None:
    found = harness.venv_versions(bin_dir, names)
    ctx.versions[bin_dir.parent.name.rsplit("-", 1)[0]] = ", ".join(
        f"{k} {v}" for k, v in found.items()
    )


MLSERVER_PACKAGES = ["mlserver", "mlserver-sklearn", "scikit-learn", "numpy", "pandas", "uvloop"]
BENTOML_PACKAGES = ["bentoml", "scikit-learn", "numpy", "uvicorn", "starlette"]


def _mlserver(batching: bool) -> Callable[[Context, int], Any]:
    def launch(ctx: Context, port: int) -> tuple[list[str], dict[str, str], Path | None]:
        bin_dir = mlserver_venv()
        _installed(ctx, bin_dir, MLSERVER_PACKAGES)
        folder = ctx.work / ("mlserver-batching" if batching else "mlserver")
        folder.mkdir(exist_ok=True)
        settings = {
            "debug": False,  # its default: an access log line and DEBUG logging per request
            "host": "127.0.0.1",
            "http_port": port,
            "grpc_port": harness.free_port(),
            "metrics_port": harness.free_port(),
            "parallel_workers": ctx.session.workers,
        }
        model: dict[str, Any] = {
            "name": MODEL,
            "implementation": "mlserver_sklearn.SKLearnModel",
            "parameters": {"uri": str(ctx.work / "mlflow" / "model.pkl"), "version": "1"},
        }
        if batching:
            model.update(max_batch_size=32, max_batch_time=0.005)
        (folder / "settings.json").write_text(json.dumps(settings, indent=1))
        (folder / MODEL).mkdir(exist_ok=True)  # MLServer wants the folder named as the model
        (folder / MODEL / "model-settings.json").write_text(json.dumps(model, indent=1))
        return [str(bin_dir / "mlserver"), "start", str(folder)], {}, folder

    return launch


BENTO_SERVICE = """
import os

import bentoml
import joblib
import numpy as np


@bentoml.service(workers=int(os.environ["BENCH_WORKERS"]))
class BenchRF:
    def __init__(self) -> None:
        self.model = joblib.load(os.environ["BENCH_MODEL"])

    @bentoml.api(batchable=True)
    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.model.predict(x)
"""


def _bentoml(ctx: Context, port: int) -> tuple[list[str], dict[str, str], Path | None]:
    bin_dir = bentoml_venv()
    _installed(ctx, bin_dir, BENTOML_PACKAGES)
    folder = ctx.work / "bentoml"
    (folder / "service.py").write_text(BENTO_SERVICE)
    argv = [str(bin_dir / "bentoml"), "serve", "service:BenchRF", "--working-dir", str(folder)]
    argv += ["--host", "127.0.0.1", "--port", str(port)]
    env = {
        "BENCH_MODEL": str(folder / JOBLIB),
        "BENCH_WORKERS": str(ctx.session.workers),
        "BENTOML_HOME": str(ctx.work / "bentoml-home"),
        "BENTOML_DO_NOT_TRACK": "true",
    }
    return argv, env, folder


def _traffic(strategy: str, **section: Any) -> dict[str, Any]:
    """A traffic file over the two registered versions of the forest."""
    return {
        "name": f"bench-{strategy}",
        "variants": {
            "champion": {"model": f"models:/{MODEL}@champion"},
            "challenger": {"model": f"models:/{MODEL}@challenger"},
        },
        "strategy": strategy,
        **section,
    }


SPLIT_90_10 = _traffic("split", split={"champion": 90, "challenger": 10})
SHADOW = _traffic("shadow", shadow={"primary": "champion", "shadow": "challenger"})

CONTENDERS = [
    Contender("slipway", "slipway", "slipway serve", "/ready", (SCORING, OIP), _slipway([])),
    Contender(
        "slipway-split",
        "slipway",
        "slipway serve --traffic, split 90/10",
        "/ready",
        (SCORING,),
        _slipway([], SPLIT_90_10),
    ),
    Contender(
        "slipway-shadow",
        "slipway",
        "slipway serve --traffic, shadow",
        "/ready",
        (SCORING,),
        _slipway([], SHADOW),
    ),
    Contender(
        "slipway-nolog",
        "slipway",
        "slipway serve --no-prediction-log",
        "/ready",
        (SCORING,),
        _slipway(["--no-prediction-log"]),
    ),
    Contender("mlflow", "mlflow", "mlflow models serve", "/health", (SCORING,), _mlflow),
    Contender(
        "mlserver", "mlserver", f"MLServer {MLSERVER}", "/v2/health/ready", (OIP,), _mlserver(False)
    ),
    Contender(
        "mlserver-batching",
        "mlserver",
        f"MLServer {MLSERVER}, adaptive batching 32 / 5 ms",
        "/v2/health/ready",
        (OIP,),
        _mlserver(True),
    ),
    Contender("bentoml", "bentoml", f"BentoML {BENTOML}, batchable", "/readyz", (BENTO,), _bentoml),
]


# --- preparing the model (in a fresh process) ----------------------------------------------------
def prepare(workdir: str) -> Measurement:
    """Train the forest, save one copy per server, and time a bare in-process predict.

    Writes `data.json` (verification rows and `model.predict` of them), `mlflow/` (an
    MLflow model, pickle format: mlflow and MLServer load its `model.pkl`),
    `bentoml/model.joblib`, and a slipway SQLite store in `slipway/` where the model is
    registered as `bench-rf` version 1 with the alias `champion`, and again as version 2
    with the alias `challenger` (the second variant of the traffic lines).
    """
    import joblib
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier

    work = Path(workdir)
    X, y = make_classification(n_samples=5000, n_features=FEATURES, random_state=0)
    model = RandomForestClassifier(n_estimators=50, max_depth=8, random_state=0).fit(X, y)
    rows = X[-VERIFY_ROWS:]
    data = {"rows": rows.tolist(), "expected": model.predict(rows).tolist()}
    (work / "data.json").write_text(json.dumps(data))

    baseline = _time_predict(model, rows[:1])

    import mlflow.sklearn

    mlflow.sklearn.save_model(
        model, str(work / "mlflow"), serialization_format="pickle", input_example=rows[:5]
    )
    (work / "bentoml").mkdir()
    joblib.dump(model, work / "bentoml" / JOBLIB)

    home = work / "slipway"
    os.environ["SLIPWAY_HOME"] = str(home)  # this process only: its artifacts go there
    uri = f"sqlite:///{home}/slipway.db"
    home.mkdir()
    import slipway

    slipway.set_tracking_uri(uri)
    slipway.set_experiment("bench-serving")
    client = slipway.Client(uri)
    for alias in ("champion", "challenger"):
        with slipway.start_run():
            info = slipway.sklearn.log_model(
                model, name="model", input_example=rows[:5], registered_model_name=MODEL
            )
        client.set_registered_model_alias(MODEL, alias, int(info.registered_model_version))
    return baseline


def bare_predict(model_path: str) -> Measurement:
    """p50 of `model.predict` on one row in a fresh process: what no server can beat.

    Measured again next to each 1-connection run (the machine's load drifts, and the
    overhead target is about a millisecond), on the joblib copy of the forest.
    """
    import joblib

    rows = json.loads((Path(model_path).parent.parent / "data.json").read_text())["rows"]
    return _time_predict(joblib.load(model_path), rows[:1])


def _time_predict(model: Any, one: Any, calls: int = 500) -> Measurement:
    import numpy as np

    one = np.asarray(one, dtype=np.float64)
    for _ in range(50):
        model.predict(one)
    samples = []
    for _ in range(calls):
        t0 = time.perf_counter()
        model.predict(one)
        samples.append(time.perf_counter() - t0)
    return harness.latency("in-proc", "bare model.predict, 1 row (p50)", samples, calls)


# --- load generation ---------------------------------------------------------------------------
@dataclass
class Load:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    failures: str  # "" when every request got a 2xx
    tool: str


_TIME = re.compile(r"([\d.]+)(us|ms|s|m|h)\b")
_TIME_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _ms(text: str) -> float:
    match = _TIME.fullmatch(text.strip())
    if not match:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _TIME_MS[match.group(2)]


def parse_wrk(out: str) -> Load:
    """Requests, rate and percentiles from `wrk --latency` output."""
    percentiles = dict(re.findall(r"^\s+(50|99)(?:\.0+)?%\s+(\S+)\s*$", out, re.M))
    done = re.search(r"^\s*(\d+) requests in ([\d.]+\w+),", out, re.M)
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    if not (done and rps and "50" in percentiles and "99" in percentiles):
        raise RuntimeError(f"unexpected wrk output: {out.strip()[-300:]}")
    problems = []
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        problems.append(f"{m.group(1)} non-2xx responses")
    if m := re.search(r"Socket errors: (.*)", out):
        problems.append(f"socket errors: {m.group(1).strip()}")
    return Load(
        requests=int(done.group(1)),
        seconds=_ms(done.group(2)) / 1000,
        rps=float(rps.group(1)),
        p50_ms=_ms(percentiles["50"]),
        p99_ms=_ms(percentiles["99"]),
        failures="; ".join(problems),
        tool="wrk",
    )


WRK_SCRIPT = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open({path}, "rb"))
wrk.body = f:read("*a")
f:close()
"""


def run_wrk(url: str, body: Path, connections: int, seconds: int) -> Load:
    script = body.with_suffix(".lua")
    script.write_text(WRK_SCRIPT.format(path=json.dumps(str(body))))
    threads = min(2, connections)
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
    proc = subprocess.run(
        [*argv, "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"wrk exited with {proc.returncode}: {proc.stderr.strip()[-300:]}")
    return parse_wrk(proc.stdout)


def run_httpx(url: str, body: Path, connections: int, seconds: int) -> Load:
    """The fallback load generator, in a process of its own like wrk."""
    code = "import sys, bench_serving; bench_serving.httpx_load_child(sys.argv[1:])"
    proc = subprocess.run(
        [sys.executable, "-c", code, url, str(body), str(connections), str(seconds)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent,
        timeout=seconds + 120,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"httpx load generator failed: {proc.stderr.strip()[-300:]}")
    return Load(**json.loads(proc.stdout.strip().splitlines()[-1]))


def httpx_load_child(argv: list[str]) -> None:
    url, body, connections, seconds = argv[0], Path(argv[1]), int(argv[2]), float(argv[3])
    print(json.dumps(asyncio.run(_httpx_load(url, body.read_bytes(), connections, seconds))))


async def _httpx_load(url: str, body: bytes, connections: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    failures = {"non-2xx responses": 0, "transport errors": 0}
    headers = {"Content-Type": "application/json"}
    deadline = time.perf_counter() + seconds

    async def connection() -> None:
        limits = httpx.Limits(max_connections=1)
        async with httpx.AsyncClient(limits=limits, timeout=10) as client:
            while (t0 := time.perf_counter()) < deadline:
                try:
                    answer = await client.post(url, content=body, headers=headers)
                except httpx.HTTPError:
                    failures["transport errors"] += 1
                    continue
                latencies.append(time.perf_counter() - t0)
                if answer.status_code >= 300:
                    failures["non-2xx responses"] += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    elapsed = time.perf_counter() - t0
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": cuts[98] * 1000,
        "failures": "; ".join(f"{n} {what}" for what, n in failures.items() if n),
        "tool": "httpx",
    }


def load_generator() -> tuple[str, Callable[[str, Path, int, int], Load]]:
    choice = OPTIONS.load_generator
    if choice == "auto":
        choice = "wrk" if shutil.which("wrk") else "httpx"
        if choice == "httpx":
            print("    wrk is not installed (apt-get install wrk): using the httpx generator")
    if choice == "wrk":
        if not shutil.which("wrk"):
            raise RuntimeError("wrk is not installed (apt-get install wrk)")
        banner = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout
        return banner.split("[")[0].strip() or "wrk", run_wrk
    return f"asyncio httpx {version('httpx')}", run_httpx


# --- measuring one server ----------------------------------------------------------------------
# What the table shows for each server and route: key, column header, unit, higher is better.
METRICS = [
    ("cold", "cold start s", "s", False),
    ("rps", "req/s 1 row, 16 conn", "req/s", True),
    ("p50", "p50 ms 16 conn", "ms", False),
    ("p99", "p99 ms 16 conn", "ms", False),
    ("cpu", "server CPU µs/req 16 conn", "µs", False),
    ("p50_1", "p50 ms 1 conn", "ms", False),
    ("overhead", "overhead ms 1 conn", "ms", False),
    ("rows", "rows/s 64 rows, 16 conn", "rows/s", True),
    ("p99_64", "p99 ms 64 rows", "ms", False),
    ("rss", "RSS MiB after load", "MiB", False),
]
UNITS = {key: unit for key, _, unit, _ in METRICS}


@dataclass
class Line:
    """One row of the serving table: one server, one route."""

    contender: Contender
    protocol: Protocol
    metrics: dict[str, Measurement] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.contender.variant}, {self.protocol.name}"

    def fill_failed(self, exc: BaseException) -> None:
        """Every metric not measured yet records why."""
        error = failed(self.contender.system, self.label, "", exc).error
        for key, unit in UNITS.items():
            if key not in self.metrics:
                self.metrics[key] = Measurement(
                    self.contender.system, self.label, None, unit, error=error
                )


def _post(client: httpx.Client, url: str, payload: Any) -> Any:
    answer = client.post(url, json=payload)
    if answer.status_code != 200:
        raise RuntimeError(f"POST {url} answered {answer.status_code}: {answer.text[:200]}")
    return answer.json()


def verify(url: str, protocol: Protocol, data: dict[str, Any]) -> None:
    """The route answers exactly `model.predict` on 1, 64 and 200 rows."""
    with httpx.Client(timeout=60) as client:
        for n in (1, BATCH_ROWS, VERIFY_ROWS):
            got = protocol.predictions(_post(client, url, protocol.body(data["rows"][:n])))
            want = data["expected"][:n]
            if len(got) != n or any(int(g) != int(w) for g, w in zip(got, want, strict=True)):
                raise RuntimeError(f"wrong predictions on {n} rows: {got[:8]}… for {want[:8]}…")


def warm(url: str, body: bytes, batch_body: bytes, requests: int) -> None:
    headers = {"Content-Type": "application/json"}
    with httpx.Client(timeout=60, headers=headers) as client:
        for i in range(requests):
            answer = client.post(url, content=batch_body if i % 10 == 9 else body)
            if answer.status_code != 200:
                raise RuntimeError(f"warm-up request answered {answer.status_code}")


def measure(
    ctx: Context,
    contender: Contender,
    data: dict[str, Any],
    generator: tuple[str, Callable[[str, Path, int, int], Load]],
) -> list[Line]:
    """Start one server, verify, warm and load each of its routes, read its RSS, stop it."""
    sizes = ctx.session.sizes
    seconds = max(1, round(sizes.serve_seconds))
    tool, load = generator
    lines = [Line(contender, p) for p in contender.protocols]
    system, key = contender.system, contender.key
    print(f"  -- {contender.variant}", flush=True)
    server: Server | None = None
    try:
        port = harness.free_port()
        argv, env, cwd = contender.launch(ctx, port)
        log = ctx.work / f"{key}.log"
        server = Server(key, argv, port, None, contender.ready, log, env, cwd)
        server.wait_ready(timeout=300, poll=0.05)
        assert server.startup_seconds is not None
        cold = Measurement(
            system,
            contender.variant,
            server.startup_seconds,
            "s",
            note=f"launch to the first 200 from {contender.ready}"
            + (f"; venv: {ctx.versions[system]}" if system in ctx.versions else ""),
        )
        print(f"    ready after {server.startup_seconds:.2f} s", flush=True)
        for line in lines:
            line.metrics["cold"] = cold
            try:
                _measure_route(ctx, server, line, data, tool, load, seconds)
            except Exception as exc:  # the other route of this server may still work
                line.fill_failed(exc)
        total, detail = harness.tree_rss_mib(server)
        note = "; ".join(f"{k}: {v} MiB" for k, v in detail.items())
        rss = Measurement(system, contender.variant, total, "MiB", n=len(detail), note=note)
        print(f"    RSS {total:.0f} MiB in {len(detail)} process(es)", flush=True)
        for line in lines:
            line.metrics.setdefault("rss", rss)
    except Exception as exc:
        error: BaseException = exc
        if server is not None and server.proc.poll() is not None:
            words = _last_words(server)
            error = RuntimeError(f"exited with code {server.proc.returncode}: {words}")
        for line in lines:
            line.fill_failed(error)
    finally:
        if server is not None:
            server.stop()
    return lines


def _tree_cpu_seconds(server: Server) -> float:
    return sum(harness.process_cpu_seconds(p) for p in harness.process_tree(server.proc.pid))


def _last_words(server: Server) -> str:
    """The last lines a dead server logged, on one line (rich's boxes taken off)."""
    lines = [ln.strip(" │╭╮╰╯─\t") for ln in server.log_tail(3000).splitlines()]
    return " / ".join([ln for ln in lines if ln][-3:])[-300:]


def _measure_route(
    ctx: Context,
    server: Server,
    line: Line,
    data: dict[str, Any],
    tool: str,
    load: Callable[[str, Path, int, int], Load],
    seconds: int,
) -> None:
    protocol, system = line.protocol, line.contender.system
    url = server.url + protocol.path
    verify(url, protocol, data)
    bodies = {}
    for n in (1, BATCH_ROWS):
        slug = re.sub(r"\W+", "-", f"{line.contender.key} {protocol.name} {n}").strip("-")
        bodies[n] = ctx.work / f"body-{slug}.json"
        bodies[n].write_text(json.dumps(protocol.body(data["rows"][:n])))
    requests = ctx.session.sizes.serve_warmup_requests
    warm(url, bodies[1].read_bytes(), bodies[BATCH_ROWS].read_bytes(), requests)

    def measured(key: str, value: float, run: Load, what: str) -> None:
        note = f"{what}; {run.requests:,} requests in {run.seconds:.1f} s ({tool})"
        line.metrics[key] = Measurement(
            system, line.label, value, UNITS[key], n=run.requests, seconds=run.seconds, note=note
        )
        if run.failures:
            line.metrics[key].error = f"{run.failures} of {run.requests:,} requests"

    cpu_before = _tree_cpu_seconds(server)
    many = load(url, bodies[1], CONNECTIONS, seconds)
    cpu = _tree_cpu_seconds(server) - cpu_before
    what = f"1-row requests, {CONNECTIONS} connections"
    measured("rps", many.rps, many, what)
    measured("p50", many.p50_ms, many, what)
    measured("p99", many.p99_ms, many, what)
    # What a request costs the server whatever else the machine runs (noisy neighbours
    # move req/s and p99 far more than they move this).
    measured("cpu", 1e6 * cpu / max(many.requests, 1), many, what + "; server tree CPU")
    one = load(url, bodies[1], 1, seconds)
    measured("p50_1", one.p50_ms, one, "1-row requests, 1 connection")
    bare = harness.isolated("bench_serving", "bare_predict", str(ctx.work / "bentoml" / JOBLIB))
    assert bare.value is not None
    bare.variant = f"bare model.predict, 1 row (p50), right after {line.label}"
    line.metrics["bare"] = bare
    what = f"1-conn p50 minus bare predict p50 measured right after ({bare.value:.2f} ms)"
    measured("overhead", one.p50_ms - bare.value, one, what)
    batch = load(url, bodies[BATCH_ROWS], CONNECTIONS, seconds)
    what = f"{BATCH_ROWS}-row requests, {CONNECTIONS} connections"
    measured("rows", batch.rps * BATCH_ROWS, batch, what)
    measured("p99_64", batch.p99_ms, batch, what)
    problems = "; ".join(filter(None, (many.failures, one.failures, batch.failures)))
    print(
        f"    {protocol.name:16s} {fmt(many.rps):>7s} req/s (p50 {many.p50_ms:.1f}, p99 "
        f"{many.p99_ms:.1f} ms) · 1 conn p50 {one.p50_ms:.2f} ms · "
        f"{fmt(batch.rps * BATCH_ROWS)} rows/s" + (f" · FAILED: {problems}" if problems else ""),
        flush=True,
    )


# --- the tables --------------------------------------------------------------------------------
def _value(m: Measurement | None) -> str:
    if m is None:
        return "-"
    if not m.ok:
        return "error"
    return f"{m.value:.2f}" if m.unit in ("s", "ms") and m.value < 10 else fmt(m.value)


def serving_table(lines: list[Line]) -> str:
    """One row per server and route, every metric a column; then why any cell failed."""
    header = ["server, route", *(title for _, title, _, _ in METRICS)]
    body = [[line.label, *(_value(line.metrics.get(k)) for k, *_ in METRICS)] for line in lines]
    out = _markdown([header, *body])
    problems = []
    for line in lines:
        seen = set()
        for key, *_ in METRICS:
            m = line.metrics.get(key)
            if m is not None and m.error and m.error not in seen:
                seen.add(m.error)
                problems.append(f"- {line.label}: {m.error}")
    return out + ("\n\n" + "\n".join(problems) if problems else "")


def _markdown(lines: list[list[str]]) -> str:
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    out = []
    for i, line in enumerate(lines):
        out.append("| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |")
        if i == 0:
            out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


def traffic_table(lines: list[Line]) -> str:
    """Each traffic line against plain `slipway serve` on /invocations, same run."""
    base = next(
        (ln for ln in lines if ln.contender.key == "slipway" and ln.protocol is SCORING), None
    )
    traffic = [
        ln for ln in lines if ln.contender.key.startswith("slipway-") and ln.protocol is SCORING
    ]
    traffic = [ln for ln in traffic if ln.contender.key != "slipway-nolog"]
    if base is None or not traffic:
        return "(plain slipway serve and a traffic line are needed on /invocations)"
    rows = [
        ["configuration", "req/s", "vs one", "p99 ms", "vs one", "CPU µs/req", "vs one", "15%?"]
    ]
    for line in [base, *traffic]:
        got = [line.metrics.get(k) for k in ("rps", "p99", "cpu")]
        ref = [base.metrics.get(k) for k in ("rps", "p99", "cpu")]
        if not all(m is not None and m.ok and m.value for m in [*got, *ref]):
            rows.append([line.contender.variant, "error", "", "", "", "", "", ""])
            continue
        (rps, p99, cpu), (brps, bp99, bcpu) = [[m.value for m in ms] for ms in (got, ref)]  # type: ignore[union-attr]
        rps_ratio, p99_ratio = rps / brps, p99 / bp99
        ok = rps_ratio >= 1 - TRAFFIC_TOLERANCE and p99_ratio <= 1 + TRAFFIC_TOLERANCE
        rows.append(
            [
                line.contender.variant,
                fmt(rps),
                f"{rps_ratio:.2f}x",
                f"{p99:.2f}",
                f"{p99_ratio:.2f}x",
                f"{cpu:.0f}",
                f"{cpu / bcpu:.2f}x",
                "" if line is base else ("yes" if ok else "no"),
            ]
        )
    return _markdown(rows)


def _pairs(lines: list[Line]) -> list[tuple[Line, Line]]:
    """(slipway line, anchor line) on the same protocol, one per anchor line."""
    slipway = {ln.protocol.name: ln for ln in lines if ln.contender.key == "slipway"}
    pairs = []
    for line in lines:
        if line.contender.system == "slipway":
            continue
        # BentoML has no shared protocol: it is compared with slipway's /invocations.
        mine = slipway.get(line.protocol.name) or slipway.get(SCORING.name)
        if mine is not None:
            pairs.append((mine, line))
    return pairs


def ratio_table(lines: list[Line]) -> str:
    """How many times better slipway is than each anchor (>1: slipway ahead)."""
    pairs = _pairs(lines)
    if not pairs:
        return "(no slipway line and anchor line on a shared protocol were measured)"
    header = ["metric", *(f"vs {a.contender.variant} ({s.protocol.name})" for s, a in pairs)]
    out = [header]
    for key, title, _, higher in METRICS:
        cells = []
        for mine, theirs in pairs:
            r = Row(title, mine.metrics.get(key), theirs.metrics.get(key), None, higher).ratio()
            cells.append(f"{r:,.2f}x" if r is not None else "n/a")
        out.append([title, *cells])
    return _markdown(out)


def rows_for_run_all(lines: list[Line], baseline: Measurement) -> list[Row]:
    """The lines of the common table: slipway against each anchor on the headline numbers."""
    pairs = _pairs(lines)
    by_anchor = {theirs.contender.key: (mine, theirs) for mine, theirs in pairs}
    rows = []
    if "mlflow" in by_anchor:
        mine, ml = by_anchor["mlflow"]
        ml_rps = ml.metrics["rps"]
        target = None
        if ml_rps.ok and ml_rps.value:
            target = Target(">=", SPEEDUP_OVER_MLFLOW * ml_rps.value, "req/s")
        rows.append(
            Row(
                f"7. serve 1-row req/s, {CONNECTIONS} conn, vs mlflow models serve "
                f"(target {SPEEDUP_OVER_MLFLOW:.0f}x)",
                mine.metrics["rps"],
                ml_rps,
                target,
            )
        )
    for key, (mine, theirs) in by_anchor.items():
        if key == "mlflow":
            continue
        anchor = theirs.metrics["rps"]
        target = Target(">=", anchor.value, "req/s") if anchor.ok and anchor.value else None
        rows.append(
            Row(
                f"7. serve 1-row req/s, {CONNECTIONS} conn, vs {theirs.contender.variant} "
                f"({mine.protocol.name})",
                mine.metrics["rps"],
                anchor,
                target,
            )
        )
    mine = next((ln for ln in lines if ln.contender.key == "slipway"), None)
    if mine is None:
        return rows
    ml = by_anchor.get("mlflow", (None, None))[1]
    for key, title, target, extra in (
        ("p99", f"7. serve 1-row p99, {CONNECTIONS} conn", P99_TARGET, []),
        (
            "overhead",
            "7. serve p50 overhead over bare predict, 1 conn",
            OVERHEAD_TARGET,
            [baseline, *filter(None, [mine.metrics.get("bare")])],
        ),
        ("p50_1", "7. serve 1-row p50, 1 conn", None, []),
        ("rows", f"7. serve {BATCH_ROWS}-row requests, rows/s, {CONNECTIONS} conn", None, []),
        ("rss", "7. serve RSS of the process tree after load", None, []),
        ("cold", "7. serve cold start (launch to ready)", None, []),
    ):
        higher = {k: h for k, _, _, h in METRICS}[key]
        rest = [ln.metrics[key] for ln in lines if ln not in (mine, ml) and key in ln.metrics]
        rows.append(
            Row(
                f"{title} (/invocations vs mlflow)",
                mine.metrics.get(key),
                ml.metrics.get(key) if ml else None,
                target,
                higher,
                extra=[*extra, *_unique(rest, mine.metrics.get(key))],
            )
        )
    return rows


def _unique(measurements: list[Measurement], skip: Measurement | None) -> list[Measurement]:
    out: list[Measurement] = []
    for m in measurements:
        if m is not skip and all(m is not o for o in out):
            out.append(m)
    return out


# --- the benchmark -----------------------------------------------------------------------------
def run(session: Session) -> list[Row]:
    work = session.path("serving")
    work.mkdir()
    ctx = Context(session, work)
    baseline = harness.isolated("bench_serving", "prepare", str(work))
    data = json.loads((work / "data.json").read_text())
    generator = load_generator()
    chosen = [c for c in CONTENDERS if OPTIONS.servers is None or c.key in OPTIONS.servers]
    lines: list[Line] = []
    for contender in chosen:
        lines.extend(measure(ctx, contender, data, generator))

    seconds = max(1, round(session.sizes.serve_seconds))
    parts = [
        f"Load: {generator[0]}, {seconds} s per measurement, {CONNECTIONS} connections or 1; "
        f"{session.sizes.serve_warmup_requests} warm-up requests; {session.workers} worker(s) "
        f"per server. Bare in-process model.predict of one row: p50 {_value(baseline)} ms at "
        "the start (the overhead column subtracts one measured right after each 1-connection "
        "run).",
        *(f"Venv of {name}: {found}." for name, found in ctx.versions.items()),
        "",
        serving_table(lines),
        "",
        "slipway vs each anchor, times better (>1: slipway ahead; throughput slipway/anchor, "
        "latency, memory and time anchor/slipway):",
        "",
        ratio_table(lines),
        "",
        "Traffic strategies against one model (/invocations, 1-row requests over "
        f"{CONNECTIONS} connections, same run; target: throughput and p99 within "
        f"{TRAFFIC_TOLERANCE:.0%}):",
        "",
        traffic_table(lines),
    ]
    text = "\n".join(parts) + "\n"
    print("\n" + text, flush=True)
    harness.WORK.mkdir(parents=True, exist_ok=True)
    (harness.WORK / "serving.md").write_text(text)
    return rows_for_run_all(lines, baseline)


def main(argv: list[str] | None = None) -> int:
    """Parse this benchmark's own options, then run it through `run_all.py --only serving`."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        epilog="Other options (--quick, --workers N, --keep) are run_all.py's.",
    )
    parser.add_argument("--servers", nargs="+", choices=[c.key for c in CONTENDERS])
    parser.add_argument("--load-generator", choices=["auto", "wrk", "httpx"], default="auto")
    parser.add_argument(
        "--slipway-arg",
        action="append",
        default=[],
        help="extra option for `slipway serve`, e.g. --slipway-arg=--max-batch-size=32",
    )
    args, rest = parser.parse_known_args(argv)
    import bench_serving  # the module run_all imports: configure that one, not __main__
    import run_all

    bench_serving.OPTIONS = Options(args.servers, args.load_generator, args.slipway_arg)
    return run_all.main(["--only", "serving", *rest])


if __name__ == "__main__":
    sys.exit(main())
