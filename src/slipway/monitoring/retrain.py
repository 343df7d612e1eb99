"""The retraining loop: an alert runs the retrain action, its new version becomes
`@challenger`, challenger and champion are scored on the latest labelled window, and the
registry's quality gates decide whether the challenger becomes `@champion` (at once, or
when a person approves it with `slipway models approve`).

The action is a shell command or a Python entry point `module:function`; it gets
`SLIPWAY_MONITOR`, `SLIPWAY_MODEL_NAME`, `SLIPWAY_WINDOW_START`, `SLIPWAY_WINDOW_END` (ISO
8601, UTC) and `SLIPWAY_TRACKING_URI` in its environment and must register a new version
of the model. Both versions' scores on the window are logged to their runs as
`monitor.<monitor>.<metric>`, and promotion goes through `promote(...,
must_beat=["champion:monitor.<monitor>.<metric>"])`, so the gate, the alias move and their
audit events happen in one transaction. A failed or worse retrain leaves the champion
serving, is recorded, and waits out the retrain cooldown before another try.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import subprocess
import threading
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from slipway.config import current_user
from slipway.entities import Metric, MonitorWindow, now_ms
from slipway.errors import GateFailed
from slipway.monitoring.evaluation import INPUT_PREFIX
from slipway.monitoring.performance import LOWER_IS_BETTER, measure
from slipway.monitoring.spec import ENTRY_POINT_RE, MonitorSpec
from slipway.monitoring.state import save_state
from slipway.serving.export import iter_predictions
from slipway.store.interface import MonitorStore
from slipway.tracking.client import Client

CHALLENGER = "challenger"
_ENV_LOCK = threading.Lock()


def should_retrain(spec: MonitorSpec, state: dict[str, Any], fired: list[str]) -> bool:
    """A new alert on a retrain condition, no retrain running or waiting for approval, and
    the cooldown over. A `retraining` mark older than the retrain timeout is stale (its
    process died)."""
    if not spec.retrain or not fired:
        return False
    if not any(name.split(":")[0] in spec.retrain_on for name in fired):
        return False
    if state.get("pending_approval"):
        return False
    running = state.get("retraining")
    if running and now_ms() - running.get("started", 0) < spec.retrain_timeout_s * 1000:
        return False
    last = state.get("last_retrain")
    return last is None or now_ms() - last >= spec.retrain_cooldown_s * 1000


def retrain(
    client: Client,
    store: MonitorStore,
    monitor_name: str,
    spec: MonitorSpec,
    state: dict[str, Any],
    window: MonitorWindow,
) -> dict[str, Any]:
    """Run the action, make its version the challenger, compare, promote or wait.

    The caller records `last_retrain` (the cooldown) before; `state` gets what has to be
    kept (`pending_approval`)."""
    before = _latest_version(client, spec.model)
    env = {
        "SLIPWAY_MONITOR": monitor_name,
        "SLIPWAY_MODEL_NAME": spec.model,
        "SLIPWAY_WINDOW_START": _iso(window.window_start),
        "SLIPWAY_WINDOW_END": _iso(window.window_end),
        "SLIPWAY_TRACKING_URI": client.tracking_uri,
    }
    store.append_monitor_event(monitor_name, "retrain_started", None, spec.retrain, env)
    error = _run_action(spec, env)
    after = _latest_version(client, spec.model)
    if error is None and after <= before:
        error = "the retrain action registered no new version of the model"
    if error is not None:
        store.append_monitor_event(monitor_name, "retrain_failed", None, error)
        client.record_model_event(spec.model, "retrain_failed", None, reason=error[:2000])
        return {"outcome": "failed", "error": error}
    challenger = after
    client.set_registered_model_alias(spec.model, CHALLENGER, challenger)
    return compare_and_promote(client, store, monitor_name, spec, state, challenger)


def compare_and_promote(
    client: Client,
    store: MonitorStore,
    monitor_name: str,
    spec: MonitorSpec,
    state: dict[str, Any],
    challenger: int,
) -> dict[str, Any]:
    """Score challenger and champion on the latest labelled window; gate; promote or wait."""
    alias = spec.alias or "champion"
    champion = client.get_model_version_by_alias(spec.model, alias).version
    metric = spec.rules[0].metric if spec.rules else None
    scored = _score_on_latest_window(client, store, monitor_name, spec, [champion, challenger])
    if scored is None:
        message = "no labelled window to compare challenger and champion on"
        store.append_monitor_event(monitor_name, "challenger_refused", None, message)
        return {"outcome": "refused", "challenger": challenger, "error": message}
    scores, window, rows = scored
    metric = metric or ("f1" if "f1" in scores[champion] else next(iter(scores[champion])))
    key = f"monitor.{monitor_name}.{metric}"
    for version in (champion, challenger):
        run_id = client.get_model_version(spec.model, version).run_id
        value = scores[version].get(metric)
        if run_id and value is not None:
            client.log_batch(run_id, metrics=[Metric(key, float(value), now_ms(), 0)])
    gate = [f"{alias}:{key}" + (":lower" if metric in LOWER_IS_BETTER else "")]
    details = {
        "champion": champion,
        "challenger": challenger,
        "metric": metric,
        "champion_score": scores[champion].get(metric),
        "challenger_score": scores[challenger].get(metric),
        "window_start": window.window_start,
        "rows": rows,
    }
    reason = (
        f"monitor {monitor_name}: challenger v{challenger} {metric}="
        f"{details['challenger_score']} vs champion v{champion} {details['champion_score']} "
        f"on {rows} labelled rows"
    )
    if spec.promote == "approval" or spec.promote == "none":
        check = client.promote(spec.model, challenger, alias=alias, must_beat=gate, dry_run=True)
        if not check.passed:
            return _refused(client, store, monitor_name, spec, challenger, reason, details)
        if spec.promote == "none":
            store.append_monitor_event(monitor_name, "challenger_ready", None, reason, details)
            return {"outcome": "ready", "challenger": challenger, **details}
        state["pending_approval"] = {"version": challenger, "gate": gate, "reason": reason}
        store.append_monitor_event(monitor_name, "awaiting_approval", None, reason, details)
        client.record_model_event(spec.model, "awaiting_approval", challenger, reason=reason)
        return {"outcome": "awaiting_approval", "challenger": challenger, **details}
    try:
        client.promote(spec.model, challenger, alias=alias, must_beat=gate, reason=reason)
    except GateFailed:
        return _refused(client, store, monitor_name, spec, challenger, reason, details)
    store.append_monitor_event(monitor_name, "promoted", None, reason, details)
    return {"outcome": "promoted", "challenger": challenger, **details}


def _refused(
    client: Client,
    store: MonitorStore,
    monitor_name: str,
    spec: MonitorSpec,
    challenger: int,
    reason: str,
    details: dict[str, Any],
) -> dict[str, Any]:
    store.append_monitor_event(monitor_name, "challenger_refused", None, reason, details)
    client.record_model_event(spec.model, "challenger_refused", challenger, reason=reason)
    return {"outcome": "refused", "challenger": challenger, **details}


def _score_on_latest_window(
    client: Client,
    store: MonitorStore,
    monitor_name: str,
    spec: MonitorSpec,
    versions: list[int],
) -> tuple[dict[int, dict[str, float]], MonitorWindow, int] | None:
    for window in reversed(store.get_monitor_windows(monitor_name, limit=50)):
        if window.labelled_rows < spec.min_labels:
            continue
        table = _labelled_rows(spec, window, client.tracking_uri)
        if table is None:
            continue
        if table.num_rows < spec.min_labels:
            continue
        inputs = [n for n in table.column_names if n.startswith(INPUT_PREFIX)]
        X = table.select(inputs).rename_columns([n[len(INPUT_PREFIX) :] for n in inputs])
        frame = X.to_pandas()
        labels = table.column("label").to_numpy(zero_copy_only=False)
        scores = {}
        for version in versions:
            predictions = _predict(client, spec.model, version, frame)
            scores[version] = measure(labels, predictions, positive_label=spec.positive_label)[
                "metrics"
            ]
        return scores, window, table.num_rows
    return None


def _labelled_rows(spec: MonitorSpec, window: MonitorWindow, tracking_uri: str) -> pa.Table | None:
    """The window's labelled rows (inputs and label), or None when nothing is labelled."""
    parts = []
    for batch in iter_predictions(
        spec.model,
        None,
        since=window.window_start,
        until=window.window_end,
        root=spec.prediction_log,
        with_labels=True,
        tracking_uri=tracking_uri,
    ):
        if "label" in batch.column_names:
            parts.append(batch.filter(pc.is_valid(batch.column("label"))))
    return pa.concat_tables(parts) if parts else None


def _predict(client: Client, model: str, version: int, frame: Any) -> np.ndarray:
    from slipway.models.pyfunc import load_model

    local = client.download_model(f"models:/{model}/{version}")
    output = load_model(local).predict(frame)
    if isinstance(output, dict):
        output = output.get("prediction", output.get("predictions"))
    if hasattr(output, "to_numpy"):
        output = output.to_numpy()
    array = np.asarray(output)
    return array[:, 0] if array.ndim == 2 else array


def approve_challenger(
    name: str,
    version: int | str,
    reason: str | None = None,
    *,
    client: Client | None = None,
    store: MonitorStore | None = None,
) -> dict[str, Any]:
    """The human gate: promote a challenger that waits for approval (gates re-checked).

    Who approved and why go to the audit trail (`approved`, then the alias move).
    """
    from slipway.store.factory import open_monitor_store

    client = client or Client()
    store = store or open_monitor_store(client.tracking_uri, tracking_store=client.store)
    version = int(version)
    who = current_user()
    waiting = [
        m
        for m in store.list_monitors()
        if m.model_name == name
        and (m.state.get("pending_approval") or {}).get("version") == version
    ]
    gate = waiting[0].state["pending_approval"]["gate"] if waiting else []
    alias = MonitorSpec.from_dict(waiting[0].spec).alias if waiting else "champion"
    text = f"approved by {who}" + (f": {reason}" if reason else "")
    client.record_model_event(name, "approved", version, reason=text)
    result = client.promote(name, version, alias=alias or "champion", must_beat=gate, reason=text)
    for monitor in waiting:
        save_state(store, monitor.name, {"pending_approval": True}, {})
        store.append_monitor_event(
            monitor.name, "promoted", None, text, {"challenger": version, "approved_by": who}
        )
    return {"version": version, "alias": alias, "approved_by": who, "passed": result.passed}


def _run_action(spec: MonitorSpec, env: dict[str, str]) -> str | None:
    """Run the retrain action; the error text, or None when it succeeded."""
    action = str(spec.retrain).strip()
    if ENTRY_POINT_RE.match(action):
        module_name, function_name = action.split(":")
        with _ENV_LOCK:
            saved = {k: os.environ.get(k) for k in env}
            os.environ.update(env)
            try:
                getattr(importlib.import_module(module_name), function_name)()
            except Exception as exc:
                return f"{action} raised {type(exc).__name__}: {exc}"
            finally:
                for key, value in saved.items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value
        return None
    try:
        done = subprocess.run(
            action,
            shell=True,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=spec.retrain_timeout_s,
        )
    except subprocess.TimeoutExpired:
        return f"{action!r} did not finish within {spec.retrain_timeout_s}s"
    if done.returncode != 0:
        tail = (done.stderr or done.stdout or "").strip()[-1500:]
        return f"{action!r} exited with status {done.returncode}: {tail}"
    return None


def _latest_version(client: Client, model: str) -> int:
    versions = client.search_model_versions(f"name = '{model}'").items
    return max((int(v.version) for v in versions), default=0)


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat().replace("+00:00", "Z")


__all__ = ["CHALLENGER", "approve_challenger", "compare_and_promote", "retrain", "should_retrain"]
