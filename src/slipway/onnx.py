"""Save, log and load ONNX models, run with onnxruntime.

Details: `slipway.models.flavors.onnx`.
"""

from slipway._shortcuts import make_load_model, make_log_model
from slipway.models.flavors import onnx as _flavor
from slipway.models.flavors.onnx import save_model

log_model = make_log_model(save_model, "ONNX model")
load_model = make_load_model(_flavor.load_model, "ONNX model")

__all__ = ["load_model", "log_model", "save_model"]
