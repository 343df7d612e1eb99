"""What an A/B test measures: each metric turns logged rows and their labels into values.

    conversion      rate  per request  reward if given, else the label; must be 0/1
    accuracy        rate  per row      prediction == label
    label=VALUE     rate  per request  label == VALUE
    reward          mean  per request  the reward
    label           mean  per request  the (numeric) label
    abs_error       mean  per row      |prediction - label|   (lower is better)
    squared_error   mean  per row      (prediction - label)²  (lower is better)

Labels and rewards arrive per request (`POST /feedback`) and are joined to every row of
their request, so per-request metrics read the first row of each request (`row_index`
0). A unit with no label (or no reward, for `reward`) has the value NaN: it is counted
but not in the sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from slipway.errors import InvalidParameterValue

RATE = "rate"
MEAN = "mean"
PER_REQUEST = "request"
PER_ROW = "row"

_TRUE = {"1", "true", "yes"}
_FALSE = {"0", "false", "no"}


@dataclass(frozen=True)
class MetricDefinition:
    """One metric of an A/B test: its kind (rate or mean), its unit and its direction."""

    name: str
    kind: str
    unit: str
    higher_is_better: bool
    description: str
    label_value: str | None = None  # for `label=VALUE`

    @property
    def needs_prediction(self) -> bool:
        return self.name in ("accuracy", "abs_error", "squared_error")

    def values(self, frame: pd.DataFrame) -> np.ndarray:
        """One float per unit of `frame` (NaN where it has no label)."""
        if self.unit == PER_REQUEST and "row_index" in frame.columns:
            frame = frame[frame["row_index"].to_numpy() == 0]
        label = frame["label"] if "label" in frame.columns else _nulls(frame.index)
        reward = frame["reward"] if "reward" in frame.columns else _nulls(frame.index)
        if self.name == "conversion":
            values = pd.to_numeric(reward, errors="coerce").astype(float)
            missing = values.isna()
            if missing.any():  # no reward: the label says whether the request converted
                values.loc[missing] = _binary(label[missing], "label")
            return _check_binary(values.to_numpy(dtype=float), "reward or label")
        if self.name == "reward":
            return pd.to_numeric(reward, errors="coerce").to_numpy(dtype=float)
        if self.name == "label":
            return _numeric(label, "label").to_numpy(dtype=float)
        if self.name == "label=":
            text = _text(label)
            return np.where(label.notna(), text == self.label_value, np.nan).astype(float)
        prediction = _prediction(frame, self.name)
        if self.name == "accuracy":
            both = label.notna().to_numpy() & prediction.notna().to_numpy()
            equal = _text(prediction).to_numpy() == _text(label).to_numpy()
            return np.where(both, equal, np.nan).astype(float)
        diff = _numeric(prediction, "prediction") - _numeric(label, "label")
        diff = diff.to_numpy(dtype=float)
        return np.abs(diff) if self.name == "abs_error" else diff * diff


_FIXED = {
    "conversion": MetricDefinition(
        "conversion",
        RATE,
        PER_REQUEST,
        True,
        "conversion: share of labelled requests that converted (reward, else label, as 0/1)",
    ),
    "accuracy": MetricDefinition(
        "accuracy", RATE, PER_ROW, True, "accuracy: share of labelled rows with prediction == label"
    ),
    "reward": MetricDefinition(
        "reward", MEAN, PER_REQUEST, True, "reward: mean reward per rewarded request"
    ),
    "label": MetricDefinition(
        "label", MEAN, PER_REQUEST, True, "label: mean of the numeric label per labelled request"
    ),
    "abs_error": MetricDefinition(
        "abs_error", MEAN, PER_ROW, False, "abs_error: mean |prediction - label| (lower is better)"
    ),
    "squared_error": MetricDefinition(
        "squared_error",
        MEAN,
        PER_ROW,
        False,
        "squared_error: mean (prediction - label)² (lower is better)",
    ),
}
METRIC_NAMES = (*_FIXED, "label=VALUE")


def parse_metric(text: str) -> MetricDefinition:
    """The metric named `text`: one of `METRIC_NAMES` (`label=VALUE` with any value)."""
    name = text.strip()
    if name in _FIXED:
        return _FIXED[name]
    if name.startswith("label="):
        value = name.removeprefix("label=").strip()
        if value:
            return MetricDefinition(
                "label=",
                RATE,
                PER_REQUEST,
                True,
                f"label={value}: share of labelled requests whose label is {value!r}",
                label_value=_text(pd.Series([_number_or_text(value)])).iloc[0],
            )
    raise InvalidParameterValue(f"Unknown metric {text!r}; use one of: {', '.join(METRIC_NAMES)}.")


def _number_or_text(value: str) -> object:
    """`"1.0"` → 1.0 so that it compares like a logged 1; other text stays text."""
    try:
        return float(value)
    except ValueError:
        return value


def _nulls(index: pd.Index) -> pd.Series:
    return pd.Series([None] * len(index), index=index, dtype=object)


def _prediction(frame: pd.DataFrame, metric: str) -> pd.Series:
    if "prediction" not in frame.columns:
        raise InvalidParameterValue(
            f"The metric {metric!r} compares the `prediction` column with the label, and the "
            f"log has no such column (it has: {sorted(frame.columns)})."
        )
    return frame["prediction"]


def _text(series: pd.Series) -> pd.Series:
    """Values as comparable text: 1, 1.0 and True read "1", "1", "true"; None stays None."""

    def one(v: object) -> str | None:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return None
        if isinstance(v, (bool, np.bool_)):
            return "true" if v else "false"
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            return str(int(v))
        if isinstance(v, str) and v.lower() in _TRUE | _FALSE:
            return v.lower()
        return str(v)

    return series.map(one, na_action="ignore").astype(object)


def _numeric(series: pd.Series, what: str) -> pd.Series:
    if series.dtype == bool:
        return series.astype(float)
    out = pd.to_numeric(series, errors="coerce")
    bad = series.notna() & out.isna()
    if bad.any():
        raise InvalidParameterValue(
            f"This metric needs a numeric {what}; found {series[bad].iloc[0]!r}."
        )
    return out.astype(float)


def _binary(series: pd.Series, what: str) -> pd.Series:
    """0/1 from numbers, booleans or the words true/false/yes/no (NaN where missing)."""
    if series.dtype == bool:
        return series.astype(float)
    numeric = pd.to_numeric(series, errors="coerce")
    words = series.map(
        lambda v: 1.0 if str(v).lower() in _TRUE else 0.0 if str(v).lower() in _FALSE else np.nan,
        na_action="ignore",
    )
    out = numeric.where(numeric.notna(), words)
    bad = series.notna() & out.isna()
    if bad.any():
        raise InvalidParameterValue(
            f"conversion needs a 0/1 {what}; found {series[bad].iloc[0]!r}. "
            "Use --metric label=VALUE for the share of one label value."
        )
    return out.astype(float)


def _check_binary(values: np.ndarray, what: str) -> np.ndarray:
    seen = values[~np.isnan(values)]
    odd = seen[(seen != 0) & (seen != 1)]
    if odd.size:
        raise InvalidParameterValue(
            f"conversion needs a 0/1 {what}; found {odd[0]:g}. "
            "Use --metric reward for the mean of a continuous reward."
        )
    return values


__all__ = [
    "MEAN",
    "METRIC_NAMES",
    "MetricDefinition",
    "PER_REQUEST",
    "PER_ROW",
    "RATE",
    "parse_metric",
]
