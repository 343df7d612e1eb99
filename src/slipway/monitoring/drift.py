"""The statistical drift tests, one function each, on NumPy arrays (no per-row Python).

Every test compares one column's reference side with its current side and follows the
formulas of docs in `DRIFT_METHODS.md` (Evidently 0.7's): infinities and missing values
are dropped before a test; binned tests share `binned_proportions`; the distances take
2-D inputs (one row per column) so many columns are scored in one NumPy call.

A test is either a *p-value* test (drift when the p-value is below the threshold; KS and
Cramér-von Mises also at equality, as the reference tool does) or a *distance* (drift when
the distance reaches the threshold). `STAT_TESTS` names every test users can choose.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

# Above this many distinct reference values a numeric column is binned (Sturges); at or
# below it every distinct value is a bin.
VALUE_BINS_MAX_DISTINCT = 20
# Empty bins of PSI and KL become this proportion (or the smallest non-zero / 10**6).
EMPTY_BIN_PROPORTION = 0.0001
# The normed Wasserstein distance divides by max(std(reference), this).
MIN_STD = 0.001


@dataclass(frozen=True)
class StatTest:
    """One drift test: its name on the command line, how it decides, what it needs."""

    name: str
    title: str
    kind: Literal["p_value", "distance"]
    default_threshold: float
    needs: Literal["samples", "proportions", "counts", "text"]
    drift_at_equal: bool = False  # p-value tests: drift when p == threshold too

    def drifted(self, statistic: float, p_value: float | None, threshold: float) -> bool:
        """The verdict for one outcome against `threshold`."""
        if self.kind == "distance":
            return bool(statistic >= threshold)
        assert p_value is not None
        return bool(p_value <= threshold if self.drift_at_equal else p_value < threshold)


STAT_TESTS: dict[str, StatTest] = {
    t.name: t
    for t in (
        StatTest("ks", "Kolmogorov-Smirnov", "p_value", 0.05, "samples", drift_at_equal=True),
        StatTest("chisquare", "chi-square", "p_value", 0.05, "counts"),
        StatTest("z", "Z-test for proportions", "p_value", 0.05, "counts"),
        StatTest("wasserstein", "normed Wasserstein distance", "distance", 0.1, "samples"),
        StatTest("jensenshannon", "Jensen-Shannon distance", "distance", 0.1, "proportions"),
        StatTest("psi", "population stability index", "distance", 0.1, "proportions"),
        StatTest("kl_div", "Kullback-Leibler divergence", "distance", 0.1, "proportions"),
        StatTest("hellinger", "Hellinger distance", "distance", 0.1, "proportions"),
        StatTest("anderson", "Anderson-Darling (k-sample)", "p_value", 0.05, "samples"),
        StatTest(
            "cramer_von_mises",
            "Cramér-von Mises",
            "p_value",
            0.05,
            "samples",
            drift_at_equal=True,
        ),
        StatTest("text_content", "text content (domain classifier)", "distance", 0.55, "text"),
    )
}
ALIASES = {
    "kolmogorov_smirnov": "ks",
    "chi2": "chisquare",
    "chi_square": "chisquare",
    "z_test": "z",
    "js": "jensenshannon",
    "jensen_shannon": "jensenshannon",
    "kl": "kl_div",
    "ad": "anderson",
    "anderson_darling": "anderson",
    "cvm": "cramer_von_mises",
    "wasserstein_distance": "wasserstein",
}


def stat_test(name: str) -> StatTest:
    """The test called `name` (or one of its aliases); KeyError if there is none."""
    key = name.strip().lower().replace("-", "_")
    return STAT_TESTS[ALIASES.get(key, key)]


# --- sample tests -------------------------------------------------------------------------
def wasserstein_sorted(u: np.ndarray, v: np.ndarray) -> float:
    """First Wasserstein distance between two *sorted* samples (scipy's value).

    The integral of |F_u - F_v| over the merged sample: a stable argsort of two sorted
    runs is a linear merge, and the CDF difference is a running sum of ±1/n weights. Two
    samples of the same size (a monitor's window sample against a profile's, both 100,000
    by default) need no merge: the distance is the mean gap between their order statistics.
    """
    n, m = len(u), len(v)
    if n == m:
        return float(np.abs(u - v).mean())
    merged = np.concatenate([u, v])
    order = np.argsort(merged, kind="stable")
    points = merged[order]
    weights = np.where(order < n, 1.0 / n, -1.0 / m)
    cdf_gap = np.cumsum(weights)[:-1]
    return float((np.abs(cdf_gap) * np.diff(points)).sum())  # not np.dot: no BLAS threads


def normed_wasserstein(ref_sorted: np.ndarray, cur_sorted: np.ndarray, ref_std: float) -> float:
    """Wasserstein distance over the reference's population std (at least `MIN_STD`)."""
    return wasserstein_sorted(ref_sorted, cur_sorted) / max(float(ref_std), MIN_STD)


def ks(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float]:
    """Two-sided two-sample Kolmogorov-Smirnov: (statistic, p-value), scipy's."""
    from scipy.stats import ks_2samp

    res = ks_2samp(ref, cur)
    return float(res.statistic), float(res.pvalue)


def anderson(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float]:
    """k-sample Anderson-Darling: (statistic, p-value); scipy caps p to [0.001, 0.25]."""
    import warnings

    from scipy.stats import anderson_ksamp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the "p-value capped" warnings
        res = anderson_ksamp([ref, cur])
    return float(res.statistic), float(res.pvalue)


def cramer_von_mises(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float]:
    """Two-sample Cramér-von Mises: (statistic, p-value), scipy's."""
    from scipy.stats import cramervonmises_2samp

    res = cramervonmises_2samp(ref, cur)
    return float(res.statistic), float(res.pvalue)


# --- count tests ----------------------------------------------------------------------------
def chi_square(ref_counts: np.ndarray, cur_counts: np.ndarray) -> tuple[float, float]:
    """Pearson chi-square of current counts against reference proportions x current size.

    The counts are aligned over the categories of both sides. A category the reference
    never saw makes the statistic infinite (p = 0): that is drift, not an error.
    """
    from scipy.special import chdtrc

    ref_counts = np.asarray(ref_counts, dtype=np.float64)
    observed = np.asarray(cur_counts, dtype=np.float64)
    if len(observed) < 2:
        return 0.0, 1.0
    expected = ref_counts / ref_counts.sum() * observed.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(expected > 0, (observed - expected) ** 2 / expected, np.inf)
    terms = np.where((expected == 0) & (observed == 0), 0.0, terms)
    statistic = float(terms.sum())
    return statistic, float(chdtrc(len(observed) - 1, statistic))


def z_test(ref_counts: np.ndarray, cur_counts: np.ndarray) -> tuple[float, float]:
    """Two-proportion Z-test on the share of the first category, pooled standard error.

    Both sides holding the one same value is no drift (p = 1), as in the reference tool.
    """
    ref_counts = np.asarray(ref_counts, dtype=np.float64)
    cur_counts = np.asarray(cur_counts, dtype=np.float64)
    n1, n2 = ref_counts.sum(), cur_counts.sum()
    if len(ref_counts) < 2:
        return 0.0, 1.0
    p1, p2 = ref_counts[0] / n1, cur_counts[0] / n2
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 0.0, 1.0
    z = (p1 - p2) / se
    return float(z), float(math.erfc(abs(z) / math.sqrt(2)))


# --- binned distances (2-D: one row per column, one entry per bin) -----------------------
def fill_empty_bins(proportions: np.ndarray) -> np.ndarray:
    """PSI/KL's zero filling, per row: 0.0001, or min non-zero / 10**6 if that is smaller."""
    p = np.array(proportions, dtype=np.float64, ndmin=2)
    masked = np.where(p > 0, p, np.inf)
    smallest = masked.min(axis=-1, keepdims=True)
    fill = np.where(smallest <= EMPTY_BIN_PROPORTION, smallest / 10**6, EMPTY_BIN_PROPORTION)
    return np.where(p == 0, fill, p)


def _rel_entr(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p > 0, p * np.log(np.where(p > 0, p, 1) / q), 0.0)


def jensen_shannon(ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """Jensen-Shannon distance (natural log) per row of proportions, as scipy computes it."""
    p = np.array(ref, dtype=np.float64, ndmin=2)
    q = np.array(cur, dtype=np.float64, ndmin=2)
    p = p / p.sum(axis=-1, keepdims=True)
    q = q / q.sum(axis=-1, keepdims=True)
    m = (p + q) / 2.0
    js = _rel_entr(p, m).sum(axis=-1) + _rel_entr(q, m).sum(axis=-1)
    return np.sqrt(np.maximum(js, 0.0) / 2.0)


def psi(ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """Population stability index per row: sum((cur - ref) * ln(cur / ref)), zeros filled."""
    p, q = fill_empty_bins(ref), fill_empty_bins(cur)
    return ((q - p) * np.log(q / p)).sum(axis=-1)


def kl_divergence(ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """KL(ref || cur) per row (scipy.stats.entropy), zeros filled."""
    p, q = fill_empty_bins(ref), fill_empty_bins(cur)
    p = p / p.sum(axis=-1, keepdims=True)
    q = q / q.sum(axis=-1, keepdims=True)
    return (p * np.log(p / q)).sum(axis=-1)


def hellinger(ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """Hellinger distance per row: ||sqrt(p) - sqrt(q)|| / sqrt(2), in [0, 1]."""
    p = np.array(ref, dtype=np.float64, ndmin=2)
    q = np.array(cur, dtype=np.float64, ndmin=2)
    gap = (np.sqrt(p) - np.sqrt(q)) ** 2
    return np.sqrt(gap.sum(axis=-1)) / math.sqrt(2)


BINNED = {
    "jensenshannon": jensen_shannon,
    "psi": psi,
    "kl_div": kl_divergence,
    "hellinger": hellinger,
}


# --- binning ------------------------------------------------------------------------------
def sturges_edges(lo: float, hi: float, n: int, integer: bool = False) -> np.ndarray:
    """`numpy.histogram_bin_edges(data, bins="sturges")` from the data's min, max and size.

    The same arithmetic as NumPy's, so a side known only by its summary (a profile) gets
    the very edges the raw data would. `integer` is NumPy's integer-dtype rule (bins at
    least 1 wide).
    """
    if lo == hi:  # NumPy: the width comes from the data's (zero) range: one bin
        return np.linspace(lo - 0.5, hi + 0.5, 2, endpoint=True)
    if integer:
        lo_i, hi_i = int(lo), int(hi)
        width = max((hi_i - lo_i) / (np.log2(n) + 1.0), 1)
        count = int(np.ceil((hi_i - lo_i) / width))
        return np.linspace(lo_i, hi_i, count + 1, endpoint=True, dtype=np.float64)
    width = (hi - lo) / (np.log2(n) + 1.0)
    count = int(np.ceil((hi - lo) / width))
    return np.linspace(lo, hi, count + 1, endpoint=True)


def histogram_sorted(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """`numpy.histogram(values, edges)[0]` for sorted values (last bin closed)."""
    cum = np.searchsorted(sorted_values, edges, side="left")
    cum[-1] = np.searchsorted(sorted_values, edges[-1], side="right")
    return np.diff(cum)


__all__ = [
    "ALIASES",
    "BINNED",
    "EMPTY_BIN_PROPORTION",
    "MIN_STD",
    "STAT_TESTS",
    "VALUE_BINS_MAX_DISTINCT",
    "StatTest",
    "anderson",
    "chi_square",
    "cramer_von_mises",
    "fill_empty_bins",
    "hellinger",
    "histogram_sorted",
    "jensen_shannon",
    "kl_divergence",
    "ks",
    "normed_wasserstein",
    "psi",
    "stat_test",
    "sturges_edges",
    "wasserstein_sorted",
    "z_test",
]
