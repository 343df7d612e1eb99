"""The metadata store's interface: one abstract class per concern.

Two transports implement it: `slipway.store.sql` (in-process, SQLite or PostgreSQL) and
`slipway.store.rest` (talks to `slipway server`). The
`Client` never knows which one it holds; the test suite runs the same tests over both.

Ids are strings everywhere (experiment ids are decimal strings, run ids 32 hex chars);
times are epoch milliseconds. Every method raises a `SlipwayError` subclass on bad input.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from slipway.entities import (
    AuditEvent,
    DatasetInput,
    Experiment,
    GateCondition,
    LoggedModel,
    LoggedModelMetric,
    Metric,
    ModelVersion,
    Monitor,
    MonitorEvent,
    MonitorWindow,
    PagedList,
    Param,
    PromotionResult,
    RegisteredModel,
    Run,
    RunInfo,
    Tag,
    ViewType,
)
from slipway.errors import InvalidParameterValue
from slipway.store.sampling import DEFAULT_MAX_POINTS, thin_history

# MLflow-compatible limits (mlflow/utils/validation.py).
MAX_ENTITY_KEY_LENGTH = 250
MAX_PARAM_VAL_LENGTH = 6000
MAX_TAG_VAL_LENGTH = 8000
MAX_EXPERIMENT_NAME_LENGTH = 500
MAX_BATCH_LOG_REQUEST_SIZE = 1000  # metrics+params+tags per MLflow log-batch request
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_TAGS_PER_BATCH = 100
SEARCH_MAX_RESULTS_DEFAULT = 1000
SEARCH_MAX_RESULTS_THRESHOLD = 50000
METRIC_HISTORY_MAX_RESULTS = 25000


class TrackingStore(ABC):
    """Experiments, runs and everything logged to a run."""

    # --- experiments ---------------------------------------------------------------
    @abstractmethod
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: dict[str, str] | None = None
    ) -> str:
        """Create an experiment and return its id; a taken name is RESOURCE_ALREADY_EXISTS."""

    @abstractmethod
    def get_experiment(self, experiment_id: str) -> Experiment: ...

    @abstractmethod
    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment (active or deleted) with that name, or None."""

    @abstractmethod
    def search_experiments(
        self,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Experiment]: ...

    @abstractmethod
    def delete_experiment(self, experiment_id: str) -> None:
        """Mark deleted (and its runs); the Default experiment "0" cannot be deleted."""

    @abstractmethod
    def restore_experiment(self, experiment_id: str) -> None: ...

    @abstractmethod
    def rename_experiment(self, experiment_id: str, new_name: str) -> None: ...

    @abstractmethod
    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None: ...

    @abstractmethod
    def delete_experiment_tag(self, experiment_id: str, key: str) -> None: ...

    # --- runs ----------------------------------------------------------------------
    @abstractmethod
    def create_run(
        self,
        experiment_id: str,
        user_id: str,
        start_time: int,
        tags: dict[str, str] | None = None,
        run_name: str | None = None,
    ) -> Run:
        """Create a RUNNING run. Without a name one is generated (`adjective-noun-123`).

        The name is also stored as the `mlflow.runName` tag, as MLflow does.
        """

    @abstractmethod
    def get_run(self, run_id: str) -> Run: ...

    @abstractmethod
    def update_run_info(
        self,
        run_id: str,
        status: str | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo: ...

    @abstractmethod
    def delete_run(self, run_id: str) -> None: ...

    @abstractmethod
    def restore_run(self, run_id: str) -> None: ...

    @abstractmethod
    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[Tag] = (),
    ) -> None:
        """Write all of it in one transaction, or none of it.

        Params are immutable: re-logging the same value is fine, a different value is
        INVALID_PARAMETER_VALUE. Metric values may be NaN or +/-inf.
        """

    @abstractmethod
    def log_metric_columns(
        self,
        run_id: str,
        keys: Sequence[str],
        values: Sequence[float],
        timestamps: Sequence[int],
        steps: Sequence[int],
    ) -> None:
        """Bulk path: many metric points as parallel columns, one transaction.

        This is what the background batcher and `/api/2.0/slipway/runs/log-metrics` use;
        it avoids building one object per point.
        """

    @abstractmethod
    def delete_tag(self, run_id: str, key: str) -> None: ...

    @abstractmethod
    def log_inputs(
        self, run_id: str, datasets: Sequence[DatasetInput], models: Sequence[str] = ()
    ) -> None:
        """Record datasets, and logged models (by id), as inputs of a run."""

    @abstractmethod
    def search_datasets(self, experiment_ids: Sequence[str]) -> list[dict[str, Any]]:
        """The datasets runs of these experiments used: `{experiment_id, name, digest,
        context?}` each (context from the input's `mlflow.data.context` tag), at most 1000."""

    @abstractmethod
    def log_model_metrics(self, run_id: str, metrics: Sequence[LoggedModelMetric]) -> None:
        """Log metric points of a run, each linked to a logged model and the dataset it was
        measured on (MLflow's `log_metric(model_id=…)`); a point the run already has is
        linked, not written to its history twice. An unknown model is RESOURCE_DOES_NOT_EXIST."""

    @abstractmethod
    def log_outputs(self, run_id: str, models: Sequence[dict[str, Any]]) -> None:
        """Record logged models ({model_id, step}) as outputs of a run (MLflow 3)."""

    @abstractmethod
    def get_metric_history(
        self,
        run_id: str,
        key: str,
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> PagedList[Metric]:
        """All points of one metric, ordered by step, then timestamp."""

    @abstractmethod
    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str = "",
        run_view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Run]:
        """MLflow filter grammar; see `slipway.store.search`."""

    def end_run(
        self,
        run_id: str,
        status: str,
        end_time: int,
        metrics: tuple[Sequence[str], Sequence[float], Sequence[int], Sequence[int]] | None = None,
    ) -> RunInfo:
        """Write a run's last queued metric points (columns: keys, values, timestamps, steps)
        and end it with `status`; one transaction where the transport allows it (the SQL
        store, a slipway server). Nothing is written if any point is invalid."""
        if metrics is not None and len(metrics[1]):
            self.log_metric_columns(run_id, *metrics)
        return self.update_run_info(run_id, status=status, end_time=end_time)

    # --- conveniences every transport gets for free ---------------------------------
    def count_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str = "",
        run_view_type: ViewType = ViewType.ACTIVE_ONLY,
    ) -> int:
        """How many runs `search_runs` would find (for paging); SQL stores count in SQL."""
        total, token = 0, None
        while True:
            found = self.search_runs(
                experiment_ids,
                filter_string,
                run_view_type,
                SEARCH_MAX_RESULTS_THRESHOLD,
                None,
                token,
            )
            total += len(found.items)
            token = found.next_page_token
            if not token:
                return total

    def summarize_runs(self, experiment_ids: Sequence[str]) -> dict[str, tuple[int, int | None]]:
        """Per experiment: its number of active runs and the latest run's start time."""
        out: dict[str, tuple[int, int | None]] = {}
        for experiment_id in experiment_ids:
            latest = self.search_runs([experiment_id], max_results=1).items
            start = latest[0].info.start_time if latest else None
            out[experiment_id] = (self.count_runs([experiment_id]), start)
        return out

    def get_metric_history_thinned(
        self, run_id: str, key: str, max_points: int = DEFAULT_MAX_POINTS
    ) -> list[Metric]:
        """A metric's history for a chart: every point, or about `max_points` of them
        chosen per step bucket when it is longer (the lowest and highest of each bucket
        here, see `slipway.store.sampling`; the SQL store seeks its index instead beyond
        50,000 steps, see `slipway.store.sql.run_stats`)."""
        points: list[Metric] = []
        token = None
        while True:
            page = self.get_metric_history(run_id, key, page_token=token)
            points.extend(page.items)
            token = page.next_page_token
            if not token:
                return thin_history(points, max_points)

    def log_param(self, run_id: str, key: str, value: Any) -> None:
        self.log_batch(run_id, params=[Param(key, str(value))])

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        self.log_batch(run_id, tags=[Tag(key, str(value))])

    def log_metric(self, run_id: str, metric: Metric) -> None:
        self.log_batch(run_id, metrics=[metric])

    @abstractmethod
    def close(self) -> None:
        """Release connections; the store must not be used afterwards."""


# --- model registry --------------------------------------------------------------------

SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT = 100
SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD = 1000
SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT = 10_000
SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD = 200_000
SEARCH_LOGGED_MODEL_MAX_RESULTS_DEFAULT = 100
MAX_REGISTERED_MODEL_NAME_LENGTH = 256
MAX_ALIAS_LENGTH = 255
MAX_REGISTRY_TAG_VALUE_LENGTH = 100_000


class RegistryStore(ABC):
    """Registered models, versions, aliases, stages, the audit trail and logged models.

    Every change writes its `AuditEvent` in the same transaction as the change. `actor` is
    who made it (None: the current user, `slipway.config.current_user()`); `reason` is
    free text kept with the event. Versions are ints; aliases never look like versions.
    """

    # --- registered models -------------------------------------------------------------
    @abstractmethod
    def create_registered_model(
        self,
        name: str,
        tags: dict[str, str] | None = None,
        description: str | None = None,
        *,
        actor: str | None = None,
    ) -> RegisteredModel:
        """Create a model; a taken name is RESOURCE_ALREADY_EXISTS."""

    @abstractmethod
    def get_registered_model(self, name: str) -> RegisteredModel:
        """The model with its tags, aliases and the latest version per stage."""

    @abstractmethod
    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        """Filter on `name` (=, !=, LIKE, ILIKE) and `tags.<key>`; default order: name."""

    @abstractmethod
    def rename_registered_model(
        self, name: str, new_name: str, *, actor: str | None = None
    ) -> RegisteredModel: ...

    @abstractmethod
    def update_registered_model(
        self, name: str, description: str | None, *, actor: str | None = None
    ) -> RegisteredModel: ...

    @abstractmethod
    def delete_registered_model(
        self, name: str, *, actor: str | None = None, reason: str | None = None
    ) -> None:
        """Delete the model with its versions and aliases; its audit events stay."""

    @abstractmethod
    def set_registered_model_tag(
        self, name: str, key: str, value: str, *, actor: str | None = None
    ) -> None: ...

    @abstractmethod
    def delete_registered_model_tag(
        self, name: str, key: str, *, actor: str | None = None
    ) -> None: ...

    @abstractmethod
    def get_latest_versions(
        self, name: str, stages: Sequence[str] | None = None
    ) -> list[ModelVersion]:
        """The newest version in each of `stages` (all stages when None or empty)."""

    # --- aliases -----------------------------------------------------------------------
    @abstractmethod
    def set_registered_model_alias(
        self,
        name: str,
        alias: str,
        version: int,
        *,
        actor: str | None = None,
        reason: str | None = None,
    ) -> None:
        """Point `alias` at `version` (moving it if set); names like `v3`, `3`, `latest`
        are refused."""

    @abstractmethod
    def delete_registered_model_alias(
        self, name: str, alias: str, *, actor: str | None = None, reason: str | None = None
    ) -> None: ...

    @abstractmethod
    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion: ...

    @abstractmethod
    def rollback_registered_model_alias(
        self, name: str, alias: str, *, actor: str | None = None, reason: str | None = None
    ) -> ModelVersion:
        """Point `alias` back at the version it held before (from the audit trail)."""

    # --- model versions ----------------------------------------------------------------
    @abstractmethod
    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: dict[str, str] | None = None,
        run_link: str | None = None,
        description: str | None = None,
        model_id: str | None = None,
        *,
        actor: str | None = None,
    ) -> ModelVersion:
        """Register the next version (READY at once) and snapshot its run's metrics/params.

        `source` may be `models:/<model_id>` (an MLflow 3 logged model), `models:/name/…`
        or `runs:/<run_id>/<path>`; these resolve to the artifact location served by
        `get_model_version_download_uri`.
        """

    @abstractmethod
    def get_model_version(self, name: str, version: int) -> ModelVersion: ...

    @abstractmethod
    def update_model_version(
        self, name: str, version: int, description: str | None, *, actor: str | None = None
    ) -> ModelVersion: ...

    @abstractmethod
    def delete_model_version(
        self,
        name: str,
        version: int,
        *,
        force: bool = False,
        actor: str | None = None,
        reason: str | None = None,
    ) -> None:
        """Refused (INVALID_STATE) while an alias points at it, unless `force`, which also
        removes those aliases and records it."""

    @abstractmethod
    def transition_model_version_stage(
        self,
        name: str,
        version: int,
        stage: str,
        archive_existing_versions: bool = False,
        *,
        actor: str | None = None,
        reason: str | None = None,
    ) -> ModelVersion: ...

    @abstractmethod
    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        """Filter on name, version_number, run_id, source_path and `tags.<key>`."""

    @abstractmethod
    def get_model_version_download_uri(self, name: str, version: int) -> str:
        """Where the version's files are (an artifact URI, not a `models:/` URI)."""

    @abstractmethod
    def set_model_version_tag(
        self, name: str, version: int, key: str, value: str, *, actor: str | None = None
    ) -> None: ...

    @abstractmethod
    def delete_model_version_tag(
        self, name: str, version: int, key: str, *, actor: str | None = None
    ) -> None: ...

    # --- gates and audit ---------------------------------------------------------------
    @abstractmethod
    def promote(
        self,
        name: str,
        version: int,
        conditions: Sequence[GateCondition] = (),
        *,
        alias: str | None = None,
        stage: str | None = None,
        archive_existing_versions: bool = False,
        dry_run: bool = False,
        actor: str | None = None,
        reason: str | None = None,
    ) -> PromotionResult:
        """Check `conditions` and, if all pass, set the alias and/or stage — one transaction.

        A failure changes nothing but a `gate_failed` audit event; a dry run writes
        nothing at all. The result lists every check; raising is the caller's choice.
        """

    @abstractmethod
    def get_audit_events(self, name: str) -> list[AuditEvent]:
        """Every recorded change of a model (also after it was renamed or deleted), oldest
        first. There is deliberately no way to edit or delete events."""

    @abstractmethod
    def append_audit_event(
        self,
        model_name: str,
        action: str,
        version: int | None = None,
        reason: str | None = None,
        field: str | None = None,
        old_value: str | None = None,
        new_value: str | None = None,
        *,
        actor: str | None = None,
    ) -> AuditEvent:
        """Record something that happened to a model outside the registry (a deployment,
        a rollback of serving traffic) in its audit trail, and return the event.

        `action` is a lowercase snake_case word (`deployed`), not one of the actions the
        registry records itself; an unknown model is RESOURCE_DOES_NOT_EXIST.
        """

    # --- MLflow 3 logged models --------------------------------------------------------
    @abstractmethod
    def create_logged_model(
        self,
        experiment_id: str,
        name: str | None = None,
        source_run_id: str | None = None,
        tags: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        model_type: str | None = None,
    ) -> LoggedModel:
        """A PENDING logged model; files go to `<experiment location>/models/<id>/artifacts`."""

    @abstractmethod
    def get_logged_model(self, model_id: str, allow_deleted: bool = False) -> LoggedModel: ...

    @abstractmethod
    def delete_logged_model(self, model_id: str) -> None: ...

    @abstractmethod
    def finalize_logged_model(self, model_id: str, status: str) -> LoggedModel:
        """Set the status to READY or FAILED once the files are uploaded."""

    @abstractmethod
    def set_logged_model_tags(self, model_id: str, tags: dict[str, str]) -> None: ...

    @abstractmethod
    def delete_logged_model_tag(self, model_id: str, key: str) -> None: ...

    @abstractmethod
    def log_logged_model_params(self, model_id: str, params: dict[str, str]) -> None: ...

    @abstractmethod
    def search_logged_models(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        max_results: int = SEARCH_LOGGED_MODEL_MAX_RESULTS_DEFAULT,
        order_by: Sequence[dict[str, Any]] | None = None,
        page_token: str | None = None,
        datasets: Sequence[dict[str, str]] | None = None,
    ) -> PagedList[LoggedModel]:
        """`order_by` items are `{"field_name": ..., "ascending": bool}` as in MLflow;
        `datasets` (`{"dataset_name", "dataset_digest"?}` each) limits the metric points
        that count to those measured on one of them."""

    @abstractmethod
    def close(self) -> None:
        """Release connections; the store must not be used afterwards."""


class MonitorStore(ABC):
    """Monitors, their evaluated windows (a time series per monitor) and their events."""

    @abstractmethod
    def create_monitor(self, name: str, model_name: str, spec: dict[str, Any]) -> Monitor:
        """Store a new monitor (empty state); a taken name is RESOURCE_ALREADY_EXISTS."""

    @abstractmethod
    def get_monitor(self, name: str) -> Monitor:
        """The monitor called `name`; RESOURCE_DOES_NOT_EXIST if there is none."""

    @abstractmethod
    def list_monitors(self) -> list[Monitor]:
        """Every monitor, by name."""

    @abstractmethod
    def update_monitor(
        self,
        name: str,
        *,
        spec: dict[str, Any] | None = None,
        state: dict[str, Any] | None = None,
    ) -> Monitor:
        """Replace the monitor's spec and/or state (each whole, when given)."""

    @abstractmethod
    def delete_monitor(self, name: str) -> None:
        """Delete the monitor with its windows and events."""

    @abstractmethod
    def put_monitor_window(self, window: MonitorWindow) -> MonitorWindow:
        """Insert the window, or replace the stored one with the same start (idempotent)."""

    @abstractmethod
    def get_monitor_windows(
        self, name: str, since: int | None = None, limit: int | None = None
    ) -> list[MonitorWindow]:
        """The monitor's windows oldest first (from `since`, epoch ms; the latest `limit`)."""

    @abstractmethod
    def append_monitor_event(
        self,
        name: str,
        kind: str,
        condition: str | None = None,
        message: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> MonitorEvent:
        """Record what the monitor did (an alert, a delivery, a retrain, ...)."""

    @abstractmethod
    def get_monitor_events(
        self, name: str, kind: str | None = None, limit: int | None = None
    ) -> list[MonitorEvent]:
        """The monitor's events oldest first (of one `kind`; the latest `limit`)."""

    @abstractmethod
    def close(self) -> None:
        """Release connections; the store must not be used afterwards."""


_ALIAS_RE = re.compile(r"^[\w\-]+$")
_VERSION_LIKE_RE = re.compile(r"^[vV]?\d+$")


def validate_alias(alias: Any) -> str:
    """MLflow's alias rules, plus: nothing that reads as a version (`3`, `v3`) or `latest`."""
    if not isinstance(alias, str) or not alias:
        raise InvalidParameterValue("Missing value for required parameter 'alias'.")
    if not _ALIAS_RE.match(alias):
        raise InvalidParameterValue(
            f"Invalid alias {alias!r}: aliases may only contain letters, digits, underscores "
            "(_) and dashes (-)."
        )
    if len(alias) > MAX_ALIAS_LENGTH:
        raise InvalidParameterValue(f"Alias {alias[:40]!r}… is longer than {MAX_ALIAS_LENGTH}.")
    if _VERSION_LIKE_RE.match(alias):
        raise InvalidParameterValue(
            f"Invalid alias {alias!r}: it looks like a version number, so models:/name@{alias} "
            "and models:/name/<version> would be confused. Use a name such as 'champion'."
        )
    if alias.lower() == "latest":
        raise InvalidParameterValue(
            "Invalid alias 'latest': it is reserved (models:/name/latest is the newest version)."
        )
    return alias


__all__ = [
    "MAX_ALIAS_LENGTH",
    "MAX_BATCH_LOG_REQUEST_SIZE",
    "MAX_ENTITY_KEY_LENGTH",
    "MAX_EXPERIMENT_NAME_LENGTH",
    "MAX_METRICS_PER_BATCH",
    "MAX_PARAMS_TAGS_PER_BATCH",
    "MAX_PARAM_VAL_LENGTH",
    "MAX_REGISTERED_MODEL_NAME_LENGTH",
    "MAX_REGISTRY_TAG_VALUE_LENGTH",
    "MAX_TAG_VAL_LENGTH",
    "METRIC_HISTORY_MAX_RESULTS",
    "MonitorStore",
    "RegistryStore",
    "SEARCH_LOGGED_MODEL_MAX_RESULTS_DEFAULT",
    "SEARCH_MAX_RESULTS_DEFAULT",
    "SEARCH_MAX_RESULTS_THRESHOLD",
    "SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT",
    "SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD",
    "SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT",
    "SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD",
    "TrackingStore",
    "validate_alias",
]
