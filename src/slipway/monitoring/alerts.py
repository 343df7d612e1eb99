"""Alerts: which conditions a window raises, one alert per condition until it clears, and
delivery to log, webhook (plain JSON or Slack-style) and the model's audit trail.

Conditions: `dataset_drift`, `column_drift:<column>` (for the columns the monitor names),
`data_quality` (error findings), `performance:<metric>` (measured drop past a rule),
`estimated_performance:<metric>` (CBPE's estimate past it), `error_rate` and `latency`
(from the serving URL's `/metrics`, when configured). A condition that fires alerts once
and stays active; when a later window clears it, it is re-armed (`alert_cleared`). A
condition that fires again within the cooldown after its last alert is recorded as
`alert_suppressed` instead. Windows with too few rows neither fire nor clear anything.

Delivery runs in a background thread per alert: each target is tried a few times with
backoff and short timeouts; every outcome is a monitor event (`alert_delivered`,
`delivery_failed`), so evaluation never waits on a slow or dead receiver.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from slipway.entities import MonitorWindow, now_ms
from slipway.monitoring.spec import MonitorSpec, target_text
from slipway.store.interface import MonitorStore

logger = logging.getLogger("slipway.monitoring.alerts")

DELIVERY_ATTEMPTS = 3
DELIVERY_TIMEOUT_S = 2.0
DELIVERY_BACKOFF_S = 0.2
_threads: list[threading.Thread] = []
_threads_lock = threading.Lock()


@dataclass
class Condition:
    """One alert condition as a window judged it: firing or not, and why."""

    name: str
    firing: bool
    message: str
    details: dict[str, Any] = field(default_factory=dict)


def conditions(
    spec: MonitorSpec, window: MonitorWindow, serving: dict[str, float] | None = None
) -> list[Condition]:
    """Every condition this window can judge (none when it had too few rows)."""
    if window.status == "not_enough_data":
        return []
    m, out = window.metrics, []
    if "dataset_drift" in m:
        share = m.get("drift_share", 0.0)
        out.append(
            Condition(
                "dataset_drift",
                bool(m["dataset_drift"]),
                f"{share:.0%} of the columns drifted (threshold {spec.drift_share:.0%})",
                {"drift_share": share},
            )
        )
    for column in spec.alert_columns:
        key = f"column.{column}.drifted"
        if key in m:
            out.append(Condition(f"column_drift:{column}", bool(m[key]), f"{column} drifted"))
    if spec.alert_on_quality and "quality_errors" in m:
        n = int(m["quality_errors"])
        out.append(Condition("data_quality", n > 0, f"{n} data-quality error(s)"))
    for check in window.result.get("rules", []):
        metric = check["rule"].split()[0]
        if check.get("measured") is not None:
            out.append(
                Condition(
                    f"performance:{metric}",
                    bool(check["breached"]),
                    f"{metric} {check['measured']:.4g} on {check['measured_rows']} labelled "
                    f"rows vs reference {check['reference']} ({check['rule']})",
                    check,
                )
            )
        if check.get("estimated") is not None:
            out.append(
                Condition(
                    f"estimated_performance:{metric}",
                    bool(check["estimated_breached"]),
                    f"estimated {metric} {check['estimated']:.4g} vs reference "
                    f"{check['reference']} ({check['rule']})",
                    check,
                )
            )
    if serving:
        if spec.max_error_rate is not None and "error_rate" in serving:
            rate = serving["error_rate"]
            out.append(
                Condition("error_rate", rate > spec.max_error_rate, f"error rate {rate:.2%}")
            )
        if spec.max_latency_s is not None and "latency_s" in serving:
            mean = serving["latency_s"]
            out.append(Condition("latency", mean > spec.max_latency_s, f"mean latency {mean:.3f}s"))
    return out


def serving_health(url: str) -> dict[str, float]:
    """Error rate and mean latency from a `slipway serve` `/metrics` page (empty if down)."""
    try:
        text = httpx.get(url.rstrip("/") + "/metrics", timeout=DELIVERY_TIMEOUT_S).text
    except httpx.HTTPError:
        return {}
    totals: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        metric = name.split("{", 1)[0]
        try:
            totals[metric] = totals.get(metric, 0.0) + float(value)
        except ValueError:
            continue
    out = {}
    requests = totals.get("slipway_serving_requests_total", 0.0)
    if requests:
        out["error_rate"] = totals.get("slipway_serving_errors_total", 0.0) / requests
    count = totals.get("slipway_serving_request_duration_seconds_count", 0.0)
    if count:
        out["latency_s"] = totals.get("slipway_serving_request_duration_seconds_sum", 0.0) / count
    return out


def update_alerts(
    store: MonitorStore,
    monitor_name: str,
    spec: MonitorSpec,
    state: dict[str, Any],
    window: MonitorWindow,
    judged: list[Condition],
    *,
    registry: Any = None,
) -> list[Condition]:
    """Apply dedup and cooldown to `judged`; returns the conditions that alerted now.

    `state["alerts"]` is updated in place (the caller stores it); new alerts are handed to
    background delivery.
    """
    alerts: dict[str, Any] = state.setdefault("alerts", {})
    now = now_ms()
    fired = []
    for cond in judged:
        entry = alerts.setdefault(cond.name, {"active": False, "last_alert": None})
        if not cond.firing:
            if entry["active"]:
                entry["active"] = False
                entry["cleared"] = now
                store.append_monitor_event(monitor_name, "alert_cleared", cond.name, cond.message)
            continue
        if entry["active"]:
            continue  # still the same alert: already sent
        entry["active"] = True
        entry["since"] = now
        last = entry.get("last_alert")
        if last is not None and now - last < spec.cooldown_s * 1000:
            store.append_monitor_event(
                monitor_name, "alert_suppressed", cond.name, f"cooldown: {cond.message}"
            )
            continue
        entry["last_alert"] = now
        details = {
            "window_start": window.window_start,
            "window_end": window.window_end,
            "model_version": window.model_version,
            **_plain(cond.details),
        }
        store.append_monitor_event(monitor_name, "alert", cond.name, cond.message, details)
        fired.append(cond)
        payload = {
            "monitor": monitor_name,
            "model": spec.model,
            "model_version": window.model_version,
            "condition": cond.name,
            "message": cond.message,
            "window_start": window.window_start,
            "window_end": window.window_end,
            "status": window.status,
            "details": details,
        }
        deliver(store, monitor_name, spec.alerts, payload, registry=registry)
    return fired


def deliver(
    store: MonitorStore,
    monitor_name: str,
    targets: list[dict[str, Any]],
    payload: dict[str, Any],
    *,
    registry: Any = None,
) -> threading.Thread:
    """Send `payload` to every target in a background thread (see the module docstring)."""
    thread = threading.Thread(
        target=_deliver_all,
        args=(store, monitor_name, targets, payload, registry),
        name=f"slipway-alert-{monitor_name}",
        daemon=True,
    )
    with _threads_lock:
        _threads[:] = [t for t in _threads if t.is_alive()]
        _threads.append(thread)
    thread.start()
    return thread


def wait_for_deliveries(timeout: float = 30.0) -> None:
    """Block until alerts handed to delivery so far are delivered or given up."""
    deadline = time.monotonic() + timeout
    with _threads_lock:
        pending = list(_threads)
    for thread in pending:
        thread.join(max(0.0, deadline - time.monotonic()))


def _deliver_all(
    store: MonitorStore,
    monitor_name: str,
    targets: list[dict[str, Any]],
    payload: dict[str, Any],
    registry: Any,
) -> None:
    for target in targets:
        name = target_text(target)
        error = None
        for attempt in range(1, DELIVERY_ATTEMPTS + 1):
            try:
                _send(target, payload, registry)
                error = None
                break
            except Exception as exc:  # every failure is recorded, none escapes the thread
                error = f"{type(exc).__name__}: {exc}"
                if attempt < DELIVERY_ATTEMPTS:
                    time.sleep(DELIVERY_BACKOFF_S * 2 ** (attempt - 1))
        kind = "alert_delivered" if error is None else "delivery_failed"
        try:
            store.append_monitor_event(
                monitor_name,
                kind,
                payload["condition"],
                error or f"sent to {name}",
                {"target": name, "attempts": attempt},
            )
        except Exception:
            logger.exception("Could not record the delivery of an alert of %s", monitor_name)


def _send(target: dict[str, Any], payload: dict[str, Any], registry: Any) -> None:
    kind = target["type"]
    text = (
        f"[slipway] monitor {payload['monitor']}: {payload['condition']} on "
        f"{payload['model']} v{payload['model_version']}: {payload['message']}"
    )
    if kind == "log":
        logger.warning(text)
    elif kind == "audit":
        if registry is None:
            raise RuntimeError("no registry to write the audit event to")
        registry.record_model_event(
            payload["model"], "monitor_alert", payload["model_version"], reason=text
        )
    elif kind == "webhook":
        body = {"text": text} if target.get("slack") else payload
        response = httpx.post(target["url"], json=body, timeout=DELIVERY_TIMEOUT_S)
        response.raise_for_status()
    else:
        raise ValueError(f"unknown alert target {kind!r}")


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):
        return value.item()
    return value


__all__ = [
    "Condition",
    "conditions",
    "deliver",
    "serving_health",
    "update_alerts",
    "wait_for_deliveries",
]
