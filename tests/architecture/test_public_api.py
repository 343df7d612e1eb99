"""The public API, pinned: an accidental rename or removal fails here, not in a user's script.

Public means `slipway` (the fluent API, `Client`, the exceptions, the entities), the
flavor modules, `slipway.models`, `slipway.errors`, `slipway.entities`,
`slipway.artifacts`, `slipway.monitoring` and `slipway.serving`. Changing a name here
is an API change.
Every other module is internal (docs/architecture.md), but still declares `__all__`.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

PUBLIC = {
    "slipway.serving": ["ServeConfig", "create_app", "run"],
    "slipway.monitoring": [
        "CBPE",
        "ColumnDrift",
        "ColumnProfile",
        "ColumnQuality",
        "DriftResult",
        "ExpectationResult",
        "ExpectationResults",
        "Finding",
        "MonitorRun",
        "MonitorStatus",
        "Profile",
        "QualityReport",
        "STAT_TESTS",
        "approve_challenger",
        "check_expectations",
        "create_monitor",
        "delete_monitor",
        "detect_drift",
        "get_monitor",
        "list_monitors",
        "load_expectations",
        "load_profile",
        "load_reference",
        "log_reference",
        "monitor_status",
        "profile",
        "run_monitor",
        "update_monitor",
        "watch_monitors",
    ],
    "slipway": [
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
        "__version__",
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
        "log_params",
        "log_reference",
        "log_text",
        "register_model",
        "search_runs",
        "set_experiment",
        "set_tag",
        "set_tags",
        "set_tracking_uri",
        "start_run",
    ],
    "slipway.errors": [
        "BadRequest",
        "DatabaseLocked",
        "EndpointNotFound",
        "FlushError",
        "GateFailed",
        "InvalidFilter",
        "InvalidParameterValue",
        "InvalidState",
        "MissingDependency",
        "PermissionDenied",
        "RequestTooLarge",
        "ResourceAlreadyExists",
        "ResourceDoesNotExist",
        "SchemaEnforcementError",
        "ServerUnavailable",
        "ServerUnreachable",
        "SlipwayError",
        "Unauthenticated",
        "UnsafeModelFormat",
    ],
    "slipway.entities": [
        "AuditAction",
        "AuditEvent",
        "Dataset",
        "DatasetInput",
        "Experiment",
        "ExperimentTag",
        "FileInfo",
        "GateCheck",
        "GateCondition",
        "LifecycleStage",
        "LoggedModel",
        "LoggedModelMetric",
        "LoggedModelStatus",
        "Metric",
        "ModelUri",
        "ModelVersion",
        "Monitor",
        "MonitorEvent",
        "MonitorWindow",
        "PagedList",
        "Param",
        "PromotionResult",
        "RegisteredModel",
        "Run",
        "RunData",
        "RunInfo",
        "RunStatus",
        "RunTag",
        "STAGES",
        "Tag",
        "ViewType",
        "canonical_stage",
    ],
    "slipway.models": [
        "ColSpec",
        "DataType",
        "Model",
        "ModelInfo",
        "ModelSignature",
        "ParamSchema",
        "ParamSpec",
        "Schema",
        "TensorSpec",
        "infer_signature",
    ],
    "slipway.pyfunc": [
        "PyFuncModel",
        "PythonModel",
        "PythonModelContext",
        "infer_signature",
        "load_model",
        "log_model",
        "save_model",
    ],
    "slipway.sklearn": ["autolog", "load_model", "log_model", "save_model"],
    "slipway.xgboost": ["autolog", "load_model", "log_model", "save_model"],
    "slipway.lightgbm": ["autolog", "load_model", "log_model", "save_model"],
    "slipway.optuna": ["Callback"],
    "slipway.onnx": ["load_model", "log_model", "save_model"],
    "slipway.pytorch": ["autolog", "load_model", "log_model", "save_model"],
    "slipway.artifacts": [
        "ArtifactRepository",
        "PROXY_SCHEME",
        "get_artifact_repository",
        "join_artifact_path",
        "safe_artifact_path",
    ],
}

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_public_names_are_pinned(module: str) -> None:
    mod = importlib.import_module(module)
    assert sorted(mod.__all__) == PUBLIC[module]
    missing = [name for name in mod.__all__ if not hasattr(mod, name)]
    assert not missing, f"{module}.__all__ names what it does not have: {missing}"


def test_every_module_declares_all() -> None:
    without = [
        str(p.relative_to(SRC))
        for p in (SRC / "slipway").rglob("*.py")
        if "migrations" not in p.parts and "\n__all__" not in p.read_text(encoding="utf-8")
    ]
    assert not without, f"modules without __all__: {without}"


def test_nothing_internal_is_re_exported() -> None:
    """Public modules export no private helpers or mixins."""
    for module, names in PUBLIC.items():
        leaked = [n for n in names if (n.startswith("_") and n != "__version__") or "Mixin" in n]
        assert not leaked, f"{module} exports internals: {leaked}"
