"""MLflow 3 logged models: `/api/2.0/mlflow/logged-models` (create, get, search, finalize,
delete, tags, params, artifact listing).

`mlflow.<flavor>.log_model` creates one for every model it logs, uploads the files to its
`artifact_uri` (through the artifact proxy when it is `mlflow-artifacts:/…`), then marks
it READY. A logged model's location is `<experiment location>/models/<model_id>/artifacts`,
so on a server that proxies artifacts it is `mlflow-artifacts:/<exp>/models/<id>/artifacts`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from slipway.artifacts import safe_artifact_path
from slipway.entities import FileInfo
from slipway.errors import InvalidParameterValue
from slipway.server.protocol import as_str, empty_response, json_response
from slipway.server.routes.artifacts import artifact_roots
from slipway.server.routes.mlflow_registry import Registry, RegistryFields, flag
from slipway.store.interface import (
    SEARCH_LOGGED_MODEL_MAX_RESULTS_DEFAULT,
    SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD,
)

router = APIRouter()


@router.post("/logged-models")
def create_logged_model(fields: RegistryFields, store: Registry) -> Response:
    model = store.create_logged_model(
        fields.string("experiment_id", required=True),  # type: ignore[arg-type]
        name=fields.string("name"),
        source_run_id=fields.string("source_run_id"),
        tags=fields.tags(),
        params=fields.tags("params"),
        model_type=fields.string("model_type"),
    )
    return json_response({"model": model.to_dict()})


@router.post("/logged-models/search")
def search_logged_models(fields: RegistryFields, store: Registry) -> Response:
    order_by = []
    for item in fields.objects("order_by"):
        if not item.get("field_name"):
            raise InvalidParameterValue(
                "Missing value for required parameter 'order_by.field_name'."
            )
        order_by.append(
            {
                "field_name": as_str("order_by.field_name", item["field_name"]),
                "ascending": item.get("ascending", True) is not False,
            }
        )
    page = store.search_logged_models(
        fields.strings("experiment_ids"),
        filter_string=fields.string("filter"),
        max_results=fields.integer(
            "max_results",
            SEARCH_LOGGED_MODEL_MAX_RESULTS_DEFAULT,
            minimum=1,
            maximum=SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD,
        ),
        order_by=order_by,
        page_token=fields.string("page_token"),
        datasets=[
            {k: as_str(f"datasets.{k}", v) for k, v in item.items() if v is not None}
            for item in fields.objects("datasets")
        ],
    )
    body: dict = {"models": [m.to_dict() for m in page.items]}
    if page.next_page_token:
        body["next_page_token"] = page.next_page_token
    return json_response(body)


@router.get("/logged-models/{model_id}")
def get_logged_model(model_id: str, fields: RegistryFields, store: Registry) -> Response:
    model = store.get_logged_model(model_id, allow_deleted=flag(fields, "allow_deleted"))
    return json_response({"model": model.to_dict()})


@router.patch("/logged-models/{model_id}")
def finalize_logged_model(model_id: str, fields: RegistryFields, store: Registry) -> Response:
    status = fields.raw("status")
    if status is None or status == "":
        raise InvalidParameterValue("Missing value for required parameter 'status'.")
    model = store.finalize_logged_model(model_id, str(status))
    return json_response({"model": model.to_dict()})


@router.delete("/logged-models/{model_id}")
def delete_logged_model(model_id: str, store: Registry) -> Response:
    store.delete_logged_model(model_id)
    return empty_response()


@router.patch("/logged-models/{model_id}/tags")
def set_logged_model_tags(model_id: str, fields: RegistryFields, store: Registry) -> Response:
    store.set_logged_model_tags(model_id, fields.tags())
    return empty_response()


@router.delete("/logged-models/{model_id}/tags/{tag_key:path}")
def delete_logged_model_tag(model_id: str, tag_key: str, store: Registry) -> Response:
    store.delete_logged_model_tag(model_id, tag_key)
    return empty_response()


@router.post("/logged-models/{model_id}/params")
def log_logged_model_params(model_id: str, fields: RegistryFields, store: Registry) -> Response:
    store.log_logged_model_params(model_id, fields.tags("params"))
    return empty_response()


@router.get("/logged-models/{model_id}/artifacts/directories")
def list_logged_model_artifacts(
    model_id: str, request: Request, fields: RegistryFields, store: Registry
) -> Response:
    """Files of a logged model below `artifact_directory_path`, relative to its root."""
    root_uri = store.get_logged_model(model_id).artifact_location
    repo, prefix = artifact_roots(request).resolve(root_uri)
    rel = safe_artifact_path(fields.string("artifact_directory_path"))
    full = "/".join(p for p in (prefix, rel) if p)
    strip = len(prefix) + 1 if prefix else 0
    files = [FileInfo(f.path[strip:], f.is_dir, f.file_size).to_dict() for f in repo.list(full)]
    return json_response({"root_uri": root_uri, "files": files})


__all__ = ["router"]
