"""Small data sets and fitted models shared by the model-format tests (fitted once per session)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def iris():
    """(X DataFrame with float columns, y Series) of sklearn's bundled iris data."""
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True, as_frame=True)
    return X, y


@pytest.fixture(scope="session")
def forest(iris):
    from sklearn.ensemble import RandomForestClassifier

    X, y = iris
    return RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0).fit(X, y)


@pytest.fixture(scope="session")
def logreg(iris):
    from sklearn.linear_model import LogisticRegression

    X, y = iris
    return LogisticRegression(max_iter=500).fit(X, y)
