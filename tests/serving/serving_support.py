"""Helpers shared by the serving tests: seeded data, tiny models, custom PythonModels."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

FOREST_COLUMNS = ["a", "b", "c", "d"]


def numeric_data(seed: int, rows: int = 200) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(rows, 4)), columns=FOREST_COLUMNS)
    y = (X["a"] + 0.5 * X["b"] - X["c"] > 0).astype(np.int64).to_numpy()
    return X, y


def mixed_data(seed: int = 3, rows: int = 200) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "tenure": rng.integers(0, 72, size=rows).astype(np.int64),
            "plan": rng.choice(["basic", "plus", "pro"], size=rows),
            "monthly_charges": rng.uniform(10, 120, size=rows),
            "paperless": rng.choice([True, False], size=rows),
        }
    )
    X["plan"] = X["plan"].astype(object)
    y = ((X["monthly_charges"] > 70) & (X["tenure"] < 24)).astype(np.int64).to_numpy()
    return X, y


def forest(seed: int):
    from sklearn.ensemble import RandomForestClassifier

    X, y = numeric_data(seed)
    return RandomForestClassifier(n_estimators=5, max_depth=4, random_state=seed).fit(X, y)


def mixed_pipeline():
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    X, y = mixed_data()
    pre = ColumnTransformer(
        [("plan", OneHotEncoder(handle_unknown="ignore"), ["plan"])],
        remainder="passthrough",
    )
    return Pipeline([("pre", pre), ("clf", LogisticRegression(max_iter=500))]).fit(X, y)


def regressor():
    from sklearn.linear_model import LinearRegression

    X, _ = numeric_data(7)
    return LinearRegression().fit(X, X["a"] * 2.0 + X["d"])


# ------------------------------------------------------------------------ custom models


def python_model(tmp_path: Path, source: str, *, name: str = "custom", **save: Any) -> Path:
    """Save a PythonModel class defined in `source` (module `<name>_impl`) by reference."""
    from slipway.models.flavors.python_model import save_model

    module = f"{name}_impl"
    code = tmp_path / f"{module}.py"
    code.write_text(textwrap.dedent(source))
    target = tmp_path / name
    sys.path.insert(0, str(tmp_path))
    try:
        save_model(str(target), f"{module}:Model", code_paths=[str(code)], **save)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop(module, None)
    return target


@dataclass
class Registry:
    tracking_uri: str
    root: Path
    models: dict[str, Any]  # "<name>/<version>" -> fitted estimator
    local_dirs: dict[str, Path]  # "<name>/<version>" -> the saved model folder
    proxied: bool = False  # artifacts go through a server's proxy (it picks the location)

    def client(self):
        from slipway import Client

        return Client(self.tracking_uri)

    def register(
        self, name: str, estimator: Any, example: pd.DataFrame, *, corrupt: bool = False
    ) -> str:
        """Save `estimator` as a model of a new run and register it; returns the version."""
        import slipway.sklearn

        client = self.client()
        try:
            experiment = client.get_experiment_by_name("serving-tests")
            experiment_id = (
                experiment.experiment_id
                if experiment is not None
                else client.create_experiment(
                    "serving-tests",
                    artifact_location=None if self.proxied else str(self.root / "artifacts"),
                )
            )
            run_id = client.create_run(experiment_id).info.run_id
            folder = self.root / "saved" / f"{name}-{run_id}"
            slipway.sklearn.save_model(estimator, str(folder), input_example=example.iloc[:3])
            if corrupt:
                (folder / "model.skops").write_bytes(b"this is not a skops file")
            client.log_artifacts(run_id, folder, "model")
            client.set_terminated(run_id)
            if not client.search_registered_models(f"name = '{name}'").items:
                client.create_registered_model(name)
            version = str(
                client.create_model_version(name, f"runs:/{run_id}/model", run_id).version
            )
        finally:
            client.close()
        self.models[f"{name}/{version}"] = estimator
        self.local_dirs[f"{name}/{version}"] = folder
        return version

    def set_alias(self, name: str, alias: str, version: str) -> None:
        client = self.client()
        try:
            client.set_registered_model_alias(name, alias, version)
        finally:
            client.close()


# ------------------------------------------------------------------------ in-process servers


@dataclass
class Served:
    url: str
    app: Any
    http: httpx.Client


@contextmanager
def running_server(config: Any, *, wait_ready: bool = True) -> Iterator[Served]:
    """`slipway serve` in a thread of the test process, on a free port."""
    from slipway.serving.app import serve_in_thread

    with (
        serve_in_thread(config, wait_ready=wait_ready) as (url, app),
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        yield Served(url, app, http)
