"""PyTorch Lightning autologging: `Trainer.fit` logs its settings, the module's hyper-
parameters and, at the end of every epoch, the metrics the module logged (`self.log`).

Enabled only where `lightning` (or the older `pytorch_lightning`) is installed; the fitted
module is logged with the PyTorch flavor (its state_dict).
"""

from __future__ import annotations

import importlib
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

INTEGRATION = "pytorch"
_TRAINER_SETTINGS = ("max_epochs", "min_epochs", "max_steps", "accumulate_grad_batches")


def lightning_module() -> Any | None:
    """`lightning.pytorch`, else `pytorch_lightning`, else None."""
    for name in ("lightning.pytorch", "pytorch_lightning"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


def enable(config: AutologConfig) -> bool:
    """Patch `Trainer.fit`; False when Lightning is not installed."""
    pl = lightning_module()
    if pl is None:
        return False
    patch(INTEGRATION, pl.Trainer, "fit", _fit_wrapper(pl))
    return True


def _fit_wrapper(pl: Any) -> Any:
    class LogEpochMetrics(pl.Callback):
        def on_train_start(self, trainer: Any, module: Any) -> None:
            with guarded(config_of(INTEGRATION), "log the optimizer"):
                _log_optimizer(trainer)

        def on_train_epoch_end(self, trainer: Any, module: Any) -> None:
            self._log(trainer)

        def on_validation_epoch_end(self, trainer: Any, module: Any) -> None:
            if not trainer.sanity_checking:
                self._log(trainer)

        def _log(self, trainer: Any) -> None:
            with guarded(config_of(INTEGRATION), "log the epoch's metrics"):
                values = {
                    k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1
                }
                fluent.log_metrics(values, step=trainer.current_epoch)

    def wrap(original: Any) -> Any:
        def fit(self: Any, model: Any, *args: Any, **kwargs: Any) -> Any:
            config = config_of(INTEGRATION)
            if config is None or current_session() is not None:
                return original(self, model, *args, **kwargs)
            tags = {"mlflow.autologging": INTEGRATION, "estimator_name": type(model).__name__}
            with training_run(config, tags) as run_id, session(INTEGRATION, run_id):
                if run_id is None:
                    return original(self, model, *args, **kwargs)
                with guarded(config, "log the trainer's settings"):
                    _log_params(run_id, self, model)
                self.callbacks.append(LogEpochMetrics())
                try:
                    result = original(self, model, *args, **kwargs)
                finally:
                    self.callbacks.pop()
                if config.log_models:
                    with guarded(config, "log the trained module"):
                        from slipway.models.flavors.pytorch import save_model

                        init_kwargs = dict(getattr(model, "hparams", {}) or {})
                        fluent.log_model(save_model, model, "model", model_init_kwargs=init_kwargs)
                return result

        return fit

    return wrap


def _log_params(run_id: str, trainer: Any, model: Any) -> None:
    params: dict[str, Any] = {
        k: getattr(trainer, k) for k in _TRAINER_SETTINGS if hasattr(trainer, k)
    }
    params.update(dict(getattr(model, "hparams", {}) or {}))
    fluent.current_client().log_batch(
        run_id, params=[Param(k, param_value(v)) for k, v in params.items()]
    )


def _log_optimizer(trainer: Any) -> None:
    """The optimizer exists once training starts (`configure_optimizers` runs in `fit`)."""
    optimizers = getattr(trainer, "optimizers", None) or []
    if not optimizers:
        return
    optimizer = optimizers[0]
    params = {"optimizer_name": type(optimizer).__name__}
    defaults = getattr(optimizer, "defaults", {})
    params.update({f"optimizer_{k}": v for k, v in defaults.items() if k != "params"})
    fluent.log_params({k: param_value(v) for k, v in params.items()})


__all__ = ["INTEGRATION", "enable", "lightning_module"]
