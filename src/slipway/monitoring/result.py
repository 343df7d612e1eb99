"""What a drift run found: `DriftResult` with its columns, quality findings, JSON and HTML.

The JSON is the contract scripts rely on::

    {"dataset_drift": bool, "share_drifted": float, "drift_share_threshold": float,
     "columns": {"<name>": {"type": str, "test": str|null, "statistic": float|null,
                            "p_value": float|null, "threshold": float|null,
                            "drifted": bool, "tested": bool, "note": str, ...}},
     "quality": {"rows": {...}, "duplicate_share": {...}, "columns": {...},
                 "findings": [{"column", "kind", "severity", "message", "value"}]},
     "expectations": [...] | null, "reference": str, "current": str, ...}

A column that could not be tested (text, datetime, only on one side, all missing, …) has
`"tested": false`, null test values and a `note` saying why; it is left out of the share.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from slipway.monitoring.summary import json_value

Severity = Literal["error", "warning", "info"]


@dataclass
class Finding:
    """One data-quality observation about a column (or the whole data when column is None)."""

    kind: str
    message: str
    column: str | None = None
    severity: Severity = "warning"
    value: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "kind": self.kind,
            "severity": self.severity,
            "message": self.message,
            "value": _clean(self.value),
        }


@dataclass
class Distribution:
    """Aggregated reference-vs-current distribution of one column, for the report's plot.

    Numeric: `edges` (bins + 1) and proportions per bin; categorical: `labels` and
    proportions (top categories, the rest as "other"). Its size never grows with the data.
    """

    reference: np.ndarray
    current: np.ndarray
    edges: np.ndarray | None = None
    labels: list[str] | None = None


@dataclass
class ColumnDrift:
    """The drift verdict of one column."""

    name: str
    type: str
    test: str | None = None
    statistic: float | None = None
    p_value: float | None = None
    threshold: float | None = None
    drifted: bool = False
    tested: bool = False
    note: str = ""
    n_reference: int = 0
    n_current: int = 0
    sampled: bool = False
    distribution: Distribution | None = None

    @property
    def score(self) -> float:
        """How strongly the column drifted, comparable across tests (for sorting)."""
        if not self.tested or self.threshold is None:
            return -1.0
        if self.p_value is not None:
            return self.threshold / max(self.p_value, 1e-300)
        if self.statistic is None:
            return -1.0
        return self.statistic / self.threshold if self.threshold else self.statistic

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "test": self.test,
            "statistic": _clean(self.statistic),
            "p_value": _clean(self.p_value),
            "threshold": _clean(self.threshold),
            "drifted": self.drifted,
            "tested": self.tested,
            "note": self.note,
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "sampled": self.sampled,
        }


@dataclass
class ColumnQuality:
    """Data-quality numbers of one column, reference next to current."""

    name: str
    type: str
    missing_share_reference: float | None = None
    missing_share_current: float | None = None
    min_reference: float | None = None
    max_reference: float | None = None
    min_current: float | None = None
    max_current: float | None = None
    out_of_range_share: float | None = None
    new_categories: list[Any] = field(default_factory=list)
    new_category_share: float | None = None
    infinite_current: int = 0

    def to_dict(self) -> dict[str, Any]:
        out = {
            "type": self.type,
            "missing_share_reference": _clean(self.missing_share_reference),
            "missing_share_current": _clean(self.missing_share_current),
        }
        if self.min_reference is not None or self.min_current is not None:
            out.update(
                min_reference=_clean(self.min_reference),
                max_reference=_clean(self.max_reference),
                min_current=_clean(self.min_current),
                max_current=_clean(self.max_current),
                out_of_range_share=_clean(self.out_of_range_share),
            )
        if self.new_category_share is not None:
            out.update(
                new_categories=[json_value(v) for v in self.new_categories],
                new_category_share=_clean(self.new_category_share),
            )
        if self.infinite_current:
            out["infinite_current"] = self.infinite_current
        return out


@dataclass
class QualityReport:
    """Quality of the current data against the reference, and every finding."""

    rows_reference: int = 0
    rows_current: int = 0
    duplicate_share_reference: float | None = None
    duplicate_share_current: float | None = None
    columns: dict[str, ColumnQuality] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": {"reference": self.rows_reference, "current": self.rows_current},
            "duplicate_share": {
                "reference": _clean(self.duplicate_share_reference),
                "current": _clean(self.duplicate_share_current),
            },
            "columns": {name: c.to_dict() for name, c in self.columns.items()},
            "findings": [f.to_dict() for f in self.findings],
        }


@dataclass
class DriftResult:
    """The outcome of `detect_drift`: dataset verdict, per-column tests, quality."""

    dataset_drift: bool
    share_drifted: float
    drift_share_threshold: float
    columns: dict[str, ColumnDrift]
    quality: QualityReport
    expectations: Any = None  # ExpectationResults when a suite was given
    reference: str = ""
    current: str = ""
    reference_is_profile: bool = False
    sample: int | None = None
    seconds: float | None = None

    @property
    def tested_columns(self) -> list[ColumnDrift]:
        return [c for c in self.columns.values() if c.tested]

    @property
    def drifted_columns(self) -> list[str]:
        return [c.name for c in self.columns.values() if c.drifted]

    @property
    def any_tested(self) -> bool:
        return any(c.tested for c in self.columns.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset_drift": self.dataset_drift,
            "share_drifted": self.share_drifted,
            "drift_share_threshold": self.drift_share_threshold,
            "number_of_columns": len(self.columns),
            "number_of_tested_columns": len(self.tested_columns),
            "number_of_drifted_columns": len(self.drifted_columns),
            "columns": {name: c.to_dict() for name, c in self.columns.items()},
            "quality": self.quality.to_dict(),
            "expectations": None if self.expectations is None else self.expectations.to_dict(),
            "reference": self.reference,
            "current": self.current,
            "reference_is_profile": self.reference_is_profile,
            "sample": self.sample,
        }

    def to_json(self, path: str | None = None, indent: int | None = 2) -> str:
        """The result as JSON (see the module docstring); also written to `path` if given."""
        text = json.dumps(self.to_dict(), indent=indent, allow_nan=False)
        if path is not None:
            from slipway.monitoring.reading import write_binary

            write_binary(str(path), text.encode("utf-8"))
        return text

    def to_html(self, path: str | None = None) -> str:
        """A self-contained HTML report (no network, inline SVG); also written to `path`."""
        from slipway.monitoring.report import render_report

        text = render_report(self)
        if path is not None:
            from slipway.monitoring.reading import write_binary

            write_binary(str(path), text.encode("utf-8"))
        return text


def _clean(value: Any) -> Any:
    """A JSON-safe number: NaN and infinities become null (never a NaN verdict)."""
    if value is None:
        return None
    if isinstance(value, (np.floating, np.integer)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


__all__ = [
    "ColumnDrift",
    "ColumnQuality",
    "Distribution",
    "DriftResult",
    "Finding",
    "QualityReport",
]
