"""Save, log and load PyTorch models as TorchScript or a state_dict (torch is an optional extra).

Details: `slipway.models.flavors.pytorch`.
"""

from slipway.models.flavors.pytorch import load_model, log_model, save_model

__all__ = ["load_model", "log_model", "save_model"]
