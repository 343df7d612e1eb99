"""slipway: track, register, serve and monitor machine-learning models.

This module is the fluent API a data scientist types::

    import slipway
    slipway.set_experiment("churn")
    with slipway.start_run(run_name="rf-baseline"):
        slipway.log_params({"n_estimators": 100})
        slipway.log_metric("val_loss", 0.3, step=1)

`slipway.Client` is the explicit API; every user-facing failure is a `slipway.SlipwayError`
(the classes are re-exported here, e.g. `slipway.ResourceDoesNotExist`). Flavor modules
(`slipway.sklearn`, `slipway.pyfunc`, …) are imported on first use, so `import slipway`
stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

from slipway._version import __version__
from slipway.entities import Dataset, Experiment, Metric, Param, Run, RunStatus, Tag, ViewType
from slipway.errors import (
    BadRequest,
    DatabaseLocked,
    EndpointNotFound,
    FlushError,
    GateFailed,
    InvalidFilter,
    InvalidParameterValue,
    InvalidState,
    MissingDependency,
    PermissionDenied,
    RequestTooLarge,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
    SchemaEnforcementError,
    ServerUnavailable,
    ServerUnreachable,
    SlipwayError,
    Unauthenticated,
    UnsafeModelFormat,
)
from slipway.tracking.autolog import autolog
from slipway.tracking.client import Client
from slipway.tracking.fluent import (
    ActiveRun,
    active_run,
    delete_tag,
    end_run,
    flush,
    get_run,
    get_tracking_uri,
    last_active_run,
    log_artifact,
    log_artifacts,
    log_dict,
    log_figure,
    log_input,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    log_text,
    register_model,
    search_runs,
    set_experiment,
    set_tag,
    set_tags,
    set_tracking_uri,
    start_run,
)

_LAZY_MODULES = {
    "pyfunc",
    "sklearn",
    "xgboost",
    "lightgbm",
    "pytorch",
    "onnx",
    "optuna",
    "models",
    "monitoring",
    "serving",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY_MODULES:
        return importlib.import_module(f"slipway.{name}")
    raise AttributeError(f"module 'slipway' has no attribute {name!r}")


def log_reference(X: Any, y: Any = None, predictions: Any = None, **options: Any) -> Any:
    """Profile the training data (with targets and predictions) as the active run's
    reference, so that drift checks and monitors of its model versions find it.

    Returns the `slipway.monitoring.Profile`; starts a run if none is active.
    """
    from slipway.monitoring import log_reference as log_to_run
    from slipway.tracking.fluent import active_run_id, current_client

    return log_to_run(X, y, predictions, run_id=active_run_id(), client=current_client(), **options)


__all__ = [
    "ActiveRun",
    "BadRequest",
    "Client",
    "DatabaseLocked",
    "Dataset",
    "EndpointNotFound",
    "Experiment",
    "FlushError",
    "GateFailed",
    "InvalidFilter",
    "InvalidParameterValue",
    "InvalidState",
    "Metric",
    "MissingDependency",
    "Param",
    "PermissionDenied",
    "RequestTooLarge",
    "ResourceAlreadyExists",
    "ResourceDoesNotExist",
    "Run",
    "RunStatus",
    "SchemaEnforcementError",
    "ServerUnavailable",
    "ServerUnreachable",
    "SlipwayError",
    "Tag",
    "Unauthenticated",
    "UnsafeModelFormat",
    "ViewType",
    "active_run",
    "autolog",
    "delete_tag",
    "end_run",
    "flush",
    "get_run",
    "get_tracking_uri",
    "last_active_run",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_reference",
    "log_params",
    "log_text",
    "register_model",
    "search_runs",
    "set_experiment",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
    "__version__",
]
