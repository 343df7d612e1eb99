"""Save, log and load scikit-learn models, saved with skops (safe) by default.

Details: `slipway.models.flavors.sklearn`.
"""

from slipway._shortcuts import make_load_model, make_log_model
from slipway.models.flavors import sklearn as _flavor
from slipway.models.flavors.sklearn import save_model
from slipway.tracking.autolog import flavor_autolog

log_model = make_log_model(save_model, "scikit-learn estimator")
load_model = make_load_model(_flavor.load_model, "scikit-learn estimator")

autolog = flavor_autolog("sklearn")

__all__ = ["autolog", "load_model", "log_model", "save_model"]
