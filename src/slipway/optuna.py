"""Optuna studies tracked as runs: `study.optimize(f, callbacks=[slipway.optuna.Callback()])`.

Optuna is an optional extra (`pip install 'slipway[optuna]'`). Details:
`slipway.tracking.optuna_callback`.
"""

from slipway.tracking.optuna_callback import Callback

__all__ = ["Callback"]
