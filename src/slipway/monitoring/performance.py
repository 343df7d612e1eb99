"""Model performance from labels that arrived: per window, and the rules that judge a drop.

`measure(predictions, labels, probabilities)` computes accuracy, precision, recall, F1, ROC
AUC and log loss for classifiers, MAE, RMSE and R² for regressors, on the labelled rows
only; every result says how many rows it rests on. `PerformanceRule` reads `"f1 drop
0.05"`: concept drift when the metric falls more than 0.05 below the reference's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from slipway.errors import InvalidParameterValue

CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
REGRESSION_METRICS = ("mae", "rmse", "r2")
# Metrics where lower is better: a "drop" in quality is a rise in value.
LOWER_IS_BETTER = frozenset({"log_loss", "mae", "rmse"})
_RULE_RE = re.compile(r"^\s*(?P<metric>[a-z_0-9]+)\s+drop\s+(?P<amount>[0-9.eE+-]+)\s*$")


@dataclass(frozen=True)
class PerformanceRule:
    """`<metric> drop <amount>`: alert when the metric is worse than the reference by more."""

    metric: str
    drop: float

    @classmethod
    def parse(cls, text: str) -> PerformanceRule:
        match = _RULE_RE.match(str(text).lower())
        if match is None:
            raise InvalidParameterValue(
                f"Invalid performance rule {text!r}: write '<metric> drop <amount>', "
                "e.g. 'f1 drop 0.05'."
            )
        metric = match["metric"]
        if metric not in CLASSIFICATION_METRICS + REGRESSION_METRICS:
            raise InvalidParameterValue(
                f"Unknown metric {metric!r} in {text!r}; use one of "
                f"{', '.join(CLASSIFICATION_METRICS + REGRESSION_METRICS)}."
            )
        try:
            amount = float(match["amount"])
        except ValueError:
            raise InvalidParameterValue(f"Invalid amount in {text!r}.") from None
        if not amount >= 0:
            raise InvalidParameterValue(f"The drop in {text!r} must not be negative.")
        return cls(metric, amount)

    @property
    def text(self) -> str:
        return f"{self.metric} drop {self.drop:g}"

    def worse_by(self, reference: float, current: float) -> float:
        """How much worse `current` is than `reference` (positive = worse)."""
        if self.metric in LOWER_IS_BETTER:
            return current - reference
        return reference - current

    def breached(self, reference: float | None, current: float | None) -> bool:
        if reference is None or current is None:
            return False
        return self.worse_by(reference, current) > self.drop


def is_classifier(predictions: np.ndarray, probabilities: np.ndarray | None) -> bool:
    """A classifier logs probabilities or predicts labels that are not floats."""
    if probabilities is not None:
        return True
    return predictions.dtype.kind not in "f"


def same_kind(labels: np.ndarray, predictions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels and predictions made comparable (1 and 1.0 and "1" are the same class)."""
    if labels.dtype.kind in "iufb" and predictions.dtype.kind in "iufb":
        return labels.astype(float), predictions.astype(float)
    return labels.astype(str), predictions.astype(str)


def measure(
    labels: Any,
    predictions: Any,
    probabilities: np.ndarray | None = None,
    classes: list[Any] | None = None,
    *,
    positive_label: Any = None,
    classifier: bool | None = None,
) -> dict[str, Any]:
    """Performance of `predictions` against `labels` (rows with a label only).

    `probabilities` has one column per entry of `classes`. Answers `{"rows": n,
    "task": ..., "metrics": {name: value}}`; a metric that cannot be computed (one class
    only, no probabilities) is left out.
    """
    from sklearn import metrics as skm

    y = np.asarray(labels)
    p = np.asarray(predictions)
    keep = ~_missing(y)
    y, p = y[keep], p[keep]
    probs = None if probabilities is None else np.asarray(probabilities, dtype=float)[keep]
    classifier = is_classifier(p, probs) if classifier is None else classifier
    out: dict[str, Any] = {
        "rows": len(y),
        "task": "classification" if classifier else "regression",
    }
    values: dict[str, float] = {}
    out["metrics"] = values
    if len(y) == 0:
        return out
    if not classifier:
        yf, pf = y.astype(float), p.astype(float)
        values["mae"] = float(skm.mean_absolute_error(yf, pf))
        values["rmse"] = float(np.sqrt(skm.mean_squared_error(yf, pf)))
        if len(y) > 1:
            values["r2"] = float(skm.r2_score(yf, pf))
        return out
    y, p = same_kind(y, p)
    seen = np.unique(np.concatenate([y, p]))
    binary = len(seen) <= 2 and (classes is None or len(classes) <= 2)
    pos = _positive(positive_label, classes, seen, y.dtype)
    values["accuracy"] = float(skm.accuracy_score(y, p))
    if binary and pos is not None:
        kw: dict[str, Any] = {"pos_label": pos, "average": "binary", "zero_division": 0}
    else:
        kw = {"average": "macro", "zero_division": 0}
    values["precision"] = float(skm.precision_score(y, p, **kw))
    values["recall"] = float(skm.recall_score(y, p, **kw))
    values["f1"] = float(skm.f1_score(y, p, **kw))
    if probs is not None and classes is not None and len(np.unique(y)) > 1:
        labels_of = same_kind(np.asarray(classes), y)[0] if len(classes) else None
        try:
            if binary and len(classes) == 2:
                score = probs[:, list(labels_of).index(pos)] if pos in labels_of else probs[:, 1]
                values["roc_auc"] = float(skm.roc_auc_score(y == pos, score))
            values["log_loss"] = float(skm.log_loss(y, probs, labels=labels_of))
        except ValueError:
            pass
    return out


def _positive(positive_label: Any, classes: list[Any] | None, seen: np.ndarray, kind: Any) -> Any:
    if positive_label is not None:
        return same_kind(np.asarray([positive_label]), np.asarray([], dtype=kind))[0][0]
    if classes:
        return same_kind(np.asarray([classes[-1]]), np.asarray([], dtype=kind))[0][0]
    return seen[-1] if len(seen) else None


def _missing(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind == "f":
        return np.isnan(values)
    if values.dtype.kind == "O":
        return np.array([v is None or (isinstance(v, float) and v != v) for v in values])
    return np.zeros(len(values), dtype=bool)


__all__ = [
    "CLASSIFICATION_METRICS",
    "LOWER_IS_BETTER",
    "REGRESSION_METRICS",
    "PerformanceRule",
    "is_classifier",
    "measure",
    "same_kind",
]
