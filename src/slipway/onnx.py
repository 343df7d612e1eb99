"""Save, log and load ONNX models, run with onnxruntime.

Details: `slipway.models.flavors.onnx`.
"""

from slipway.models.flavors.onnx import load_model, log_model, save_model

__all__ = ["load_model", "log_model", "save_model"]
