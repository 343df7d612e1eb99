"""Monitors: the closed loop's Python API.

    from slipway.monitoring import monitors
    monitors.create_monitor("churn", model="churn-classifier@champion", window="1h",
                            drift_share=0.3, min_rows=500, performance=["f1 drop 0.05"],
                            alerts=["webhook:http://127.0.0.1:9000/hook", "log"],
                            retrain="python train.py", promote="auto")
    monitors.run_monitor("churn")          # evaluate the window that holds now
    monitors.monitor_status("churn")       # windows, alerts, retrains
    monitors.watch()                       # every monitor on its schedule

A run evaluates one window (`evaluation`), stores it (same window -> same row), judges
the alert conditions with dedup and cooldown (`alerts`), and may retrain (`retrain`).
Windows are aligned to multiples of the window length since the epoch (UTC).

A retrain runs in a worker thread of its own, so `watch` goes on evaluating every monitor
while a model trains; `run_monitor` waits for it unless told not to. While it runs, the
monitor's state says so (`retraining`), and no second retrain of that monitor starts.
A monitor's state is saved by merging the keys a run changed into the stored state, so a
finishing retrain, a watch and `slipway models approve` do not undo each other's changes.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from slipway.entities import Monitor, MonitorEvent, MonitorWindow, now_ms
from slipway.errors import SlipwayError
from slipway.monitoring import alerts as alerting
from slipway.monitoring import retrain as retraining
from slipway.monitoring.evaluation import evaluate_window, read_window, reference_for
from slipway.monitoring.spec import MonitorSpec
from slipway.monitoring.state import save_state
from slipway.store.factory import open_monitor_store
from slipway.store.interface import MonitorStore
from slipway.tracking.client import Client

logger = logging.getLogger("slipway.monitoring")


@dataclass
class MonitorRun:
    """What one run of a monitor did: the stored window, new alerts, the retrain outcome."""

    window: MonitorWindow
    alerts: list[str] = field(default_factory=list)
    retrain: dict[str, Any] | None = None  # {"outcome": "started", ...} while in the background

    def to_dict(self) -> dict[str, Any]:
        return {"window": self.window.to_dict(), "alerts": self.alerts, "retrain": self.retrain}


def _store(client: Client | None) -> tuple[Client, MonitorStore]:
    client = client or Client()
    return client, open_monitor_store(client.tracking_uri, tracking_store=client.store)


def create_monitor(
    name: str, model: str, *, client: Client | None = None, **options: Any
) -> Monitor:
    """Define a monitor on `model` (`name@alias` or `name/version`); see `MonitorSpec.build`."""
    spec = MonitorSpec.build(model, **options)
    client, store = _store(client)
    client.get_registered_model(spec.model)  # a monitor of a model that does not exist is a typo
    return store.create_monitor(name, spec.model, spec.to_dict())


def get_monitor(name: str, *, client: Client | None = None) -> Monitor:
    return _store(client)[1].get_monitor(name)


def list_monitors(*, client: Client | None = None) -> list[Monitor]:
    return _store(client)[1].list_monitors()


def update_monitor(name: str, *, client: Client | None = None, **changes: Any) -> Monitor:
    """Change fields of a monitor's definition (same names as `MonitorSpec`)."""
    client, store = _store(client)
    current = MonitorSpec.from_dict(store.get_monitor(name).spec)
    data = current.to_dict()
    for key, value in changes.items():
        if value is None:
            continue
        if key == "window":
            from slipway.monitoring.spec import parse_duration

            data["window_s"] = parse_duration(value, "window")
        elif key == "alerts":
            from slipway.monitoring.spec import parse_alert_target

            data["alerts"] = [parse_alert_target(a) for a in value]
        elif key == "performance":
            from slipway.monitoring.performance import PerformanceRule

            rules = [value] if isinstance(value, str) else value
            data["performance"] = [PerformanceRule.parse(r).text for r in rules]
        elif key in data:
            data[key] = value
        else:
            raise SlipwayError(f"Unknown monitor setting {key!r}.")
    spec = MonitorSpec.from_dict(data).checked()
    return store.update_monitor(name, spec=spec.to_dict())


def delete_monitor(name: str, *, client: Client | None = None) -> None:
    _store(client)[1].delete_monitor(name)


def window_bounds(window_s: int, at: dt.datetime | int | None = None) -> tuple[int, int]:
    """The aligned window (epoch ms, half-open) that holds `at` (default: now)."""
    if at is None:
        moment = now_ms()
    elif isinstance(at, dt.datetime):
        aware = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
        moment = int(aware.timestamp() * 1000)
    else:
        moment = int(at)
    size = window_s * 1000
    start = moment // size * size
    return start, start + size


def run_monitor(
    name: str,
    *,
    at: dt.datetime | int | None = None,
    client: Client | None = None,
    retrain: bool = True,
    wait: bool = True,
) -> MonitorRun:
    """Evaluate the window that holds `at` (default now), store it, alert, maybe retrain.

    A retrain runs in the background; with `wait` (the default) this waits for its outcome,
    otherwise `MonitorRun.retrain` is `{"outcome": "started"}` and the outcome is recorded
    in the monitor's events when it comes (`wait_for_retrains` waits for it).
    """
    client, store = _store(client)
    monitor = store.get_monitor(name)
    spec = MonitorSpec.from_dict(monitor.spec)
    state = dict(monitor.state)
    before = copy.deepcopy(state)
    start, end = window_bounds(spec.window_s, at)
    if spec.alias:
        version = int(client.get_model_version_by_alias(spec.model, spec.alias).version)
    else:
        version = int(spec.version)  # type: ignore[arg-type]
    reference = reference_for(client, spec.model, version)
    table = read_window(spec, start, end, client.tracking_uri)
    window = store.put_monitor_window(evaluate_window(name, spec, table, start, end, reference))
    del table
    serving = alerting.serving_health(spec.serving_url) if spec.serving_url else None
    judged = alerting.conditions(spec, window, serving)
    alerted = alerting.update_alerts(store, name, spec, state, window, judged, registry=client)
    fired = [c.name for c in alerted]
    job = None
    if retrain and retraining.should_retrain(spec, state, fired) and not _retraining(name):
        started = now_ms()
        state["last_retrain"] = started
        state["retraining"] = {"started": started, "window_start": window.window_start}
        save_state(store, name, before, state)
        job = _start_retrain(client, store, name, spec, window, started)
    else:
        save_state(store, name, before, state)
    if job is None:
        return MonitorRun(window, fired, None)
    if wait:
        return MonitorRun(window, fired, job.wait())
    return MonitorRun(window, fired, {"outcome": "started", "started": job.started})


@dataclass
class RetrainJob:
    """A retrain running in its worker thread; `outcome` once it has finished."""

    monitor: str
    started: int
    thread: threading.Thread | None = None
    outcome: dict[str, Any] | None = None

    @property
    def done(self) -> bool:
        return self.thread is not None and not self.thread.is_alive()

    def wait(self, timeout: float | None = None) -> dict[str, Any] | None:
        if self.thread is not None:
            self.thread.join(timeout)
        return self.outcome


_JOBS: dict[str, RetrainJob] = {}
_JOBS_LOCK = threading.Lock()


def _retraining(name: str) -> bool:
    with _JOBS_LOCK:
        job = _JOBS.get(name)
        return job is not None and not job.done


def _start_retrain(
    client: Client,
    store: MonitorStore,
    name: str,
    spec: MonitorSpec,
    window: MonitorWindow,
    started: int,
) -> RetrainJob:
    job = RetrainJob(name, started)

    def work() -> None:
        changes: dict[str, Any] = {}
        try:
            job.outcome = retraining.retrain(client, store, name, spec, changes, window)
        except Exception as exc:  # the champion keeps serving; the cooldown stops a retry loop
            logger.exception("Monitor %s: the retrain loop failed", name)
            error = f"{type(exc).__name__}: {exc}"
            store.append_monitor_event(name, "retrain_failed", None, error)
            job.outcome = {"outcome": "failed", "error": error}
        finally:
            save_state(store, name, {"retraining": True}, changes)
        logger.info("Monitor %s: retrain %s", name, (job.outcome or {}).get("outcome"))

    job.thread = threading.Thread(target=work, name=f"slipway-retrain-{name}", daemon=True)
    with _JOBS_LOCK:
        _JOBS[name] = job
    job.thread.start()
    return job


def retrain_job(name: str) -> RetrainJob | None:
    """The latest retrain this process started for monitor `name`."""
    with _JOBS_LOCK:
        return _JOBS.get(name)


def retrain_jobs() -> list[RetrainJob]:
    """The retrains this process started (running and finished)."""
    with _JOBS_LOCK:
        return list(_JOBS.values())


def wait_for_retrains(timeout: float | None = None) -> list[RetrainJob]:
    """Wait for the background retrains of this process; returns the ones still running."""
    deadline = None if timeout is None else time.monotonic() + timeout
    for job in retrain_jobs():
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        job.wait(left)
    return [j for j in retrain_jobs() if not j.done]


@dataclass
class MonitorStatus:
    """A monitor over time: its definition, windows, events and which alerts are active."""

    monitor: Monitor
    windows: list[MonitorWindow]
    events: list[MonitorEvent]

    @property
    def active_alerts(self) -> list[str]:
        alerts = self.monitor.state.get("alerts", {})
        return sorted(k for k, v in alerts.items() if v.get("active"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "monitor": self.monitor.to_dict(),
            "active_alerts": self.active_alerts,
            "windows": [w.to_dict() for w in self.windows],
            "events": [e.to_dict() for e in self.events],
        }


def monitor_status(name: str, *, limit: int = 100, client: Client | None = None) -> MonitorStatus:
    """The monitor, its latest `limit` windows and events."""
    store = _store(client)[1]
    return MonitorStatus(
        store.get_monitor(name),
        store.get_monitor_windows(name, limit=limit),
        store.get_monitor_events(name, limit=limit),
    )


def watch(
    names: list[str] | None = None,
    *,
    interval_s: float | None = None,
    client: Client | None = None,
    stop: threading.Event | None = None,
    on_run: Callable[[str, MonitorRun | Exception], None] | None = None,
    on_retrain: Callable[[str, dict[str, Any]], None] | None = None,
) -> None:
    """Run every monitor (or `names`) on its schedule until `stop` is set.

    Each monitor is evaluated every `interval_s` (default: a quarter of its window, at
    most a minute) on the window that holds now; when a window has just ended it is
    evaluated once more in full. A failing monitor is logged and tried again next time.
    Retrains run in the background (`on_retrain` hears their outcomes), so one monitor's
    retrain never holds up the others' evaluations.
    """
    client = client or Client()
    stop = stop or threading.Event()
    next_run: dict[str, float] = {}
    last_window: dict[str, int] = {}
    started: list[RetrainJob] = []
    while not stop.is_set():
        for monitor in list_monitors(client=client):
            if names and monitor.name not in names:
                continue
            spec = MonitorSpec.from_dict(monitor.spec)
            every = interval_s or min(60.0, spec.window_s / 4)
            if time.monotonic() < next_run.get(monitor.name, 0.0):
                continue
            next_run[monitor.name] = time.monotonic() + every
            start, _ = window_bounds(spec.window_s)
            todo = [None]
            previous = last_window.get(monitor.name)
            if previous is not None and previous < start:
                todo.insert(0, previous)  # the window that just ended, once in full
            last_window[monitor.name] = start
            for at in todo:
                try:
                    outcome: MonitorRun | Exception = run_monitor(
                        monitor.name, at=at, client=client, wait=False
                    )
                except Exception as exc:  # keep watching the others
                    logger.exception("Monitor %s failed", monitor.name)
                    outcome = exc
                job = retrain_job(monitor.name)
                if isinstance(outcome, MonitorRun) and outcome.retrain and job is not None:
                    started.append(job)
                if on_run is not None:
                    on_run(monitor.name, outcome)
        for job in [j for j in started if j.done]:
            started.remove(job)
            if on_retrain is not None:
                on_retrain(job.monitor, job.outcome or {})
        stop.wait(1.0 if interval_s is None else min(1.0, interval_s))


def start_watching(client: Client | None = None, **options: Any) -> threading.Event:
    """`watch` in a daemon thread (as `slipway server --monitors` does); set the event to stop."""
    stop = threading.Event()
    threading.Thread(
        target=watch,
        kwargs={"client": client, "stop": stop, **options},
        name="slipway-monitors",
        daemon=True,
    ).start()
    return stop


approve_challenger = retraining.approve_challenger
wait_for_deliveries = alerting.wait_for_deliveries

__all__ = [
    "MonitorRun",
    "MonitorStatus",
    "RetrainJob",
    "approve_challenger",
    "create_monitor",
    "delete_monitor",
    "get_monitor",
    "list_monitors",
    "monitor_status",
    "retrain_job",
    "retrain_jobs",
    "run_monitor",
    "start_watching",
    "update_monitor",
    "wait_for_deliveries",
    "wait_for_retrains",
    "watch",
    "window_bounds",
]
