"""Save, log and load PyTorch models as TorchScript or a state_dict (torch is an optional extra).

Details: `slipway.models.flavors.pytorch`.
"""

from slipway._shortcuts import make_load_model, make_log_model
from slipway.models.flavors import pytorch as _flavor
from slipway.models.flavors.pytorch import save_model
from slipway.tracking.autolog import flavor_autolog

log_model = make_log_model(save_model, "PyTorch module")
load_model = make_load_model(_flavor.load_model, "PyTorch module")

autolog = flavor_autolog("pytorch")

__all__ = ["autolog", "load_model", "log_model", "save_model"]
