"""Text-content drift: can a classifier tell reference texts from current ones?

Evidently's rule for text columns (DRIFT_METHODS.md): train a domain classifier (TF-IDF
words into a linear model) on half of the texts of both sides, labelled by side, and score
the other half by ROC AUC. 0.5 means the sides look alike. With a small reference
(<= 1000 texts) the AUC must beat the 95th percentile of what random scores reach on the
same held-out labels (threshold 0.95 is that confidence); with a larger one it must exceed
0.55. Needs scikit-learn (`pip install 'slipway[sklearn]'`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from slipway.models.optional import import_optional

SEED = 42
RANDOM_ROUNDS = 1000
MAX_TEXTS_PER_SIDE = 10_000  # beyond this, a seeded sample keeps the fit quick


@dataclass
class TextDrift:
    """The domain classifier's ROC AUC, the bar it had to clear, and the verdict."""

    roc_auc: float
    bar: float
    drifted: bool
    sampled: bool


def sample_texts(texts: list[str]) -> tuple[np.ndarray, bool]:
    """The texts the classifier sees: all of them, or a seeded sample of
    MAX_TEXTS_PER_SIDE (and whether it is a sample)."""
    values = np.asarray(texts, dtype=object)
    if len(values) <= MAX_TEXTS_PER_SIDE:
        return values, False
    picks = np.random.default_rng(SEED).choice(len(values), MAX_TEXTS_PER_SIDE, replace=False)
    return values[np.sort(picks)], True


def random_auc_percentile(y_test: np.ndarray, confidence: float, rng: np.random.Generator):
    """The `confidence` quantile of ROC AUCs that uniform random scores reach on `y_test`.

    Ranks of random scores are a random permutation, so each round's AUC comes from the
    rank sum of the positives (Mann-Whitney), all rounds at once.
    """
    n = len(y_test)
    positives = y_test == 1
    n_pos = int(positives.sum())
    n_neg = n - n_pos
    ranks = rng.random((RANDOM_ROUNDS, n)).argsort(axis=1).argsort(axis=1) + 1
    rank_sums = ranks[:, positives].sum(axis=1)
    aucs = (rank_sums - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return float(np.percentile(aucs, 100 * confidence))


def text_content_drift(
    reference: np.ndarray, current: np.ndarray, threshold: float, percentile: bool
) -> TextDrift | None:
    """Domain-classifier drift of two arrays of texts; None when it cannot be computed
    (too few texts, or no word left after stop words)."""
    feature_extraction = import_optional("sklearn.feature_extraction.text", "Text drift")
    linear_model = import_optional("sklearn.linear_model", "Text drift")
    metrics = import_optional("sklearn.metrics", "Text drift")
    model_selection = import_optional("sklearn.model_selection", "Text drift")
    if not 0.5 <= threshold <= 1:
        from slipway.errors import InvalidParameterValue

        raise InvalidParameterValue(
            f"The text-content threshold must be between 0.5 and 1, got {threshold}."
        )
    texts = np.concatenate([reference, current]).astype(str)
    labels = np.concatenate([np.zeros(len(reference), int), np.ones(len(current), int)])
    if min(len(reference), len(current)) < 2:
        return None
    x_train, x_test, y_train, y_test = model_selection.train_test_split(
        texts, labels, test_size=0.5, random_state=SEED, shuffle=True
    )
    if len(set(y_train)) < 2 or len(set(y_test)) < 2:
        return None
    vectorizer = feature_extraction.TfidfVectorizer(
        sublinear_tf=True, max_df=0.5, stop_words="english"
    )
    try:
        features = vectorizer.fit_transform(x_train)
    except ValueError:  # empty vocabulary: nothing but stop words or punctuation
        return None
    classifier = linear_model.SGDClassifier(
        alpha=0.0001, max_iter=50, penalty="l1", loss="modified_huber", random_state=SEED
    )
    with warnings.catch_warnings():  # 50 iterations, as the reference tool: may not converge
        warnings.simplefilter("ignore")
        classifier.fit(features, y_train)
    scores = classifier.predict_proba(vectorizer.transform(x_test))[:, 1]
    auc = float(metrics.roc_auc_score(y_test, scores))
    if percentile:
        bar = random_auc_percentile(np.asarray(y_test), threshold, np.random.default_rng(SEED))
    else:
        bar = threshold
    return TextDrift(auc, bar, auc > bar, False)


__all__ = ["TextDrift", "random_auc_percentile", "sample_texts", "text_content_drift"]
