"""The model format layer: MLmodel directories, signatures, flavors and pyfunc loading.

    slipway.models.Model            one MLmodel file (format.py)
    slipway.models.ModelSignature   inputs/outputs/params, inferred and enforced (signature.py)
    slipway.models.flavors.*        sklearn, xgboost, lightgbm, onnx, pytorch, python_model
    slipway.models.pyfunc           load any model as one predictor

Users reach these through `slipway.pyfunc`, `slipway.sklearn`, ... ; this package holds the
implementation and the types those modules share.
"""

from slipway.models.format import Model, ModelInfo
from slipway.models.signature import (
    ColSpec,
    DataType,
    ModelSignature,
    ParamSchema,
    ParamSpec,
    Schema,
    TensorSpec,
    infer_signature,
)

__all__ = [
    "ColSpec",
    "DataType",
    "Model",
    "ModelInfo",
    "ModelSignature",
    "ParamSchema",
    "ParamSpec",
    "Schema",
    "TensorSpec",
    "infer_signature",
]
