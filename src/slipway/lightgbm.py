"""Save, log and load LightGBM models: boosters as native text, sklearn-API models with skops.

Details: `slipway.models.flavors.lightgbm`.
"""

from slipway._shortcuts import make_load_model, make_log_model
from slipway.models.flavors import lightgbm as _flavor
from slipway.models.flavors.lightgbm import save_model
from slipway.tracking.autolog import flavor_autolog

log_model = make_log_model(save_model, "LightGBM model")
load_model = make_load_model(_flavor.load_model, "LightGBM model")

autolog = flavor_autolog("lightgbm")

__all__ = ["autolog", "load_model", "log_model", "save_model"]
