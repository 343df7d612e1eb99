"""How metric values are stored: NaN as 0 with `is_nan`, +/-inf as +/-DBL_MAX (as MLflow)."""

from __future__ import annotations

import math
import sys

DBL_MAX = sys.float_info.max


def sanitize(value: float) -> tuple[float, bool]:
    """(stored value, is_nan) of a logged value."""
    if math.isnan(value):
        return 0.0, True
    if math.isinf(value):
        return (DBL_MAX if value > 0 else -DBL_MAX), False
    return value, False


def decode_metric_value(value: float | None, is_nan: bool) -> float:
    """A stored metric value back as the float that was logged (NaN, +/-inf included)."""
    if is_nan or value is None:
        return math.nan
    if value >= DBL_MAX:
        return math.inf
    if value <= -DBL_MAX:
        return -math.inf
    return float(value)


__all__ = ["DBL_MAX", "decode_metric_value", "sanitize"]
