"""Reference profiles as run artifacts: log one with the training run, find it from a model.

`log_reference(X, y, predictions, run_id=...)` profiles the training data (with `target`
and `prediction` columns when given) and stores it as `reference/profile.profile` among
the run's artifacts; `load_reference("models:/churn@champion")` (or a run id, or
`runs:/<id>`) follows the model version to its run and reads the profile back.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from slipway.entities import ModelUri
from slipway.errors import InvalidParameterValue
from slipway.monitoring.profile import DEFAULT_SAMPLE_SIZE, Profile, load_profile, profile
from slipway.monitoring.reading import open_table
from slipway.registry.uri import resolve_model_version
from slipway.tracking.client import Client

ARTIFACT_DIR = "reference"
ARTIFACT_FILE = "profile.profile"
ARTIFACT_PATH = f"{ARTIFACT_DIR}/{ARTIFACT_FILE}"
# Labelled reference predictions (target, prediction, probability.<class>): what the
# performance rules compare with and what CBPE calibrates on.
PERFORMANCE_FILE = "performance.parquet"
PERFORMANCE_PATH = f"{ARTIFACT_DIR}/{PERFORMANCE_FILE}"


def log_reference(
    X: Any,
    y: Any = None,
    predictions: Any = None,
    run_id: str | None = None,
    client: Client | None = None,
    *,
    probabilities: Any = None,
    classes: Any = None,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
) -> Profile:
    """Profile `X` (+ `target`, `prediction`) and store it as the run's reference profile.

    With `y`, `predictions` and `probabilities` (one column per class: a DataFrame's
    columns name the classes, else `classes`, else the sorted labels) the labelled
    predictions are stored too, for performance monitoring and its estimation (CBPE).
    """
    if not run_id:
        raise InvalidParameterValue("log_reference needs the run_id of the run to log to.")
    table = open_table(X, "reference").read(open_table(X).column_names)
    for name, extra in (("target", y), ("prediction", predictions)):
        if extra is None:
            continue
        if name in table.column_names:
            raise InvalidParameterValue(f"X already has a column named {name!r}.")
        values = pa.array(extra.to_numpy() if hasattr(extra, "to_numpy") else extra)
        if len(values) != table.num_rows:
            raise InvalidParameterValue(
                f"{name} has {len(values)} values; X has {table.num_rows} rows."
            )
        table = table.append_column(name, values)
    built = profile(table, sample_size=sample_size)
    built.source = f"runs:/{run_id}/{ARTIFACT_PATH}"
    client = client or Client()
    with tempfile.TemporaryDirectory(prefix="slipway-reference-") as tmp:
        local = Path(tmp) / ARTIFACT_FILE
        built.save(str(local))
        client.log_artifact(run_id, local, ARTIFACT_DIR)
        if probabilities is not None and y is not None and predictions is not None:
            scored = Path(tmp) / PERFORMANCE_FILE
            pq.write_table(_labelled(y, predictions, probabilities, classes), str(scored))
            client.log_artifact(run_id, scored, ARTIFACT_DIR)
    return built


def _labelled(y: Any, predictions: Any, probabilities: Any, classes: Any) -> pa.Table:
    import numpy as np

    labels = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y)
    if classes is None and hasattr(probabilities, "columns"):
        classes = list(probabilities.columns)
    probs = np.asarray(probabilities, dtype=float)
    if classes is None:
        classes = sorted(np.unique(labels).tolist())
    if probs.ndim != 2 or probs.shape[1] != len(classes) or len(probs) != len(labels):
        raise InvalidParameterValue(
            "probabilities need one row per label and one column per class "
            f"({len(classes)} classes: {list(classes)[:10]})."
        )
    columns = {
        "target": pa.array(labels),
        "prediction": pa.array(np.asarray(predictions)),
        **{f"probability.{c}": pa.array(probs[:, j]) for j, c in enumerate(classes)},
    }
    table = pa.table(columns)
    meta = {b"slipway.classes": json.dumps([_plain(c) for c in classes]).encode()}
    return table.replace_schema_metadata(meta)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def load_performance_reference(
    model_uri_or_run_id: str, client: Client | None = None
) -> tuple[pa.Table, list[Any]] | None:
    """The labelled reference predictions logged with a run and their classes, or None."""
    client = client or Client()
    run_id = _run_id(model_uri_or_run_id, client)
    with tempfile.TemporaryDirectory(prefix="slipway-reference-") as tmp:
        try:
            local = client.download_artifacts(run_id, PERFORMANCE_PATH, tmp)
        except Exception:  # not logged (older runs, regressors): no labelled reference
            return None
        table = pq.read_table(local)
    meta = table.schema.metadata or {}
    classes = json.loads(meta.get(b"slipway.classes", b"[]"))
    return table, classes


def load_reference(model_uri_or_run_id: str, client: Client | None = None) -> Profile:
    """The reference profile logged with a run, found by run id, runs:/ or models:/ URI."""
    client = client or Client()
    run_id = _run_id(model_uri_or_run_id, client)
    with tempfile.TemporaryDirectory(prefix="slipway-reference-") as tmp:
        local = client.download_artifacts(run_id, ARTIFACT_PATH, tmp)
        return load_profile(local)


def _run_id(ref: str, client: Client) -> str:
    if ref.startswith("models:/"):
        uri = ModelUri.parse(ref)
        if uri.model_id is not None:
            run_id = client.get_logged_model(uri.model_id).source_run_id
        else:
            run_id = resolve_model_version(client.registry_store, uri).run_id
        if not run_id:
            raise InvalidParameterValue(f"{ref} has no run, so no reference profile.")
        return run_id
    if ref.startswith("runs:/"):
        return ref[len("runs:/") :].strip("/").split("/")[0]
    return ref


__all__ = [
    "ARTIFACT_PATH",
    "PERFORMANCE_PATH",
    "load_performance_reference",
    "load_reference",
    "log_reference",
]
