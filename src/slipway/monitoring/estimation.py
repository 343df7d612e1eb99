"""Performance without labels: confidence-based estimation (CBPE, as NannyML does it).

On labelled reference data the model's scores are calibrated (isotonic regression by pool
adjacent violators over at most 2,000 score bins, one class against the rest), so a
calibrated score is the chance that the class is right. For a window without labels the
calibrated probabilities give an expected confusion matrix, hence expected accuracy, F1 and
ROC AUC (for more than two classes: one class against the rest, macro-averaged). The band:
labels are drawn from the calibrated probabilities many times and the metric recomputed;
its spread is the sampling error of the window's true metric around the estimate. The
estimate holds under covariate shift (inputs move, P(y|x) does not); concept drift is what
it cannot see.

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
_MAX_ROWS_DRAWN = 10_000
_MAX_BINS = 2_000  # the sampling error is computed on at most this many rows
_SIGMAS = 3.0


@dataclass
class Isotonic:
    """A fitted increasing step function from a score to a probability (clipped ends)."""

    x: np.ndarray
    y: np.ndarray

    @classmethod
    def fit(cls, score: np.ndarray, target: np.ndarray) -> Isotonic:
        xs, inverse, counts = np.unique(score, return_inverse=True, return_counts=True)
        sums = np.bincount(inverse, weights=target)
        if len(xs) > _MAX_BINS:  # bins of equal row counts over the sorted distinct scores
            cumulative = np.cumsum(counts)
            group = (cumulative - 1) * _MAX_BINS // cumulative[-1]
            weights = np.bincount(group, weights=counts)
            keep = weights > 0
            xs = np.bincount(group, weights=xs * counts)[keep] / weights[keep]
            sums = np.bincount(group, weights=sums)[keep]
            counts = weights[keep]
        return cls(xs, np.clip(_pool_adjacent_violators(sums / counts, counts), 0.0, 1.0))

    def predict(self, score: np.ndarray) -> np.ndarray:
        return np.interp(score, self.x, self.y)


@dataclass
class CBPE:
    """Calibrators fitted on labelled reference data, one per class."""

    classes: list[Any]
    calibrators: list[Isotonic] = field(default_factory=list)
    reference_metrics: dict[str, float] = field(default_factory=dict)

    @classmethod
    def fit(cls, labels: Any, probabilities: Any, classes: list[Any]) -> CBPE:
        """Calibrate each class's score against whether that class was the label."""
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
        calibrators = [
            Isotonic.fit(probs[:, j], (y == class_values[j]).astype(float)) for j in columns
        ]
        estimator = cls(list(classes), calibrators)
        predicted = np.argmax(probs, axis=1)
        onehot = _onehot(predicted, len(classes))
        estimator.reference_metrics = _metrics(
            estimator.calibrated(probs), onehot, _scores(probs), len(classes)
        )
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
            predicted = np.full(len(probs), -1)
            for i, c in enumerate(values[1]):
                predicted[values[0] == c] = i
        onehot = _onehot(predicted, k)
        scores = _scores(probs)
        point = _metrics(cal, onehot, scores, k)
        spread = _sampling_error(cal, onehot, scores, k, seed)
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


def _pool_adjacent_violators(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The increasing sequence closest to `values` in weighted least squares."""
    means: list[float] = []
    sizes: list[float] = []
    lengths: list[int] = []
    for value, weight in zip(values.tolist(), weights.tolist(), strict=True):
        means.append(value)
        sizes.append(weight)
        lengths.append(1)
        while len(means) > 1 and means[-2] > means[-1]:
            total = sizes[-2] + sizes[-1]
            means[-2] = (means[-2] * sizes[-2] + means[-1] * sizes[-1]) / total
            sizes[-2] = total
            lengths[-2] += lengths[-1]
            del means[-1], sizes[-1], lengths[-1]
    return np.repeat(np.array(means), lengths)


def _scores(probs: np.ndarray) -> np.ndarray:
    """The score each class's ROC curve ranks rows by: one column for two classes (the
    positive class's probability), one per class otherwise (one against the rest)."""
    return probs[:, 1:2] if probs.shape[1] == 2 else probs


def _onehot(predicted: np.ndarray, k: int) -> np.ndarray:
    onehot = np.zeros((len(predicted), k))
    valid = predicted >= 0
    onehot[np.flatnonzero(valid), predicted[valid]] = 1.0
    return onehot


def _metrics(
    expected: np.ndarray, onehot: np.ndarray, scores: np.ndarray, k: int
) -> dict[str, float]:
    """Accuracy and F1 from the expected confusion matrix; AUC from fractional labels.

    `expected[i, c]` is the (expected) indicator that row i's label is c; with 0/1 rows
    this is the true metric. `scores` as `_scores` gives them.
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
    else:
        denominator = 2 * tp + fp + fn
        per_class = np.divide(2 * tp, denominator, out=np.zeros(k), where=denominator > 0)
        out["f1"] = float(per_class.mean())
    positives = expected[:, 1:2] if k == 2 else expected
    aucs = [
        _weighted_auc(positives[:, j][None, :], *_score_order(scores[:, j]))[0]
        for j in range(scores.shape[1])
    ]
    if all(np.isfinite(aucs)):
        out["roc_auc"] = float(np.mean(aucs))
    return out


def _score_order(score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows by descending score, and the last position of each distinct score.

    Rows with the same score form one ROC point, so their order among themselves does
    not matter (an unstable sort: half the time of a stable one on a million rows)."""
    order = np.argsort(score)[::-1]
    s = score[order]
    return order, np.r_[np.flatnonzero(s[1:] != s[:-1]), len(s) - 1]


def _weighted_auc(positive: np.ndarray, order: np.ndarray, last: np.ndarray) -> np.ndarray:
    """ROC AUC per row of `positive` (draws x rows): row i counts `positive[., i]` as a
    positive and the rest as a negative; one ROC point per distinct score."""
    pos = positive[:, order]
    tps = np.cumsum(pos, axis=1)[:, last]
    fps = (last + 1)[None, :] - tps
    total_pos, total_neg = tps[:, -1:], fps[:, -1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        tpr = np.concatenate([np.zeros_like(total_pos), tps / total_pos], axis=1)
        fpr = np.concatenate([np.zeros_like(total_neg), fps / total_neg], axis=1)
        return np.trapezoid(tpr, fpr, axis=1)


def _drawn_auc(positive: np.ndarray, score: np.ndarray) -> np.ndarray:
    """ROC AUC of each row of 0/1 labels `positive` (draws x rows) against one `score`:
    Mann-Whitney's U from the scores' mid-ranks (ties count a half), one matrix product
    for every draw instead of a sort and a cumulative sum per draw."""
    order, last = _score_order(score)
    m = len(score)
    first = np.r_[0, last[:-1] + 1]
    ranks = np.empty(m)
    ranks[order] = np.repeat(m - (first + last) / 2.0, last - first + 1)
    pos = positive.astype(float)
    n_pos = pos.sum(axis=1)
    u = pos @ ranks - n_pos * (n_pos + 1) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        return u / (n_pos * (m - n_pos))


def _sampling_error(
    cal: np.ndarray, onehot: np.ndarray, scores: np.ndarray, k: int, seed: int
) -> dict[str, float]:
    """Standard deviation of the true metric when labels are drawn from `cal`."""
    n = len(cal)
    rng = np.random.default_rng(seed)
    rows = np.arange(n) if n <= _MAX_ROWS_DRAWN else rng.choice(n, _MAX_ROWS_DRAWN, False)
    c, o = cal[rows], onehot[rows]
    m = len(rows)
    u = rng.random((_DRAWS, m))
    if k == 2:
        labels = (u >= c[:, 0][None, :]).astype(np.intp)
    else:
        labels = np.minimum((u[:, :, None] > np.cumsum(c, axis=1)[None, :, :]).sum(axis=2), k - 1)
    predicted = np.argmax(o, axis=1)
    has_prediction = o.sum(axis=1) > 0
    correct = (labels == predicted[None, :]) & has_prediction[None, :]
    draws: dict[str, np.ndarray] = {"accuracy": correct.mean(axis=1)}
    if k == 2:
        actual = labels == 1
        said = (predicted == 1) & has_prediction
        tp = (actual & said[None, :]).sum(axis=1)
        denominator = said.sum() + actual.sum(axis=1)
        draws["f1"] = np.divide(2 * tp, denominator, out=np.zeros(_DRAWS), where=denominator > 0)
        draws["roc_auc"] = _drawn_auc(actual, scores[rows, 0])
    else:
        f1 = np.zeros(_DRAWS)
        for j in range(k):
            actual, said = labels == j, (predicted == j) & has_prediction
            tp = (actual & said[None, :]).sum(axis=1)
            denominator = said.sum() + actual.sum(axis=1)
            f1 += np.divide(2 * tp, denominator, out=np.zeros(_DRAWS), where=denominator > 0)
        draws["f1"] = f1 / k
        draws["roc_auc"] = np.mean(
            [_drawn_auc(labels == j, scores[rows, j]) for j in range(k)], axis=0
        )
    scale = np.sqrt(m / n)  # a subsample's spread, scaled to the whole window
    return {name: float(np.nanstd(values) * scale) for name, values in draws.items()}


__all__ = ["CBPE", "ESTIMATED_METRICS", "Isotonic"]
