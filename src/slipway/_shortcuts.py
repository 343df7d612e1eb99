"""What every `slipway.<flavor>` module adds on top of its flavor: log and load by URI.

A flavor in `slipway.models.flavors` saves and loads model folders on this machine.
Logging to a run and registering needs tracking, and loading `models:/…` or `runs:/…`
needs the registry: both live above the model layer, so the user-facing modules
(`slipway.sklearn`, `slipway.pyfunc`, …) build their `log_model` and `load_model` here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slipway.models.format import Model, ModelInfo
from slipway.tracking import fluent


def make_log_model(save_model: Callable[..., Model], what: str) -> Callable[..., ModelInfo]:
    """`log_model(model, name="model", *, input_example, signature, registered_model_name,
    **save_options)` for a flavor whose `save_model(model, path, **options)` writes a folder."""

    def log_model(
        model: Any,
        name: str = "model",
        *,
        input_example: Any = None,
        signature: Any = None,
        registered_model_name: str | None = None,
        **kwargs: Any,
    ) -> ModelInfo:
        return fluent.log_model(
            save_model,
            model,
            name,
            registered_model_name,
            input_example=input_example,
            signature=signature,
            **kwargs,
        )

    log_model.__doc__ = (
        f"Save the {what} and log it to the active run (see `save_model` for options); "
        "with `registered_model_name`, also register it as a new version."
    )
    return log_model


def make_load_model(load_local: Callable[..., Any], what: str) -> Callable[..., Any]:
    """`load_model(model_uri, allow_pickle=False, dst_path=None)` over any model URI."""

    def load_model(model_uri: str, allow_pickle: bool = False, dst_path: str | None = None) -> Any:
        return load_local(fluent.download_model(str(model_uri), dst_path), allow_pickle)

    load_model.__doc__ = (
        f"Load the {what} at `model_uri`: a local path, `file://`, `runs:/<run_id>/<path>`, "
        "`models:/<name>@<alias>`, `models:/<name>/<version>` or an artifact URI. "
        "`allow_pickle=True` is needed for pickle-based models; only for sources you trust."
    )
    return load_model


__all__ = ["make_load_model", "make_log_model"]
