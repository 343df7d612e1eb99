"""The fluent API a data scientist types: `slipway.start_run()`, `slipway.log_metric()`, …

Every fluent function is a thin wrapper over a `Client` method, here in one module. State
(active experiment, the stack of active runs, one `Client` and one `MetricBatcher` per
tracking URI) lives in one `_FluentState` object; the chosen tracking URI lives in
`slipway.config`, so that `slipway.Client()` follows `set_tracking_uri` too. Metrics go through
the batcher; everything else is written synchronously. Leaving a `with start_run()` block,
`end_run()`, `flush()` and interpreter exit flush the batcher and surface any failure.
"""

from __future__ import annotations

import atexit
import logging
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from slipway import config
from slipway.entities import (
    DatasetInput,
    Experiment,
    LifecycleStage,
    ModelVersion,
    Param,
    Run,
    RunStatus,
    now_ms,
    string_dict,
)
from slipway.errors import (
    FlushError,
    InvalidParameterValue,
    InvalidState,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
    SlipwayError,
)
from slipway.models.format import Model, ModelInfo
from slipway.tracking.batching import MetricBatcher
from slipway.tracking.client import Client, metric_value
from slipway.tracking.datasets import dataset_input
from slipway.tracking.system_metrics import SystemMetricsMonitor
from slipway.tracking.system_metrics import enabled as system_metrics_enabled

log = logging.getLogger(__name__)

EXPERIMENT_NAME_ENV = "SLIPWAY_EXPERIMENT_NAME"
EXPERIMENT_ID_ENV = "SLIPWAY_EXPERIMENT_ID"
DEFAULT_EXPERIMENT_ID = "0"


class ActiveRun(Run):
    """The run a `start_run()` returned; a context manager that ends it on exit."""

    def __init__(self, run: Run) -> None:
        super().__init__(run.info, run.data, run.inputs, run.model_outputs)

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            status = RunStatus.FINISHED
        elif issubclass(exc_type, KeyboardInterrupt):
            status = RunStatus.KILLED
        else:
            status = RunStatus.FAILED
        try:
            end_run(status.value, run_id=self.info.run_id)
        except FlushError:
            if exc_type is None:
                raise
            log.exception("metrics of the failed run %s could not be stored", self.info.run_id)
        return False


class _FluentState:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.experiment_id: str | None = None
        self.runs: list[ActiveRun] = []
        self.last_run_id: str | None = None
        self.clients: dict[str, Client] = {}
        self.batchers: dict[str, MetricBatcher] = {}
        self.valid_keys: set[str] = set()
        self.monitors: dict[str, SystemMetricsMonitor] = {}


_state = _FluentState()


# --- where things go -------------------------------------------------------------------
def set_tracking_uri(uri: str | Path) -> None:
    """Send everything that follows to `uri` (a path, sqlite:///, postgresql://, http://)."""
    with _state.lock:
        flush()
        config.set_tracking_uri(str(uri))
        _state.experiment_id = None


def get_tracking_uri() -> str:
    """Where runs go: the URI set with `set_tracking_uri`, else `$SLIPWAY_TRACKING_URI`,
    else the embedded SQLite store."""
    return config.get_tracking_uri()


def current_client() -> Client:
    """The `Client` the fluent API uses for the current tracking URI (one per URI)."""
    uri = get_tracking_uri()
    client = _state.clients.get(uri)
    if client is None:
        with _state.lock:
            client = _state.clients.get(uri)
            if client is None:
                client = _state.clients[uri] = Client(uri)
    return client


def _batcher() -> MetricBatcher:
    uri = get_tracking_uri()
    batcher = _state.batchers.get(uri)
    if batcher is None:
        with _state.lock:
            batcher = _state.batchers.get(uri)
            if batcher is None:
                batcher = _state.batchers[uri] = MetricBatcher(current_client().store)
    return batcher


def set_experiment(
    experiment_name: str | None = None, experiment_id: str | None = None
) -> Experiment:
    """Make an experiment active, creating it when the name is new; returns it."""
    if (experiment_name is None) == (experiment_id is None):
        raise InvalidParameterValue("Give exactly one of experiment_name and experiment_id.")
    client = current_client()
    if experiment_id is not None:
        experiment = client.get_experiment(str(experiment_id))
    else:
        experiment = client.get_experiment_by_name(experiment_name)
        if experiment is None:
            try:
                client.create_experiment(experiment_name)
            except ResourceAlreadyExists:
                pass  # another process created it a moment ago: use theirs
            experiment = client.get_experiment_by_name(experiment_name)
            if experiment is None:
                raise ResourceDoesNotExist(
                    f"Experiment {experiment_name!r} was created and then deleted by someone "
                    "else before it could be used; call set_experiment again."
                )
    if experiment.lifecycle_stage == LifecycleStage.DELETED.value:
        raise InvalidState(
            f"Experiment {experiment.name!r} is deleted. Restore it with "
            f"`Client().restore_experiment('{experiment.experiment_id}')` or pick another name."
        )
    _state.experiment_id = experiment.experiment_id
    return experiment


def _experiment_id_for_new_run(experiment_id: str | None) -> str:
    if experiment_id is not None:
        return str(experiment_id)
    if _state.experiment_id is not None:
        return _state.experiment_id
    if os.environ.get(EXPERIMENT_ID_ENV):
        return os.environ[EXPERIMENT_ID_ENV]
    if os.environ.get(EXPERIMENT_NAME_ENV):
        return set_experiment(os.environ[EXPERIMENT_NAME_ENV]).experiment_id
    return DEFAULT_EXPERIMENT_ID


# --- runs ------------------------------------------------------------------------------
def start_run(
    run_id: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    parent_run_id: str | None = None,
    tags: dict[str, Any] | None = None,
    description: str | None = None,
    log_system_metrics: bool | None = None,
) -> ActiveRun:
    """Start (or resume, with `run_id`) a run and make it active.

    While a run is active, a second `start_run` needs `nested=True`; the new run records
    the active one as its parent (tag `mlflow.parentRunId`). `log_system_metrics=True`
    (default: `$SLIPWAY_ENABLE_SYSTEM_METRICS_LOGGING`) samples CPU, memory, disk, network
    and GPUs as `system/...` metrics until the run ends.
    """
    client = current_client()
    with _state.lock:
        if _state.runs and not nested:
            active = _state.runs[-1].info.run_id
            raise InvalidState(
                f"Run {active} is already active. End it with slipway.end_run(), or start a "
                "nested run with start_run(nested=True)."
            )
        parent = parent_run_id or (_state.runs[-1].info.run_id if _state.runs else None)
        if run_id is not None:
            run = client.get_run(run_id)
            if run.info.lifecycle_stage == LifecycleStage.DELETED.value:
                raise InvalidState(f"Run {run_id} is deleted; restore it before resuming it.")
            client.update_run(run_id, status=RunStatus.RUNNING.value, name=run_name)
            if tags:
                client.set_tags(run_id, tags)
            run = client.get_run(run_id)
        else:
            all_tags = {**_default_tags(), **(string_dict(tags) or {})}
            if parent:
                all_tags["mlflow.parentRunId"] = parent
            if description is not None:
                all_tags["mlflow.note.content"] = description
            run = client.create_run(
                _experiment_id_for_new_run(experiment_id), tags=all_tags, run_name=run_name
            )
        active = ActiveRun(run)
        _state.runs.append(active)
        _state.last_run_id = active.info.run_id
        if system_metrics_enabled(log_system_metrics):
            monitor = SystemMetricsMonitor(active.info.run_id, client)
            if monitor.start():
                _state.monitors[active.info.run_id] = monitor
        return active


def active_run() -> ActiveRun | None:
    """The innermost active run, or None."""
    return _state.runs[-1] if _state.runs else None


def last_active_run() -> Run | None:
    """The run started most recently in this process, fetched fresh from the store."""
    if _state.last_run_id is None:
        return None
    return current_client().get_run(_state.last_run_id)


def end_run(status: str = RunStatus.FINISHED.value, run_id: str | None = None) -> None:
    """Flush the run's metrics, then end it with `status` and pop it off the stack.

    If metrics could not be stored, the run ends FAILED and `FlushError` is raised.
    """
    with _state.lock:
        if not _state.runs:
            return
        if run_id is None:
            run_id = _state.runs[-1].info.run_id
        status = RunStatus(str(status).upper()).value
        monitor = _state.monitors.pop(run_id, None)
        if monitor is not None:
            monitor.finish()
        try:
            _end_with_metrics(run_id, status)
        finally:
            _state.runs = [r for r in _state.runs if r.info.run_id != run_id]


def _end_with_metrics(run_id: str, status: str) -> None:
    """Flush, then send the run's own queued points with its end: one transaction (and,
    against a slipway server, one request) instead of a metric write and an update."""
    store = current_client().store
    batcher = _state.batchers.get(get_tracking_uri())
    points = batcher.take(run_id) if batcher is not None else []
    columns = None
    if points:
        _, keys, values, stamps, steps = zip(*points, strict=True)
        columns = (keys, values, stamps, steps)
    try:
        flush()
    except FlushError:
        try:  # record the failure on the run (with its last points) if it can be written
            store.end_run(run_id, RunStatus.FAILED.value, now_ms(), columns)
        except SlipwayError:
            log.warning("could not mark run %s FAILED", run_id)
        raise
    try:
        store.end_run(run_id, status, now_ms(), columns)
    except SlipwayError as exc:
        if not points:
            raise
        try:
            current_client().set_terminated(run_id, RunStatus.FAILED.value)
        except SlipwayError:
            log.warning("could not mark run %s FAILED", run_id)
        raise FlushError(
            f"{len(points)} metric point(s) could not be stored: {exc}. They were not "
            "written; check the tracking store and log them again.",
            lost=len(points),
        ) from exc


def flush() -> None:
    """Write every queued metric point now; raise `FlushError` if any could not be stored."""
    errors: list[FlushError] = []
    for batcher in list(_state.batchers.values()):
        try:
            batcher.flush()
        except FlushError as exc:
            errors.append(exc)
    if errors:
        raise errors[0]


def active_run_id() -> str:
    """The active run's id, starting a run when none is active (as `log_*` do)."""
    run = active_run()
    if run is None:
        run = start_run()
    return run.info.run_id


# --- logging ---------------------------------------------------------------------------
def log_metric(
    key: str,
    value: float,
    step: int | None = None,
    timestamp: int | None = None,
    synchronous: bool = False,
) -> None:
    """Queue one metric point of the active run (starting a run if none is active).

    Returns at once; with `synchronous=True` it returns only once the point is stored.
    """
    if key not in _state.valid_keys:
        _validate_key(key)
        _state.valid_keys.add(key)
    _batcher().add(
        active_run_id(),
        key,
        metric_value(key, value),
        timestamp or now_ms(),
        step or 0,
    )
    if synchronous:
        flush()


def log_metrics(
    metrics: dict[str, float],
    step: int | None = None,
    timestamp: int | None = None,
    synchronous: bool = False,
) -> None:
    """Queue several metric points with one step and timestamp."""
    ts = timestamp or now_ms()
    for key, value in metrics.items():
        log_metric(key, value, step=step, timestamp=ts)
    if synchronous:
        flush()


def log_param(key: str, value: Any) -> Any:
    """Log one param (stored as a string; re-logging a different value is an error)."""
    return current_client().log_param(active_run_id(), key, value)


def log_params(params: dict[str, Any]) -> None:
    """Log several params at once (immutable, like `log_param`)."""
    current_client().log_batch(
        active_run_id(), params=[Param(k, v) for k, v in (string_dict(params) or {}).items()]
    )


def set_tag(key: str, value: Any) -> None:
    current_client().set_tag(active_run_id(), key, value)


def set_tags(tags: dict[str, Any]) -> None:
    current_client().set_tags(active_run_id(), tags)


def delete_tag(key: str) -> None:
    current_client().delete_tag(active_run_id(), key)


def log_artifact(local_path: str | Path, artifact_path: str | None = None) -> None:
    current_client().log_artifact(active_run_id(), local_path, artifact_path)


def log_artifacts(local_dir: str | Path, artifact_path: str | None = None) -> None:
    current_client().log_artifacts(active_run_id(), local_dir, artifact_path)


def log_text(text: str, artifact_file: str) -> None:
    current_client().log_text(active_run_id(), text, artifact_file)


def log_dict(dictionary: dict[str, Any], artifact_file: str) -> None:
    current_client().log_dict(active_run_id(), dictionary, artifact_file)


def log_figure(figure: Any, artifact_file: str) -> None:
    current_client().log_figure(active_run_id(), figure, artifact_file)


def log_input(
    dataset: Any,
    context: str | None = None,
    tags: dict[str, Any] | None = None,
    name: str | None = None,
) -> None:
    """Record a dataset (DataFrame, array or `Dataset`) as an input of the active run."""
    inp: DatasetInput = dataset_input(dataset, context=context, tags=tags, name=name)
    current_client().log_inputs(active_run_id(), [inp])


def get_run(run_id: str) -> Run:
    return current_client().get_run(run_id)


def search_runs(
    experiment_ids: Sequence[str] | None = None,
    filter_string: str = "",
    order_by: Sequence[str] | None = None,
    max_results: int = 1000,
) -> list[Run]:
    """Runs of the given (default: the active) experiments matching a filter."""
    ids = list(experiment_ids or [_experiment_id_for_new_run(None)])
    return list(
        current_client().search_runs(ids, filter_string, max_results=max_results, order_by=order_by)
    )


# --- models ----------------------------------------------------------------------------
def log_model(
    save_model: Callable[..., Model],
    model_object: Any,
    name: str = "model",
    registered_model_name: str | None = None,
    **save_kwargs: Any,
) -> ModelInfo:
    """Save `model_object` with a flavor's `save_model(obj, path, **kw)` and log it to the
    active run (starting one if none is active); register it when a name is given."""
    if not name or name.startswith("/") or ".." in Path(name).parts:
        raise InvalidParameterValue(
            f"Invalid model name {name!r}: use a relative path such as 'model'."
        )
    run_id = active_run_id()
    flush()  # queued metrics belong in the registered version's snapshot
    with tempfile.TemporaryDirectory(prefix="slipway-model-") as tmp:
        local_dir = Path(tmp) / "model"
        model = save_model(model_object, str(local_dir), **save_kwargs)
        return current_client().log_model_dir(run_id, local_dir, name, model, registered_model_name)


def register_model(model_uri: str, name: str, tags: dict[str, Any] | None = None) -> ModelVersion:
    """Register `model_uri` as a new version of `name` (see `Client.register_model`)."""
    flush()  # queued metrics belong in the version's snapshot
    return current_client().register_model(model_uri, name, tags)


def download_model(model_uri: str, dst_path: str | None = None) -> str:
    """A local folder holding the model `model_uri` names (see `Client.download_model`)."""
    return current_client().download_model(model_uri, dst_path)


# --- helpers ---------------------------------------------------------------------------
def _validate_key(key: Any) -> None:
    if not isinstance(key, str) or not key:
        raise InvalidParameterValue(f"Metric key must be a non-empty string, got {key!r}.")
    if len(key) > 250:
        raise InvalidParameterValue(f"Metric key {key[:40]!r}… is longer than 250 characters.")


def _default_tags() -> dict[str, str]:
    tags = {
        "mlflow.user": config.current_user(),
        "mlflow.source.type": "LOCAL",
        "mlflow.source.name": _source_name(),
    }
    commit = _git_commit(os.getcwd())
    if commit:
        tags["mlflow.source.git.commit"] = commit
    return tags


def _source_name() -> str:
    main = sys.argv[0] if sys.argv and sys.argv[0] else "<interactive>"
    return main


@lru_cache(maxsize=8)
def _git_commit(cwd: str) -> str | None:
    """The commit of the code being run, when it lives in a git checkout (cached)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=2
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


@atexit.register
def _at_exit() -> None:
    """End runs left open and flush; a failure is reported, since nothing can raise now."""
    try:
        while _state.runs:
            end_run(RunStatus.FINISHED.value)
        for batcher in _state.batchers.values():
            batcher.close()
    except (FlushError, ResourceDoesNotExist) as exc:
        print(f"slipway: {exc}", file=sys.stderr)


__all__ = [
    "ActiveRun",
    "active_run",
    "active_run_id",
    "current_client",
    "delete_tag",
    "download_model",
    "end_run",
    "flush",
    "get_run",
    "get_tracking_uri",
    "last_active_run",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_model",
    "log_param",
    "log_params",
    "log_text",
    "register_model",
    "search_runs",
    "set_experiment",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
]
