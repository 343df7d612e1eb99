"""Expectations: declared rules about data, checked on any frame, independent of drift.

A suite is YAML (or the same dict in Python)::

    expectations:
      age: {between: [0, 120], not_null: true}
      income: {mean_between: [1000, 9000]}
      plan: {in_set: [basic, plus, pro]}

Each (column, rule) gives one `ExpectationResult` with pass/fail and the observed value.
Rules: `between` [lo, hi] (every non-missing value; null bound = open), `not_null`,
`max_missing_share`, `mean_between`, `median_between`, `std_between`, `min_between`,
`max_between`, `in_set`, `unique`. A missing column fails every rule on it. The serving
layer runs the same suites on live inputs, so nothing here knows about drift.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from slipway.errors import InvalidParameterValue
from slipway.monitoring.reading import open_binary, open_table
from slipway.monitoring.summary import numeric_values

SHOWN_VALUES = 5


@dataclass
class ExpectationResult:
    """One rule on one column: did it hold, and what was seen."""

    column: str
    rule: str
    expected: Any
    passed: bool
    observed: Any
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "rule": self.rule,
            "expected": self.expected,
            "passed": self.passed,
            "observed": self.observed,
            "message": self.message,
        }


@dataclass
class ExpectationResults:
    """Every rule's result; `passed` only when all held."""

    results: list[ExpectationResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def failed(self) -> list[ExpectationResult]:
        return [r for r in self.results if not r.passed]

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "failed": len(self.failed),
            "results": [r.to_dict() for r in self.results],
        }

    def __iter__(self):
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)


def load_expectations(path: str) -> dict[str, dict[str, Any]]:
    """Read a YAML suite file (see the module docstring) and validate it."""
    import yaml

    with open_binary(str(path)) as f:
        try:
            data = yaml.safe_load(f.read())
        except yaml.YAMLError as exc:
            raise InvalidParameterValue(f"{path} is not valid YAML: {exc}") from exc
    return parse_suite(data, str(path))


def parse_suite(suite: Any, where: str = "suite") -> dict[str, dict[str, Any]]:
    """{column: {rule: argument}} from a suite dict (with or without `expectations:`)."""
    if isinstance(suite, dict) and "expectations" in suite:
        suite = suite["expectations"]
    if not isinstance(suite, dict) or not suite:
        raise InvalidParameterValue(
            f"{where}: expected a mapping `expectations: {{column: {{rule: value}}}}`."
        )
    out: dict[str, dict[str, Any]] = {}
    for column, rules in suite.items():
        if not isinstance(rules, dict) or not rules:
            raise InvalidParameterValue(f"{where}: rules of {column!r} must be a mapping.")
        for rule, arg in rules.items():
            if rule not in RULES:
                raise InvalidParameterValue(
                    f"{where}: unknown rule {rule!r} for {column!r}; use one of: "
                    f"{', '.join(sorted(RULES))}."
                )
            _check_argument(column, rule, arg, where)
        out[str(column)] = dict(rules)
    return out


def check_expectations(data: Any, suite: Any) -> ExpectationResults:
    """Evaluate a suite (dict, or a YAML path) on a frame, Arrow table or Parquet/CSV path."""
    rules = load_expectations(suite) if isinstance(suite, str) else parse_suite(suite)
    source = open_table(data, "data")
    present = [c for c in rules if c in source.column_names]
    table = source.read(present) if present else None
    results = ExpectationResults()
    for column, column_rules in rules.items():
        for rule, arg in column_rules.items():
            if table is None or column not in present:
                results.results.append(
                    ExpectationResult(column, rule, arg, False, None, "column is missing")
                )
                continue
            results.results.append(RULES[rule](column, table.column(column), arg))
    return results


# --- rules ----------------------------------------------------------------------------------
def _values(col: pa.ChunkedArray) -> np.ndarray:
    x = numeric_values(col)
    return x[~np.isnan(x)]


def _between(column: str, col: pa.ChunkedArray, arg: list) -> ExpectationResult:
    lo, hi = _bounds(arg)
    x = _values(col)
    outside = int(((x < lo) | (x > hi)).sum())
    observed = {
        "min": _num(x.min()) if len(x) else None,
        "max": _num(x.max()) if len(x) else None,
        "outside": outside,
    }
    msg = f"{outside:,} value(s) outside [{arg[0]}, {arg[1]}]" if outside else ""
    return ExpectationResult(column, "between", arg, outside == 0, observed, msg)


def _not_null(column: str, col: pa.ChunkedArray, arg: bool) -> ExpectationResult:
    missing = _missing(col)
    ok = missing == 0 or not arg
    return ExpectationResult(
        column, "not_null", arg, ok, missing, f"{missing:,} missing value(s)" if not ok else ""
    )


def _max_missing_share(column: str, col: pa.ChunkedArray, arg: float) -> ExpectationResult:
    share = _missing(col) / len(col) if len(col) else 0.0
    ok = share <= float(arg)
    return ExpectationResult(
        column, "max_missing_share", arg, ok, share, "" if ok else f"missing share {share:.4g}"
    )


def _statistic(name: str, fn: Callable[[np.ndarray], float]) -> Callable[..., ExpectationResult]:
    def check(column: str, col: pa.ChunkedArray, arg: list) -> ExpectationResult:
        lo, hi = _bounds(arg)
        x = _values(col)
        x = x[np.isfinite(x)]
        value = float(fn(x)) if len(x) else math.nan
        ok = not math.isnan(value) and lo <= value <= hi
        msg = "" if ok else f"{name.split('_')[0]} is {value:.6g}, expected in [{arg[0]}, {arg[1]}]"
        return ExpectationResult(column, name, arg, ok, _num(value), msg)

    return check


def _in_set(column: str, col: pa.ChunkedArray, arg: list) -> ExpectationResult:
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    allowed = pa.array(arg)
    if allowed.type != col.type:
        try:
            allowed = allowed.cast(col.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            col, allowed = col.cast(pa.string()), pa.array([str(a) for a in arg])
    inside = pc.is_in(col, value_set=allowed, skip_nulls=True)
    bad = pc.filter(col, pc.and_(pc.invert(inside), pc.is_valid(col)))
    count = len(bad)
    shown = pc.unique(bad).to_pylist()[:SHOWN_VALUES] if count else []
    msg = f"{count:,} value(s) outside the set, e.g. {shown}" if count else ""
    return ExpectationResult(
        column, "in_set", arg, count == 0, {"outside": count, "examples": shown}, msg
    )


def _unique(column: str, col: pa.ChunkedArray, arg: bool) -> ExpectationResult:
    valid = len(col) - col.null_count
    distinct = pc.count_distinct(col, mode="only_valid").as_py()
    duplicates = valid - distinct
    ok = duplicates == 0 or not arg
    msg = "" if ok else f"{duplicates:,} duplicate value(s)"
    return ExpectationResult(column, "unique", arg, ok, duplicates, msg)


RULES: dict[str, Callable[..., ExpectationResult]] = {
    "between": _between,
    "not_null": _not_null,
    "max_missing_share": _max_missing_share,
    "mean_between": _statistic("mean_between", np.mean),
    "median_between": _statistic("median_between", np.median),
    "std_between": _statistic("std_between", np.std),
    "min_between": _statistic("min_between", np.min),
    "max_between": _statistic("max_between", np.max),
    "in_set": _in_set,
    "unique": _unique,
}


def _check_argument(column: str, rule: str, arg: Any, where: str) -> None:
    if rule in ("not_null", "unique"):
        if not isinstance(arg, bool):
            raise InvalidParameterValue(f"{where}: {column}.{rule} must be true or false.")
    elif rule == "in_set":
        if not isinstance(arg, list) or not arg:
            raise InvalidParameterValue(f"{where}: {column}.in_set must be a non-empty list.")
    elif rule == "max_missing_share":
        if not isinstance(arg, (int, float)) or not 0 <= arg <= 1:
            raise InvalidParameterValue(f"{where}: {column}.{rule} must be a share in [0, 1].")
    else:
        ok = isinstance(arg, list) and len(arg) == 2
        ok = ok and all(a is None or isinstance(a, (int, float)) for a in arg)
        if not ok:
            raise InvalidParameterValue(
                f"{where}: {column}.{rule} must be [low, high] (numbers, null for open)."
            )


def _bounds(arg: list) -> tuple[float, float]:
    lo = -math.inf if arg[0] is None else float(arg[0])
    hi = math.inf if arg[1] is None else float(arg[1])
    return lo, hi


def _missing(col: pa.ChunkedArray) -> int:
    if pa.types.is_floating(col.type):
        return int(np.isnan(numeric_values(col)).sum())
    return col.null_count


def _num(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


__all__ = [
    "RULES",
    "ExpectationResult",
    "ExpectationResults",
    "check_expectations",
    "load_expectations",
    "parse_suite",
]
