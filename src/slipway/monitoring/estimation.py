"""Performance without labels: confidence-based estimation (CBPE, as NannyML does it).

On labelled reference data the model's scores are calibrated (isotonic regression, one
class against the rest), so a calibrated score is the chance that the class is right. For
a window without labels the calibrated probabilities give an expected confusion matrix,
hence expected accuracy, F1 and (binary) ROC AUC. The band: labels are drawn from the
calibrated probabilities many times and the metric recomputed; its spread is the sampling
error of the window's true metric around the estimate. The estimate holds under covariate
shift (inputs move, P(y|x) does not); concept drift is what it cannot see.

    estimator = CBPE.fit(reference_labels, reference_probabilities, classes)
    estimator.estimate(window_probabilities, window_predictions)
    # {"accuracy": {"value": .., "lower": .., "upper": .., "sampling_error": ..}, ...}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from slipway.errors import InvalidParameterValue
from slipway.monitoring.performance import same_kind

ESTIMATED_METRICS = ("accuracy", "f1", "roc_auc")
_DRAWS = 200
_MAX_ROWS_DRAWN = 20_000  # the sampling error is computed on at most this many rows
_SIGMAS = 3.0


@dataclass
class CBPE:
    """Calibrators fitted on labelled reference data, one per class."""

    classes: list[Any]
    calibrators: list[Any] = field(default_factory=list)
    reference_metrics: dict[str, float] = field(default_factory=dict)

    @classmethod
    def fit(cls, labels: Any, probabilities: Any, classes: list[Any]) -> CBPE:
        """Calibrate each class's score against whether that class was the label."""
        from sklearn.isotonic import IsotonicRegression

        y = np.asarray(labels)
        probs = np.asarray(probabilities, dtype=float)
        if probs.ndim != 2 or probs.shape[1] != len(classes) or len(classes) < 2:
            raise InvalidParameterValue(
                "CBPE needs one probability column per class (at least two classes)."
            )
        if len(y) != len(probs) or len(y) == 0:
            raise InvalidParameterValue("CBPE needs as many reference labels as probabilities.")
        y, class_values = same_kind(y, np.asarray(classes))
        columns = [1] if len(classes) == 2 else range(len(classes))
        calibrators = []
        for j in columns:
            iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
            iso.fit(probs[:, j], (y == class_values[j]).astype(float))
            calibrators.append(iso)
        estimator = cls(list(classes), calibrators)
        predicted = class_values[np.argmax(probs, axis=1)]
        estimator.reference_metrics = {
            k: v["value"] for k, v in estimator.estimate(probs, predicted).items()
        }
        return estimator

    def calibrated(self, probabilities: np.ndarray) -> np.ndarray:
        """Calibrated class probabilities (rows sum to one)."""
        probs = np.asarray(probabilities, dtype=float)
        if len(self.classes) == 2:
            p1 = self.calibrators[0].predict(probs[:, 1])
            return np.column_stack([1.0 - p1, p1])
        out = np.column_stack([c.predict(probs[:, j]) for j, c in enumerate(self.calibrators)])
        total = out.sum(axis=1, keepdims=True)
        return np.divide(out, total, out=np.full_like(out, 1 / out.shape[1]), where=total > 0)

    def estimate(
        self, probabilities: Any, predictions: Any = None, *, seed: int = 0
    ) -> dict[str, dict[str, float]]:
        """Estimated metrics of a window, each with its sampling error and 3-sigma band."""
        probs = np.asarray(probabilities, dtype=float)
        if len(probs) == 0:
            return {}
        cal = self.calibrated(probs)
        k = len(self.classes)
        if predictions is None:
            predicted = np.argmax(probs, axis=1)
        else:
            values = same_kind(np.asarray(predictions), np.asarray(self.classes))
            lookup = {c: i for i, c in enumerate(values[1].tolist())}
            predicted = np.array([lookup.get(v, -1) for v in values[0].tolist()])
        onehot = np.zeros((len(probs), k))
        valid = predicted >= 0
        onehot[np.flatnonzero(valid), predicted[valid]] = 1.0
        score = probs[:, 1] if k == 2 else None
        point = _metrics(cal, onehot, score, k)
        spread = _sampling_error(cal, onehot, score, k, seed)
        out = {}
        for name, value in point.items():
            error = spread.get(name, 0.0)
            out[name] = {
                "value": value,
                "sampling_error": error,
                "lower": value - _SIGMAS * error,
                "upper": value + _SIGMAS * error,
            }
        return out


def _metrics(
    expected: np.ndarray, onehot: np.ndarray, score: np.ndarray | None, k: int
) -> dict[str, float]:
    """Accuracy and F1 from the expected confusion matrix; AUC from fractional labels.

    `expected[i, c]` is the (expected) indicator that row i's label is c; with 0/1 rows
    this is the true metric, so the same code serves the estimate and its simulation.
    """
    n = len(expected)
    tp = (expected * onehot).sum(axis=0)
    predicted = onehot.sum(axis=0)
    actual = expected.sum(axis=0)
    out = {"accuracy": float(tp.sum() / n)}
    fp, fn = predicted - tp, actual - tp
    if k == 2:
        denominator = 2 * tp[1] + fp[1] + fn[1]
        out["f1"] = float(2 * tp[1] / denominator) if denominator > 0 else 0.0
        if score is not None:
            auc = _weighted_auc(score, expected[:, 1])
            if auc is not None:
                out["roc_auc"] = auc
    else:
        denominator = 2 * tp + fp + fn
        per_class = np.divide(2 * tp, denominator, out=np.zeros(k), where=denominator > 0)
        out["f1"] = float(per_class.mean())
    return out


def _weighted_auc(score: np.ndarray, positive: np.ndarray) -> float | None:
    """ROC AUC where row i counts `positive[i]` as a positive and the rest as a negative."""
    negative = 1.0 - positive
    total_pos, total_neg = positive.sum(), negative.sum()
    if total_pos <= 0 or total_neg <= 0:
        return None
    order = np.argsort(-score, kind="stable")
    s = score[order]
    tps = np.cumsum(positive[order])
    fps = np.cumsum(negative[order])
    # One point per distinct score (ties move together), as sklearn's roc_curve does.
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tpr = np.r_[0.0, tps[last] / total_pos]
    fpr = np.r_[0.0, fps[last] / total_neg]
    return float(np.trapezoid(tpr, fpr))


def _sampling_error(
    cal: np.ndarray, onehot: np.ndarray, score: np.ndarray | None, k: int, seed: int
) -> dict[str, float]:
    """Standard deviation of the true metric when labels are drawn from `cal`."""
    n = len(cal)
    rng = np.random.default_rng(seed)
    rows = np.arange(n) if n <= _MAX_ROWS_DRAWN else rng.choice(n, _MAX_ROWS_DRAWN, False)
    c, o = cal[rows], onehot[rows]
    s = None if score is None else score[rows]
    cumulative = np.cumsum(c, axis=1)
    draws: dict[str, list[float]] = {}
    for _ in range(_DRAWS):
        u = rng.random((len(rows), 1))
        labels = np.minimum((u > cumulative).sum(axis=1), k - 1)
        drawn = np.zeros_like(c)
        drawn[np.arange(len(rows)), labels] = 1.0
        for name, value in _metrics(drawn, o, s, k).items():
            draws.setdefault(name, []).append(value)
    scale = np.sqrt(len(rows) / n)  # a subsample's spread, scaled to the whole window
    return {name: float(np.std(v) * scale) for name, v in draws.items()}


__all__ = ["CBPE", "ESTIMATED_METRICS"]
