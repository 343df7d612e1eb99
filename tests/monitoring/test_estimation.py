"""CBPE: under covariate shift without concept shift the estimate lands within its band."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from slipway.monitoring.estimation import CBPE
from slipway.monitoring.performance import PerformanceRule, measure


def _data(rng: np.random.Generator, n: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
    X = rng.normal(0.0, 1.0, (n, 3))
    X[:, 0] += shift  # covariate shift: P(x) moves, P(y | x) stays
    logits = 1.5 * X[:, 0] - 1.0 * X[:, 1] + 0.5 * X[:, 2] - 0.5
    y = (rng.random(n) < 1 / (1 + np.exp(-logits))).astype(int)
    return X, y


def test_estimate_is_within_band_of_the_true_metric_under_covariate_shift() -> None:
    rng = np.random.default_rng(7)
    X_train, y_train = _data(rng, 5000, 0.0)
    model = LogisticRegression().fit(X_train, y_train)
    X_ref, y_ref = _data(rng, 5000, 0.0)
    estimator = CBPE.fit(y_ref, model.predict_proba(X_ref), [0, 1])

    for shift in (0.0, 0.8, -0.8):
        X_win, y_win = _data(rng, 3000, shift)  # the held-back labels
        probs = model.predict_proba(X_win)
        predicted = model.predict(X_win)
        estimate = estimator.estimate(probs, predicted)
        truth = {
            "accuracy": accuracy_score(y_win, predicted),
            "f1": f1_score(y_win, predicted),
            "roc_auc": roc_auc_score(y_win, probs[:, 1]),
        }
        for name, true_value in truth.items():
            band = estimate[name]
            assert band["lower"] <= true_value <= band["upper"], (shift, name, band, true_value)
            assert band["sampling_error"] > 0


def test_multiclass_estimates_are_within_band_of_the_true_metrics() -> None:
    """Accuracy, macro F1 and one-vs-rest macro ROC AUC, as NannyML estimates them."""
    rng = np.random.default_rng(3)

    def data(n: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
        X = rng.normal(0, 1, (n, 2))
        X[:, 0] += shift  # covariate shift only
        logits = X @ np.array([[1.0, -1.0, 0.0], [0.0, 1.0, -1.0]])
        return X, np.argmax(logits + rng.gumbel(size=(n, 3)), 1)

    model = LogisticRegression(C=100).fit(*data(20000, 0.0))  # close to the true P(y | x)
    X_ref, y_ref = data(5000, 0.0)
    estimator = CBPE.fit(y_ref, model.predict_proba(X_ref), [0, 1, 2])
    for shift in (0.0, 0.7):
        X_win, y_win = data(3000, shift)  # the held-back labels
        probs, predicted = model.predict_proba(X_win), model.predict(X_win)
        estimate = estimator.estimate(probs, predicted)
        truth = {
            "accuracy": accuracy_score(y_win, predicted),
            "f1": f1_score(y_win, predicted, average="macro"),
            "roc_auc": roc_auc_score(y_win, probs, multi_class="ovr", average="macro"),
        }
        for name, true_value in truth.items():
            band = estimate[name]
            assert band["lower"] <= true_value <= band["upper"], (shift, name, band, true_value)
            assert band["sampling_error"] > 0


def test_measured_metrics_and_rules() -> None:
    labels = np.array([1, 0, 1, 1, None, 0], dtype=object)
    predictions = np.array([1, 0, 0, 1, 1, 1])
    probs = np.array([[0.1, 0.9], [0.8, 0.2], [0.6, 0.4], [0.3, 0.7], [0.2, 0.8], [0.4, 0.6]])
    out = measure(labels, predictions, probs, [0, 1])
    assert out["rows"] == 5 and out["task"] == "classification"
    assert out["metrics"]["accuracy"] == pytest.approx(0.6)
    assert out["metrics"]["f1"] == pytest.approx(f1_score([1, 0, 1, 1, 0], [1, 0, 0, 1, 1]))
    assert "roc_auc" in out["metrics"] and "log_loss" in out["metrics"]
    reg = measure(np.array([1.0, 2.0, np.nan]), np.array([1.5, 2.0, 9.0]))
    assert reg["task"] == "regression" and reg["rows"] == 2
    assert reg["metrics"]["mae"] == pytest.approx(0.25)

    rule = PerformanceRule.parse("f1 drop 0.05")
    assert rule.breached(0.9, 0.84) and not rule.breached(0.9, 0.86)
    assert PerformanceRule.parse("rmse drop 1").breached(2.0, 3.5)
    with pytest.raises(ValueError):
        PerformanceRule.parse("f1 falls 0.05")
