"""Save, log and load XGBoost models, saved in XGBoost's native format.

Details: `slipway.models.flavors.xgboost`.
"""

from slipway.models.flavors.xgboost import load_model, log_model, save_model

__all__ = ["load_model", "log_model", "save_model"]
