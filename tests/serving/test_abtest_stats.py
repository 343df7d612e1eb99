"""The A/B statistics against scipy and hand computations on the same counts."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special, stats

from slipway.serving.abtest.stats import (
    Summary,
    holm,
    mean_interval,
    posterior_draws,
    probability_best,
    sample_size_mean,
    sample_size_rate,
    two_proportion_ztest,
    welch_ttest,
    wilson_interval,
)


def summary_of(values: np.ndarray, batches: int = 3) -> Summary:
    s = Summary()
    for part in np.array_split(values, batches):
        s.add(part)
    return s


def test_summary_merges_batches_like_numpy() -> None:
    values = np.random.default_rng(0).normal(1e6, 3.0, 10_001)  # a large mean, a small spread
    s = summary_of(values, batches=7)
    assert s.n == values.size
    assert s.mean == pytest.approx(values.mean(), rel=1e-12)
    assert s.std == pytest.approx(values.std(ddof=1), rel=1e-9)


@pytest.mark.parametrize(("x", "n"), [(0, 20), (7, 50), (480, 4000), (50, 50)])
def test_wilson_interval_matches_scipy(x: int, n: int) -> None:
    expected = stats.binomtest(x, n).proportion_ci(confidence_level=0.95, method="wilson")
    low, high = wilson_interval(x, n, alpha=0.05)
    assert low == pytest.approx(expected.low, abs=1e-12)
    assert high == pytest.approx(expected.high, abs=1e-12)


def test_mean_interval_matches_scipy() -> None:
    values = np.random.default_rng(1).exponential(3.0, 200)
    s = summary_of(values)
    expected = stats.ttest_1samp(values, 0).confidence_interval(0.9)
    low, high = mean_interval(s.mean, s.std, s.n, alpha=0.1)
    assert (low, high) == pytest.approx((expected.low, expected.high), rel=1e-10)
    assert mean_interval(1.0, None, 1, 0.05) is None


def test_two_proportion_z_test_by_hand() -> None:
    # control 120 / 1000, variant 150 / 1000
    x1, n1, x2, n2 = 120, 1000, 150, 1000
    p1, p2, pooled = x1 / n1, x2 / n2, (x1 + x2) / (n1 + n2)
    z = (p2 - p1) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    result = two_proportion_ztest(x1, n1, x2, n2, alpha=0.05)
    assert result.statistic == pytest.approx(z, rel=1e-12)
    assert result.p_value == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-12)
    assert result.difference == pytest.approx(0.03)
    half = stats.norm.ppf(0.975) * se
    assert (result.ci_low, result.ci_high) == pytest.approx((0.03 - half, 0.03 + half))
    # the two-sided z-test is the chi-square test of the 2x2 table without correction
    table = [[x1, n1 - x1], [x2, n2 - x2]]
    assert result.p_value == pytest.approx(
        stats.chi2_contingency(table, correction=False).pvalue, rel=1e-9
    )


def test_two_proportion_z_test_with_no_variation() -> None:
    result = two_proportion_ztest(0, 40, 0, 50, alpha=0.05)
    assert (result.statistic, result.p_value, result.difference) == (0.0, 1.0, 0.0)


def test_welch_matches_scipy_on_the_raw_samples() -> None:
    rng = np.random.default_rng(2)
    control, variant = rng.normal(10, 2, 300), rng.normal(10.6, 3.5, 180)
    expected = stats.ttest_ind(variant, control, equal_var=False)
    result = welch_ttest(summary_of(control), summary_of(variant), alpha=0.05)
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-9)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert result.df == pytest.approx(expected.df, rel=1e-9)
    ci = expected.confidence_interval(0.95)
    assert (result.ci_low, result.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-9)


def test_holm_step_down() -> None:
    # sorted 0.01, 0.02, 0.04 -> 3*0.01, max(0.03, 2*0.02), max(0.04, 1*0.04)
    assert holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm([]) == []


def test_probability_best_for_rates_matches_the_closed_form() -> None:
    # P(B > A) for Beta posteriors, exactly (Evan Miller's sum)
    a_x, a_n, b_x, b_n = 30, 200, 45, 210
    a_a, b_a = 1 + a_x, 1 + a_n - a_x
    a_b, b_b = 1 + b_x, 1 + b_n - b_x
    exact = sum(
        math.exp(
            special.betaln(a_a + i, b_b + b_a)
            - math.log(b_b + i)
            - special.betaln(1 + i, b_b)
            - special.betaln(a_a, b_a)
        )
        for i in range(a_b)
    )
    summaries = [summary_of(np.repeat([1.0, 0.0], [x, n - x])) for x, n in ((a_x, a_n), (b_x, b_n))]
    draws = posterior_draws(summaries, "rate", 200_000, seed=0)
    probs, losses = probability_best(draws, higher_is_better=True)
    assert probs[1] == pytest.approx(exact, abs=0.005)
    assert sum(probs) == pytest.approx(1.0)
    assert losses[1] < losses[0]
    # lower is better flips the answer
    assert probability_best(draws, higher_is_better=False)[0][0] == pytest.approx(probs[1])


def test_probability_best_for_means_matches_the_normal_closed_form() -> None:
    rng = np.random.default_rng(3)
    a, b = summary_of(rng.normal(5, 2, 400)), summary_of(rng.normal(5.2, 2, 400))
    se_a, se_b = a.std / math.sqrt(a.n), b.std / math.sqrt(b.n)
    exact = stats.norm.cdf((b.mean - a.mean) / math.hypot(se_a, se_b))
    probs, _ = probability_best(posterior_draws([a, b], "mean", 200_000, seed=1), True)
    assert probs[1] == pytest.approx(exact, abs=0.005)
    assert posterior_draws([a, summary_of(np.array([1.0]), 1)], "mean", 1000, 0) is None


def test_sample_sizes_by_hand() -> None:
    z_a, z_b = stats.norm.ppf(0.975), stats.norm.ppf(0.8)
    p1, p2 = 0.10, 0.12
    p_bar = (p1 + p2) / 2
    n = z_a * math.sqrt(2 * p_bar * (1 - p_bar)) + z_b * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    assert sample_size_rate(0.10, 0.02, 0.05, 0.8) == math.ceil(n**2 / 0.02**2) == 3841
    # near 1 the alternative is below the baseline
    assert sample_size_rate(0.99, 0.02, 0.05, 0.8) == sample_size_rate(0.97, 0.02, 0.05, 0.8)
    assert sample_size_mean(2.0, 0.5, 0.05, 0.8) == math.ceil(2 * ((z_a + z_b) * 2.0 / 0.5) ** 2)
    # simulated power of the planned design is close to the asked 80%
    rng = np.random.default_rng(4)
    n = sample_size_rate(0.10, 0.05, 0.05, 0.8)
    hits = sum(
        two_proportion_ztest(
            int(rng.binomial(n, 0.10)), n, int(rng.binomial(n, 0.15)), n, 0.05
        ).p_value
        < 0.05
        for _ in range(2000)
    )
    assert 0.76 < hits / 2000 < 0.84
