"""Save, log and load XGBoost models, saved in XGBoost's native format.

Details: `slipway.models.flavors.xgboost`.
"""

from slipway._shortcuts import make_load_model, make_log_model
from slipway.models.flavors import xgboost as _flavor
from slipway.models.flavors.xgboost import save_model
from slipway.tracking.autolog import flavor_autolog

log_model = make_log_model(save_model, "XGBoost model")
load_model = make_load_model(_flavor.load_model, "XGBoost model")

autolog = flavor_autolog("xgboost")

__all__ = ["autolog", "load_model", "log_model", "save_model"]
