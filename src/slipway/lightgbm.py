"""Save, log and load LightGBM models: boosters as native text, sklearn-API models with skops.

Details: `slipway.models.flavors.lightgbm`.
"""

from slipway.models.flavors.lightgbm import load_model, log_model, save_model

__all__ = ["load_model", "log_model", "save_model"]
