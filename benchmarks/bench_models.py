"""Benchmark 6: log and register a random forest through the server, then load it cold.

In a fresh process per library, a 100-tree `RandomForestClassifier` trained on synthetic
data (untimed) is logged with an input example and registered in the same call
(`<lib>.sklearn.log_model(..., registered_model_name=...)`) through the library's own
server, after one untimed warm-up call; the version gets the alias `champion`. Then
another fresh process per library times `import <lib>` +
`<lib>.pyfunc.load_model("models:/<name>@champion")` (the target is <= 1 s for that). The
whole process wall time, interpreter start included, is reported next to it, and so is the
floor both pay: importing scikit-learn and skops alone. Both load through the server's
artifact proxy; the OS file cache is warm.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from harness import Measurement, Row, Session, Target, attempt, failed, fmt, isolated

MODEL = "bench-rf"
# MLflow 3 saves scikit-learn models with skops, as slipway does, and refuses to unless the
# tree type is declared trusted.
TRUSTED = ["sklearn.tree._tree.Tree"]
LOAD_TARGET = Target("<=", 1.0, "s")

COLD_LOAD = """
import json, sys, time
t0 = time.perf_counter()
import {lib}
model = {lib}.pyfunc.load_model("models:/{name}@champion")
t1 = time.perf_counter()
import pandas as pd
X = pd.read_json(sys.argv[1], orient="split")
pred = model.predict(X)
t2 = time.perf_counter()
print(json.dumps({{"import_load": t1 - t0, "predict": t2 - t1, "n": len(pred)}}))
"""


def train(trees: int) -> tuple[Any, Any]:
    import pandas as pd
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier

    X, y = make_classification(n_samples=2000, n_features=20, random_state=0)
    X = pd.DataFrame(X, columns=[f"f{i}" for i in range(20)])
    model = RandomForestClassifier(n_estimators=trees, random_state=0, n_jobs=1).fit(X, y)
    return model, X


def slipway_log(url: str, model: Any, X: Any) -> tuple[float, str]:
    import slipway  # slipway.sklearn is imported on first use

    slipway.set_tracking_uri(url)
    slipway.set_experiment("bench-models")
    with slipway.start_run():
        slipway.sklearn.log_model(
            model, name="model", input_example=X.head(5), registered_model_name=MODEL + "-warmup"
        )
    with slipway.start_run():
        t0 = time.perf_counter()
        info = slipway.sklearn.log_model(
            model, name="model", input_example=X.head(5), registered_model_name=MODEL
        )
        seconds = time.perf_counter() - t0
    slipway.Client(url).set_registered_model_alias(
        MODEL, "champion", int(info.registered_model_version)
    )
    return seconds, str(info.registered_model_version)


def mlflow_log(url: str, model: Any, X: Any) -> tuple[float, str]:
    import mlflow
    import mlflow.sklearn

    mlflow.set_tracking_uri(url)
    mlflow.set_experiment("bench-models")
    with mlflow.start_run():
        mlflow.sklearn.log_model(
            model,
            name="model",
            input_example=X.head(5),
            registered_model_name=MODEL + "-warmup",
            skops_trusted_types=TRUSTED,
        )
    with mlflow.start_run():
        t0 = time.perf_counter()
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            input_example=X.head(5),
            registered_model_name=MODEL,
            skops_trusted_types=TRUSTED,
        )
        seconds = time.perf_counter() - t0
    mlflow.MlflowClient(url).set_registered_model_alias(
        MODEL, "champion", int(info.registered_model_version)
    )
    return seconds, str(info.registered_model_version)


def log_and_register(system: str, url: str, trees: int) -> Measurement:
    """Train (untimed), then time one log_model call that also registers the version."""
    model, X = train(trees)
    fn = slipway_log if system == "slipway" else mlflow_log
    seconds, version = fn(url, model, X)
    m = Measurement(
        system,
        "server",
        seconds,
        "s",
        n=trees,
        seconds=seconds,
        note=f"log_model(input_example, registered_model_name) -> version {version}",
    )
    print(f"    {system:8s} log_model + register {fmt(seconds)} s")
    return m


def cold_load(
    system: str, url: str, data: Path, repeats: int, workdir: Path
) -> tuple[Measurement, Measurement]:
    env = dict(os.environ)
    env["SLIPWAY_TRACKING_URI" if system == "slipway" else "MLFLOW_TRACKING_URI"] = url
    script = COLD_LOAD.format(lib=system, name=MODEL)
    inner, wall = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", script, str(data)],
            capture_output=True,
            text=True,
            env=env,
            cwd=workdir,
            timeout=300,
        )
        wall.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed")
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        if out["n"] != 20:
            raise RuntimeError(f"predict returned {out['n']} rows for 20")
        inner.append(out["import_load"])
    note = f"median of {repeats}; fresh `python -c`; predict checked"
    load = Measurement(
        system, "import + load_model", statistics.median(inner), "s", n=repeats, note=note
    )
    whole = Measurement(
        system,
        "whole process (interpreter start, import, load, predict)",
        statistics.median(wall),
        "s",
        n=repeats,
        note=note,
    )
    print(f"    {system:8s} cold import + load {fmt(load.value)} s, process {fmt(whole.value)} s")
    return load, whole


DEPENDENCY_FLOOR = """
import json, time
t0 = time.perf_counter()
import sklearn.ensemble, skops.io
print(json.dumps({"seconds": time.perf_counter() - t0}))
"""


def dependency_floor(repeats: int, workdir: Path) -> Measurement:
    """What importing scikit-learn and skops alone costs in a fresh process.

    Both libraries load a skops-format forest with these imports, so no loader can be
    faster than this on this machine; it tells the loader's own time from the libraries'.
    """
    samples = []
    for _ in range(repeats):
        proc = subprocess.run(
            [sys.executable, "-c", DEPENDENCY_FLOOR],
            capture_output=True,
            text=True,
            cwd=workdir,
            timeout=300,
            check=True,
        )
        samples.append(json.loads(proc.stdout.strip().splitlines()[-1])["seconds"])
    m = Measurement(
        "either",
        "floor: `import sklearn.ensemble, skops.io` alone",
        statistics.median(samples),
        "s",
        n=repeats,
        note=f"median of {repeats}; fresh `python -c`; both loaders pay this",
    )
    print(f"    floor    import sklearn.ensemble + skops.io {fmt(m.value)} s")
    return m


def run(session: Session) -> list[Row]:
    trees = session.sizes.forest_trees
    _, X = train(1)
    data = session.path("predict-input.json")
    X.head(20).to_json(data, orient="split", index=False)
    workdir = session.path("cold-load")
    workdir.mkdir(exist_ok=True)

    def log(system: str) -> Measurement:
        server = session.slipway_server() if system == "slipway" else session.mlflow_server()
        return isolated(__name__, "log_and_register", system, server.url, trees)

    sw_log = attempt("slipway", "server", "s", lambda: log("slipway"))
    ml_log = attempt("mlflow", "server", "s", lambda: log("mlflow"))

    loads: dict[str, tuple[Measurement, Measurement]] = {}
    for system, logged in (("slipway", sw_log), ("mlflow", ml_log)):
        try:
            if not logged.ok:
                raise RuntimeError("the model could not be logged, so it cannot be loaded")
            server = session.slipway_server() if system == "slipway" else session.mlflow_server()
            loads[system] = cold_load(system, server.url, data, session.sizes.cold_loads, workdir)
        except Exception as exc:
            error = failed(system, "import + load_model", "s", exc)
            loads[system] = (error, error)
    floor = attempt(
        "either",
        "floor",
        "s",
        lambda: dependency_floor(session.sizes.cold_loads, workdir),
    )
    return [
        Row(f"6. log_model + register RF({trees}) via server", sw_log, ml_log, None, False),
        Row(
            "6. cold import + load_model(models:/…@champion)",
            loads["slipway"][0],
            loads["mlflow"][0],
            LOAD_TARGET,
            False,
            extra=[floor],
        ),
        Row(
            "6. cold load, whole fresh process",
            loads["slipway"][1],
            loads["mlflow"][1],
            None,
            False,
        ),
    ]
