"""`Client`: the explicit, stateless API over one tracking store and its registry.

The fluent functions in `slipway` are built on it. It holds a store (SQL in-process or
REST, chosen by the tracking URI), resolves run artifacts through the artifact layer, and
extends `RegistryClient` with runs, so one object does both, as `MlflowClient` does.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slipway import config
from slipway.artifacts import (
    ArtifactRepository,
    get_artifact_repository,
    join_artifact_path,
    safe_artifact_path,
)
from slipway.entities import (
    DatasetInput,
    Experiment,
    FileInfo,
    LoggedModelStatus,
    Metric,
    PagedList,
    Param,
    Run,
    RunInfo,
    RunStatus,
    Tag,
    ViewType,
    now_ms,
    string_dict,
)
from slipway.errors import InvalidParameterValue
from slipway.models.format import Model, ModelInfo
from slipway.registry.client import RegistryClient
from slipway.store.interface import (
    MAX_METRICS_PER_BATCH,
    MAX_PARAMS_TAGS_PER_BATCH,
    SEARCH_MAX_RESULTS_DEFAULT,
)

if TYPE_CHECKING:
    from slipway.tracking.compare import RunComparison


class Client(RegistryClient):
    """Experiments, runs, metrics and artifacts, and the model registry, addressed by id.

    `Client()` uses the tracking URI chosen with `slipway.set_tracking_uri` (else
    `$SLIPWAY_TRACKING_URI`, else the embedded SQLite store); `Client(uri)` an explicit one.
    The registry methods (`create_registered_model`, `set_registered_model_alias`,
    `promote`, …) come from `RegistryClient` and use the same URI.
    """

    # --- experiments ---------------------------------------------------------------
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: dict[str, Any] | None = None
    ) -> str:
        """Create an experiment; returns its id."""
        return self._store.create_experiment(name, artifact_location, string_dict(tags))

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self._store.get_experiment(str(experiment_id))

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        return self._store.get_experiment_by_name(name)

    def search_experiments(
        self,
        view_type: ViewType | str = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Experiment]:
        return self._store.search_experiments(
            ViewType.parse(view_type), max_results, filter_string, order_by, page_token
        )

    def delete_experiment(self, experiment_id: str) -> None:
        self._store.delete_experiment(str(experiment_id))

    def restore_experiment(self, experiment_id: str) -> None:
        self._store.restore_experiment(str(experiment_id))

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        self._store.rename_experiment(str(experiment_id), new_name)

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        self._store.set_experiment_tag(str(experiment_id), key, str(value))

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        self._store.delete_experiment_tag(str(experiment_id), key)

    # --- runs ----------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        start_time: int | None = None,
        tags: dict[str, Any] | None = None,
        run_name: str | None = None,
    ) -> Run:
        tags = string_dict(tags) or {}
        tags.setdefault("mlflow.user", config.current_user())
        return self._store.create_run(
            str(experiment_id),
            user_id=tags["mlflow.user"],
            start_time=start_time or now_ms(),
            tags=tags,
            run_name=run_name,
        )

    def get_run(self, run_id: str) -> Run:
        return self._store.get_run(run_id)

    def update_run(
        self, run_id: str, status: str | None = None, name: str | None = None
    ) -> RunInfo:
        return self._store.update_run_info(run_id, status=status, run_name=name)

    def set_terminated(
        self, run_id: str, status: str = RunStatus.FINISHED.value, end_time: int | None = None
    ) -> RunInfo:
        """End a run with a terminal status (FINISHED, FAILED or KILLED)."""
        status = RunStatus(str(status).upper()).value
        return self._store.update_run_info(run_id, status=status, end_time=end_time or now_ms())

    def delete_run(self, run_id: str) -> None:
        self._store.delete_run(run_id)

    def restore_run(self, run_id: str) -> None:
        self._store.restore_run(run_id)

    def log_param(self, run_id: str, key: str, value: Any) -> Any:
        self._store.log_batch(run_id, params=[Param(key, _param_str(value))])
        return value

    def log_metric(
        self,
        run_id: str,
        key: str,
        value: float,
        timestamp: int | None = None,
        step: int | None = None,
    ) -> None:
        """Write one point synchronously (the fluent API batches instead)."""
        self._store.log_batch(run_id, metrics=[make_metric(key, value, timestamp, step)])

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[Tag] = (),
    ) -> None:
        """Write metrics, params and tags; in one transaction when within MLflow's limits.

        Larger batches are split like MLflow's client does: params and tags in chunks of
        100, then all metrics through the columnar bulk path in one transaction.
        """
        if (
            len(metrics) <= MAX_METRICS_PER_BATCH
            and len(params) <= MAX_PARAMS_TAGS_PER_BATCH
            and len(tags) <= MAX_PARAMS_TAGS_PER_BATCH
        ):
            self._store.log_batch(run_id, metrics=metrics, params=params, tags=tags)
            return
        for i in range(0, len(params), MAX_PARAMS_TAGS_PER_BATCH):
            self._store.log_batch(run_id, params=params[i : i + MAX_PARAMS_TAGS_PER_BATCH])
        for i in range(0, len(tags), MAX_PARAMS_TAGS_PER_BATCH):
            self._store.log_batch(run_id, tags=tags[i : i + MAX_PARAMS_TAGS_PER_BATCH])
        if metrics:
            self._store.log_metric_columns(
                run_id,
                [m.key for m in metrics],
                [m.value for m in metrics],
                [m.timestamp for m in metrics],
                [m.step for m in metrics],
            )

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        self._store.log_batch(run_id, tags=[Tag(key, str(value))])

    def set_tags(self, run_id: str, tags: dict[str, Any]) -> None:
        """Set several tags of a run in one write."""
        self.log_batch(run_id, tags=[Tag(k, v) for k, v in (string_dict(tags) or {}).items()])

    def delete_tag(self, run_id: str, key: str) -> None:
        self._store.delete_tag(run_id, key)

    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput]) -> None:
        self._store.log_inputs(run_id, datasets)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of one metric, ordered by step then timestamp (all pages)."""
        points: list[Metric] = []
        token = None
        while True:
            page = self._store.get_metric_history(run_id, key, page_token=token)
            points.extend(page.items)
            token = page.next_page_token
            if not token:
                return points

    def search_runs(
        self,
        experiment_ids: Sequence[str] | str,
        filter_string: str = "",
        run_view_type: ViewType | str = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Run]:
        """Runs matching an MLflow filter string, e.g. `metrics.acc > 0.9`."""
        ids = [experiment_ids] if isinstance(experiment_ids, str) else list(experiment_ids)
        return self._store.search_runs(
            [str(i) for i in ids],
            filter_string or "",
            ViewType.parse(run_view_type),
            max_results,
            order_by,
            page_token,
        )

    def compare_runs(self, run_ids: Sequence[str], histories: bool = False) -> RunComparison:
        """Runs side by side: params (differences marked), latest metrics with deltas to
        the first run, and with `histories` every metric's full history for curves."""
        from slipway.tracking.compare import compare_runs

        return compare_runs(self, run_ids, histories=histories)

    # --- artifacts -----------------------------------------------------------------
    def artifact_repository(self, run_id: str) -> ArtifactRepository:
        """The repository holding one run's artifacts."""
        uri = self._store.get_run(run_id).info.artifact_uri
        return get_artifact_repository(uri, self.tracking_uri)

    def log_artifact(self, run_id: str, local_path: str | Path, artifact_path: str | None = None):
        self.artifact_repository(run_id).log_file(local_path, artifact_path)

    def log_artifacts(self, run_id: str, local_dir: str | Path, artifact_path: str | None = None):
        self.artifact_repository(run_id).log_dir(local_dir, artifact_path)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        self.artifact_repository(run_id).write_bytes(
            safe_artifact_path(artifact_file), text.encode("utf-8")
        )

    def log_dict(self, run_id: str, dictionary: dict[str, Any], artifact_file: str) -> None:
        """Write a dict as JSON, or as YAML when the file name ends in .yaml/.yml."""
        if artifact_file.endswith((".yaml", ".yml")):
            import yaml

            text = yaml.safe_dump(dictionary, sort_keys=False)
        else:
            text = json.dumps(dictionary, indent=2, default=str)
        self.log_text(run_id, text, artifact_file)

    def log_figure(self, run_id: str, figure: Any, artifact_file: str) -> None:
        """Save a matplotlib or plotly figure as an image (or HTML for plotly)."""
        path = safe_artifact_path(artifact_file)
        if hasattr(figure, "savefig"):
            import io

            buf = io.BytesIO()
            suffix = Path(path).suffix.lstrip(".") or "png"
            figure.savefig(buf, format=suffix)
            self.artifact_repository(run_id).write_bytes(path, buf.getvalue())
        elif hasattr(figure, "write_html"):
            with tempfile.TemporaryDirectory() as tmp:
                local = Path(tmp) / Path(path).name
                if path.endswith(".html"):
                    figure.write_html(str(local))
                else:
                    figure.write_image(str(local))
                self.log_artifact(run_id, local, str(Path(path).parent) if "/" in path else None)
        else:
            raise InvalidParameterValue(
                f"log_figure needs a matplotlib or plotly figure, got {type(figure).__name__}."
            )

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        return self.artifact_repository(run_id).list(safe_artifact_path(path))

    def log_model_dir(
        self,
        run_id: str,
        local_dir: str | Path,
        name: str,
        model: Model,
        registered_model_name: str | None = None,
    ) -> ModelInfo:
        """Log a saved model folder as an MLflow 3 logged model of run `run_id`.

        Puts the files where MLflow 3 does (`<experiment location>/models/<model_id>/
        artifacts`), rewriting the MLmodel file with the run id and model id first, records
        the model as an output of the run and registers it as a new version of
        `registered_model_name` when given. The model is reachable as `models:/<model_id>`
        and as `runs:/<run_id>/<name>`.
        """
        run = self.get_run(run_id)
        logged = self.registry_store.create_logged_model(
            run.info.experiment_id,
            name=name,
            source_run_id=run_id,
            params=dict(run.data.params),
            model_type=None,
        )
        try:
            model.run_id = run_id
            model.artifact_path = name
            model.model_id = logged.model_id
            model.save(local_dir)
            get_artifact_repository(logged.artifact_location, self.tracking_uri).log_dir(local_dir)
            self._store.log_outputs(run_id, [{"model_id": logged.model_id, "step": 0}])
        except BaseException:
            self.registry_store.finalize_logged_model(
                logged.model_id, LoggedModelStatus.FAILED.value
            )
            raise
        self.registry_store.finalize_logged_model(logged.model_id, LoggedModelStatus.READY.value)
        version = None
        if registered_model_name:
            version = self.register_model(logged.model_uri, registered_model_name).version
        return model.get_model_info(model_uri=logged.model_uri, registered_model_version=version)

    def download_artifacts(
        self, run_id: str, path: str = "", dst_path: str | Path | None = None
    ) -> str:
        """Copy a run's artifact (file or folder) to `dst_path` (a new temp folder if None)."""
        dst = Path(dst_path) if dst_path else Path(tempfile.mkdtemp(prefix="slipway-"))
        dst.mkdir(parents=True, exist_ok=True)
        return self.artifact_repository(run_id).download(join_artifact_path(path), dst)


def make_metric(key: str, value: Any, timestamp: int | None, step: int | None) -> Metric:
    """Validate one metric point from user input."""
    if not isinstance(key, str) or not key:
        raise InvalidParameterValue(f"Metric key must be a non-empty string, got {key!r}.")
    return Metric(key, metric_value(key, value), timestamp or now_ms(), int(step or 0))


def metric_value(key: str, value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidParameterValue(
            f"Got invalid value {value!r} for metric {key!r}: metric values must be numbers."
        ) from None


def _param_str(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


__all__ = [
    "Client",
    "make_metric",
    "metric_value",
]
