"""The routes MLflow's web UI (and its server tests) call beyond the client's REST API.

`ajax_router` is mounted under `/ajax-api/2.0/mlflow` only, as MLflow serves it: metric
history of several runs at once (whole, or evenly sampled for charts), the datasets an
experiment's runs used, and a small upload into a run's artifacts. `router` holds the
download routes MLflow serves at the root (`/get-artifact`, `/model-versions/get-artifact`).
`logged_model_router` (under both prefixes) serves one file of a logged model.
Downloads are sent as attachments, so a browser never renders an uploaded page.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Request
from starlette.responses import Response

from slipway.artifacts import safe_artifact_path
from slipway.entities import Metric
from slipway.errors import BadRequest, InvalidParameterValue
from slipway.server.protocol import (
    Fields,
    RawBody,
    RequestFields,
    Store,
    empty_response,
    json_response,
)
from slipway.server.routes.artifacts import artifact_roots, send_file
from slipway.server.routes.mlflow_registry import Registry, RegistryFields, registry_store
from slipway.store.interface import TrackingStore

ajax_router = APIRouter()
router = APIRouter()
logged_model_router = APIRouter()

MAX_HISTORY_RESULTS = 25_000  # points in one get-history-bulk answer
MAX_RUN_IDS_PER_REQUEST = 100
MAX_RESULTS_PER_RUN = 2_500  # points per run in one get-history-bulk-interval answer
MAX_EXPERIMENT_IDS_PER_REQUEST = 20
MAX_UPLOAD_SIZE = 10 * 1024 * 1024


def _ids(fields: RequestFields, field: str, request: str, limit: int) -> list[str]:
    """The ids of a bulk request, 1 to `limit` of them, refused in MLflow's words otherwise."""
    ids = fields.strings(field)
    noun = field.removesuffix("s")  # run_id, experiment_id
    if not ids:
        raise InvalidParameterValue(f"{request} request must specify at least one {noun}.")
    if len(ids) > limit:
        raise InvalidParameterValue(
            f"{request} request cannot specify more than {limit} {noun}s. "
            f"Received {len(ids)} {noun}s."
        )
    return ids


# --- metric history of several runs --------------------------------------------------------
@ajax_router.get("/metrics/get-history-bulk")
def get_metric_history_bulk(fields: RequestFields, store: Store) -> Response:
    """Every point of one metric of up to 100 runs, by run, then timestamp and step."""
    run_ids = _ids(fields, "run_id", "GetMetricHistoryBulk", MAX_RUN_IDS_PER_REQUEST)
    key = fields.string("metric_key")
    if key is None:
        raise InvalidParameterValue("GetMetricHistoryBulk request must specify a metric_key.")
    limit = min(fields.integer("max_results", MAX_HISTORY_RESULTS), MAX_HISTORY_RESULTS)  # type: ignore[type-var]
    out: list[dict] = []
    for run_id in sorted(run_ids):
        points = sorted(_history(store, run_id, key), key=lambda m: (m.timestamp, m.step, m.value))
        out.extend(_with_run(m, run_id) for m in points)
    return json_response({"metrics": out[:limit]})


@ajax_router.get("/metrics/get-history-bulk-interval")
def get_metric_history_bulk_interval(fields: RequestFields, store: Store) -> Response:
    """Up to `max_results` points per run, evenly spread over the history (optionally
    `start_step`..`end_step`), always with the first and the last: what a chart needs."""
    run_ids = fields.strings("run_ids")
    if not run_ids:
        raise InvalidParameterValue("Missing value for required parameter 'run_ids'.")
    if len(run_ids) > MAX_RUN_IDS_PER_REQUEST:
        raise InvalidParameterValue(
            f"GetMetricHistoryBulkInterval request must specify at most "
            f"{MAX_RUN_IDS_PER_REQUEST} run_ids. Received {len(run_ids)} run_ids."
        )
    key = fields.string("metric_key", required=True)
    limit = fields.integer("max_results", MAX_RESULTS_PER_RUN)
    if limit is None or not 1 <= limit <= MAX_RESULTS_PER_RUN:
        raise InvalidParameterValue(f"max_results must be between 1 and {MAX_RESULTS_PER_RUN}.")
    start, end = fields.integer("start_step"), fields.integer("end_step")
    if (start is None) != (end is None):
        raise InvalidParameterValue(
            "If either start step or end step are specified, both must be specified."
        )
    if start is not None and end is not None and start > end:
        raise InvalidParameterValue(
            "end_step must be greater than start_step. "
            f"Found start_step={start} and end_step={end}."
        )
    return json_response({"metrics": sampled_histories(store, run_ids, key, limit, start, end)})  # type: ignore[arg-type]


def sampled_histories(
    store: TrackingStore,
    run_ids: Sequence[str],
    key: str,
    limit: int,
    start: int | None = None,
    end: int | None = None,
) -> list[dict]:
    """Each run's history of `key` (within `start`..`end` steps), sampled to `limit`
    points, as `{key, value, timestamp, step, run_id}`; every run is checked first."""
    histories = {run_id: _history(store, run_id, key) for run_id in run_ids}
    out = []
    for run_id, points in histories.items():
        if start is not None and end is not None:
            points = [m for m in points if start <= m.step <= end]
        points.sort(key=lambda m: (m.step, m.timestamp, m.value))
        out.extend(_with_run(m, run_id) for m in sample_evenly(points, limit))
    return out


def sample_evenly(points: list[Metric], limit: int) -> list[Metric]:
    """At most `limit` of `points`, evenly spaced, keeping the first and the last (only the
    last when `limit` is 1)."""
    n = len(points)
    if n <= limit:
        return points
    if limit == 1:
        return points[-1:]
    picks = sorted({round(i * (n - 1) / (limit - 1)) for i in range(limit)})
    return [points[i] for i in picks]


def _history(store: TrackingStore, run_id: str, key: str) -> list[Metric]:
    return list(store.get_metric_history(run_id, key).items)


def _with_run(m: Metric, run_id: str) -> dict:
    return {**m.to_dict(), "run_id": run_id}


# --- datasets ------------------------------------------------------------------------------
@ajax_router.post("/experiments/search-datasets")
def search_datasets(fields: RequestFields, store: Store) -> Response:
    experiment_ids = _ids(
        fields, "experiment_ids", "SearchDatasets", MAX_EXPERIMENT_IDS_PER_REQUEST
    )
    return json_response({"dataset_summaries": store.search_datasets(experiment_ids)})


# --- artifacts -----------------------------------------------------------------------------
@ajax_router.post("/upload-artifact")
def upload_artifact(request: Request, body: RawBody, store: Store) -> Response:
    """Write the body (at most 10 MB) to `path` in the artifacts of run `run_uuid`."""
    query = Fields(request.query_params)
    run_id = query.string("run_uuid") or query.string("run_id")
    if not run_id:
        raise InvalidParameterValue("Request must specify run_uuid.")
    path = query.string("path")
    if not path:
        raise InvalidParameterValue("Request must specify path.")
    rel = safe_artifact_path(path)
    if not body:
        raise InvalidParameterValue("Request must specify data.")
    if len(body) > MAX_UPLOAD_SIZE:
        raise InvalidParameterValue("Artifact size is too large. Max size is 10MB.")
    root_uri = store.get_run(run_id).info.artifact_uri
    repo, prefix = artifact_roots(request).resolve(root_uri)
    repo.write_stream("/".join(p for p in (prefix, rel) if p), iter((body,)))
    return empty_response()


@router.get("/get-artifact")
def get_run_artifact(request: Request, store: Store) -> Response:
    """One file of a run's artifacts (`run_id` or `run_uuid`, `path`)."""
    query = Fields(request.query_params)
    run_id = query.string("run_id") or query.string("run_uuid")
    if not run_id:
        raise InvalidParameterValue("Missing value for required parameter 'run_id'.")
    rel = _file_path(query.string("path"), "path")
    return _send(request, store.get_run(run_id).info.artifact_uri, rel)


@router.get("/model-versions/get-artifact")
def get_model_version_artifact(request: Request) -> Response:
    """One file of a model version (`name`, `version`, `path`)."""
    query = Fields(request.query_params)
    name = query.string("name", required=True)
    version = query.integer("version", required=True, minimum=1)
    rel = _file_path(query.string("path"), "path")
    uri = registry_store(request).get_model_version_download_uri(name, version)  # type: ignore[arg-type]
    return _send(request, uri, rel)


@logged_model_router.get("/logged-models/{model_id}/artifacts/files")
def get_logged_model_artifact(
    model_id: str, request: Request, fields: RegistryFields, store: Registry
) -> Response:
    """One file of a logged model (`artifact_file_path`)."""
    path = fields.string("artifact_file_path")
    if not path:
        raise BadRequest('Request must include the "artifact_file_path" query parameter.')
    rel = _file_path(path, "artifact_file_path")
    return _send(request, store.get_logged_model(model_id).artifact_location, rel)


def _file_path(path: str | None, name: str) -> str:
    rel = safe_artifact_path(path)
    if not rel:
        raise InvalidParameterValue(f"Missing value for required parameter '{name}'.")
    return rel


def _send(request: Request, root_uri: str, rel: str) -> Response:
    repo, prefix = artifact_roots(request).resolve(root_uri)
    return send_file(repo, "/".join(p for p in (prefix, rel) if p), attachment=True)


__all__ = [
    "ajax_router",
    "logged_model_router",
    "router",
    "sample_evenly",
    "sampled_histories",
]
