"""scikit-learn autologging, as `mlflow.sklearn.autolog` records it.

Patches `fit` of every scikit-learn estimator: the outermost fit logs the estimator's
params (deep), tags `estimator_name`/`estimator_class`, training metrics
(`training_accuracy_score`, `training_f1_score`, …, `training_score`), the training data
as a dataset input, the best params and child runs of a parameter search, and the fitted
model with its signature and an input example. Afterwards `score` and the
`sklearn.metrics` functions called on the model's predictions log post-training metrics
named after the data variable (`accuracy_score_X_test`, `RandomForestClassifier_score_X_test`)
to the run the model was trained in. The same machinery serves the scikit-learn APIs of
XGBoost and LightGBM (`fit_estimator_wrapper`).
"""

from __future__ import annotations

import inspect
import math
import sys
import weakref
from collections.abc import Callable
from typing import Any

from slipway.entities import Metric, Param, now_ms
from slipway.tracking import fluent
from slipway.tracking.autolog.session import (
    AutologConfig,
    config_of,
    current_session,
    guarded,
    param_value,
    passthrough,
    patch,
    session,
    training_run,
)
from slipway.tracking.datasets import dataset_input

INTEGRATION = "sklearn"
METRIC_FUNCTIONS = (
    "accuracy_score",
    "balanced_accuracy_score",
    "f1_score",
    "precision_score",
    "recall_score",
    "log_loss",
    "roc_auc_score",
    "r2_score",
    "mean_squared_error",
    "root_mean_squared_error",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "median_absolute_error",
    "explained_variance_score",
)
_PREDICT_METHODS = ("predict", "predict_proba")

# fitted estimator -> the run it was trained in; predictions -> (run, data name)
_trained_in: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
_predictions: dict[int, tuple[weakref.ref, str, str, weakref.ref | None]] = {}
_metric_names: dict[tuple[str, str], int] = {}
_eval_inputs: set[tuple[str, int]] = set()


def enable(config: AutologConfig) -> None:
    """Patch every scikit-learn estimator and the `sklearn.metrics` functions (once)."""
    import sklearn.metrics
    from sklearn.utils import all_estimators

    for owner in _owners_of([c for _, c in all_estimators()], "sklearn"):
        for name in ("fit", "score", *_PREDICT_METHODS):
            if inspect.isfunction(owner.__dict__.get(name)):
                patch(INTEGRATION, owner, name, _WRAPPERS[name](INTEGRATION, _save_sklearn))
    for name in METRIC_FUNCTIONS:
        if hasattr(sklearn.metrics, name):
            patch(INTEGRATION, sklearn.metrics, name, _metric_wrapper)


def _owners_of(classes: Any, package: str) -> list[type]:
    """Every class of `package` in the classes' MROs (where `fit` & co. are defined)."""
    seen: dict[type, None] = {}
    for cls in classes:
        for klass in cls.__mro__:
            if klass.__module__.split(".")[0] == package:
                seen.setdefault(klass, None)
    return list(seen)


def _save_sklearn(model: Any, path: str, **kwargs: Any) -> Any:
    from slipway.models.flavors.sklearn import save_model

    return save_model(model, path, **kwargs)


# --- fit --------------------------------------------------------------------------------
def fit_estimator_wrapper(
    integration: str,
    save_model: Callable[..., Any],
    after_fit: Callable[[Any, str, AutologConfig], None] | None = None,
) -> Callable[[Any], Any]:
    """A `fit` patch: the outermost fit logs params, metrics, data and model."""

    def wrap(original: Any) -> Any:
        def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
            config = config_of(integration)
            if config is None or current_session() is not None:
                return original(self, *args, **kwargs)
            X, y, weight = _fit_data(original, self, args, kwargs)
            tags = {
                "mlflow.autologging": integration,
                "estimator_name": type(self).__name__,
                "estimator_class": _class_path(self),
            }
            with training_run(config, tags) as run_id, session(integration, run_id):
                if run_id is None:
                    return original(self, *args, **kwargs)
                with guarded(config, "log the estimator's params"):
                    _log_params(run_id, self.get_params(deep=True))
                result = original(self, *args, **kwargs)
                _remember_model(self, run_id)
                _after_fit(self, run_id, config, X, y, weight, save_model)
                if after_fit is not None:
                    with guarded(config, "log the booster's details"):
                        after_fit(self, run_id, config)
                return result

        return fit

    return wrap


def _after_fit(
    model: Any,
    run_id: str,
    config: AutologConfig,
    X: Any,
    y: Any,
    weight: Any,
    save_model: Callable[..., Any],
) -> None:
    client = fluent.current_client()
    if y is not None:
        with guarded(config, "compute training metrics"):
            metrics = training_metrics(model, X, y, weight)
            ts = now_ms()
            client.log_batch(run_id, metrics=[Metric(k, v, ts, 0) for k, v in metrics.items()])
    if config.log_datasets and X is not None:
        with guarded(config, "log the training data as a dataset input"):
            client.log_inputs(run_id, [dataset_input(X, context="train")])
    if hasattr(model, "best_params_"):
        with guarded(config, "log the parameter search"):
            _log_search(client, run_id, model, config)
    if config.log_models:
        with guarded(config, "log the fitted model"):
            example = _head(X) if config.log_input_examples else None
            fluent.log_model(save_model, model, "model", input_example=example)


def training_metrics(model: Any, X: Any, y: Any, weight: Any = None) -> dict[str, float]:
    """MLflow's `training_*` metrics of a classifier or regressor on its training data."""
    from sklearn import metrics
    from sklearn.base import is_classifier, is_regressor

    out: dict[str, float] = {}
    with passthrough():
        if is_classifier(model):
            pred = model.predict(X)
            out["training_accuracy_score"] = metrics.accuracy_score(y, pred, sample_weight=weight)
            for name, fn in [
                ("training_precision_score", metrics.precision_score),
                ("training_recall_score", metrics.recall_score),
                ("training_f1_score", metrics.f1_score),
            ]:
                out[name] = fn(y, pred, average="weighted", sample_weight=weight, zero_division=0)
            if hasattr(model, "predict_proba"):
                proba = model.predict_proba(X)
                labels = getattr(model, "classes_", None)
                out["training_log_loss"] = metrics.log_loss(
                    y, proba, sample_weight=weight, labels=labels
                )
                if proba.shape[1] == 2:
                    out["training_roc_auc"] = metrics.roc_auc_score(
                        y, proba[:, 1], sample_weight=weight
                    )
                else:
                    out["training_roc_auc"] = metrics.roc_auc_score(
                        y, proba, multi_class="ovr", sample_weight=weight, labels=labels
                    )
        elif is_regressor(model):
            pred = model.predict(X)
            mse = metrics.mean_squared_error(y, pred, sample_weight=weight)
            out["training_mean_squared_error"] = mse
            out["training_root_mean_squared_error"] = math.sqrt(mse)
            out["training_mean_absolute_error"] = metrics.mean_absolute_error(
                y, pred, sample_weight=weight
            )
            out["training_r2_score"] = metrics.r2_score(y, pred, sample_weight=weight)
        if hasattr(model, "score"):
            if weight is None:
                out["training_score"] = model.score(X, y)
            else:
                try:
                    out["training_score"] = model.score(X, y, sample_weight=weight)
                except (TypeError, ValueError):  # a score that takes no weights
                    out["training_score"] = model.score(X, y)
    return {k: float(v) for k, v in out.items()}


def _log_search(client: Any, run_id: str, search: Any, config: AutologConfig) -> None:
    """Best params as `best_<param>` and the best few candidates as child runs."""
    params = [Param(f"best_{k}", param_value(v)) for k, v in search.best_params_.items()]
    metrics = []
    if hasattr(search, "best_score_"):
        metrics.append(Metric("best_cv_score", float(search.best_score_), now_ms(), 0))
    client.log_batch(run_id, metrics=metrics, params=params)
    results = getattr(search, "cv_results_", None)
    if not results or config.max_tuning_runs <= 0:
        return
    parent = client.get_run(run_id)
    ranks = list(results.get("rank_test_score", range(1, len(results["params"]) + 1)))
    order = sorted(range(len(ranks)), key=lambda i: ranks[i])[: config.max_tuning_runs]
    metric_keys = [k for k in results if k.startswith(("mean_", "std_", "rank_"))]
    for i in order:
        child = client.create_run(
            parent.info.experiment_id,
            run_name=f"{parent.info.run_name}-candidate-{i}",
            tags={"mlflow.parentRunId": run_id, "mlflow.autologging": INTEGRATION},
        )
        ts = now_ms()
        client.log_batch(
            child.info.run_id,
            params=[Param(k, param_value(v)) for k, v in results["params"][i].items()],
            metrics=[
                Metric(k, float(results[k][i]), ts, 0)
                for k in metric_keys
                if isinstance(results[k][i], int | float) and math.isfinite(results[k][i])
            ],
        )
        client.set_terminated(child.info.run_id)


# --- post-training metrics -------------------------------------------------------------
def _score_wrapper(integration: str, save_model: Any) -> Callable[[Any], Any]:
    def wrap(original: Any) -> Any:
        def score(self: Any, *args: Any, **kwargs: Any) -> Any:
            config = config_of(INTEGRATION)
            run_id = _run_of(self) if config and current_session() is None else None
            if run_id is None or not config.log_post_training_metrics:
                return original(self, *args, **kwargs)
            caller = sys._getframe(1)
            with passthrough():
                value = original(self, *args, **kwargs)
            X = args[0] if args else kwargs.get("X")
            with guarded(config, "log a post-training score"):
                key = f"{type(self).__name__}_score"
                _log_post_training(run_id, key, _data_name(X, caller), value)
            with guarded(config, "log the evaluation data as a dataset input"):
                _log_eval_data(run_id, X, config)
            return value

        return score

    return wrap


def _predict_wrapper(integration: str, save_model: Any) -> Callable[[Any], Any]:
    def wrap(original: Any) -> Any:
        def predict(self: Any, *args: Any, **kwargs: Any) -> Any:
            result = original(self, *args, **kwargs)
            config = config_of(INTEGRATION)
            if (
                config is None
                or current_session() is not None
                or not config.log_post_training_metrics
            ):
                return result
            run_id = _run_of(self)
            if run_id is not None:
                X = args[0] if args else kwargs.get("X")
                with guarded(config, "remember predictions for post-training metrics"):
                    _remember(result, run_id, _data_name(X, sys._getframe(1)), X)
            return result

        return predict

    return wrap


def _metric_wrapper(original: Any) -> Any:
    def metric(*args: Any, **kwargs: Any) -> Any:
        value = original(*args, **kwargs)
        config = config_of(INTEGRATION)
        if config is None or current_session() is not None or not config.log_post_training_metrics:
            return value
        y_pred = args[1] if len(args) > 1 else None
        for key in ("y_pred", "y_score", "y_prob", "y_proba"):
            y_pred = kwargs.get(key, y_pred)
        found = _recalled(y_pred)
        if found is not None:
            run_id, data_name, X = found
            with guarded(config, f"log {original.__name__}"):
                _log_post_training(run_id, original.__name__, data_name, value)
            with guarded(config, "log the evaluation data as a dataset input"):
                _log_eval_data(run_id, X, config)
        return value

    return metric


def _remember_model(model: Any, run_id: str) -> None:
    try:
        _trained_in[model] = run_id
    except TypeError:  # an estimator that cannot be weakly referenced or hashed
        pass


def _run_of(model: Any) -> str | None:
    try:
        return _trained_in.get(model)
    except TypeError:
        return None


def _remember(prediction: Any, run_id: str, data_name: str, X: Any) -> None:
    if not _weakrefable(prediction):
        return  # e.g. a list: cannot be recognised later without keeping it alive
    key = id(prediction)
    _predictions[key] = (
        weakref.ref(prediction, lambda _: _predictions.pop(key, None)),
        run_id,
        data_name,
        weakref.ref(X) if _weakrefable(X) else None,
    )


def _weakrefable(obj: Any) -> bool:
    try:
        weakref.ref(obj)
    except TypeError:
        return False
    return True


def _recalled(prediction: Any) -> tuple[str, str, Any] | None:
    entry = _predictions.get(id(prediction)) if prediction is not None else None
    if entry is None or entry[0]() is not prediction:
        return None
    return entry[1], entry[2], entry[3]() if entry[3] is not None else None


def _log_eval_data(run_id: str, X: Any, config: AutologConfig) -> None:
    """The data a post-training metric was computed on, as an `eval` input (once)."""
    if not config.log_datasets or X is None or (run_id, id(X)) in _eval_inputs:
        return
    _eval_inputs.add((run_id, id(X)))
    fluent.current_client().log_inputs(run_id, [dataset_input(X, context="eval")])


def _log_post_training(run_id: str, name: str, data_name: str, value: Any) -> None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return  # e.g. per-class arrays (average=None): not one metric
    count = _metric_names.get((run_id, f"{name}_{data_name}"), 0) + 1
    _metric_names[(run_id, f"{name}_{data_name}")] = count
    key = f"{name}_{data_name}" if count == 1 else f"{name}-{count}_{data_name}"
    fluent.current_client().log_metric(run_id, key, number)


def _data_name(data: Any, frame: Any) -> str:
    """The caller's variable name for `data` (`X_test`), as MLflow names eval metrics."""
    if data is not None:
        for scope in (frame.f_locals, frame.f_globals):
            for name, value in scope.items():
                if value is data and not name.startswith("_"):
                    return name
    return "unknown_dataset"


# --- helpers ------------------------------------------------------------------------------
def _fit_data(original: Any, model: Any, args: tuple, kwargs: dict) -> tuple[Any, Any, Any]:
    try:
        bound = inspect.signature(original).bind_partial(model, *args, **kwargs)
    except TypeError:
        return None, None, None
    names = list(bound.arguments)
    x = bound.arguments.get(names[1]) if len(names) > 1 else None
    y = bound.arguments.get(names[2]) if len(names) > 2 else None
    return x, y, bound.arguments.get("sample_weight")


def _log_params(run_id: str, params: dict[str, Any]) -> None:
    flat = [
        Param(k, param_value(v))
        for k, v in params.items()
        if not hasattr(v, "get_params")  # nested estimators: their own params are logged
    ]
    fluent.current_client().log_batch(run_id, params=flat)


def _head(X: Any, n: int = 5) -> Any:
    if hasattr(X, "iloc"):
        return X.iloc[:n]
    if hasattr(X, "shape") and hasattr(X, "__getitem__"):
        return X[:n]
    return None


def _class_path(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


_WRAPPERS: dict[str, Callable[[str, Any], Callable[[Any], Any]]] = {
    "fit": fit_estimator_wrapper,
    "score": _score_wrapper,
    "predict": _predict_wrapper,
    "predict_proba": _predict_wrapper,
}

__all__ = [
    "INTEGRATION",
    "METRIC_FUNCTIONS",
    "enable",
    "fit_estimator_wrapper",
    "training_metrics",
]
