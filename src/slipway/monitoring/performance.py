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
    only, no probabilities) is left out. The definitions are scikit-learn's (binary
    precision/recall/F1 of the positive class, else macro averages), computed with NumPy
    so a monitor does not pay scikit-learn's import.
    """
    y = np.asarray(labels)
    p = np.asarray(predictions)
    keep = ~_missing(y)
    y, p = y[keep], p[keep]
    probs = None if probabilities is None else np.asarray(probabilities, dtype=float)[keep]
    classifier = is_classifier(p, probs) if classifier is None else classifier
    values: dict[str, float] = {}
    out: dict[str, Any] = {
        "rows": len(y),
        "task": "classification" if classifier else "regression",
        "metrics": values,
    }
    if len(y) == 0:
        return out
    if not classifier:
        yf, pf = y.astype(float), p.astype(float)
        error = yf - pf
        values["mae"] = float(np.mean(np.abs(error)))
        values["rmse"] = float(np.sqrt(np.mean(error**2)))
        total = float(np.sum((yf - yf.mean()) ** 2))
        if len(y) > 1 and total > 0:
            values["r2"] = 1.0 - float(np.sum(error**2)) / total
        return out
    y, p = same_kind(y, p)
    seen = np.unique(np.concatenate([y, p]))
    binary = len(seen) <= 2 and (classes is None or len(classes) <= 2)
    pos = _positive(positive_label, classes, seen, y.dtype)
    values["accuracy"] = float(np.mean(y == p))
    if binary and pos is not None:
        values.update(_binary_scores(y == pos, p == pos))
    else:
        scores = [_binary_scores(y == c, p == c) for c in seen]
        for name in ("precision", "recall", "f1"):
            values[name] = float(np.mean([s[name] for s in scores]))
    if probs is not None and classes is not None and len(np.unique(y)) > 1:
        class_values = same_kind(np.asarray(classes), y)[0]
        if binary and len(classes) == 2:
            column = int(np.flatnonzero(class_values == pos)[0]) if pos in class_values else 1
            values["roc_auc"] = _auc(y == pos, probs[:, column])
        rows = _class_index(class_values, y)
        if (rows >= 0).all():
            clipped = np.clip(probs, 1e-15, 1 - 1e-15)
            clipped /= clipped.sum(axis=1, keepdims=True)
            values["log_loss"] = float(-np.mean(np.log(clipped[np.arange(len(y)), rows])))
    return out


def _class_index(classes: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The position of each value in `classes` (-1 when absent), without a Python loop."""
    order = np.argsort(classes, kind="stable")
    ordered = classes[order]
    at = np.clip(np.searchsorted(ordered, values), 0, len(ordered) - 1)
    return np.where(ordered[at] == values, order[at], -1)


def _binary_scores(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    tp = float(np.sum(actual & predicted))
    n_pred, n_true = float(predicted.sum()), float(actual.sum())
    return {
        "precision": tp / n_pred if n_pred else 0.0,
        "recall": tp / n_true if n_true else 0.0,
        "f1": 2 * tp / (n_pred + n_true) if n_pred + n_true else 0.0,
    }


def _auc(positive: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney statistic (ties count half)."""
    _, inverse, counts = np.unique(score, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2.0)[inverse]
    n_pos = float(positive.sum())
    n_neg = float(len(positive) - n_pos)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


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
