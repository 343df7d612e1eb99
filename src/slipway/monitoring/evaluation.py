"""Evaluate one window of a monitor: the prediction log against the model's reference.

A window's rows are read from the prediction log (every version the alias served in it),
with the labels that have arrived; a shadow's answers (`shadow` rows: copies of requests
that no client received) are left out. Too few rows and the window is `not_enough_data`:
stored, never alerted on. Otherwise the inputs and predictions are tested for drift
against the reference profile of the version the monitor watches (with data quality),
the labelled rows are scored (`performance`), and a classifier that logs probabilities
gets an estimate from CBPE when labelled reference predictions were logged.

The outcome is one `MonitorWindow`: `metrics` holds the flat numbers charted over time,
`result` the details.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from slipway.entities import MonitorWindow, now_ms
from slipway.errors import SlipwayError
from slipway.monitoring.detection import detect_drift
from slipway.monitoring.estimation import CBPE
from slipway.monitoring.performance import measure
from slipway.monitoring.profile import Profile
from slipway.monitoring.reference import load_performance_reference, load_reference
from slipway.monitoring.spec import MonitorSpec
from slipway.serving.export import iter_predictions, read_labels
from slipway.tracking.client import Client

INPUT_PREFIX = "input."
_OUTPUT_COLUMNS = frozenset({"prediction", "label", "model_version"})
_BATCH_ROWS = 131_072
PROBABILITY_PREFIX = "probability."
_REFERENCE_METRIC_PREFIXES = ("", "val_", "validation_", "test_", "eval_")


@dataclass
class Reference:
    """What a model version is compared with (cached per version: it does not change)."""

    version: int
    profile: Profile | None
    cbpe: CBPE | None
    classes: list[Any]
    metrics: dict[str, float]


_CACHE: dict[tuple[str, str, int], Reference] = {}
_CACHE_LOCK = threading.Lock()


def reference_for(client: Client, model: str, version: int) -> Reference:
    """The version's reference profile, labelled reference (CBPE) and reference metrics."""
    key = (client.tracking_uri, model, int(version))
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
    uri = f"models:/{model}/{version}"
    try:
        profile: Profile | None = load_reference(uri, client)
    except (SlipwayError, OSError, FileNotFoundError):
        profile = None
    cbpe, classes, metrics = None, [], {}
    labelled = load_performance_reference(uri, client)
    if labelled is not None:
        table, classes = labelled
        probs = np.column_stack(
            [table.column(f"{PROBABILITY_PREFIX}{c}").to_numpy() for c in classes]
        )
        y = table.column("target").to_numpy(zero_copy_only=False)
        pred = table.column("prediction").to_numpy(zero_copy_only=False)
        metrics = measure(y, pred, probs, classes)["metrics"]
        if len(classes) >= 2:
            cbpe = CBPE.fit(y, probs, classes)
    mv = client.get_model_version(model, version)
    if mv.run_id:
        run_metrics = client.get_run(mv.run_id).data.metrics
        for name in ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"):
            for prefix in _REFERENCE_METRIC_PREFIXES:
                if name not in metrics and f"{prefix}{name}" in run_metrics:
                    metrics[name] = float(run_metrics[f"{prefix}{name}"])
        for name in ("mae", "rmse", "r2"):
            for prefix in _REFERENCE_METRIC_PREFIXES:
                if name not in metrics and f"{prefix}{name}" in run_metrics:
                    metrics[name] = float(run_metrics[f"{prefix}{name}"])
    ref = Reference(int(version), profile, cbpe, list(classes), metrics)
    with _CACHE_LOCK:
        _CACHE[key] = ref
    return ref


@dataclass
class WindowData:
    """A window read from the log: every row's outputs and labels, a sample of its inputs.

    `outputs` holds `prediction`, `probability.*`, `label` and `model_version` of every
    row; `inputs` the `input.*` columns and `prediction` of at most the monitor's
    `sample_rows` rows, drawn uniformly at random (seeded: re-running a window draws the
    same rows), which is what the drift tests and quality checks see.
    """

    outputs: pa.Table
    inputs: pa.Table

    @property
    def rows(self) -> int:
        return self.outputs.num_rows

    @property
    def sampled(self) -> bool:
        return self.inputs.num_rows < self.outputs.num_rows


def read_window(spec: MonitorSpec, start: int, end: int, tracking_uri: str) -> WindowData:
    """The window's logged rows with their labels, all versions, streamed batch by batch.

    The sample of inputs is drawn on the way: the window's row count comes first (its
    timestamps alone), so each row can be kept or dropped as it streams past, against a
    fixed bar that lets through a little more than `sample_rows`; the surplus (the rows
    with the largest random keys) is cut once at the end.
    """
    log = {
        "since": start,
        "until": end,
        "root": spec.prediction_log,
        "batch_rows": _BATCH_ROWS,
        "tracking_uri": tracking_uri,
        "include_shadow": False,  # a shadow's answers to copies were served to no one
    }
    limit = spec.sample_rows or None
    bar = np.inf
    if limit is not None:
        total = sum(
            b.num_rows
            for b in iter_predictions(spec.model, None, with_labels=False, columns=[], **log)
        )
        if total > limit:  # the bar's expected catch is four standard deviations above limit
            bar = min(1.0, (limit + 4.0 * np.sqrt(limit)) / total)
    rng = np.random.default_rng(start % 2**32)
    outputs: list[pa.Table] = []
    kept: list[pa.Table] = []
    keys: list[np.ndarray] = []
    for batch in iter_predictions(spec.model, None, with_labels=False, **log):
        names = batch.column_names
        small = [n for n in names if n in _OUTPUT_COLUMNS or n.startswith(PROBABILITY_PREFIX)]
        outputs.append(batch.select(["request_id", *(n for n in small if n != "label")]))
        inputs = batch.select([n for n in names if n.startswith(INPUT_PREFIX) or n == "prediction"])
        key = rng.random(batch.num_rows)
        if np.isfinite(bar):
            mask = key < bar
            inputs, key = inputs.filter(pa.array(mask)), key[mask]
        kept.append(inputs)
        keys.append(key)
    if not outputs:
        empty = pa.table({})
        return WindowData(empty, empty)
    sample = pa.concat_tables(kept)
    if limit is not None and sample.num_rows > limit:
        every = np.concatenate(keys)
        sample = sample.take(np.sort(np.argpartition(every, limit)[:limit]))
    return WindowData(_with_labels(pa.concat_tables(outputs), start, log), sample)


def _with_labels(outputs: pa.Table, start: int, log: dict[str, Any]) -> pa.Table:
    """The latest label of each row (null when none came), joined once for the window."""
    labels = read_labels(since=start, root=log["root"], tracking_uri=log["tracking_uri"])
    ids = outputs.column("request_id")
    outputs = outputs.drop_columns(["request_id"])
    if labels.num_rows == 0:
        return outputs
    index = pc.index_in(ids, value_set=labels.column("request_id"))
    return outputs.append_column("label", labels.column("label").take(index))


def evaluate_window(
    monitor_name: str,
    spec: MonitorSpec,
    data: WindowData,
    start: int,
    end: int,
    reference: Reference | None,
) -> MonitorWindow:
    """The window's drift, quality and performance (see the module docstring)."""
    table = data.outputs
    rows = table.num_rows
    labelled = _labelled_mask(table)
    labelled_rows = int(labelled.sum()) if labelled is not None else 0
    versions = _versions(table)
    base = {
        "monitor_name": monitor_name,
        "window_start": start,
        "window_end": end,
        "rows": rows,
        "labelled_rows": labelled_rows,
        "model_version": None if reference is None else reference.version,
        "evaluated_time": now_ms(),
    }
    if rows < spec.min_rows:
        return MonitorWindow(
            status="not_enough_data",
            metrics={"rows": rows, "labelled_rows": labelled_rows},
            result={"reason": f"{rows} rows, fewer than the minimum {spec.min_rows}"},
            **base,
        )
    metrics: dict[str, Any] = {"rows": rows, "labelled_rows": labelled_rows}
    result: dict[str, Any] = {"versions": versions}
    status = "ok"

    if reference is not None and reference.profile is not None:
        drift = _drift(spec, data.inputs, reference.profile)
        result["drift"] = drift.to_dict()
        result["drift_rows"] = data.inputs.num_rows
        metrics["drift_share"] = drift.share_drifted
        metrics["dataset_drift"] = int(drift.dataset_drift)
        for col in drift.columns.values():
            if col.tested:
                metrics[f"column.{col.name}.statistic"] = col.statistic
                metrics[f"column.{col.name}.drifted"] = int(col.drifted)
        errors = [f for f in drift.quality.findings if f.severity == "error"]
        metrics["quality_errors"] = len(errors)
        metrics["quality_findings"] = len(drift.quality.findings)
        if drift.dataset_drift:
            status = "drift"
    else:
        result["drift"] = None
        result["note"] = "no reference profile logged with the model version: drift not tested"
        status = "no_reference"

    classes = [] if reference is None else reference.classes
    probs, prob_classes = _probabilities(table, classes)
    predictions = _column(table, "prediction")
    if predictions is not None and labelled is not None and labelled_rows:
        labels = _column(table, "label")[labelled]
        perf = measure(
            labels,
            predictions[labelled],
            None if probs is None else probs[labelled],
            prob_classes,
            positive_label=spec.positive_label,
        )
        result["performance"] = perf
        for name, value in perf["metrics"].items():
            metrics[f"performance.{name}"] = value
    cbpe = None if reference is None else reference.cbpe
    if cbpe is not None and probs is not None and len(prob_classes) == len(cbpe.classes):
        estimate = cbpe.estimate(probs, predictions)
        result["estimated_performance"] = estimate
        for name, band in estimate.items():
            metrics[f"estimated.{name}"] = band["value"]
            metrics[f"estimated.{name}.lower"] = band["lower"]
            metrics[f"estimated.{name}.upper"] = band["upper"]
    if reference is not None:
        for name, value in reference.metrics.items():
            metrics[f"reference.{name}"] = value

    checks = []
    for rule in spec.rules:
        ref_value = None if reference is None else reference.metrics.get(rule.metric)
        measured = metrics.get(f"performance.{rule.metric}")
        enough = labelled_rows >= spec.min_labels
        estimated = metrics.get(f"estimated.{rule.metric}")
        check = {
            "rule": rule.text,
            "reference": ref_value,
            "measured": measured if enough else None,
            "measured_rows": labelled_rows,
            "estimated": estimated,
            "breached": enough and rule.breached(ref_value, measured),
            "estimated_breached": rule.breached(ref_value, estimated),
        }
        checks.append(check)
        if check["breached"]:
            status = "concept_drift"
    result["rules"] = checks
    return MonitorWindow(status=status, metrics=_finite(metrics), result=result, **base)


def _drift(spec: MonitorSpec, table: pa.Table, profile: Profile) -> Any:
    names = {}
    for name in table.column_names:
        if name.startswith(INPUT_PREFIX):
            names[name] = name[len(INPUT_PREFIX) :]
        elif name == "prediction":
            names[name] = "prediction"
    wanted = [n for n in names if names[n] in profile.columns]
    if spec.columns:
        wanted = [n for n in wanted if names[n] in spec.columns or names[n] == "prediction"]
    current = table.select(wanted).rename_columns([names[n] for n in wanted])
    return detect_drift(
        profile,
        current,
        columns=current.column_names,
        tests=spec.tests or None,
        thresholds=spec.thresholds or None,
        drift_share=spec.drift_share,
    )


def _labelled_mask(table: pa.Table) -> np.ndarray | None:
    if "label" not in table.column_names:
        return None
    return pc.is_valid(table.column("label")).to_numpy(zero_copy_only=False)


def _column(table: pa.Table, name: str) -> np.ndarray | None:
    if name not in table.column_names:
        return None
    return table.column(name).to_numpy(zero_copy_only=False)


def _probabilities(table: pa.Table, classes: list[Any]) -> tuple[np.ndarray | None, list[Any]]:
    names = [n for n in table.column_names if n.startswith(PROBABILITY_PREFIX)]
    if not names:
        return None, []
    suffixes = [n[len(PROBABILITY_PREFIX) :] for n in names]
    by_name = {str(c): f"{PROBABILITY_PREFIX}{c}" for c in classes}
    if classes and all(str(c) in suffixes for c in classes):
        ordered = [by_name[str(c)] for c in classes]
    else:  # logged by position (probability.0, .1, ...): the classes' order
        ordered = sorted(names, key=lambda n: _sort_key(n[len(PROBABILITY_PREFIX) :]))
        if len(ordered) != len(classes):
            classes = [n[len(PROBABILITY_PREFIX) :] for n in ordered]
    probs = np.column_stack(
        [table.column(n).to_numpy(zero_copy_only=False).astype(float) for n in ordered]
    )
    return probs, list(classes)


def _sort_key(text: str) -> tuple[int, Any]:
    return (0, int(text)) if text.isdigit() else (1, text)


def _versions(table: pa.Table) -> dict[str, int]:
    if "model_version" not in table.column_names or table.num_rows == 0:
        return {}
    counts = pc.value_counts(table.column("model_version")).to_pylist()
    return {str(c["values"]): int(c["counts"]) for c in counts}


def _finite(metrics: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in metrics.items():
        if isinstance(v, float | np.floating) and not np.isfinite(v):
            continue
        out[k] = v.item() if hasattr(v, "item") else v
    return out


__all__ = ["Reference", "evaluate_window", "read_window", "reference_for"]
