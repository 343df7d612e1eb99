"""The statistics of an A/B test, on per-variant summaries (counts, means, variances).

Frequentist: Wilson intervals for rates and t intervals for means; the two-proportion
z-test (pooled standard error) and Welch's t-test for a variant against the control, with
a Wald or Welch interval for the difference; Holm's step-down adjustment when several
variants are compared with one control. Bayesian: the probability that each variant is
best and its expected loss, by Monte Carlo over Beta(1 + successes, 1 + failures)
posteriors for rates and Normal(mean, s²/n) approximations for means. Planning: the
sample size per variant that detects an absolute difference `mde` with the given power.

Every function takes summaries, so the log is read once, in batches, and never held whole.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from slipway.errors import MissingDependency

DEFAULT_DRAWS = 100_000


def _stats() -> Any:
    """scipy.stats, imported when a test runs (scipy comes with the `monitoring` extra)."""
    try:
        import scipy.stats
    except ImportError as exc:
        raise MissingDependency(
            "The A/B analysis needs scipy, which is not installed. "
            "Install it with: pip install 'slipway[monitoring]'",
            package="scipy",
            extra="monitoring",
        ) from exc
    return scipy.stats


@dataclass
class Summary:
    """Running count, mean and sum of squared deviations of one variant's values.

    Batches merge with Chan et al.'s parallel update, so the variance stays accurate
    however many batches there are. For 0/1 values, `n * mean` is the success count.
    """

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def add(self, values: np.ndarray) -> None:
        """Merge a batch of finite values."""
        count = int(values.size)
        if count == 0:
            return
        mean = float(values.mean())
        m2 = float(((values - mean) ** 2).sum())
        total = self.n + count
        delta = mean - self.mean
        self.mean += delta * count / total
        self.m2 += m2 + delta * delta * self.n * count / total
        self.n = total

    @property
    def successes(self) -> int:
        return round(self.n * self.mean)

    @property
    def std(self) -> float | None:
        """Sample standard deviation (ddof=1); None below two values."""
        return math.sqrt(max(self.m2, 0.0) / (self.n - 1)) if self.n >= 2 else None


@dataclass(frozen=True)
class TestResult:
    """A two-sided test of `variant - control` and the interval of that difference."""

    difference: float
    ci_low: float
    ci_high: float
    statistic: float
    p_value: float
    df: float | None = None  # Welch's degrees of freedom; None for the z-test


def wilson_interval(successes: int, n: int, alpha: float) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion (scipy's `binomtest(...).proportion_ci`)."""
    if n <= 0:
        return None
    z = float(_stats().norm.ppf(1 - alpha / 2))
    p = successes / n
    denom = 1 + z * z / n
    center = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, center - half), min(1.0, center + half)


def mean_interval(
    mean: float, std: float | None, n: int, alpha: float
) -> tuple[float, float] | None:
    """The Student t interval of a mean; None below two values."""
    if n < 2 or std is None:
        return None
    half = float(_stats().t.ppf(1 - alpha / 2, n - 1)) * std / math.sqrt(n)
    return mean - half, mean + half


def two_proportion_ztest(
    control_successes: int, control_n: int, successes: int, n: int, alpha: float
) -> TestResult:
    """Two-proportion z-test (pooled SE under H0), with the Wald interval of the difference."""
    norm = _stats().norm
    p1, p2 = control_successes / control_n, successes / n
    diff = p2 - p1
    pooled = (control_successes + successes) / (control_n + n)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / control_n + 1 / n))
    if se0 > 0:
        z = diff / se0
        p_value = float(2 * norm.sf(abs(z)))
    else:  # every value is 0 (or every one is 1) in both groups: no difference to test
        z, p_value = 0.0, 1.0
    se = math.sqrt(p1 * (1 - p1) / control_n + p2 * (1 - p2) / n)
    half = float(norm.ppf(1 - alpha / 2)) * se
    return TestResult(diff, diff - half, diff + half, z, p_value)


def welch_ttest(control: Summary, variant: Summary, alpha: float) -> TestResult:
    """Welch's t-test (scipy's `ttest_ind(equal_var=False)`) and the Welch interval."""
    stats = _stats()
    v1 = (control.std or 0.0) ** 2 / control.n
    v2 = (variant.std or 0.0) ** 2 / variant.n
    diff = variant.mean - control.mean
    se = math.sqrt(v1 + v2)
    if se == 0:  # constant values in both groups
        p_value = 1.0 if diff == 0 else 0.0
        stat = 0.0 if diff == 0 else math.copysign(math.inf, diff)
        return TestResult(diff, diff, diff, stat, p_value, None)
    df = (v1 + v2) ** 2 / (v1**2 / (control.n - 1) + v2**2 / (variant.n - 1))
    result = stats.ttest_ind_from_stats(
        variant.mean,
        variant.std,
        variant.n,
        control.mean,
        control.std,
        control.n,
        equal_var=False,
    )
    half = float(stats.t.ppf(1 - alpha / 2, df)) * se
    return TestResult(
        diff, diff - half, diff + half, float(result.statistic), float(result.pvalue), df
    )


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error at the nominal level)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def posterior_draws(
    summaries: Sequence[Summary], kind: str, draws: int, seed: int
) -> np.ndarray | None:
    """Posterior draws of each variant's metric, shape (variants, draws); None if undefined.

    Rates: Beta(1 + successes, 1 + failures) (a uniform prior). Means: Normal(mean, s²/n),
    the large-sample approximation; it needs two values per variant.
    """
    rng = np.random.default_rng(seed)
    if kind == "rate":
        return np.stack(
            [rng.beta(1 + s.successes, 1 + s.n - s.successes, size=draws) for s in summaries]
        )
    if any(s.n < 2 for s in summaries):
        return None
    return np.stack(
        [rng.normal(s.mean, (s.std or 0.0) / math.sqrt(s.n), size=draws) for s in summaries]
    )


def probability_best(draws: np.ndarray, higher_is_better: bool) -> tuple[list[float], list[float]]:
    """Per variant: the share of draws where it is best, and its expected loss.

    The expected loss of choosing a variant is the mean of (best draw - its draw) for a
    higher-is-better metric (its draw - best draw otherwise): what choosing it costs, on
    average, when it is not the best.
    """
    best_index = draws.argmax(axis=0) if higher_is_better else draws.argmin(axis=0)
    counts = np.bincount(best_index, minlength=draws.shape[0])
    probs = (counts / draws.shape[1]).tolist()
    best = draws.max(axis=0) if higher_is_better else draws.min(axis=0)
    loss = (best - draws) if higher_is_better else (draws - best)
    return probs, loss.mean(axis=1).tolist()


def posterior_density(
    summaries: Sequence[Summary], kind: str, points: int = 200
) -> tuple[list[float], list[list[float]]] | None:
    """A shared grid and each variant's posterior density on it (for the report's chart)."""
    stats = _stats()
    if kind == "rate":
        params = [(1 + s.successes, 1 + s.n - s.successes) for s in summaries]
        sds = [math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1))) for a, b in params]
        centers = [a / (a + b) for a, b in params]
        lo = max(0.0, min(c - 5 * sd for c, sd in zip(centers, sds, strict=True)))
        hi = min(1.0, max(c + 5 * sd for c, sd in zip(centers, sds, strict=True)))
        grid = np.linspace(lo, hi, points)
        return grid.tolist(), [stats.beta.pdf(grid, a, b).tolist() for a, b in params]
    if any(s.n < 2 or not s.std for s in summaries):
        return None
    ses = [(s.std or 0.0) / math.sqrt(s.n) for s in summaries]
    lo = min(s.mean - 5 * se for s, se in zip(summaries, ses, strict=True))
    hi = max(s.mean + 5 * se for s, se in zip(summaries, ses, strict=True))
    grid = np.linspace(lo, hi, points)
    return grid.tolist(), [
        stats.norm.pdf(grid, s.mean, se).tolist() for s, se in zip(summaries, ses, strict=True)
    ]


def sample_size_rate(baseline: float, mde: float, alpha: float, power: float) -> int:
    """Per-variant n for a two-sided two-proportion z-test to detect `baseline ± mde`.

    n = (z(1 - alpha/2) * sqrt(2 p(1 - p)) + z(power) * sqrt(p1(1 - p1) + p2(1 - p2)))^2
    / mde^2, with p1 = baseline, p2 = baseline + mde (baseline - mde when that would pass
    1) and p their mean (Fleiss, without continuity correction).
    """
    norm = _stats().norm
    p1 = baseline
    p2 = p1 + mde if p1 + mde <= 1 else p1 - mde
    p_bar = (p1 + p2) / 2
    z_a, z_b = float(norm.ppf(1 - alpha / 2)), float(norm.ppf(power))
    root = z_a * math.sqrt(2 * p_bar * (1 - p_bar)) + z_b * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return math.ceil(root * root / (mde * mde))


def sample_size_mean(std: float, mde: float, alpha: float, power: float) -> int:
    """Per-variant n for a two-sided test of two means: 2 ((z(1-alpha/2) + z(power)) s / mde)^2."""
    norm = _stats().norm
    z = float(norm.ppf(1 - alpha / 2)) + float(norm.ppf(power))
    return math.ceil(2 * (z * std / mde) ** 2)


__all__ = [
    "DEFAULT_DRAWS",
    "Summary",
    "TestResult",
    "holm",
    "mean_interval",
    "posterior_density",
    "posterior_draws",
    "probability_best",
    "sample_size_mean",
    "sample_size_rate",
    "two_proportion_ztest",
    "welch_ttest",
    "wilson_interval",
]
