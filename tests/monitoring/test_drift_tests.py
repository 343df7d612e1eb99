"""Each statistic and p-value against SciPy's reference function or a hand computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from scipy.spatial import distance

from slipway.monitoring import drift


@pytest.fixture
def samples(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    return rng.normal(0, 1, 400), rng.normal(0.3, 1.2, 300)


def test_ks_matches_scipy(samples) -> None:
    a, b = samples
    ref = stats.ks_2samp(a, b)
    assert drift.ks(a, b) == pytest.approx((ref.statistic, ref.pvalue), rel=1e-12)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_anderson_matches_scipy(samples) -> None:
    a, b = samples
    ref = stats.anderson_ksamp([a, b])
    assert drift.anderson(a, b) == pytest.approx((ref.statistic, ref.pvalue), rel=1e-12)


def test_cramer_von_mises_matches_scipy(samples) -> None:
    a, b = samples
    ref = stats.cramervonmises_2samp(a, b)
    assert drift.cramer_von_mises(a, b) == pytest.approx((ref.statistic, ref.pvalue), rel=1e-12)


@pytest.mark.parametrize("ties", [False, True])
def test_wasserstein_matches_scipy(samples, ties: bool) -> None:
    a, b = samples
    if ties:
        a, b = np.round(a, 1), np.round(b, 1)
    expected = stats.wasserstein_distance(a, b)
    assert drift.wasserstein_sorted(np.sort(a), np.sort(b)) == pytest.approx(expected, rel=1e-10)
    normed = drift.normed_wasserstein(np.sort(a), np.sort(b), float(np.std(a)))
    assert normed == pytest.approx(expected / np.std(a), rel=1e-10)


def test_normed_wasserstein_floors_the_std_of_a_constant_reference() -> None:
    a, b = np.full(10, 2.0), np.full(10, 2.5)
    assert drift.normed_wasserstein(a, b, 0.0) == pytest.approx(0.5 / drift.MIN_STD)


def test_chi_square_matches_scipy() -> None:
    ref_counts = np.array([50.0, 30.0, 20.0])
    cur_counts = np.array([40.0, 30.0, 50.0])
    expected_freq = ref_counts / ref_counts.sum() * cur_counts.sum()
    ref = stats.chisquare(cur_counts, expected_freq)
    assert drift.chi_square(ref_counts, cur_counts) == pytest.approx(
        (ref.statistic, ref.pvalue), rel=1e-12
    )


def test_chi_square_with_a_category_the_reference_never_saw_is_drift_not_nan() -> None:
    stat, p = drift.chi_square(np.array([10.0, 10.0, 0.0]), np.array([5.0, 5.0, 10.0]))
    assert stat == math.inf and p == 0.0


def test_z_test_by_hand() -> None:
    # share of the first category: 30/100 in reference, 45/100 in current
    p1, p2, n1, n2 = 0.3, 0.45, 100, 100
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    p = 2 * (1 - stats.norm.cdf(abs(z)))
    stat, p_value = drift.z_test(np.array([30, 70]), np.array([45, 55]))
    assert abs(stat) == pytest.approx(abs(z)) and p_value == pytest.approx(p, rel=1e-9)


def test_z_test_of_one_same_value_on_both_sides_is_no_drift() -> None:
    assert drift.z_test(np.array([10]), np.array([7])) == (0.0, 1.0)
    assert drift.z_test(np.array([10, 0]), np.array([7, 0]))[1] == 1.0


def test_jensen_shannon_matches_scipy_and_vectorises() -> None:
    p = np.array([[0.2, 0.5, 0.3, 0.0], [0.25, 0.25, 0.25, 0.25]])
    q = np.array([[0.1, 0.4, 0.4, 0.1], [0.25, 0.25, 0.25, 0.25]])
    got = drift.jensen_shannon(p, q)
    assert got[0] == pytest.approx(distance.jensenshannon(p[0], q[0]), rel=1e-12)
    assert got[1] == pytest.approx(0.0, abs=1e-12)


def test_psi_by_hand_with_empty_bins_filled() -> None:
    ref = np.array([0.5, 0.5, 0.0])
    cur = np.array([0.4, 0.4, 0.2])
    ref_f = np.array([0.5, 0.5, 0.0001])
    expected = sum((c - r) * math.log(c / r) for r, c in zip(ref_f, cur, strict=True))
    assert drift.psi(ref, cur)[0] == pytest.approx(expected, rel=1e-12)


def test_empty_bin_fill_uses_a_millionth_of_a_tiny_smallest_share() -> None:
    p = np.array([0.99995, 0.00005, 0.0])
    assert drift.fill_empty_bins(p)[0, 2] == pytest.approx(0.00005 / 10**6)
    assert drift.fill_empty_bins(np.array([0.5, 0.5, 0.0]))[0, 2] == 0.0001


def test_kl_divergence_matches_scipy_entropy() -> None:
    ref = np.array([0.2, 0.3, 0.5])
    cur = np.array([0.3, 0.3, 0.4])
    assert drift.kl_divergence(ref, cur)[0] == pytest.approx(stats.entropy(ref, cur), rel=1e-12)


def test_hellinger_by_hand() -> None:
    ref = np.array([0.5, 0.5, 0.0])
    cur = np.array([0.0, 0.5, 0.5])
    expected = math.sqrt((math.sqrt(0.5) ** 2 + 0 + math.sqrt(0.5) ** 2) / 2)
    assert drift.hellinger(ref, cur)[0] == pytest.approx(expected)
    assert drift.hellinger(ref, ref)[0] == pytest.approx(0.0)


@pytest.mark.parametrize("n", [2, 17, 1000, 123_457])
@pytest.mark.parametrize("integer", [False, True])
def test_sturges_edges_equal_numpys(rng: np.random.Generator, n: int, integer: bool) -> None:
    data = rng.integers(-50, 70, n) if integer else rng.normal(3, 2, n)
    expected = np.histogram_bin_edges(data, bins="sturges")
    got = drift.sturges_edges(float(data.min()), float(data.max()), n, integer=integer)
    np.testing.assert_array_equal(got, expected)


def test_sturges_edges_of_a_constant_widen_by_half() -> None:
    data = np.full(10, 3.0)
    got = drift.sturges_edges(3.0, 3.0, 10)
    np.testing.assert_array_equal(got, np.histogram_bin_edges(data, bins="sturges"))


def test_histogram_of_sorted_values_equals_numpys(rng: np.random.Generator) -> None:
    data = np.round(rng.normal(0, 1, 5000), 2)
    edges = np.histogram_bin_edges(data, bins="sturges")
    np.testing.assert_array_equal(
        drift.histogram_sorted(np.sort(data), edges), np.histogram(data, edges)[0]
    )


@pytest.mark.parametrize(
    ("name", "statistic", "p", "threshold", "drifted"),
    [
        ("ks", 0.1, 0.05, 0.05, True),  # KS drifts at p == threshold
        ("chisquare", 1.0, 0.05, 0.05, False),  # chi-square only below
        ("z", 1.0, 0.049, 0.05, True),
        ("cramer_von_mises", 1.0, 0.05, 0.05, True),
        ("anderson", 1.0, 0.05, 0.05, False),
        ("wasserstein", 0.1, None, 0.1, True),  # distances drift at or above
        ("jensenshannon", 0.0999, None, 0.1, False),
    ],
)
def test_verdict_comparisons(name, statistic, p, threshold, drifted) -> None:
    assert drift.STAT_TESTS[name].drifted(statistic, p, threshold) is drifted


def test_aliases() -> None:
    assert drift.stat_test("JS").name == "jensenshannon"
    assert drift.stat_test("kolmogorov-smirnov").name == "ks"
    with pytest.raises(KeyError):
        drift.stat_test("nope")
