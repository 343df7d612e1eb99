"""XGBoost and LightGBM autologging: per-iteration metrics, importances, the booster.

Both libraries train through one function (`xgboost.train`, `lightgbm.train`) that their
scikit-learn classes call too. The patched `train` adds a callback that logs every
evaluation result per iteration (`validation_0-logloss`, `valid_0-multi_logloss`); called
directly, it also logs the params, the feature importances (`feature_importance_<type>.json`)
and the booster. The scikit-learn classes' `fit` logs as a scikit-learn estimator does
(params, training metrics, model) and adds the importances.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from slipway.entities import Param
from slipway.tracking import fluent
from slipway.tracking.autolog.session import (
    AutologConfig,
    config_of,
    current_session,
    guarded,
    param_value,
    patch,
    session,
    training_run,
)
from slipway.tracking.autolog.sklearn import fit_estimator_wrapper

XGBOOST = "xgboost"
LIGHTGBM = "lightgbm"
XGB_IMPORTANCE_TYPES = ("weight", "gain")
LGBM_IMPORTANCE_TYPES = ("split", "gain")


# --- XGBoost ----------------------------------------------------------------------------
def enable_xgboost(config: AutologConfig) -> None:
    import xgboost
    import xgboost.sklearn
    import xgboost.training

    for module in (xgboost, xgboost.training, xgboost.sklearn):
        if hasattr(module, "train"):
            patch(XGBOOST, module, "train", _train_wrapper(XGBOOST, _xgb_callback, _xgb_after))
    for cls in _classes_defining_fit(xgboost.sklearn, "xgboost"):
        patch(XGBOOST, cls, "fit", fit_estimator_wrapper(XGBOOST, _save_xgb, _xgb_sklearn_after))


def _xgb_callback(run_id: str) -> Any:
    import xgboost

    class LogEveryIteration(xgboost.callback.TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: dict) -> bool:
            with guarded(config_of(XGBOOST), "log an iteration's metrics"):
                fluent.log_metrics(
                    {
                        f"{data}-{metric}": values[-1]
                        for data, by_metric in evals_log.items()
                        for metric, values in by_metric.items()
                        if values
                    },
                    step=epoch,
                )
            return False

    return LogEveryIteration()


def _xgb_after(booster: Any, run_id: str, config: AutologConfig) -> None:
    _log_xgb_importances(booster, config)
    if config.log_models:
        with guarded(config, "log the booster"):
            fluent.log_model(_save_xgb, booster, "model")


def _xgb_sklearn_after(model: Any, run_id: str, config: AutologConfig) -> None:
    _log_xgb_importances(model.get_booster(), config)


def _log_xgb_importances(booster: Any, config: AutologConfig) -> None:
    for kind in XGB_IMPORTANCE_TYPES:
        with guarded(config, f"log the {kind} feature importance"):
            scores = booster.get_score(importance_type=kind)
            fluent.log_dict(
                {k: float(v) for k, v in scores.items()}, f"feature_importance_{kind}.json"
            )


def _save_xgb(model: Any, path: str, **kwargs: Any) -> Any:
    from slipway.models.flavors.xgboost import save_model

    return save_model(model, path, **kwargs)


# --- LightGBM ---------------------------------------------------------------------------
def enable_lightgbm(config: AutologConfig) -> None:
    import lightgbm
    import lightgbm.engine
    import lightgbm.sklearn

    for module in (lightgbm, lightgbm.engine, lightgbm.sklearn):
        if hasattr(module, "train"):
            patch(LIGHTGBM, module, "train", _train_wrapper(LIGHTGBM, _lgbm_callback, _lgbm_after))
    for cls in _classes_defining_fit(lightgbm.sklearn, "lightgbm"):
        patch(
            LIGHTGBM, cls, "fit", fit_estimator_wrapper(LIGHTGBM, _save_lgbm, _lgbm_sklearn_after)
        )


def _lgbm_callback(run_id: str) -> Callable[[Any], None]:
    def log_every_iteration(env: Any) -> None:
        with guarded(config_of(LIGHTGBM), "log an iteration's metrics"):
            fluent.log_metrics(
                {f"{r[0]}-{r[1]}": r[2] for r in env.evaluation_result_list or ()},
                step=env.iteration,
            )

    log_every_iteration.order = 100  # type: ignore[attr-defined]  # after LightGBM's own
    return log_every_iteration


def _lgbm_after(booster: Any, run_id: str, config: AutologConfig) -> None:
    _log_lgbm_importances(booster, config)
    if config.log_models:
        with guarded(config, "log the booster"):
            fluent.log_model(_save_lgbm, booster, "model")


def _lgbm_sklearn_after(model: Any, run_id: str, config: AutologConfig) -> None:
    _log_lgbm_importances(model.booster_, config)


def _log_lgbm_importances(booster: Any, config: AutologConfig) -> None:
    names = booster.feature_name()
    for kind in LGBM_IMPORTANCE_TYPES:
        with guarded(config, f"log the {kind} feature importance"):
            values = booster.feature_importance(importance_type=kind)
            fluent.log_dict(
                {n: float(v) for n, v in zip(names, values, strict=True)},
                f"feature_importance_{kind}.json",
            )


def _save_lgbm(model: Any, path: str, **kwargs: Any) -> Any:
    from slipway.models.flavors.lightgbm import save_model

    return save_model(model, path, **kwargs)


# --- shared -----------------------------------------------------------------------------
def _train_wrapper(
    integration: str,
    make_callback: Callable[[str], Any],
    after_train: Callable[[Any, str, AutologConfig], None],
) -> Callable[[Any], Any]:
    """A `train` patch: per-iteration metrics always; params, importances and the
    booster only when `train` is the outermost training call."""

    def wrap(original: Any) -> Any:
        signature = inspect.signature(original)

        def train(*args: Any, **kwargs: Any) -> Any:
            config = config_of(integration)
            outer = current_session()
            if config is None or (outer is not None and outer.integration != integration):
                return original(*args, **kwargs)
            if outer is not None:  # inside this library's own `fit`: add the callback only
                if outer.run_id is None:
                    return original(*args, **kwargs)
                call_args, call_kwargs = _with_callback(
                    signature, args, kwargs, make_callback(outer.run_id)
                )
                return original(*call_args, **call_kwargs)
            with training_run(config, {"mlflow.autologging": integration}) as run_id:
                if run_id is None:
                    return original(*args, **kwargs)
                with session(integration, run_id):
                    with guarded(config, "log the training params"):
                        _log_train_params(run_id, signature, args, kwargs)
                    call_args, call_kwargs = _with_callback(
                        signature, args, kwargs, make_callback(run_id)
                    )
                    booster = original(*call_args, **call_kwargs)
                    with guarded(config, "log the booster's details"):
                        after_train(booster, run_id, config)
                    return booster

        return train

    return wrap


def _with_callback(
    signature: inspect.Signature, args: tuple, kwargs: dict, callback: Any
) -> tuple[tuple, dict]:
    """The call with `callback` added; unchanged if the arguments do not fit (the
    library then raises its own error, as it would have without autolog)."""
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError:
        return args, kwargs
    callbacks = list(bound.arguments.get("callbacks") or [])
    bound.arguments["callbacks"] = [*callbacks, callback]
    return bound.args, bound.kwargs


def _log_train_params(run_id: str, signature: inspect.Signature, args: tuple, kwargs: dict) -> None:
    bound = signature.bind(*args, **kwargs)
    params = dict(bound.arguments.get("params") or {})
    for name in ("num_boost_round", "early_stopping_rounds", "maximize", "verbose_eval"):
        if name in bound.arguments:
            params[name] = bound.arguments[name]
    if "num_boost_round" not in params and "num_boost_round" in signature.parameters:
        params["num_boost_round"] = signature.parameters["num_boost_round"].default
    fluent.current_client().log_batch(
        run_id, params=[Param(k, param_value(v)) for k, v in params.items()]
    )


def _classes_defining_fit(module: Any, package: str) -> list[type]:
    return [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type)
        and obj.__module__.split(".")[0] == package
        and inspect.isfunction(obj.__dict__.get("fit"))
    ]


__all__ = ["LIGHTGBM", "XGBOOST", "enable_lightgbm", "enable_xgboost"]
