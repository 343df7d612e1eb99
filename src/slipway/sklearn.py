"""Save, log and load scikit-learn models, saved with skops (safe) by default.

Details: `slipway.models.flavors.sklearn`.
"""

from slipway.models.flavors.sklearn import load_model, log_model, save_model

__all__ = ["load_model", "log_model", "save_model"]
