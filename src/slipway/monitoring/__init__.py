"""Drift and data quality: is today's data still like the data the model learned from?

    from slipway.monitoring import detect_drift, profile
    result = detect_drift(reference_df, current_df)      # frames, Arrow, Parquet/CSV, Profile
    result.dataset_drift, result.share_drifted, result.columns["age"].p_value
    result.to_json("drift.json"); result.to_html("drift.html")

    ref = profile("reference.parquet")                   # one streaming pass, any size
    ref.save("reference.profile")
    detect_drift("reference.profile", "current.parquet")

    check_expectations(df, {"expectations": {"age": {"between": [0, 120]}}})
    log_reference(X, run_id=run_id, client=client); load_reference("models:/churn@champion")

Monitors close the loop (`monitors`, with `spec`, `evaluation`, `performance`,
`estimation` (CBPE), `alerts`, `retrain` and `monitor_report`):

    create_monitor("churn", model="churn@champion", window="1h", drift_share=0.3,
                   performance=["f1 drop 0.05"], alerts=["webhook:http://…/hook"],
                   retrain="python train.py", promote="approval")
    run_monitor("churn"); monitor_status("churn"); approve_challenger("churn", 7)

Modules: `columns` (types), `drift` (the tests), `selection` (the default test), `summary`
(what a side of a column boils down to), `reading` (inputs), `profile` (stored
references), `quality` (checks), `detection` (`detect_drift`), `expectations`, `result`
(`DriftResult`, JSON), `report` (HTML), `reference` (profiles as run artifacts).
"""

from slipway.monitoring.detection import detect_drift
from slipway.monitoring.drift import STAT_TESTS
from slipway.monitoring.estimation import CBPE
from slipway.monitoring.expectations import (
    ExpectationResult,
    ExpectationResults,
    check_expectations,
    load_expectations,
)
from slipway.monitoring.monitors import (
    MonitorRun,
    MonitorStatus,
    approve_challenger,
    create_monitor,
    delete_monitor,
    get_monitor,
    list_monitors,
    monitor_status,
    run_monitor,
    update_monitor,
)
from slipway.monitoring.monitors import watch as watch_monitors
from slipway.monitoring.profile import ColumnProfile, Profile, load_profile, profile
from slipway.monitoring.reference import load_reference, log_reference
from slipway.monitoring.result import (
    ColumnDrift,
    ColumnQuality,
    DriftResult,
    Finding,
    QualityReport,
)

__all__ = [
    "CBPE",
    "STAT_TESTS",
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
]
