"""Forests served without scikit-learn's per-tree Python give its answers bit for bit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from slipway.serving.forest import forest_predictor

RNG = np.random.default_rng(7)


@pytest.mark.parametrize(
    ("estimator", "classes"),
    [
        (RandomForestClassifier(n_estimators=20, max_depth=8, random_state=0), 2),
        (RandomForestClassifier(n_estimators=15, random_state=1), 7),  # deep, many classes
        (ExtraTreesClassifier(n_estimators=15, random_state=2), 3),
        (RandomForestClassifier(n_estimators=10, class_weight="balanced", random_state=3), 2),
    ],
)
def test_classifiers_answer_exactly_what_scikit_learn_answers(estimator, classes) -> None:
    X, y = make_classification(
        n_samples=600, n_features=9, n_informative=6, n_classes=classes, random_state=4
    )
    labels = np.array(["no", "yes", "a", "b", "c", "d", "e"])[y]  # string classes too
    estimator.fit(X, labels)
    fast = forest_predictor(estimator)
    assert fast is not None
    for rows in (1, 3, 64, 777):
        probe = RNG.normal(size=(rows, 9)) * 3  # well outside the training range too
        assert np.array_equal(fast.predict_proba(probe), estimator.predict_proba(probe))
        assert np.array_equal(fast.predict(probe), estimator.predict(probe))
    ints = RNG.integers(-3, 3, size=(50, 9))  # integer input is cast like scikit-learn casts it
    assert np.array_equal(fast.predict(ints), estimator.predict(ints))


@pytest.mark.parametrize("kind", [RandomForestRegressor, ExtraTreesRegressor])
def test_regressors_answer_exactly_what_scikit_learn_answers(kind) -> None:
    X, y = make_regression(n_samples=500, n_features=6, random_state=5)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
    estimator = kind(n_estimators=12, random_state=0).fit(frame, y)
    fast = forest_predictor(estimator)
    assert fast is not None
    probe = pd.DataFrame(RNG.normal(size=(300, 6)), columns=frame.columns)
    assert np.array_equal(fast.predict(probe), estimator.predict(probe))
    assert fast.predict_proba(probe) is None  # a regressor has no probabilities


def test_what_it_does_not_cover_is_left_to_the_estimator() -> None:
    X, y = make_classification(n_samples=300, n_features=4, random_state=6)
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    fast = forest_predictor(forest)
    assert fast is not None
    missing = X[:3].copy()
    missing[1, 2] = np.nan  # scikit-learn's own missing-value rules decide
    assert fast.predict(missing) is None
    assert fast.predict(np.full((1, 4), 1e300)) is None  # not finite as float32: its error
    assert fast.predict(X[:2, :3]) is None  # the wrong number of columns: its error
    named = pd.DataFrame(X[:2], columns=list("abcd"))  # names it was not fitted with
    assert fast.predict(named) is None
    assert forest_predictor(make_pipeline(StandardScaler(), forest)) is None
    assert forest_predictor(GradientBoostingClassifier(n_estimators=3).fit(X, y)) is None
    assert forest_predictor(RandomForestClassifier()) is None  # not fitted
    two_outputs = RandomForestClassifier(n_estimators=3).fit(X, np.c_[y, 1 - y])
    assert forest_predictor(two_outputs) is None


def test_the_server_uses_it_unless_told_not_to(serve) -> None:
    records = [{"a": 0.1, "b": 0.2, "c": 0.3, "d": 0.4}]
    fast = serve("models:/forest/1")
    plain = serve("models:/forest/1", fast_forests=False)
    assert fast.app.models.get("forest")._forest is not None
    assert plain.app.models.get("forest")._forest is None
    answers = [
        s.http.post("/predict", json={"records": records, "probabilities": True}).json()
        for s in (fast, plain)
    ]
    assert answers[0]["predictions"] == answers[1]["predictions"]
    assert answers[0]["probabilities"] == answers[1]["probabilities"]
