"""`slipway.register_model`: register a logged model as a new version of a named model."""

from __future__ import annotations

from typing import Any

from slipway.entities import ModelUri, ModelVersion
from slipway.errors import ResourceAlreadyExists
from slipway.registry.client import registry_store_for
from slipway.registry.uri import resolve_runs_uri


def register_model(model_uri: str, name: str, tags: dict[str, Any] | None = None) -> ModelVersion:
    """Create the registered model `name` if needed and a new version from `model_uri`.

    `model_uri` is `models:/<model_id>` (what `log_model` returns), `runs:/<run_id>/<path>`
    or any artifact URI. The version links to the model's run, so its lineage and metrics
    snapshot are recorded.
    """
    from slipway.tracking import fluent

    fluent.flush()  # queued metrics belong in the version's snapshot
    client = fluent._client()
    registry = registry_store_for(client)
    try:
        registry.create_registered_model(name)
    except ResourceAlreadyExists:
        pass
    source, run_id, model_id = model_uri, None, None
    if model_uri.startswith("runs:/"):
        location, model_id = resolve_runs_uri(
            model_uri, registry, client.store, client.tracking_uri
        )
        run_id = model_uri[len("runs:/") :].strip("/").partition("/")[0]
        # A logged model is registered by its id; run artifacts by where they are.
        source = f"models:/{model_id}" if model_id else location
    elif model_uri.startswith("models:/"):
        model_id = ModelUri.parse(model_uri).model_id
    string_tags = None if tags is None else {str(k): str(v) for k, v in tags.items()}
    return registry.create_model_version(
        name, source, run_id=run_id, tags=string_tags, model_id=model_id
    )


__all__ = ["register_model"]
