"""Logging a model directory as an MLflow 3 logged model, and optionally registering it.

This is the tracking side of `slipway.<flavor>.log_model` (see `slipway.models.logging`):
the flavor saves the model to a temporary directory, this module puts it where MLflow 3
puts it, `<experiment location>/models/<model_id>/artifacts`, records it as an output of
the run, and registers it when asked. A model logged in run `R` as `name` is reachable as
`models:/<model_id>` and as `runs:/R/<name>`.
"""

from __future__ import annotations

from typing import Any

from slipway.artifacts import get_artifact_repository
from slipway.entities import LoggedModelStatus
from slipway.registry.client import registry_store_for
from slipway.registry.fluent import register_model


def log_model_artifacts(
    local_dir: str, name: str, registered_model_name: str | None, model: Any
) -> Any:
    """Upload the model in `local_dir` to a new logged model of the active run.

    Starts a run if none is active. `model` is the `slipway.models.format.Model` read from
    `local_dir`; its MLmodel file is rewritten with the run id and model id before upload.
    Returns the `ModelInfo` (`model_uri` is `models:/<model_id>`; with
    `registered_model_name`, `registered_model_version` is the new version's number).
    """
    from slipway.tracking import fluent

    client = fluent._client()
    run_id = fluent._run_id()
    fluent.flush()  # queued metrics belong in the version's snapshot
    run = client.get_run(run_id)
    registry = registry_store_for(client)
    logged = registry.create_logged_model(
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
        get_artifact_repository(logged.artifact_location, client.tracking_uri).log_dir(local_dir)
        client.store.log_outputs(run_id, [{"model_id": logged.model_id, "step": 0}])
    except BaseException:
        registry.finalize_logged_model(logged.model_id, LoggedModelStatus.FAILED.value)
        raise
    registry.finalize_logged_model(logged.model_id, LoggedModelStatus.READY.value)
    version = None
    if registered_model_name:
        version = register_model(logged.model_uri, registered_model_name).version
    return model.get_model_info(model_uri=logged.model_uri, registered_model_version=version)


__all__ = ["log_model_artifacts"]
