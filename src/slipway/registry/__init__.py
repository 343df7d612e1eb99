"""The model registry: versions, aliases and stages, quality gates, model cards, audit trail.

`slipway.Client` carries the registry methods (`RegistryClientMixin`); `register_model`
and `log_model_artifacts` are the fluent entry points.
"""

from slipway.registry.client import RegistryClientMixin
from slipway.registry.fluent import register_model
from slipway.registry.logging import log_model_artifacts

__all__ = ["RegistryClientMixin", "log_model_artifacts", "register_model"]
