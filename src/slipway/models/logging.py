"""`log_model` for every flavor: save to a temporary directory, hand it to tracking.

The model layer knows how to write a model directory; the tracking layer knows runs, the
artifact store and the registry. They meet in one function the tracking layer provides::

    slipway.tracking.fluent.log_model_artifacts(
        local_dir: str, name: str, registered_model_name: str | None, model: Model
    ) -> ModelInfo

Contract for `log_model_artifacts`:

1. Use the active run (start one if none is active, as MLflow does).
2. Create the logged model record (MLflow 3 `model_id`) if the store supports it.
3. Set `model.run_id`, `model.artifact_path = name` and `model.model_id`, then rewrite the
   MLmodel file with `model.save(local_dir)` so the uploaded copy says where it lives.
4. Upload every file under `local_dir` to the run's artifacts under `name` (or to the logged
   model's artifact location).
5. If `registered_model_name` is given, create the registered model if needed and a new
   version from the uploaded model.
6. Return `model.get_model_info(model_uri=..., registered_model_version=<int or None>)`.

`local_dir` is deleted after the call returns, so upload synchronously.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from slipway.errors import SlipwayError
from slipway.models.format import Model, ModelInfo


def log_model(
    save_model: Callable[..., Model],
    model_object: Any,
    name: str = "model",
    registered_model_name: str | None = None,
    **save_kwargs: Any,
) -> ModelInfo:
    """Save `model_object` with a flavor's `save_model` and log it to the active run."""
    if not name or name.startswith("/") or ".." in Path(name).parts:
        raise SlipwayError(f"Invalid model name {name!r}: use a relative path such as 'model'")
    try:
        from slipway.tracking.fluent import log_model_artifacts
    except ImportError as exc:
        if getattr(exc, "name", None) not in ("slipway.tracking.fluent", "slipway.tracking"):
            raise
        raise SlipwayError(
            "log_model needs slipway.tracking.fluent.log_model_artifacts, which this "
            "installation does not have. Use save_model to write the model to a directory."
        ) from exc
    with tempfile.TemporaryDirectory(prefix="slipway-model-") as tmp:
        local_dir = Path(tmp) / "model"
        model = save_model(model_object, str(local_dir), **save_kwargs)
        model.artifact_path = name
        return log_model_artifacts(str(local_dir), name, registered_model_name, model)


__all__ = ["log_model"]
