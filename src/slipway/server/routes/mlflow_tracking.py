"""The MLflow tracking REST API: experiments, runs, metrics and run artifact listings.

Mounted under `/api/2.0/mlflow` and `/ajax-api/2.0/mlflow`. Each route reads the
protocol's fields, calls the `TrackingStore`, and answers with the entities' `to_dict()`
shapes. The routes are plain `def`s so the blocking store calls run in the threadpool.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from slipway.artifacts import safe_artifact_path
from slipway.entities import (
    Dataset,
    DatasetInput,
    FileInfo,
    LoggedModelMetric,
    Metric,
    Param,
    Tag,
    now_ms,
)
from slipway.errors import InvalidParameterValue, ResourceDoesNotExist
from slipway.server.protocol import (
    Fields,
    RequestFields,
    Store,
    as_int,
    as_str,
    empty_response,
    json_response,
    parse_metric,
)
from slipway.server.routes.artifacts import artifact_roots
from slipway.store.interface import (
    MAX_BATCH_LOG_REQUEST_SIZE,
    MAX_METRICS_PER_BATCH,
    MAX_PARAMS_TAGS_PER_BATCH,
    SEARCH_MAX_RESULTS_DEFAULT,
    SEARCH_MAX_RESULTS_THRESHOLD,
    TrackingStore,
)

router = APIRouter()


def _paged(name: str, items: list, token: str | None) -> Response:
    body: dict = {name: [i.to_dict() for i in items]}
    if token:
        body["next_page_token"] = token
    return json_response(body)


# --- experiments ---------------------------------------------------------------------
@router.get("/experiments/get-by-name")
def get_experiment_by_name(fields: RequestFields, store: Store) -> Response:
    name = fields.string("experiment_name", required=True)
    experiment = store.get_experiment_by_name(name)
    if experiment is None:
        raise ResourceDoesNotExist(f"Could not find experiment with name '{name}'.")
    return json_response({"experiment": experiment.to_dict()})


@router.post("/experiments/create")
def create_experiment(fields: RequestFields, store: Store) -> Response:
    experiment_id = store.create_experiment(
        fields.string("name", required=True),
        artifact_location=fields.string("artifact_location"),
        tags=fields.tags(),
    )
    return json_response({"experiment_id": experiment_id})


@router.get("/experiments/get")
def get_experiment(fields: RequestFields, store: Store) -> Response:
    experiment = store.get_experiment(fields.string("experiment_id", required=True))
    return json_response({"experiment": experiment.to_dict()})


@router.api_route("/experiments/search", methods=["GET", "POST"])
def search_experiments(fields: RequestFields, store: Store) -> Response:
    page = store.search_experiments(
        view_type=fields.view_type("view_type"),
        max_results=fields.integer(
            "max_results",
            SEARCH_MAX_RESULTS_DEFAULT,
            minimum=1,
            maximum=SEARCH_MAX_RESULTS_THRESHOLD,
        ),
        filter_string=fields.string("filter"),
        order_by=fields.strings("order_by"),
        page_token=fields.string("page_token"),
    )
    return _paged("experiments", page.items, page.next_page_token)


@router.post("/experiments/update")
def update_experiment(fields: RequestFields, store: Store) -> Response:
    experiment_id = fields.string("experiment_id", required=True)
    new_name = fields.string("new_name")
    if new_name is not None:
        store.rename_experiment(experiment_id, new_name)
    else:
        store.get_experiment(experiment_id)  # an unknown id is still a 404
    return empty_response()


@router.post("/experiments/delete")
def delete_experiment(fields: RequestFields, store: Store) -> Response:
    store.delete_experiment(fields.string("experiment_id", required=True))
    return empty_response()


@router.post("/experiments/restore")
def restore_experiment(fields: RequestFields, store: Store) -> Response:
    store.restore_experiment(fields.string("experiment_id", required=True))
    return empty_response()


@router.post("/experiments/set-experiment-tag")
def set_experiment_tag(fields: RequestFields, store: Store) -> Response:
    store.set_experiment_tag(
        fields.string("experiment_id", required=True),
        fields.string("key", required=True),
        fields.value("value"),
    )
    return empty_response()


@router.post("/experiments/delete-experiment-tag")
def delete_experiment_tag(fields: RequestFields, store: Store) -> Response:
    store.delete_experiment_tag(
        fields.string("experiment_id", required=True), fields.string("key", required=True)
    )
    return empty_response()


# --- runs ------------------------------------------------------------------------------
@router.post("/runs/create")
def create_run(fields: RequestFields, store: Store) -> Response:
    run = store.create_run(
        experiment_id=fields.string("experiment_id") or "0",
        user_id=fields.string("user_id") or "",
        start_time=fields.integer("start_time", now_ms()),
        tags=fields.tags(),
        run_name=fields.string("run_name"),
    )
    return json_response({"run": run.to_dict()})


@router.get("/runs/get")
def get_run(fields: RequestFields, store: Store) -> Response:
    return json_response({"run": store.get_run(fields.run_id()).to_dict()})


@router.post("/runs/update")
def update_run(fields: RequestFields, store: Store) -> Response:
    info = store.update_run_info(
        fields.run_id(),
        status=fields.run_status("status"),
        end_time=fields.integer("end_time"),
        run_name=fields.string("run_name"),
    )
    return json_response({"run_info": info.to_dict()})


@router.post("/runs/delete")
def delete_run(fields: RequestFields, store: Store) -> Response:
    store.delete_run(fields.run_id())
    return empty_response()


@router.post("/runs/restore")
def restore_run(fields: RequestFields, store: Store) -> Response:
    store.restore_run(fields.run_id())
    return empty_response()


@router.post("/runs/log-parameter")
def log_param(fields: RequestFields, store: Store) -> Response:
    run_id = fields.run_id()
    key = fields.string("key", required=True)
    store.log_batch(run_id, params=[Param(key, fields.value("value", required=True))])
    return empty_response()


@router.post("/runs/log-metric")
def log_metric(fields: RequestFields, store: Store) -> Response:
    run_id = fields.run_id()
    metric = Metric(
        fields.string("key", required=True),
        fields.number("value"),
        fields.integer("timestamp", required=True),
        fields.integer("step", 0),
    )
    model_id = fields.string("model_id")
    if model_id:
        link = _linked(metric, model_id, run_id, fields.raw)
        store.log_model_metrics(run_id, [link])
    else:
        store.log_batch(run_id, metrics=[metric])
    return empty_response()


def _linked(metric: Metric, model_id: str, run_id: str, get: Any) -> LoggedModelMetric:
    """`metric` linked to a logged model, with the dataset named by `get(field)`."""
    return LoggedModelMetric(
        metric.key,
        metric.value,
        metric.timestamp,
        metric.step,
        model_id,
        run_id,
        get("dataset_name") or None,
        get("dataset_digest") or None,
    )


@router.post("/runs/set-tag")
def set_tag(fields: RequestFields, store: Store) -> Response:
    run_id = fields.run_id()
    key = fields.string("key", required=True)
    store.log_batch(run_id, tags=[Tag(key, fields.value("value"))])
    return empty_response()


@router.post("/runs/delete-tag")
def delete_tag(fields: RequestFields, store: Store) -> Response:
    store.delete_tag(fields.run_id(), fields.string("key", required=True))
    return empty_response()


@router.post("/runs/log-batch")
def log_batch(fields: RequestFields, store: Store) -> Response:
    run_id = fields.run_id()
    raw_metrics = fields.objects("metrics")
    params = fields.key_values("params")
    tags = fields.key_values("tags")
    _check_batch_limits(len(raw_metrics), len(params), len(tags))
    metrics, linked = [], []
    for raw in raw_metrics:
        metric = parse_metric(raw)
        if raw.get("model_id"):
            linked.append(_linked(metric, raw["model_id"], run_id, raw.get))
        else:
            metrics.append(metric)
    if metrics or params or tags or not linked:
        store.log_batch(
            run_id,
            metrics=metrics,
            params=[Param(k, v) for k, v in params],
            tags=[Tag(k, v) for k, v in tags],
        )
    if linked:
        store.log_model_metrics(run_id, linked)
    return empty_response()


def _check_batch_limits(n_metrics: int, n_params: int, n_tags: int) -> None:
    """MLflow's log-batch limits, so a request that works here works on MLflow too."""
    for what, count, limit in (
        ("metrics", n_metrics, MAX_METRICS_PER_BATCH),
        ("params", n_params, MAX_PARAMS_TAGS_PER_BATCH),
        ("tags", n_tags, MAX_PARAMS_TAGS_PER_BATCH),
    ):
        if count > limit:
            raise InvalidParameterValue(
                f"A batch logging request can contain at most {limit} {what}; got {count}. "
                "Split it into several requests (or use /api/2.0/slipway/runs/log-metrics "
                "for bulk metrics)."
            )
    total = n_metrics + n_params + n_tags
    if total > MAX_BATCH_LOG_REQUEST_SIZE:
        raise InvalidParameterValue(
            f"A batch logging request can contain at most {MAX_BATCH_LOG_REQUEST_SIZE} "
            f"metrics, params and tags in total; got {total}."
        )


@router.post("/runs/log-inputs")
def log_inputs(fields: RequestFields, store: Store) -> Response:
    run_id = fields.run_id()
    inputs = []
    for item in fields.objects("datasets"):
        dataset = item.get("dataset")
        if not isinstance(dataset, dict):
            raise InvalidParameterValue("Missing value for required parameter 'datasets.dataset'.")
        described = Fields(dataset)
        inputs.append(
            DatasetInput(
                Dataset(
                    name=described.string("name", required=True),
                    digest=described.string("digest", required=True),
                    source_type=described.string("source_type") or "",
                    source=described.string("source") or "",
                    schema=described.string("schema") or "",
                    profile=described.string("profile") or "",
                ),
                tags=Fields(item).tags(),
            )
        )
    models = []
    for item in fields.objects("models"):
        if not item.get("model_id"):
            raise InvalidParameterValue("Missing value for required parameter 'models.model_id'.")
        models.append(item["model_id"])
    if inputs or models:
        store.log_inputs(run_id, inputs, models)
    else:
        store.get_run(run_id)  # an unknown run is still a 404
    return empty_response()


@router.post("/runs/outputs")
def log_outputs(fields: RequestFields, store: Store) -> Response:
    run_id = fields.run_id()
    models = []
    for item in fields.objects("models"):
        model_id = item.get("model_id")
        if not model_id:
            raise InvalidParameterValue("Missing value for required parameter 'models.model_id'.")
        step = item.get("step")
        models.append(
            {
                "model_id": as_str("models.model_id", model_id),
                "step": 0 if step is None else as_int("models.step", step),
            }
        )
    store.log_outputs(run_id, models)
    return empty_response()


LOGGED_MODELS_TAG = "mlflow.log-model.history"
_MODEL_JSON_FIELDS = ("artifact_path", "flavors", "utc_time_created", "run_id")
_MODEL_IDENTITY = ("run_id", "utc_time_created", "artifact_path", "model_uuid")


@router.post("/runs/log-model")
def log_model(fields: RequestFields, store: Store) -> Response:
    """MLflow 2's record of a model logged in a run: appended to the run's
    `mlflow.log-model.history` tag (the MLmodel's identity and flavors, without configs)."""
    run_id = fields.run_id()
    text = fields.string("model_json", required=True)
    try:
        model = orjson.loads(text)  # type: ignore[arg-type]
    except orjson.JSONDecodeError:
        model = None
    if not isinstance(model, dict):
        raise InvalidParameterValue(f"Malformed model info. \n {text} \n is not a valid JSON.")
    missing = {f for f in _MODEL_JSON_FIELDS if f not in model}
    if missing:
        raise InvalidParameterValue(f"Model json is missing mandatory fields: {missing}")
    entry = {
        k: model[k]
        for k in ("run_id", "utc_time_created", "artifact_path", "model_uuid")
        if k in model
    }
    flavors = model.get("flavors") if isinstance(model.get("flavors"), dict) else {}
    entry["flavors"] = {
        name: {k: v for k, v in conf.items() if k != "config"} if isinstance(conf, dict) else conf
        for name, conf in flavors.items()
    }
    history = store.get_run(run_id).data.tags.get(LOGGED_MODELS_TAG)
    entries = orjson.loads(history) if history else []
    entries.append(entry)
    store.log_batch(run_id, tags=[Tag(LOGGED_MODELS_TAG, orjson.dumps(entries).decode())])
    return empty_response()


@router.post("/runs/search")
def search_runs(fields: RequestFields, store: Store) -> Response:
    page = store.search_runs(
        experiment_ids=fields.strings("experiment_ids"),
        filter_string=fields.string("filter") or "",
        run_view_type=fields.view_type("run_view_type"),
        max_results=fields.integer(
            "max_results",
            SEARCH_MAX_RESULTS_DEFAULT,
            minimum=1,
            maximum=SEARCH_MAX_RESULTS_THRESHOLD,
        ),
        order_by=fields.strings("order_by"),
        page_token=fields.string("page_token"),
    )
    return _paged("runs", page.items, page.next_page_token)


# --- metrics ---------------------------------------------------------------------------
@router.get("/metrics/get-history")
def get_metric_history(fields: RequestFields, store: Store) -> Response:
    page = store.get_metric_history(
        fields.run_id(),
        fields.string("metric_key", required=True),
        max_results=fields.integer("max_results", None, minimum=1),
        page_token=fields.string("page_token"),
    )
    return _paged("metrics", page.items, page.next_page_token)


# --- run artifacts -----------------------------------------------------------------------
@router.get("/artifacts/list")
def list_artifacts(request: Request, fields: RequestFields, store: Store) -> Response:
    """A run's artifacts below `path`, with paths relative to the run's artifact root."""
    return json_response(run_artifacts(request, store, fields.run_id(), fields.string("path")))


def run_artifacts(request: Request, store: TrackingStore, run_id: str, path: str | None) -> dict:
    """`{root_uri, files}` of a run's artifacts below `path` (also the GraphQL answer)."""
    root_uri = store.get_run(run_id).info.artifact_uri
    repo, prefix = artifact_roots(request).resolve(root_uri)
    rel = safe_artifact_path(path)
    full = "/".join(p for p in (prefix, rel) if p)
    strip = len(prefix) + 1 if prefix else 0
    files = [FileInfo(f.path[strip:], f.is_dir, f.file_size).to_dict() for f in repo.list(full)]
    return {"root_uri": root_uri, "files": files}


__all__ = ["router", "run_artifacts"]
