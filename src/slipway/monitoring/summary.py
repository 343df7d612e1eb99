"""Column summaries: everything the tests and checks need to know about one side of a column.

A summary is built from raw values (an Arrow column, all of it or a row sample) or read
back from a stored profile; the tests never need more. Numeric and datetime columns keep
their sorted finite values (all, or a uniform sample when `sampled`), exact counts and
moments, the exact value counts while there are few distinct values, and, from a profile, a
fine histogram of every value. Categorical and boolean columns keep category counts; text
columns only their counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from slipway.monitoring.columns import BOOLEAN, CATEGORICAL, DATETIME, NUMERIC, TEXT
from slipway.monitoring.drift import histogram_sorted
from slipway.monitoring.reading import to_numpy
from slipway.monitoring.text import sample_texts

# Exact value counts are kept for numeric columns with at most this many distinct values.
DISTINCT_CAP = 1000
# A profile keeps at most this many categories per column; the rest are counted as "other".
CATEGORY_CAP = 10_000


@dataclass
class NumericSummary:
    """One side of a numeric (or datetime, as epoch seconds) column."""

    count: int  # finite values, the ones the tests use
    missing: int  # nulls and NaN
    infinite: int  # ±inf: reported, then treated as missing
    minimum: float
    maximum: float
    mean: float
    std: float  # population std (ddof=0)
    values: np.ndarray  # sorted finite values: all of them, or a uniform sample
    sampled: bool = False
    distinct: int | None = None  # None: more than DISTINCT_CAP
    value_counts: tuple[np.ndarray, np.ndarray] | None = None
    integer: bool = False  # integer-typed with nothing missing (NumPy's bin-width rule)
    histogram: tuple[float, float, np.ndarray] | None = None  # lo, bin width, counts

    @property
    def rows(self) -> int:
        return self.count + self.missing + self.infinite

    def quantiles(self, qs: list[float]) -> list[float]:
        """Quantiles (linear interpolation) of the finite values, or of the sample."""
        if not len(self.values):
            return [math.nan for _ in qs]
        return [float(v) for v in np.quantile(self.values, qs, method="linear")]

    def proportions(self, edges: np.ndarray) -> np.ndarray:
        """Share of the finite values in each bin of `edges` (NumPy's histogram bins).

        Exact from all values; from a profile the fine histogram is re-binned (each fine
        bin split in proportion to its overlap), else the sample is counted.
        """
        if not self.count:
            return np.zeros(len(edges) - 1)
        if not self.sampled:
            return histogram_sorted(self.values, edges) / self.count
        if self.histogram is not None:
            return _rebin(self.histogram, edges) / self.count
        return histogram_sorted(self.values, edges) / len(self.values)

    def unique_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """Distinct finite values and their counts (exact; from all values if not stored)."""
        if self.value_counts is not None:
            return self.value_counts
        values, counts = np.unique(self.values, return_counts=True)
        return values, counts.astype(np.int64)

    def to_dict(self) -> dict[str, Any]:
        """Everything but `values` (stored beside it), as JSON-ready data."""
        out: dict[str, Any] = {
            "kind": "numeric",
            "count": self.count,
            "missing": self.missing,
            "infinite": self.infinite,
            "min": _num(self.minimum),
            "max": _num(self.maximum),
            "mean": _num(self.mean),
            "std": _num(self.std),
            "sampled": self.sampled,
            "distinct": self.distinct,
            "integer": self.integer,
        }
        if self.value_counts is not None:
            out["value_counts"] = {
                "values": self.value_counts[0].tolist(),
                "counts": self.value_counts[1].tolist(),
            }
        if self.histogram is not None:
            lo, width, counts = self.histogram
            out["histogram"] = {"lo": lo, "width": width, "counts": counts.tolist()}
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], values: np.ndarray) -> NumericSummary:
        vc = data.get("value_counts")
        hist = data.get("histogram")
        return cls(
            count=int(data["count"]),
            missing=int(data["missing"]),
            infinite=int(data["infinite"]),
            minimum=_float(data["min"]),
            maximum=_float(data["max"]),
            mean=_float(data["mean"]),
            std=_float(data["std"]),
            values=np.asarray(values, dtype=np.float64),
            sampled=bool(data["sampled"]),
            distinct=data.get("distinct"),
            value_counts=None
            if vc is None
            else (np.asarray(vc["values"], dtype=np.float64), np.asarray(vc["counts"], np.int64)),
            integer=bool(data.get("integer", False)),
            histogram=None
            if hist is None
            else (float(hist["lo"]), float(hist["width"]), np.asarray(hist["counts"], np.int64)),
        )


@dataclass
class CategoricalSummary:
    """One side of a categorical or boolean column: its category counts."""

    count: int
    missing: int
    categories: list[Any]
    counts: np.ndarray
    other: int = 0  # rows in categories beyond CATEGORY_CAP (profiles only)
    infinite: int = 0

    @property
    def rows(self) -> int:
        return self.count + self.missing + self.infinite

    @property
    def distinct(self) -> int:
        return len(self.categories) + (1 if self.other else 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "categorical",
            "count": self.count,
            "missing": self.missing,
            "infinite": self.infinite,
            "categories": [json_value(c) for c in self.categories],
            "counts": self.counts.tolist(),
            "other": self.other,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CategoricalSummary:
        return cls(
            count=int(data["count"]),
            missing=int(data["missing"]),
            categories=list(data["categories"]),
            counts=np.asarray(data["counts"], dtype=np.int64),
            other=int(data.get("other", 0)),
            infinite=int(data.get("infinite", 0)),
        )


@dataclass
class TextSummary:
    """One side of a text column: counts, and the texts the drift test reads (raw data
    only: a profile keeps no texts)."""

    count: int
    missing: int
    mean_length: float = math.nan
    texts: np.ndarray | None = None
    sampled: bool = False

    @property
    def rows(self) -> int:
        return self.count + self.missing

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "text",
            "count": self.count,
            "missing": self.missing,
            "mean_length": _num(self.mean_length),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TextSummary:
        return cls(int(data["count"]), int(data["missing"]), _float(data.get("mean_length")))


Summary = NumericSummary | CategoricalSummary | TextSummary


def summary_from_dict(data: dict[str, Any], values: np.ndarray | None = None) -> Summary:
    """A summary stored by `to_dict` (and, for numeric columns, its values)."""
    kind = data["kind"]
    if kind == "numeric":
        return NumericSummary.from_dict(data, values if values is not None else np.empty(0))
    if kind == "categorical":
        return CategoricalSummary.from_dict(data)
    return TextSummary.from_dict(data)


# --- from raw values -----------------------------------------------------------------------
def numeric_values(column: pa.ChunkedArray) -> np.ndarray:
    """A column as float64 (NaN for missing); datetimes as epoch seconds."""
    t = column.type
    if pa.types.is_dictionary(t):
        column = column.cast(t.value_type)
        t = column.type
    if pa.types.is_temporal(t):
        if pa.types.is_date(t):
            column = column.cast(pa.timestamp("s"))
        if pa.types.is_timestamp(column.type):
            unit = column.type.unit
            scale = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}[unit]
            ints = column.cast(pa.timestamp(unit)).cast(pa.int64())
            return to_numpy(ints.cast(pa.float64()), math.nan) / scale
        column = column.cast(pa.int64())
    if not (pa.types.is_floating(column.type) and column.type.bit_width == 64):
        column = column.cast(pa.float64())
    return to_numpy(column, math.nan)


def bool_array(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean Arrow array as NumPy (nulls count as False)."""
    return to_numpy(arr, False)


def summarize_numeric(column: pa.ChunkedArray) -> NumericSummary:
    """A numeric summary of every value of a column."""
    x = numeric_values(column)
    finite_mask = np.isfinite(x)
    values = x[finite_mask] if not finite_mask.all() else np.array(x)
    infinite = int(np.isinf(x).sum()) if len(values) < len(x) else 0
    missing = len(x) - len(values) - infinite
    del x, finite_mask
    values.sort()
    n = len(values)
    integer = pa.types.is_integer(column.type) and column.null_count == 0
    if not n:
        return NumericSummary(
            0, missing, infinite, math.nan, math.nan, math.nan, math.nan, values, integer=integer
        )
    change = values[1:] != values[:-1]
    distinct = int(np.count_nonzero(change)) + 1
    value_counts = None
    if distinct <= DISTINCT_CAP:
        starts = np.concatenate([[0], np.flatnonzero(change) + 1])
        counts = np.diff(np.concatenate([starts, [n]]))
        value_counts = (values[starts], counts.astype(np.int64))
    del change
    return NumericSummary(
        count=n,
        missing=missing,
        infinite=infinite,
        minimum=float(values[0]),
        maximum=float(values[-1]),
        mean=float(values.mean()),
        std=float(values.std()),
        values=values,
        distinct=distinct,
        value_counts=value_counts,
        integer=integer,
    )


def summarize_categorical(column: pa.ChunkedArray) -> CategoricalSummary:
    """Category counts of a column (NaN and ±inf of float columns count as missing)."""
    t = column.type
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        x = numeric_values(column)
        finite = x[np.isfinite(x)]
        infinite = int(np.isinf(x).sum())
        values, counts = np.unique(finite, return_counts=True)
        return CategoricalSummary(
            count=len(finite),
            missing=len(x) - len(finite) - infinite,
            categories=values.tolist(),
            counts=counts.astype(np.int64),
            infinite=infinite,
        )
    if pa.types.is_dictionary(t):
        column = column.cast(t.value_type)
    vc = pc.value_counts(column)
    values = vc.field("values")
    counts = to_numpy(vc.field("counts")).astype(np.int64)
    valid = bool_array(values.is_valid())
    categories = [v for v, ok in zip(values.to_pylist(), valid, strict=True) if ok]
    counts = counts[valid]
    order = _category_order(categories)
    return CategoricalSummary(
        count=int(counts.sum()),
        missing=column.null_count,
        categories=[categories[i] for i in order],
        counts=counts[order],
    )


def summarize_text(column: pa.ChunkedArray) -> TextSummary:
    if not pa.types.is_string(column.type) and not pa.types.is_large_string(column.type):
        column = column.cast(pa.string())
    lengths = pc.utf8_length(column)
    mean = pc.mean(lengths).as_py()
    texts, sampled = sample_texts(column.drop_null().to_pylist())
    return TextSummary(
        count=len(column) - column.null_count,
        missing=column.null_count,
        mean_length=math.nan if mean is None else float(mean),
        texts=texts,
        sampled=sampled,
    )


def summarize(column: pa.ChunkedArray, column_type: str) -> Summary:
    """The summary of every value of `column` read as `column_type`."""
    if column_type in (NUMERIC, DATETIME):
        return summarize_numeric(column)
    if column_type in (CATEGORICAL, BOOLEAN):
        return summarize_categorical(column)
    if column_type == TEXT:
        return summarize_text(column)
    return TextSummary(len(column) - column.null_count, column.null_count)


# --- helpers ---------------------------------------------------------------------------------
def _rebin(histogram: tuple[float, float, np.ndarray], edges: np.ndarray) -> np.ndarray:
    """Counts of a fine histogram over other edges, each fine bin spread evenly."""
    lo, width, counts = histogram
    fine_edges = lo + width * np.arange(len(counts) + 1)
    cum = np.concatenate([[0.0], np.cumsum(counts, dtype=np.float64)])
    at_edges = np.interp(edges, fine_edges, cum)
    out = np.diff(at_edges)
    return np.maximum(out, 0.0)


def _category_order(categories: list[Any]) -> list[int]:
    try:
        return sorted(range(len(categories)), key=lambda i: categories[i])
    except TypeError:
        return sorted(range(len(categories)), key=lambda i: str(categories[i]))


def _num(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


def json_value(value: Any) -> Any:
    """A value as JSON can hold it: NumPy scalars unwrapped, anything else as text."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


__all__ = [
    "json_value",
    "CATEGORY_CAP",
    "DISTINCT_CAP",
    "CategoricalSummary",
    "NumericSummary",
    "Summary",
    "TextSummary",
    "bool_array",
    "numeric_values",
    "summarize",
    "summarize_categorical",
    "summarize_numeric",
    "summarize_text",
    "summary_from_dict",
]
