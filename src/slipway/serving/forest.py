"""scikit-learn forests predicted without the Python that surrounds their trees.

`RandomForestClassifier(n_estimators=50).predict` of one row costs about 2 ms here, and
nearly all of it is Python holding the GIL around 50 tree walks of a few microseconds
each: joblib's dispatch of every tree (its config context, the warning filters), input
validation and `check_is_fitted` once per tree, a lock per tree. In a server that cost is
paid once per model call, whatever the batch size, and it decides how many calls (and so
how many variants, how much traffic) one process can serve.

`ForestPredictor` keeps only what decides the answer, in scikit-learn's own order:

1. the input checked once and converted to float32, as the forest does;
2. each tree walked: for a few rows, all trees at once, one numpy step per level (the same
   comparisons as scikit-learn's: float32 input against float64 thresholds); for more
   rows, each tree by scikit-learn's compiled `Tree.apply` (it releases the GIL);
3. the leaves' values read from one table built at load time: for classifiers the class
   fractions normalised exactly as `DecisionTreeClassifier.predict_proba` normalises them;
4. the trees' values added one tree after the other, then divided by the number of trees,
   as the forest's `_accumulate_prediction` does; the class is the argmax.

So the answers are bit-for-bit the estimator's (tests compare them on many inputs and
forests). Anything else is answered by the estimator itself (`predict_proba`/`predict`
return None): input that is not finite after the float32 cast (scikit-learn's own
missing-value rules and error messages apply), sparse or non-numeric input, a column
count or feature names that differ from the fit, multi-output forests, and estimators
other than the four plain forest classes (subclasses and pipelines included).
"""

from __future__ import annotations

from typing import Any

import numpy as np

_FLOAT32 = np.dtype(np.float32)
FLAT_WALK_MAX = 128  # rows x depth up to which all trees are walked at once with numpy


def forest_predictor(estimator: Any) -> ForestPredictor | None:
    """A predictor for a fitted forest of one of the four plain types, else None."""
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        ExtraTreesRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )

    kind = type(estimator)
    if kind in (RandomForestClassifier, ExtraTreesClassifier):
        classifier = True
    elif kind in (RandomForestRegressor, ExtraTreesRegressor):
        classifier = False
    else:
        return None
    try:
        if getattr(estimator, "n_outputs_", None) != 1 or not estimator.estimators_:
            return None
        if classifier and np.ndim(estimator.classes_) != 1:
            return None
        return ForestPredictor(estimator, classifier)
    except (AttributeError, TypeError, ValueError, IndexError):  # unfitted or unusual
        return None


class ForestPredictor:
    """One fitted single-output forest as flat leaf tables (see the module docstring)."""

    def __init__(self, estimator: Any, classifier: bool) -> None:
        self.classifier = classifier
        self.trees = [e.tree_ for e in estimator.estimators_]
        self.n_features = int(estimator.n_features_in_)
        names = getattr(estimator, "feature_names_in_", None)
        self.feature_names = None if names is None else [str(n) for n in names]
        self.classes = np.asarray(estimator.classes_) if classifier else None
        tables, offsets, start = [], [], 0
        for tree in self.trees:
            value = np.asarray(tree.value)
            if classifier:
                n_classes = len(self.classes)  # type: ignore[arg-type]
                fractions = np.ascontiguousarray(value[:, 0, :n_classes], dtype=np.float64)
                normalizer = fractions.sum(axis=1)[:, np.newaxis]
                normalizer[normalizer == 0.0] = 1.0
                fractions /= normalizer
                tables.append(fractions)
            else:
                tables.append(np.ascontiguousarray(value[:, 0, 0], dtype=np.float64))
            offsets.append(start)
            start += value.shape[0]
        self.table = np.concatenate(tables)
        self.offsets = np.asarray(offsets, dtype=np.intp)[:, np.newaxis]
        # Every tree's nodes in flat arrays, for walking all trees at once (`_leaves_flat`):
        # a leaf's children are itself, so extra steps stay on it.
        left, right, feature, threshold = [], [], [], []
        for tree, start in zip(self.trees, offsets, strict=True):
            ids = np.arange(tree.node_count, dtype=np.intp)
            leaf = tree.children_left == -1
            left.append(np.where(leaf, ids, tree.children_left) + start)
            right.append(np.where(leaf, ids, tree.children_right) + start)
            feature.append(np.where(leaf, 0, tree.feature).astype(np.intp))
            threshold.append(np.asarray(tree.threshold, dtype=np.float64))
        self.left, self.right = np.concatenate(left), np.concatenate(right)
        self.feature, self.threshold = np.concatenate(feature), np.concatenate(threshold)
        self.depth = max(int(tree.max_depth) for tree in self.trees)

    # ------------------------------------------------------------------ input
    def features(self, data: Any) -> np.ndarray | None:
        """`data` as the forest's float32 matrix, or None when the estimator should decide."""
        if isinstance(data, np.ndarray):
            matrix = data
        else:
            import pandas as pd

            if not isinstance(data, pd.DataFrame):
                return None
            if self.feature_names is not None and list(map(str, data.columns)) != (
                self.feature_names
            ):
                return None
            if self.feature_names is None and any(isinstance(c, str) for c in data.columns):
                return None  # scikit-learn warns about names it was not fitted with
            if not all(dtype.kind in "fiu" for dtype in data.dtypes):
                return None
            matrix = data.to_numpy()
        if matrix.ndim != 2 or matrix.shape[1] != self.n_features or matrix.dtype.kind not in "fiu":
            return None
        with np.errstate(over="ignore", invalid="ignore"):  # scikit-learn says what is wrong
            converted = np.asarray(matrix, dtype=_FLOAT32)
        if not np.isfinite(converted).all():
            return None
        return converted

    # ------------------------------------------------------------------ prediction
    def _leaves_flat(self, X: np.ndarray) -> np.ndarray:
        """Every tree's leaf for every row, one level of all trees per numpy step: the
        same comparisons as `Tree.apply` (float32 input against float64 thresholds)."""
        rows = X.shape[0]
        node = np.repeat(self.offsets, rows, axis=1)  # (trees, rows): the roots
        row = np.arange(rows, dtype=np.intp)
        for _ in range(self.depth):
            go_left = X[row, self.feature[node]] <= self.threshold[node]
            node = np.where(go_left, self.left[node], self.right[node])
        return node

    def _leaves_by_tree(self, X: np.ndarray) -> np.ndarray:
        """Every tree's leaf for every row, from scikit-learn's compiled walk of each tree."""
        leaves = np.empty((len(self.trees), X.shape[0]), dtype=np.intp)
        for i, tree in enumerate(self.trees):
            leaves[i] = tree.apply(X)
        leaves += self.offsets
        return leaves

    def _summed(self, X: np.ndarray) -> np.ndarray:
        # Few rows: one numpy pass per level beats one compiled call per tree (the calls'
        # own overhead dominates); many rows or deep trees: the compiled walks win.
        if X.shape[0] * self.depth <= FLAT_WALK_MAX:
            leaves = self._leaves_flat(X)
        else:
            leaves = self._leaves_by_tree(X)
        values = self.table[leaves]  # (trees, rows[, classes])
        total = values[0].copy()
        for tree_values in values[1:]:  # tree by tree, in the estimators' order
            total += tree_values
        total /= len(self.trees)
        return total

    def predict_proba(self, data: Any) -> np.ndarray | None:
        """The classifier's `predict_proba(data)`, or None (ask the estimator)."""
        X = self.features(data)
        if X is None or not self.classifier:
            return None
        return self._summed(X)

    def predict(self, data: Any) -> np.ndarray | None:
        """The forest's `predict(data)`, or None (ask the estimator)."""
        X = self.features(data)
        if X is None:
            return None
        summed = self._summed(X)
        if not self.classifier:
            return summed
        assert self.classes is not None
        return self.classes.take(np.argmax(summed, axis=1), axis=0)


__all__ = ["ForestPredictor", "forest_predictor"]
