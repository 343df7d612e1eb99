"""`RestTrackingStore`: the `TrackingStore` over HTTP, for `slipway server` (or any MLflow
server).

Every call is the MLflow REST protocol, except bulk metric logging, which uses slipway's
columnar endpoint (`/api/2.0/slipway/runs/log-metrics`) and falls back to MLflow's
log-batch when the server does not have it. Server errors come back (through the
session) as the same typed `SlipwayError`s the in-process store raises.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from slipway.entities import (
    DatasetInput,
    Experiment,
    LazyRun,
    LoggedModelMetric,
    Metric,
    PagedList,
    Param,
    Run,
    RunInfo,
    Tag,
    ViewType,
    encode_float,
)
from slipway.errors import (
    EndpointNotFound,
    InvalidParameterValue,
    ResourceDoesNotExist,
    SlipwayError,
)
from slipway.store.interface import (
    MAX_BATCH_LOG_REQUEST_SIZE,
    MAX_METRICS_PER_BATCH,
    MAX_PARAMS_TAGS_PER_BATCH,
    METRIC_HISTORY_MAX_RESULTS,
    SEARCH_MAX_RESULTS_DEFAULT,
    TrackingStore,
)
from slipway.store.rest.protocol import MLFLOW, SLIPWAY, key_values, paged
from slipway.store.rest.session import RestSession, shared_session

COLUMN_CHUNK = 50_000  # metric points per columnar request (about 2 MB of JSON)


class RestTrackingStore(TrackingStore):
    """The tracking store behind a `slipway server` URL."""

    def __init__(self, base_url: str, session: RestSession | None = None) -> None:
        """Talk to `base_url` through `session`, else the process's shared session to it."""
        self.session = session or shared_session(base_url)
        self._columnar = True  # False once the server turned out not to have the endpoint
        self._capabilities: frozenset[str] | None = None  # slipway routes, asked once

    @property
    def base_url(self) -> str:
        return self.session.base_url

    def _get(self, path: str, params: Mapping[str, Any]) -> dict[str, Any]:
        return self.session.call("GET", MLFLOW + path, params=params)

    def _post(self, path: str, body: Mapping[str, Any], prefix: str = MLFLOW) -> dict[str, Any]:
        return self.session.call("POST", prefix + path, body)

    # --- experiments ---------------------------------------------------------------
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: dict[str, str] | None = None
    ) -> str:
        body: dict[str, Any] = {"name": name, "tags": key_values(tags)}
        if artifact_location:
            body["artifact_location"] = artifact_location
        return str(self._post("/experiments/create", body)["experiment_id"])

    def get_experiment(self, experiment_id: str) -> Experiment:
        answer = self._get("/experiments/get", {"experiment_id": str(experiment_id)})
        return Experiment.from_dict(answer["experiment"])

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        try:
            answer = self._get("/experiments/get-by-name", {"experiment_name": name})
        except ResourceDoesNotExist:
            return None
        return Experiment.from_dict(answer["experiment"])

    def search_experiments(
        self,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Experiment]:
        body: dict[str, Any] = {
            "view_type": ViewType.parse(view_type).value,
            "max_results": max_results,
            "order_by": list(order_by or []),
        }
        if filter_string:
            body["filter"] = filter_string
        if page_token:
            body["page_token"] = page_token
        return paged(self._post("/experiments/search", body), "experiments", Experiment.from_dict)

    def delete_experiment(self, experiment_id: str) -> None:
        self._post("/experiments/delete", {"experiment_id": str(experiment_id)})

    def restore_experiment(self, experiment_id: str) -> None:
        self._post("/experiments/restore", {"experiment_id": str(experiment_id)})

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        self._post(
            "/experiments/update", {"experiment_id": str(experiment_id), "new_name": new_name}
        )

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        self._post(
            "/experiments/set-experiment-tag",
            {"experiment_id": str(experiment_id), "key": key, "value": str(value)},
        )

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        self._post(
            "/experiments/delete-experiment-tag", {"experiment_id": str(experiment_id), "key": key}
        )

    # --- runs ----------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        user_id: str,
        start_time: int,
        tags: dict[str, str] | None = None,
        run_name: str | None = None,
    ) -> Run:
        body: dict[str, Any] = {
            "experiment_id": str(experiment_id),
            "user_id": user_id,
            "start_time": start_time,
            "tags": key_values(tags),
        }
        if run_name:
            body["run_name"] = run_name
        return Run.from_dict(self._post("/runs/create", body)["run"])

    def get_run(self, run_id: str) -> Run:
        return Run.from_dict(self._get("/runs/get", {"run_id": run_id})["run"])

    def update_run_info(
        self,
        run_id: str,
        status: str | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo:
        body: dict[str, Any] = {"run_id": run_id, "run_uuid": run_id}
        if status is not None:
            body["status"] = getattr(status, "value", status)
        if end_time is not None:
            body["end_time"] = end_time
        if run_name is not None:
            body["run_name"] = run_name
        return RunInfo.from_dict(self._post("/runs/update", body)["run_info"])

    def end_run(
        self,
        run_id: str,
        status: str,
        end_time: int,
        metrics: tuple[Sequence[str], Sequence[float], Sequence[int], Sequence[int]] | None = None,
    ) -> RunInfo:
        """One request (`/api/2.0/slipway/runs/end`) when the server is a slipway server
        that announces it; otherwise MLflow's log-batch/log-metrics and update calls."""
        if "runs/end" not in self._server_capabilities():
            return super().end_run(run_id, status, end_time, metrics)
        body: dict[str, Any] = {"run_id": run_id, "status": status, "end_time": end_time}
        if metrics is not None and len(metrics[1]):
            body.update(_metric_columns_body(*metrics))
        return RunInfo.from_dict(self._post("/runs/end", body, prefix=SLIPWAY)["run_info"])

    def _server_capabilities(self) -> frozenset[str]:
        """The slipway routes the server announces in its server-info (none for MLflow)."""
        if self._capabilities is None:
            try:
                info = self.session.call("GET", "/api/3.0/mlflow/server-info")
            except SlipwayError:
                info = {}  # an older server without server-info: plain MLflow calls
            found = info.get("slipway_capabilities") if info.get("server") == "slipway" else None
            self._capabilities = frozenset(found if isinstance(found, list) else ())
        return self._capabilities

    def delete_run(self, run_id: str) -> None:
        self._post("/runs/delete", {"run_id": run_id})

    def restore_run(self, run_id: str) -> None:
        self._post("/runs/restore", {"run_id": run_id})

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[Tag] = (),
    ) -> None:
        """One request, so one transaction, as in-process.

        MLflow's log-batch also caps metrics + params + tags at 1000 per request; a batch
        the in-process store accepts but over that total goes to slipway's log-batch,
        which has only the per-kind limits.
        """
        body = {
            "run_id": run_id,
            "metrics": [m.to_dict() for m in metrics],
            "params": [p.to_dict() for p in params],
            "tags": [t.to_dict() for t in tags],
        }
        total = len(body["metrics"]) + len(body["params"]) + len(body["tags"])
        if total <= MAX_BATCH_LOG_REQUEST_SIZE or not self._columnar:
            self._post("/runs/log-batch", body)
            return
        try:
            self._post("/runs/log-batch", body, prefix=SLIPWAY)
        except SlipwayError as exc:
            if not isinstance(exc, EndpointNotFound):
                raise
            self._columnar = False
            self._log_batch_mlflow(run_id, metrics, params, tags)

    def _log_batch_mlflow(
        self,
        run_id: str,
        metrics: Sequence[Metric],
        params: Sequence[Param],
        tags: Sequence[Tag],
    ) -> None:
        """Plain MLflow log-batch calls within its limits (params/tags first), for servers
        without slipway's endpoints; such a batch is no longer one transaction."""
        params, tags, metrics = list(params), list(tags), list(metrics)
        while True:
            p, params = params[:MAX_PARAMS_TAGS_PER_BATCH], params[MAX_PARAMS_TAGS_PER_BATCH:]
            t, tags = tags[:MAX_PARAMS_TAGS_PER_BATCH], tags[MAX_PARAMS_TAGS_PER_BATCH:]
            room = min(MAX_METRICS_PER_BATCH, MAX_BATCH_LOG_REQUEST_SIZE - len(p) - len(t))
            m, metrics = metrics[:room], metrics[room:]
            self._post(
                "/runs/log-batch",
                {
                    "run_id": run_id,
                    "metrics": [x.to_dict() for x in m],
                    "params": [x.to_dict() for x in p],
                    "tags": [x.to_dict() for x in t],
                },
            )
            if not (params or tags or metrics):
                break

    def log_metric_columns(
        self,
        run_id: str,
        keys: Sequence[str],
        values: Sequence[float],
        timestamps: Sequence[int],
        steps: Sequence[int],
    ) -> None:
        """Columnar requests of `COLUMN_CHUNK` points, each one transaction.

        Chunks go one after another: concurrent writers to one SQLite database would only
        wait on each other's locks.
        """
        n = len(values)
        if not (len(keys) == len(timestamps) == len(steps) == n):
            raise InvalidParameterValue(
                f"log_metric_columns needs columns of equal length; got {len(keys)} keys, "
                f"{n} values, {len(timestamps)} timestamps and {len(steps)} steps."
            )
        as_metrics = zip(keys, values, timestamps, steps, strict=True)
        if not self._columnar:
            self._log_batch_mlflow(run_id, [_metric(*m) for m in as_metrics], (), ())
            return
        columns = (
            list(keys),
            np.asarray(values, dtype=np.float64),
            np.asarray(timestamps, dtype=np.int64),
            np.asarray(steps, dtype=np.int64),
        )
        try:
            for start in range(0, max(n, 1), COLUMN_CHUNK):
                self._post_columns(run_id, columns, start)
        except SlipwayError as exc:
            if not isinstance(exc, EndpointNotFound):
                raise
            self._columnar = False  # an MLflow server: nothing was stored; use log-batch
            self._log_batch_mlflow(run_id, [_metric(*m) for m in as_metrics], (), ())

    def _post_columns(
        self, run_id: str, columns: tuple[list[str], np.ndarray, np.ndarray, np.ndarray], start: int
    ) -> None:
        keys, values, timestamps, steps = columns
        end = start + COLUMN_CHUNK
        body = _columns_body(
            keys[start:end], values[start:end], timestamps[start:end], steps[start:end]
        )
        body["run_id"] = run_id
        self._post("/runs/log-metrics", body, prefix=SLIPWAY)

    def delete_tag(self, run_id: str, key: str) -> None:
        self._post("/runs/delete-tag", {"run_id": run_id, "key": key})

    def log_inputs(
        self, run_id: str, datasets: Sequence[DatasetInput], models: Sequence[str] = ()
    ) -> None:
        body: dict[str, Any] = {"run_id": run_id, "datasets": [d.to_dict() for d in datasets]}
        if models:
            body["models"] = [{"model_id": m} for m in models]
        self._post("/runs/log-inputs", body)

    def search_datasets(self, experiment_ids: Sequence[str]) -> list[dict[str, Any]]:
        body = {"experiment_ids": [str(i) for i in experiment_ids]}
        answer = self.session.call("POST", "/ajax-api/2.0/mlflow/experiments/search-datasets", body)
        return list(answer.get("dataset_summaries") or [])

    def log_model_metrics(self, run_id: str, metrics: Sequence[LoggedModelMetric]) -> None:
        for start in range(0, len(metrics), MAX_METRICS_PER_BATCH):
            chunk = metrics[start : start + MAX_METRICS_PER_BATCH]
            self._post(
                "/runs/log-batch", {"run_id": run_id, "metrics": [m.to_dict() for m in chunk]}
            )

    def log_outputs(self, run_id: str, models: Sequence[dict[str, Any]]) -> None:
        self._post("/runs/outputs", {"run_id": run_id, "models": list(models)})

    def get_metric_history(
        self,
        run_id: str,
        key: str,
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> PagedList[Metric]:
        """One page; without `max_results`, every point (fetched page by page)."""
        params: dict[str, Any] = {"run_id": run_id, "metric_key": key}
        if max_results is not None:
            params["max_results"] = max_results
            if page_token:
                params["page_token"] = page_token
            return paged(self._get("/metrics/get-history", params), "metrics", Metric.from_dict)
        params["max_results"] = METRIC_HISTORY_MAX_RESULTS
        out: list[Metric] = []
        token = page_token
        while True:
            if token:
                params["page_token"] = token
            answer = self._get("/metrics/get-history", params)
            out.extend(Metric.from_dict(m) for m in answer.get("metrics", []))
            token = answer.get("next_page_token")
            if not token:
                return PagedList(out, None)

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str = "",
        run_view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Run]:
        body: dict[str, Any] = {
            "experiment_ids": [str(e) for e in experiment_ids],
            "filter": filter_string or "",
            "run_view_type": ViewType.parse(run_view_type).value,
            "max_results": max_results,
            "order_by": list(order_by or []),
        }
        if page_token:
            body["page_token"] = page_token
        # Runs decode their data on first use: most callers of a search read only `info`.
        return paged(self._post("/runs/search", body), "runs", LazyRun)

    def close(self) -> None:
        """Nothing to release: the session belongs to whoever made it (see `shared_session`)."""


def _columns_body(
    keys: list[str], values: np.ndarray, timestamps: Any, steps: Any
) -> dict[str, Any]:
    """The columns of `/api/2.0/slipway/runs/log-metrics` (and `runs/end`)."""
    distinct = list(dict.fromkeys(keys))
    body: dict[str, Any] = {
        "values": _encode_values(values),
        "timestamps": timestamps,
        "steps": steps,
    }
    if len(distinct) * 4 < len(keys):  # few distinct names: send positions
        position = {k: i for i, k in enumerate(distinct)}
        body["keys"] = distinct
        body["key_index"] = np.fromiter(
            map(position.__getitem__, keys), dtype=np.int32, count=len(keys)
        )
    else:
        body["keys"] = keys
    return body


def _metric_columns_body(
    keys: Sequence[str], values: Sequence[float], timestamps: Sequence[int], steps: Sequence[int]
) -> dict[str, Any]:
    """A run's few last points as columns (plain lists: NumPy costs more than it saves)."""
    floats = [float(v) for v in values]
    if not all(map(math.isfinite, floats)):
        return _columns_body(list(keys), np.asarray(floats), list(timestamps), list(steps))
    return {
        "keys": list(keys),
        "values": floats,
        "timestamps": list(timestamps),
        "steps": list(steps),
    }


def _metric(key: str, value: float, timestamp: int, step: int) -> Metric:
    """A point of metric columns (NumPy scalars included) as a Metric."""
    return Metric(key, float(value), int(timestamp), int(step))


def _encode_values(values: np.ndarray) -> np.ndarray | list[float | str]:
    """Finite values go as a numpy array (orjson writes it in C); others as protobuf strings."""
    finite = np.isfinite(values)
    if finite.all():
        return values
    out: list[float | str] = values.tolist()
    for i in np.flatnonzero(~finite).tolist():
        out[i] = encode_float(out[i])
    return out


__all__ = ["COLUMN_CHUNK", "RestTrackingStore"]
