"""The metadata store's interface: one abstract class per concern.

Two transports implement it: `slipway.store.sql.SqlTrackingStore` (in-process, SQLite or
PostgreSQL) and `slipway.store.rest.RestTrackingStore` (talks to `slipway server`). The
`Client` never knows which one it holds; the test suite runs the same tests over both.

Ids are strings everywhere (experiment ids are decimal strings, run ids 32 hex chars);
times are epoch milliseconds. Every method raises a `SlipwayError` subclass on bad input.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from slipway.entities import (
    DatasetInput,
    Experiment,
    Metric,
    PagedList,
    Param,
    Run,
    RunInfo,
    Tag,
    ViewType,
)

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
    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput]) -> None: ...

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

    # --- conveniences every transport gets for free ---------------------------------
    def log_param(self, run_id: str, key: str, value: Any) -> None:
        self.log_batch(run_id, params=[Param(key, str(value))])

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        self.log_batch(run_id, tags=[Tag(key, str(value))])

    def log_metric(self, run_id: str, metric: Metric) -> None:
        self.log_batch(run_id, metrics=[metric])

    @abstractmethod
    def close(self) -> None:
        """Release connections; the store must not be used afterwards."""
