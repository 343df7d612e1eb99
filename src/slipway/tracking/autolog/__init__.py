"""Autologging: `slipway.autolog()` records training without logging calls in the code.

Off until called. Each integration (scikit-learn, XGBoost, LightGBM, PyTorch Lightning)
patches its library once, however often it is turned on; `disable=True` puts the library
back as it was. A fit with no active run gets a run of its own, ended after the fit; inside
an active run it logs there. Logging never breaks training: a failure is an
`AutologWarning` and the fit returns as it would have.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

from slipway.tracking.autolog.session import (
    AutologConfig,
    AutologWarning,
    configure,
    is_patched,
    unpatch,
)

# integration -> the package it needs; the integrations load on first use, so that
# `import slipway` and `import slipway.sklearn` stay light
_PACKAGES = {"sklearn": "sklearn", "xgboost": "xgboost", "lightgbm": "lightgbm", "pytorch": "torch"}


def _enabler(integration: str) -> Callable[[AutologConfig], object]:
    if integration == "sklearn":
        from slipway.tracking.autolog import sklearn

        return sklearn.enable
    if integration in ("xgboost", "lightgbm"):
        from slipway.tracking.autolog import boosting

        return boosting.enable_xgboost if integration == "xgboost" else boosting.enable_lightgbm
    from slipway.tracking.autolog import lightning

    return lightning.enable


def autolog_integration(
    integration: str,
    *,
    disable: bool = False,
    log_models: bool = True,
    log_input_examples: bool = True,
    log_datasets: bool = True,
    log_post_training_metrics: bool = True,
    max_tuning_runs: int = 5,
    silent: bool = False,
) -> bool:
    """Turn one integration on (or off); False when its library is not installed."""
    if integration not in _PACKAGES:
        raise ValueError(f"No autolog integration {integration!r}; there are {list(_PACKAGES)}.")
    if disable:
        configure(integration, None)
        unpatch(integration)
        return True
    if importlib.util.find_spec(_PACKAGES[integration]) is None:
        return False
    config = AutologConfig(
        log_models=log_models,
        log_input_examples=log_input_examples,
        log_datasets=log_datasets,
        log_post_training_metrics=log_post_training_metrics,
        max_tuning_runs=max_tuning_runs,
        silent=silent,
    )
    configure(integration, config)
    if _enabler(integration)(config) is False:  # e.g. torch without Lightning
        configure(integration, None)
        return False
    return True


def autolog(
    *,
    disable: bool = False,
    log_models: bool = True,
    log_input_examples: bool = True,
    log_datasets: bool = True,
    log_post_training_metrics: bool = True,
    max_tuning_runs: int = 5,
    silent: bool = False,
) -> list[str]:
    """Autolog every supported library that is installed; returns the ones turned on.

    Logs params, training metrics (per iteration for boosters, per epoch for Lightning),
    the fitted model with its signature and an input example, the training data as a
    dataset input, and post-training metrics (`score`, `sklearn.metrics` on the model's
    predictions). `disable=True` turns all of them off again.
    """
    options = {
        "disable": disable,
        "log_models": log_models,
        "log_input_examples": log_input_examples,
        "log_datasets": log_datasets,
        "log_post_training_metrics": log_post_training_metrics,
        "max_tuning_runs": max_tuning_runs,
        "silent": silent,
    }
    return [name for name in _PACKAGES if autolog_integration(name, **options) and not disable]


def flavor_autolog(integration: str) -> Callable[..., bool]:
    """The `autolog(...)` of one flavor module (`slipway.sklearn.autolog`, …)."""

    def flavor(
        *,
        disable: bool = False,
        log_models: bool = True,
        log_input_examples: bool = True,
        log_datasets: bool = True,
        log_post_training_metrics: bool = True,
        max_tuning_runs: int = 5,
        silent: bool = False,
    ) -> bool:
        return autolog_integration(
            integration,
            disable=disable,
            log_models=log_models,
            log_input_examples=log_input_examples,
            log_datasets=log_datasets,
            log_post_training_metrics=log_post_training_metrics,
            max_tuning_runs=max_tuning_runs,
            silent=silent,
        )

    flavor.__name__ = "autolog"
    flavor.__doc__ = (
        f"Autolog {integration} training (see `slipway.autolog`); `disable=True` undoes it. "
        "Returns False when the library is not installed."
    )
    return flavor


__all__ = [
    "AutologConfig",
    "AutologWarning",
    "autolog",
    "autolog_integration",
    "flavor_autolog",
    "is_patched",
]
