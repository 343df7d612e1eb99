"""Data-quality checks of current data against the reference, on the drift run's summaries.

Per column: missing share on both sides, values outside the reference's range (numeric and
datetime), categories the reference never saw, infinities, all-missing and constant
columns. Per dataset: the share of duplicate rows, found by hashing each row (64-bit, one
column at a time, so it works on column chunks and on streamed row batches alike).
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from slipway.monitoring.columns import DATETIME, TEXT
from slipway.monitoring.reading import to_numpy
from slipway.monitoring.result import ColumnQuality, Finding
from slipway.monitoring.summary import CategoricalSummary, NumericSummary, Summary, bool_array

# Missing share in current above the reference's by more than this is a finding.
MISSING_SHARE_TOLERANCE = 0.05
# A larger current sample naturally reaches a little past the reference's extremes: below
# this share, out-of-range values stay a number in the table, not a finding.
OUT_OF_RANGE_FINDING_SHARE = 0.001
NEW_CATEGORIES_SHOWN = 20

_MULT = np.uint64(0x9E3779B97F4A7C15)
_NULL = np.uint64(0x5BD1E9955BD1E995)


def column_hash(column: pa.ChunkedArray | pa.Array, stable: bool = True) -> np.ndarray:
    """A 64-bit key per value (equal values, equal keys; nulls share one), unmixed.

    Numbers are their bit patterns; `RowHasher` mixes the bits when it combines columns.
    Strings hash their bytes when the keys must agree across calls (`stable`, for row
    batches); for one whole column, their index among the column's distinct values is
    cheaper and just as exact.
    """
    if isinstance(column, pa.Array):
        column = pa.chunked_array([column])
    t = column.type
    if not stable and (pa.types.is_string(t) or pa.types.is_large_string(t)):
        codes = pc.index_in(column, value_set=pc.unique(column).drop_null())
        return to_numpy(codes.cast(pa.int64()), -1).view(np.uint64) ^ _NULL
    parts = [_chunk_hash(c) for c in column.chunks]
    return np.concatenate(parts) if parts else np.empty(0, np.uint64)


def _chunk_hash(arr: pa.Array) -> np.ndarray:
    t = arr.type
    if pa.types.is_dictionary(t):
        arr = arr.cast(t.value_type)
        t = arr.type
    with np.errstate(over="ignore"):
        if pa.types.is_string_view(t) or pa.types.is_binary_view(t):
            arr = arr.cast(pa.large_string())
            t = arr.type
        if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t):
            h = _string_hash(arr)
        elif pa.types.is_boolean(t):
            h = bool_array(arr.fill_null(False)).astype(np.uint64)
        elif pa.types.is_integer(t) or pa.types.is_temporal(t):
            ints = arr.cast(pa.int64())
            h = np.array(to_numpy(ints, 0)).view(np.uint64)
        elif pa.types.is_floating(t) or pa.types.is_decimal(t):
            x = to_numpy(arr.cast(pa.float64()), math.nan)
            x = x + 0.0  # a copy, and -0.0 becomes 0.0
            nan = np.isnan(x)
            if nan.any():
                x[nan] = np.nan  # one NaN bit pattern
            h = x.view(np.uint64)
        else:
            h = _string_hash(arr.cast(pa.large_string()))
        if arr.null_count:
            valid = bool_array(arr.is_valid())
            h[~valid] = _NULL
    return h


def _string_hash(arr: pa.Array) -> np.ndarray:
    """Polynomial hash of each string's bytes, vectorised over the Arrow buffers."""
    n = len(arr)
    if n == 0:
        return np.empty(0, np.uint64)
    buffers = arr.buffers()
    offset_type = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    offsets = np.frombuffer(buffers[1], dtype=offset_type)[arr.offset : arr.offset + n + 1]
    offsets = offsets.astype(np.int64)
    start, end = int(offsets[0]), int(offsets[-1])
    data = (
        np.frombuffer(buffers[2], dtype=np.uint8)[start:end].astype(np.uint64)
        if buffers[2] is not None and end > start
        else np.empty(0, np.uint64)
    )
    lengths = np.diff(offsets)
    starts = offsets[:-1] - start
    if len(data) == 0:
        return lengths.astype(np.uint64)
    positions = np.arange(len(data), dtype=np.int64) - np.repeat(starts, lengths)
    powers = np.cumprod(np.full(int(lengths.max()), 1099511628211, dtype=np.uint64))
    weighted = data * powers[positions]
    nonempty = lengths > 0
    sums = np.zeros(n, dtype=np.uint64)
    if nonempty.any():
        sums[nonempty] = np.add.reduceat(weighted, starts[nonempty])
    return sums ^ (lengths.astype(np.uint64) * np.uint64(0x100000001B3))


class RowHasher:
    """Accumulates one hash per row, a column at a time (for the duplicate-row share)."""

    def __init__(self, rows: int) -> None:
        self.hashes = np.zeros(rows, dtype=np.uint64)

    def add(self, column: pa.ChunkedArray | pa.Array | np.ndarray, stable: bool = True) -> None:
        """Fold one column (or its `column_hash` keys) into every row's hash."""
        keys = column if isinstance(column, np.ndarray) else column_hash(column, stable)
        with np.errstate(over="ignore"):
            h = (self.hashes ^ keys) * _MULT
            self.hashes = h ^ (h >> np.uint64(29))

    def duplicate_share(self) -> float | None:
        return duplicate_share(self.hashes)


def duplicate_share(row_hashes: np.ndarray) -> float | None:
    """Share of rows equal to an earlier row (a sort, then equal neighbours)."""
    if not len(row_hashes):
        return None
    ordered = np.sort(row_hashes)
    return float(np.count_nonzero(ordered[1:] == ordered[:-1])) / len(row_hashes)


def column_quality(
    name: str, column_type: str, ref: Summary | None, cur: Summary | None
) -> tuple[ColumnQuality, list[Finding]]:
    """Quality numbers of one column and the findings they raise."""
    q = ColumnQuality(name, column_type)
    findings: list[Finding] = []
    if ref is not None:
        q.missing_share_reference = _missing_share(ref)
    if cur is not None:
        q.missing_share_current = _missing_share(cur)
    if ref is not None and ref.rows and ref.count == 0:
        findings.append(
            Finding("all_missing", "every value is missing in the reference", name, "error")
        )
    if cur is not None and cur.rows and cur.count == 0:
        findings.append(
            Finding("all_missing", "every value is missing in the current data", name, "error")
        )
    ms_ref, ms_cur = q.missing_share_reference, q.missing_share_current
    if (
        ms_cur is not None
        and ms_cur > (ms_ref or 0.0) + MISSING_SHARE_TOLERANCE
        and cur is not None
        and cur.count
    ):
        findings.append(
            Finding(
                "missing_values",
                f"missing share rose from {_pct(ms_ref or 0.0)} to {_pct(ms_cur)}",
                name,
                "warning",
                ms_cur,
            )
        )
    if isinstance(cur, (NumericSummary, CategoricalSummary)) and cur.infinite:
        q.infinite_current = cur.infinite
        findings.append(
            Finding(
                "infinite_values",
                f"{cur.infinite:,} infinite value(s) in the current data (treated as missing)",
                name,
                "warning",
                float(cur.infinite),
            )
        )
    if isinstance(ref, NumericSummary) and isinstance(cur, NumericSummary):
        findings += _numeric_quality(q, column_type, ref, cur)
    elif isinstance(ref, CategoricalSummary) and isinstance(cur, CategoricalSummary):
        findings += _categorical_quality(q, ref, cur)
    for side, s in (("reference", ref), ("current data", cur)):
        if column_type != TEXT and s is not None and s.count and _distinct(s) == 1:
            findings.append(
                Finding("constant", f"the column is constant in the {side}", name, "info")
            )
    return q, findings


def _numeric_quality(
    q: ColumnQuality, column_type: str, ref: NumericSummary, cur: NumericSummary
) -> list[Finding]:
    if ref.count:
        q.min_reference, q.max_reference = ref.minimum, ref.maximum
    if cur.count:
        q.min_current, q.max_current = cur.minimum, cur.maximum
    if not (ref.count and cur.count):
        return []
    below = np.searchsorted(cur.values, ref.minimum, side="left")
    above = len(cur.values) - np.searchsorted(cur.values, ref.maximum, side="right")
    share = float(below + above) / len(cur.values)
    q.out_of_range_share = share
    if share >= OUT_OF_RANGE_FINDING_SHARE:
        what = "dates" if column_type == DATETIME else "values"
        return [
            Finding(
                "out_of_range",
                f"{_pct(share)} of current {what} lie outside the reference range "
                f"[{_fmt(ref.minimum, column_type)}, {_fmt(ref.maximum, column_type)}]",
                q.name,
                "warning",
                share,
            )
        ]
    return []


def _categorical_quality(
    q: ColumnQuality, ref: CategoricalSummary, cur: CategoricalSummary
) -> list[Finding]:
    known = set(ref.categories)
    new = [(c, n) for c, n in zip(cur.categories, cur.counts, strict=True) if c not in known]
    rows = int(sum(n for _, n in new))
    q.new_category_share = rows / cur.count if cur.count else 0.0
    new.sort(key=lambda cn: -cn[1])
    q.new_categories = [c for c, _ in new[:NEW_CATEGORIES_SHOWN]]
    if not new or ref.other:
        return []
    shown = ", ".join(repr(c) for c in q.new_categories[:5]) + (", …" if len(new) > 5 else "")
    return [
        Finding(
            "new_categories",
            f"{len(new)} categor{'y' if len(new) == 1 else 'ies'} unseen in the reference "
            f"({shown}) in {_pct(q.new_category_share)} of current rows",
            q.name,
            "warning",
            q.new_category_share,
        )
    ]


def _missing_share(s: Summary) -> float | None:
    rows = s.rows
    if not rows:
        return None
    return (rows - s.count) / rows


def _distinct(s: Summary) -> int | None:
    if isinstance(s, NumericSummary):
        return s.distinct
    if isinstance(s, CategoricalSummary):
        return s.distinct
    return None


def _pct(x: float) -> str:
    return f"{100 * x:.3g}%"


def _fmt(value: float, column_type: str) -> str:
    if column_type == DATETIME:
        import datetime as dt

        return dt.datetime.fromtimestamp(value, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    return f"{value:.6g}"


__all__ = [
    "MISSING_SHARE_TOLERANCE",
    "OUT_OF_RANGE_FINDING_SHARE",
    "RowHasher",
    "column_hash",
    "column_quality",
    "duplicate_share",
]
