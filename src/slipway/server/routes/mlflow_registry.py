"""The MLflow model registry REST API, plus slipway's registry extensions.

`router` is mounted under `/api/2.0/mlflow` and `/ajax-api/2.0/mlflow` (registered models,
model versions, aliases, tags); `slipway_router` under `/api/2.0/slipway` (audit history,
gated promotion, alias rollback). Routes only translate HTTP to `RegistryStore` calls.

The mlflow client sends DELETE requests with a JSON body, so DELETE reads the body (and
the query string). slipway's REST client adds a few optional fields the protocol does not
have (`reason`, `force`) and names the acting user in the `X-Slipway-User` header.
"""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from slipway.errors import InvalidParameterValue
from slipway.server.messages import check_body
from slipway.server.protocol import Fields, empty_response, json_response, parse_json_object
from slipway.store.interface import (
    SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
    SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD,
    RegistryStore,
)
from slipway.store.rest import ACTOR_HEADER

router = APIRouter()
slipway_router = APIRouter()
_open_lock = threading.Lock()


def registry_store(request: Request) -> RegistryStore:
    """The app's registry store (`app.state.registry`), opened on the tracking store's
    database the first time it is needed."""
    state = request.app.state
    store = getattr(state, "registry", None)
    if store is None:
        with _open_lock:
            store = getattr(state, "registry", None)
            if store is None:
                from slipway.store.factory import open_registry_store

                tracking = state.store
                store = open_registry_store(
                    getattr(tracking, "db_uri", None), tracking_store=tracking
                )
                state.registry = store
    return store


async def registry_fields(request: Request) -> Fields:
    """GET reads the query string; DELETE the JSON body merged over the query string;
    POST/PATCH the JSON body."""
    if request.method in ("GET", "HEAD"):
        return Fields(request.query_params)
    body = parse_json_object(await request.body())
    check_body(request.method, request.scope["path"], body)
    if request.method == "DELETE":
        return Fields({**dict(request.query_params), **body})
    return Fields(body)


def actor(request: Request) -> str:
    """Who acts: the authenticated user, else the client's `X-Slipway-User` header, else
    an anonymous caller identified by address."""
    user = request.scope.get("user")
    name = getattr(user, "username", None) or getattr(user, "display_name", None)
    if name:
        return str(name)
    header = request.headers.get(ACTOR_HEADER)
    if header:
        return header[:256]
    host = request.client.host if request.client else "unknown"
    return f"anonymous@{host}"


Registry = Annotated[RegistryStore, Depends(registry_store)]
RegistryFields = Annotated[Fields, Depends(registry_fields)]
Actor = Annotated[str, Depends(actor)]


def flag(fields: Fields, name: str) -> bool:
    """A boolean field: JSON true/false, or "true"/"false"/"1"/"0" in a query string."""
    value = fields.raw(name)
    if value is None or value == "":
        return False
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise InvalidParameterValue(
        f"Invalid value {value!r} for parameter '{name}': expected true/false."
    )


def _name(fields: Fields) -> str:
    return fields.string("name", required=True)  # type: ignore[return-value]


def _version(fields: Fields) -> int:
    return fields.integer("version", required=True, minimum=1)  # type: ignore[return-value]


def _paged(name: str, items: list[Any], token: str | None) -> Response:
    body: dict[str, Any] = {name: [i.to_dict() for i in items]}
    if token:
        body["next_page_token"] = token
    return json_response(body)


# --- registered models -------------------------------------------------------------------
@router.post("/registered-models/create")
def create_registered_model(fields: RegistryFields, store: Registry, who: Actor) -> Response:
    model = store.create_registered_model(
        _name(fields), fields.tags(), fields.string("description"), actor=who
    )
    return json_response({"registered_model": model.to_dict()})


@router.get("/registered-models/get")
def get_registered_model(fields: RegistryFields, store: Registry) -> Response:
    return json_response({"registered_model": store.get_registered_model(_name(fields)).to_dict()})


@router.post("/registered-models/rename")
def rename_registered_model(fields: RegistryFields, store: Registry, who: Actor) -> Response:
    model = store.rename_registered_model(
        _name(fields), fields.string("new_name", required=True), actor=who
    )
    return json_response({"registered_model": model.to_dict()})


@router.patch("/registered-models/update")
def update_registered_model(fields: RegistryFields, store: Registry, who: Actor) -> Response:
    model = store.update_registered_model(_name(fields), fields.string("description"), actor=who)
    return json_response({"registered_model": model.to_dict()})


@router.delete("/registered-models/delete")
def delete_registered_model(fields: RegistryFields, store: Registry, who: Actor) -> Response:
    store.delete_registered_model(_name(fields), actor=who, reason=fields.string("reason"))
    return empty_response()


@router.get("/registered-models/search")
def search_registered_models(fields: RegistryFields, store: Registry) -> Response:
    page = store.search_registered_models(
        filter_string=fields.string("filter"),
        max_results=fields.integer(
            "max_results",
            SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
            minimum=1,
            maximum=SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD,
        ),
        order_by=fields.strings("order_by"),
        page_token=fields.string("page_token"),
    )
    return _paged("registered_models", page.items, page.next_page_token)


@router.api_route("/registered-models/get-latest-versions", methods=["GET", "POST"])
def get_latest_versions(fields: RegistryFields, store: Registry) -> Response:
    versions = store.get_latest_versions(_name(fields), fields.strings("stages") or None)
    return json_response({"model_versions": [v.to_dict() for v in versions]})


@router.post("/registered-models/set-tag")
def set_registered_model_tag(fields: RegistryFields, store: Registry, who: Actor) -> Response:
    store.set_registered_model_tag(
        _name(fields), fields.string("key", required=True), fields.string("value") or "", actor=who
    )
    return empty_response()


@router.delete("/registered-models/delete-tag")
def delete_registered_model_tag(fields: RegistryFields, store: Registry, who: Actor) -> Response:
    store.delete_registered_model_tag(_name(fields), fields.string("key", required=True), actor=who)
    return empty_response()


# --- aliases -----------------------------------------------------------------------------
@router.post("/registered-models/alias")
def set_registered_model_alias(fields: RegistryFields, store: Registry, who: Actor) -> Response:
    store.set_registered_model_alias(
        _name(fields),
        fields.string("alias", required=True),
        _version(fields),
        actor=who,
        reason=fields.string("reason"),
    )
    return empty_response()


@router.delete("/registered-models/alias")
def delete_registered_model_alias(fields: RegistryFields, store: Registry, who: Actor) -> Response:
    store.delete_registered_model_alias(
        _name(fields),
        fields.string("alias", required=True),
        actor=who,
        reason=fields.string("reason"),
    )
    return empty_response()


@router.get("/registered-models/alias")
def get_model_version_by_alias(fields: RegistryFields, store: Registry) -> Response:
    version = store.get_model_version_by_alias(_name(fields), fields.string("alias", required=True))
    return json_response({"model_version": version.to_dict()})


# --- model versions ----------------------------------------------------------------------
@router.post("/model-versions/create")
def create_model_version(fields: RegistryFields, store: Registry, who: Actor) -> Response:
    version = store.create_model_version(
        _name(fields),
        fields.string("source", required=True),  # type: ignore[arg-type]
        run_id=fields.string("run_id"),
        tags=fields.tags(),
        run_link=fields.string("run_link"),
        description=fields.string("description"),
        model_id=fields.string("model_id"),
        actor=who,
    )
    return json_response({"model_version": version.to_dict()})


@router.get("/model-versions/get")
def get_model_version(fields: RegistryFields, store: Registry) -> Response:
    version = store.get_model_version(_name(fields), _version(fields))
    return json_response({"model_version": version.to_dict()})


@router.patch("/model-versions/update")
def update_model_version(fields: RegistryFields, store: Registry, who: Actor) -> Response:
    version = store.update_model_version(
        _name(fields), _version(fields), fields.string("description"), actor=who
    )
    return json_response({"model_version": version.to_dict()})


@router.delete("/model-versions/delete")
def delete_model_version(fields: RegistryFields, store: Registry, who: Actor) -> Response:
    store.delete_model_version(
        _name(fields),
        _version(fields),
        force=flag(fields, "force"),
        actor=who,
        reason=fields.string("reason"),
    )
    return empty_response()


@router.post("/model-versions/transition-stage")
def transition_model_version_stage(fields: RegistryFields, store: Registry, who: Actor) -> Response:
    version = store.transition_model_version_stage(
        _name(fields),
        _version(fields),
        fields.string("stage", required=True),  # type: ignore[arg-type]
        flag(fields, "archive_existing_versions"),
        actor=who,
        reason=fields.string("reason"),
    )
    return json_response({"model_version": version.to_dict()})


@router.get("/model-versions/search")
def search_model_versions(fields: RegistryFields, store: Registry) -> Response:
    page = store.search_model_versions(
        filter_string=fields.string("filter"),
        max_results=fields.integer(
            "max_results",
            SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
            minimum=1,
            maximum=SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD,
        ),
        order_by=fields.strings("order_by"),
        page_token=fields.string("page_token"),
    )
    return _paged("model_versions", page.items, page.next_page_token)


@router.get("/model-versions/get-download-uri")
def get_model_version_download_uri(fields: RegistryFields, store: Registry) -> Response:
    uri = store.get_model_version_download_uri(_name(fields), _version(fields))
    return json_response({"artifact_uri": uri})


@router.post("/model-versions/set-tag")
def set_model_version_tag(fields: RegistryFields, store: Registry, who: Actor) -> Response:
    store.set_model_version_tag(
        _name(fields),
        _version(fields),
        fields.string("key", required=True),  # type: ignore[arg-type]
        fields.string("value") or "",
        actor=who,
    )
    return empty_response()


@router.delete("/model-versions/delete-tag")
def delete_model_version_tag(fields: RegistryFields, store: Registry, who: Actor) -> Response:
    store.delete_model_version_tag(
        _name(fields), _version(fields), fields.string("key", required=True), actor=who
    )
    return empty_response()


# --- slipway extensions (/api/2.0/slipway) -------------------------------------------------
@slipway_router.get("/registered-models/history")
def get_model_history(fields: RegistryFields, store: Registry) -> Response:
    """The model's audit trail, oldest first. Read-only: there is no route to edit it."""
    events = store.get_audit_events(_name(fields))
    return json_response({"events": [e.to_dict() for e in events]})


@slipway_router.post("/model-versions/promote")
def promote(fields: RegistryFields, store: Registry, who: Actor) -> Response:
    """Gated promotion. Answers 200 with every check whether or not the gates passed
    (`promotion.passed`, `promotion.applied`); bad input is a 400."""
    from slipway.registry.gates import parse_conditions

    result = store.promote(
        _name(fields),
        _version(fields),
        parse_conditions(fields.strings("require"), fields.strings("must_beat")),
        alias=fields.string("alias"),
        stage=fields.string("stage"),
        archive_existing_versions=flag(fields, "archive_existing_versions"),
        dry_run=flag(fields, "dry_run"),
        actor=who,
        reason=fields.string("reason"),
    )
    return json_response({"promotion": result.to_dict()})


@slipway_router.post("/registered-models/alias/rollback")
def rollback_alias(fields: RegistryFields, store: Registry, who: Actor) -> Response:
    version = store.rollback_registered_model_alias(
        _name(fields),
        fields.string("alias", required=True),
        actor=who,
        reason=fields.string("reason"),
    )
    return json_response({"model_version": version.to_dict()})


__all__ = ["registry_store", "router", "slipway_router"]
