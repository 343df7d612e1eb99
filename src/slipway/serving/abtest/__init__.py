"""A/B tests on the prediction log: which variant is better, and whether we know yet.

    from slipway.serving.abtest import analyze_experiment
    result = analyze_experiment("churn", "conversion", mde=0.02)
    result.verdict.message        # "Not enough data yet: 1,840 more labelled requests ..."
    result.to_html("ab.html"); result.to_json("ab.json")

Modules: `metrics` (what each metric measures), `stats` (tests, intervals, posteriors,
sample sizes on per-variant summaries), `analysis` (reading the log, the verdict) and
`report` (HTML). Needs pyarrow and scipy (`pip install 'slipway[serve,monitoring]'`).
"""

from slipway.serving.abtest.analysis import (
    Comparison,
    ExperimentAnalysis,
    VariantResult,
    Verdict,
    analyze_experiment,
    analyze_predictions,
)
from slipway.serving.abtest.metrics import METRIC_NAMES

__all__ = [
    "METRIC_NAMES",
    "Comparison",
    "ExperimentAnalysis",
    "VariantResult",
    "Verdict",
    "analyze_experiment",
    "analyze_predictions",
]
