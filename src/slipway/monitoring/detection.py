"""`detect_drift`: compare current data with a reference, column by column.

Columns are processed a group at a time (as many as fit a memory budget), so a Parquet
input is never held whole: each group's columns are read, summarised (sorted values,
counts), tested, checked for quality and aggregated for the plots, then dropped. The
reference can be raw data or a stored `Profile`; a profile's numeric tests that need
values (KS, Wasserstein, Anderson-Darling, Cramér-von Mises) use its reservoir sample,
and the column says so.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from slipway.errors import InvalidParameterValue, MissingDependency
from slipway.monitoring import drift as tests
from slipway.monitoring import text
from slipway.monitoring.columns import (
    BOOLEAN,
    CATEGORICAL,
    DATETIME,
    NUMERIC,
    OTHER,
    TEXT,
    check_column_types,
    infer_column_type,
    physical_kind,
)
from slipway.monitoring.profile import Profile, load_profile
from slipway.monitoring.quality import RowHasher, column_hash, column_quality
from slipway.monitoring.reading import TableSource, open_table
from slipway.monitoring.result import (
    ColumnDrift,
    ColumnQuality,
    Distribution,
    DriftResult,
    Finding,
    QualityReport,
)
from slipway.monitoring.selection import SMALL_REFERENCE, default_test, default_threshold
from slipway.monitoring.summary import (
    CategoricalSummary,
    NumericSummary,
    Summary,
    TextSummary,
    summarize,
)

# Columns are read in groups of about this many bytes (per side) at a time.
GROUP_BYTES = 128 << 20
MAX_GROUP = 32
PLOT_BINS = 30
PLOT_CATEGORIES = 12
WORKERS = min(2, os.cpu_count() or 1)

Progress = Callable[[int, int], None]  # (columns done, columns in all)


@dataclass
class _Options:
    column_types: dict[str, str]
    tests: dict[str, str]
    thresholds: dict[str, float]
    drift_share: float


def detect_drift(
    reference: Any,
    current: Any,
    *,
    columns: list[str] | None = None,
    column_types: dict[str, str] | None = None,
    tests: dict[str, str] | None = None,
    thresholds: dict[str, float] | None = None,
    drift_share: float = 0.5,
    sample: int | None = None,
    expectations: Any = None,
    seed: int = 0,
    progress: Progress | None = None,
) -> DriftResult:
    """Test every column of `current` against `reference` and check the data's quality.

    `reference` and `current`: pandas DataFrames, pyarrow Tables, Parquet/CSV paths or
    URLs; `reference` may also be a `Profile` or a `.profile` path. `tests` and
    `thresholds` override the default test/threshold per column; `column_types` overrides
    the inferred type. Dataset drift when the share of drifted columns (among tested ones)
    reaches `drift_share`. `sample` draws that many rows of each raw side at random for
    approximate tests on huge inputs. `expectations` (a suite, see
    `check_expectations`) is evaluated on `current`.
    """
    started = time.perf_counter()
    if not 0 < drift_share <= 1:
        raise InvalidParameterValue(f"drift_share must be in (0, 1], got {drift_share}.")
    if sample is not None and sample < 1:
        raise InvalidParameterValue(f"sample must be a positive number of rows, got {sample}.")
    options = _Options(
        column_types=check_column_types(column_types),
        tests=_check_tests(tests or {}),
        thresholds=_check_thresholds(thresholds or {}),
        drift_share=float(drift_share),
    )
    ref: Profile | TableSource = _open_reference(reference)
    cur = open_table(current, "current")
    ref_names = list(ref.columns) if isinstance(ref, Profile) else ref.column_names
    cur_names = cur.column_names
    findings: list[Finding] = []
    names = _columns_to_test(columns, ref_names, cur_names, findings)
    for name in (*options.tests, *options.thresholds, *options.column_types):
        if name not in ref_names and name not in cur_names:
            raise InvalidParameterValue(f"No column {name!r} in the reference or current data.")

    rng = np.random.default_rng(seed)
    ref_rows_taken = _sample_rows(ref, sample, rng) if isinstance(ref, TableSource) else None
    cur_rows_taken = _sample_rows(cur, sample, rng)
    ref_rows = ref.rows if isinstance(ref, Profile) else _rows(ref, ref_rows_taken)
    cur_rows = _rows(cur, cur_rows_taken)
    if cur_rows == 0:
        findings.append(Finding("empty_current", "the current data has no rows", None, "error"))
    if ref_rows == 0:
        findings.append(Finding("empty_reference", "the reference has no rows", None, "error"))

    quality = QualityReport(rows_reference=ref_rows, rows_current=cur_rows)
    results: dict[str, ColumnDrift] = {}
    cur_hasher = RowHasher(cur_rows)
    ref_hasher = RowHasher(ref_rows) if isinstance(ref, TableSource) else None
    both = [n for n in names if n in ref_names and n in cur_names]
    raw_rows = max(cur_rows, ref_rows if isinstance(ref, TableSource) else 0, 1)
    group = max(1, min(MAX_GROUP, GROUP_BYTES // (8 * raw_rows)))
    done = 0
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        for start in range(0, len(both), group):
            chunk = both[start : start + group]
            cur_table = _take(cur.read(chunk), cur_rows_taken)
            ref_table = None
            if isinstance(ref, TableSource):
                ref_table = _take(ref.read(chunk), ref_rows_taken)
            # NumPy sorts and SciPy release the GIL: two columns at a time use both cores
            jobs = [
                pool.submit(
                    _column,
                    name,
                    ref,
                    ref_table.column(name) if ref_table is not None else None,
                    cur_table.column(name),
                    cur,
                    options,
                )
                for name in chunk
            ]
            for name, job in zip(chunk, jobs, strict=True):
                results[name], column_quality_, column_findings, keys = job.result()
                cur_hasher.add(keys[1])  # row hashes combine in column order
                if ref_hasher is not None and keys[0] is not None:
                    ref_hasher.add(keys[0])
                if column_quality_ is not None:
                    quality.columns[name] = column_quality_
                findings.extend(column_findings)
                done += 1
                if progress is not None:
                    progress(done, len(both))
            del cur_table, ref_table
    # Columns on one side only still count for duplicate rows of that side.
    for name in cur_names:
        if name not in both and cur_rows:
            cur_hasher.add(_take(cur.read([name]), cur_rows_taken).column(name))
    for name in names:
        if name not in results:
            side = "reference" if name in ref_names else "current data"
            results[name] = ColumnDrift(
                name, "unknown", note=f"only in the {side}: not tested", tested=False
            )
    results = {n: results[n] for n in names}
    quality.duplicate_share_current = cur_hasher.duplicate_share()
    quality.duplicate_share_reference = (
        ref_hasher.duplicate_share() if ref_hasher is not None else ref.duplicate_share
    )
    for side, share in (
        ("reference", quality.duplicate_share_reference),
        ("current data", quality.duplicate_share_current),
    ):
        if share:
            findings.append(
                Finding(
                    "duplicate_rows",
                    f"{100 * share:.3g}% of rows in the {side} duplicate an earlier row",
                    None,
                    "info",
                    share,
                )
            )
    tested = [c for c in results.values() if c.tested]
    drifted = [c for c in tested if c.drifted]
    share_drifted = len(drifted) / len(tested) if tested else 0.0
    if not tested:
        findings.append(
            Finding("nothing_tested", "no column could be tested for drift", None, "error")
        )
    if sample is not None:
        findings.append(
            Finding(
                "sampled",
                f"tests ran on a random sample of at most {sample:,} rows per side (approximate)",
                None,
                "info",
                float(sample),
            )
        )
    quality.findings = _ordered(findings)
    result = DriftResult(
        dataset_drift=bool(tested) and share_drifted >= options.drift_share,
        share_drifted=share_drifted,
        drift_share_threshold=options.drift_share,
        columns=results,
        quality=quality,
        reference=ref.source if isinstance(ref, Profile) else ref.name,
        current=cur.name,
        reference_is_profile=isinstance(ref, Profile),
        sample=sample,
    )
    if expectations is not None:
        from slipway.monitoring.expectations import check_expectations

        result.expectations = check_expectations(cur, expectations)
    result.seconds = time.perf_counter() - started
    return result


# --- one column -------------------------------------------------------------------------------
def _column(
    name: str,
    ref: Profile | TableSource,
    ref_col: pa.ChunkedArray | None,
    cur_col: pa.ChunkedArray,
    cur: TableSource,
    options: _Options,
) -> tuple[ColumnDrift, ColumnQuality | None, list[Finding], tuple[Any, Any]]:
    """One column's verdict, quality numbers, findings and row-hash keys (ref, cur)."""
    findings: list[Finding] = []
    quality: dict[str, ColumnQuality] = {}
    keys = (
        None if ref_col is None else column_hash(ref_col, stable=False),
        column_hash(cur_col, stable=False),
    )
    column = _test_column(name, ref, ref_col, cur_col, cur, options, quality, findings)
    return column, quality.get(name), findings, keys


def _test_column(
    name: str,
    ref: Profile | TableSource,
    ref_col: pa.ChunkedArray | None,
    cur_col: pa.ChunkedArray,
    cur: TableSource,
    options: _Options,
    quality: dict[str, ColumnQuality],
    findings: list[Finding],
) -> ColumnDrift:
    if isinstance(ref, Profile):
        profiled = ref.columns[name]
        column_type = options.column_types.get(name, profiled.type)
        if column_type != profiled.type:
            raise InvalidParameterValue(
                f"Column {name!r} was profiled as {profiled.type}; a profile cannot be "
                f"re-read as {column_type}. Build the profile with that column type instead."
            )
        ref_kind = profiled.kind
    else:
        assert ref_col is not None
        ref_kind = physical_kind(ref_col.type)
        if ref.mixed_types.get(name):
            findings.append(_mixed(name, "reference", ref.mixed_types[name]))
        column_type = options.column_types.get(name) or infer_column_type(ref_col)
    if cur.mixed_types.get(name):
        findings.append(_mixed(name, "current data", cur.mixed_types[name]))
    cur_kind = physical_kind(cur_col.type)
    column = ColumnDrift(name, column_type)

    if column_type == OTHER:
        column.note = f"not tested: unsupported type {ref_col.type if ref_col else ref_kind}"
        findings.append(Finding("unsupported_type", column.note, name, "info"))
        return column
    coerced = _coerce(name, column_type, ref_kind, cur_kind, cur_col, findings)
    if coerced is None:
        column.note = f"not tested: type mismatch ({ref_kind} in reference, {cur_kind} in current)"
        return column
    cur_col = coerced
    if ref_col is not None and column_type in (CATEGORICAL, BOOLEAN, TEXT) and ref_kind != cur_kind:
        ref_col = ref_col.cast(pa.string())
    try:
        cur_summary = summarize(cur_col, column_type)
        ref_summary = ref.columns[name].summary if isinstance(ref, Profile) else None
        if ref_summary is None:
            assert ref_col is not None
            ref_summary = summarize(ref_col, column_type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        column.note = f"not tested: cannot read the column as {column_type} ({exc})"
        findings.append(Finding("type_mismatch", column.note, name, "error"))
        return column
    q, column_findings = column_quality(name, column_type, ref_summary, cur_summary)
    quality[name] = q
    findings.extend(column_findings)
    column.n_reference, column.n_current = ref_summary.count, cur_summary.count
    column.distribution = _distribution(ref_summary, cur_summary)

    if column_type == DATETIME and name not in options.tests:
        column.note = "not tested (datetime): its range is checked in data quality"
        return column
    if not ref_summary.count or not cur_summary.count:
        side = "reference" if not ref_summary.count else "current data"
        column.note = f"not tested: no values in the {side}"
        return column

    n_unique = _unique_together(ref_summary, cur_summary)
    test_type = NUMERIC if column_type == DATETIME else column_type
    test = options.tests.get(name) or default_test(test_type, ref_summary.count, n_unique)
    if test is None:
        column.note = f"not tested ({column_type})"
        return column
    if test == "text_content":
        return _test_text(column, ref_summary, cur_summary, options.thresholds.get(name), findings)
    spec = tests.STAT_TESTS[test]
    if spec.needs == "samples" and not isinstance(ref_summary, NumericSummary):
        raise InvalidParameterValue(
            f"Test {test!r} needs numeric values; column {name!r} is {column_type}."
        )
    statistic, p_value, sampled = _run(test, test_type, ref_summary, cur_summary)
    threshold = options.thresholds.get(name, default_threshold(test, ref_summary.count))
    column.test, column.threshold, column.sampled = test, threshold, sampled
    if statistic is None or (math.isnan(statistic) and p_value is None):
        column.note = "not tested: the test is undefined on these values"
        return column
    if p_value is not None and math.isnan(p_value):
        column.note = "not tested: the test's p-value is undefined on these values"
        return column
    column.statistic, column.p_value = float(statistic), p_value
    column.tested = True
    column.drifted = spec.drifted(column.statistic, p_value, threshold)
    if sampled:
        column.note = (
            f"{test} ran on a sample of {len(ref_summary.values):,} of "
            f"{ref_summary.count:,} reference values"
            if isinstance(ref_summary, NumericSummary) and ref_summary.sampled
            else f"{test} ran on sampled values"
        )
    return column


def _test_text(
    column: ColumnDrift,
    ref: Summary,
    cur: Summary,
    threshold: float | None,
    findings: list[Finding],
) -> ColumnDrift:
    """The domain-classifier test of a text column (see `slipway.monitoring.text`)."""
    if not isinstance(ref, TextSummary) or not isinstance(cur, TextSummary):
        raise InvalidParameterValue(
            f"The text-content test needs text; column {column.name!r} is {column.type}."
        )
    if ref.texts is None or cur.texts is None:
        column.note = "not tested (text): a profile keeps no texts; use the raw reference"
        findings.append(Finding("not_tested", column.note, column.name, "info"))
        return column
    small = ref.count <= SMALL_REFERENCE
    threshold = default_threshold("text_content", ref.count) if threshold is None else threshold
    ref_texts, cur_texts = ref.texts, cur.texts
    try:
        outcome = text.text_content_drift(ref_texts, cur_texts, threshold, percentile=small)
    except MissingDependency as exc:
        column.note = f"not tested (text): {exc.message}"
        findings.append(Finding("not_tested", column.note, column.name, "info"))
        return column
    if outcome is None:
        column.note = "not tested (text): too few texts, or no words left after stop words"
        findings.append(Finding("not_tested", column.note, column.name, "info"))
        return column
    column.test, column.threshold = "text_content", threshold
    column.statistic, column.p_value = outcome.roc_auc, None
    column.tested, column.drifted = True, outcome.drifted
    column.sampled = ref.sampled or cur.sampled
    if small:
        column.note = (
            f"domain classifier ROC AUC {outcome.roc_auc:.3f} against {outcome.bar:.3f}, "
            f"the {threshold:.0%} percentile of random classifiers"
        )
    elif column.sampled:
        column.note = "text_content ran on a sample of the texts"
    return column


def _run(
    test: str, column_type: str, ref: Summary, cur: Summary
) -> tuple[float | None, float | None, bool]:
    """(statistic, p-value or None, whether a sample stood in for the reference)."""
    spec = tests.STAT_TESTS[test]
    if spec.needs == "samples":
        assert isinstance(ref, NumericSummary) and isinstance(cur, NumericSummary)
        sampled = ref.sampled or cur.sampled
        if test == "wasserstein":
            return tests.normed_wasserstein(ref.values, cur.values, ref.std), None, sampled
        fn = {
            "ks": tests.ks,
            "anderson": tests.anderson,
            "cramer_von_mises": tests.cramer_von_mises,
        }
        stat, p = fn[test](ref.values, cur.values)
        return stat, p, sampled
    if spec.needs == "counts":
        ref_counts, cur_counts = _aligned_counts(ref, cur)
        fn2 = tests.chi_square if test == "chisquare" else tests.z_test
        stat, p = fn2(ref_counts, cur_counts)
        return stat, p, False
    ref_p, cur_p, sampled = _proportions(column_type, ref, cur)
    return float(tests.BINNED[test](ref_p, cur_p)[0]), None, sampled


def _proportions(
    column_type: str, ref: Summary, cur: Summary
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Both sides' proportions on shared bins (Evidently's `get_binned_data`)."""
    if (
        column_type == NUMERIC
        and isinstance(ref, NumericSummary)
        and isinstance(cur, NumericSummary)
        and (ref.distinct is None or ref.distinct > tests.VALUE_BINS_MAX_DISTINCT)
    ):
        edges = tests.sturges_edges(
            min(ref.minimum, cur.minimum),
            max(ref.maximum, cur.maximum),
            ref.count + cur.count,
            integer=ref.integer and cur.integer,
        )
        return ref.proportions(edges), cur.proportions(edges), ref.sampled
    ref_counts, cur_counts = _aligned_counts(ref, cur)
    return ref_counts / ref.count, cur_counts / cur.count, False


def _aligned_counts(ref: Summary, cur: Summary) -> tuple[np.ndarray, np.ndarray]:
    """Counts of every value of either side, in the same (sorted) order."""
    if isinstance(ref, NumericSummary) and isinstance(cur, NumericSummary):
        rv, rc = ref.unique_counts()
        cv, cc = cur.unique_counts()
        keys = np.union1d(rv, cv)
        return _place(keys, rv, rc), _place(keys, cv, cc)
    assert isinstance(ref, CategoricalSummary) and isinstance(cur, CategoricalSummary)
    keys = list(dict.fromkeys([*ref.categories, *cur.categories]))
    try:
        keys.sort()
    except TypeError:
        keys.sort(key=str)
    index = {k: i for i, k in enumerate(keys)}
    ref_counts = np.zeros(len(keys))
    cur_counts = np.zeros(len(keys))
    ref_counts[[index[c] for c in ref.categories]] = ref.counts
    cur_counts[[index[c] for c in cur.categories]] = cur.counts
    return ref_counts, cur_counts


def _place(keys: np.ndarray, values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    out = np.zeros(len(keys))
    out[np.searchsorted(keys, values)] = counts
    return out


def _unique_together(ref: Summary, cur: Summary) -> int:
    """Distinct values of both sides together (exact where it matters: up to a few)."""
    if isinstance(ref, NumericSummary) and isinstance(cur, NumericSummary):
        if ref.value_counts is not None and cur.value_counts is not None:
            return len(np.union1d(ref.value_counts[0], cur.value_counts[0]))
        return max(ref.distinct or 10**9, cur.distinct or 10**9)
    if isinstance(ref, CategoricalSummary) and isinstance(cur, CategoricalSummary):
        return len(set(ref.categories) | set(cur.categories)) + (1 if ref.other else 0)
    return 0


def _distribution(ref: Summary, cur: Summary) -> Distribution | None:
    """What the report plots: a few bins or top categories, never the data itself."""
    if isinstance(ref, NumericSummary) and isinstance(cur, NumericSummary):
        if not ref.count and not cur.count:
            return None
        lo = min(x for x in (ref.minimum, cur.minimum) if not math.isnan(x))
        hi = max(x for x in (ref.maximum, cur.maximum) if not math.isnan(x))
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, PLOT_BINS + 1)
        return Distribution(ref.proportions(edges), cur.proportions(edges), edges=edges)
    if isinstance(ref, CategoricalSummary) and isinstance(cur, CategoricalSummary):
        totals: dict[Any, float] = {}
        for s in (ref, cur):
            for c, n in zip(s.categories, s.counts, strict=True):
                totals[c] = totals.get(c, 0.0) + n / max(s.count, 1)
        top = sorted(totals, key=lambda c: -totals[c])[:PLOT_CATEGORIES]
        rest = len(totals) > len(top) or ref.other

        def shares(s: CategoricalSummary) -> list[float]:
            lookup = dict(zip(s.categories, s.counts, strict=True))
            vals = [lookup.get(c, 0) / max(s.count, 1) for c in top]
            return [*vals, max(0.0, 1 - sum(vals))] if rest else vals

        labels = [str(c) for c in top] + (["(other)"] if rest else [])
        return Distribution(np.array(shares(ref)), np.array(shares(cur)), labels=labels)
    return None


# --- inputs -------------------------------------------------------------------------------
def _open_reference(reference: Any) -> Profile | TableSource:
    if isinstance(reference, Profile):
        return reference
    if isinstance(reference, str) and reference.lower().endswith(".profile"):
        return load_profile(reference)
    if hasattr(reference, "__fspath__") and str(reference).lower().endswith(".profile"):
        return load_profile(str(reference))
    return open_table(reference, "reference")


def _columns_to_test(
    wanted: list[str] | None, ref_names: list[str], cur_names: list[str], findings: list[Finding]
) -> list[str]:
    if wanted:
        unknown = [c for c in wanted if c not in ref_names and c not in cur_names]
        if unknown:
            raise InvalidParameterValue(
                f"No column {', '.join(map(repr, unknown))} in the reference or current data."
            )
        names = list(dict.fromkeys(wanted))
    else:
        names = list(dict.fromkeys([*ref_names, *cur_names]))
    for name in names:
        if name not in cur_names:
            findings.append(
                Finding(
                    "missing_in_current",
                    "column is in the reference but not in the current data",
                    name,
                    "error",
                )
            )
        elif name not in ref_names:
            findings.append(
                Finding(
                    "missing_in_reference",
                    "column is in the current data but not in the reference",
                    name,
                    "warning",
                )
            )
    return names


def _coerce(
    name: str,
    column_type: str,
    ref_kind: str,
    cur_kind: str,
    cur_col: pa.ChunkedArray,
    findings: list[Finding],
) -> pa.ChunkedArray | None:
    """The current column in the reference's kind, or None (reported) when it cannot be."""
    same = {ref_kind, cur_kind} <= {"numeric", "integer"} or ref_kind == cur_kind
    if same or cur_kind == "null" or ref_kind == "null":
        return cur_col
    if column_type in (CATEGORICAL, BOOLEAN, TEXT):
        findings.append(
            Finding(
                "type_mismatch",
                f"{ref_kind} in the reference, {cur_kind} in the current data: compared as strings",
                name,
                "warning",
            )
        )
        return cur_col.cast(pa.string())
    target = pa.float64() if column_type == NUMERIC else None
    try:
        if target is None:
            raise pa.ArrowInvalid("no conversion")
        coerced = cur_col.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        findings.append(
            Finding(
                "type_mismatch",
                f"{ref_kind} in the reference, {cur_kind} in the current data: not tested",
                name,
                "error",
            )
        )
        return None
    findings.append(
        Finding(
            "type_mismatch",
            f"{ref_kind} in the reference, {cur_kind} in the current data: "
            "current values converted to numbers",
            name,
            "warning",
        )
    )
    return coerced


def _mixed(name: str, side: str, kinds: str) -> Finding:
    return Finding(
        "mixed_types",
        f"mixed value types in the {side} ({kinds}): read as strings",
        name,
        "warning",
    )


def _sample_rows(source: TableSource, sample: int | None, rng: np.random.Generator):
    if sample is None or source.num_rows <= sample:
        return None
    return np.sort(rng.choice(source.num_rows, size=sample, replace=False))


def _rows(source: TableSource, taken: np.ndarray | None) -> int:
    return source.num_rows if taken is None else len(taken)


def _take(table: pa.Table, rows: np.ndarray | None) -> pa.Table:
    return table if rows is None else table.take(pa.array(rows))


def _check_tests(spec: dict[str, str]) -> dict[str, str]:
    out = {}
    for column, name in spec.items():
        try:
            out[column] = tests.stat_test(name).name
        except KeyError:
            raise InvalidParameterValue(
                f"Unknown drift test {name!r} for column {column!r}; use one of: "
                f"{', '.join(tests.STAT_TESTS)}."
            ) from None
    return out


def _check_thresholds(spec: dict[str, float]) -> dict[str, float]:
    out = {}
    for column, value in spec.items():
        try:
            out[column] = float(value)
        except (TypeError, ValueError):
            raise InvalidParameterValue(
                f"Threshold for column {column!r} must be a number, got {value!r}."
            ) from None
        if not math.isfinite(out[column]) or out[column] < 0:
            raise InvalidParameterValue(
                f"Threshold for column {column!r} must be a non-negative number."
            )
    return out


def _ordered(findings: list[Finding]) -> list[Finding]:
    rank = {"error": 0, "warning": 1, "info": 2}
    return sorted(findings, key=lambda f: rank[f.severity])


__all__ = [
    "detect_drift",
]
