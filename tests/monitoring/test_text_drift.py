"""Text columns: a domain classifier tells reference from current texts (Evidently's rule)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from slipway.monitoring import detect_drift
from slipway.monitoring.text import RANDOM_ROUNDS, random_auc_percentile

SPORTS = [
    "match",
    "goal",
    "team",
    "score",
    "league",
    "coach",
    "striker",
    "season",
    "final",
    "referee",
    "stadium",
    "fans",
]
COOKING = [
    "recipe",
    "oven",
    "flour",
    "butter",
    "sugar",
    "simmer",
    "garlic",
    "onion",
    "bake",
    "sauce",
    "pepper",
    "salad",
]


def reviews(words: list[str], n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(words, 8)) + f" item{i % 97}" for i in range(n)]


@pytest.mark.parametrize(("n_ref", "threshold"), [(400, 0.95), (1500, 0.55)])
def test_same_topic_does_not_drift_and_another_topic_does(n_ref: int, threshold: float) -> None:
    ref = pd.DataFrame({"review": reviews(SPORTS, n_ref, 1)})
    same = pd.DataFrame({"review": reviews(SPORTS, 400, 2)})
    other = pd.DataFrame({"review": reviews(COOKING, 400, 3)})

    calm = detect_drift(ref, same).columns["review"]
    assert calm.type == "text" and calm.tested and calm.test == "text_content"
    assert calm.threshold == threshold
    assert not calm.drifted and calm.statistic < 0.7

    shifted = detect_drift(ref, other).columns["review"]
    assert shifted.tested and shifted.drifted and shifted.statistic > 0.95


def test_threshold_override_and_json() -> None:
    ref = pd.DataFrame({"review": reviews(SPORTS, 1500, 1)})
    cur = pd.DataFrame({"review": reviews(SPORTS, 400, 2)})
    result = detect_drift(ref, cur, thresholds={"review": 0.5})
    column = result.columns["review"]
    assert column.threshold == 0.5
    assert column.drifted == (column.statistic > 0.5)
    assert '"test": "text_content"' in result.to_json()


def test_random_classifier_percentile_matches_sklearn_auc() -> None:
    y = np.array([0] * 30 + [1] * 20)
    rng = np.random.default_rng(0)
    ours = random_auc_percentile(y, 0.95, np.random.default_rng(0))
    draws = rng.random((RANDOM_ROUNDS, len(y)))
    expected = np.percentile([roc_auc_score(y, d) for d in draws], 95)
    assert ours == pytest.approx(expected)
