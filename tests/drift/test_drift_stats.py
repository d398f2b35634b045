"""Golden agreement of the statistics with scipy and with Evidently's definitions."""

import math

import numpy as np
import pytest
from scipy import stats as sps
from scipy.spatial.distance import jensenshannon

from retrainer.drift import stats

RNG_SEEDS = range(5)


def _samples(seed: int, discrete: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n, m = rng.integers(50, 3000, size=2)
    if discrete:
        return rng.integers(0, 6, n).astype(float), rng.integers(0, 7, m).astype(float)
    return rng.normal(0, 1, n), rng.normal(0.2, 1.3, m)


@pytest.mark.parametrize("seed", RNG_SEEDS)
@pytest.mark.parametrize("discrete", [False, True])
def test_ks_and_wasserstein_equal_scipy(seed, discrete):
    # given two samples (continuous, or with many ties)
    reference, current = _samples(seed, discrete)

    # when D and W1 are read off one merged CDF
    d, w1 = stats.ks_wasserstein_sorted(np.sort(reference), np.sort(current))

    # then they equal scipy's ks_2samp statistic and wasserstein_distance
    expected = sps.ks_2samp(reference, current, method="asymp")
    assert d == pytest.approx(expected.statistic, abs=1e-12)
    assert w1 == pytest.approx(sps.wasserstein_distance(reference, current), rel=1e-9)
    # and the p-value is ks_2samp(method="asymp") for effective sizes up to 10,000
    p = stats.ks_pvalue(d, len(reference), len(current))
    assert p == pytest.approx(expected.pvalue, abs=1e-12)


def test_ks_pvalue_above_10k_stays_close_to_kstwo():
    # given an effective size above the kstwo switch and statistics across the p range
    n = 20_000
    d = np.array([0.5, 1.0, 1.36, 2.0]) / math.sqrt(n)

    # when the fast limiting distribution is used
    fast = stats.ks_pvalue(d, 2 * n, 2 * n)

    # then it is within the documented 1.4e-3 of scipy's kstwo
    assert np.abs(fast - sps.kstwo.sf(d, n)).max() < 1.4e-3


def test_ks_pvalue_is_vectorised_and_nan_for_empty_sides():
    p = stats.ks_pvalue(np.array([0.1, 0.1]), np.array([100, 0]), np.array([100, 50]))

    assert p[0] == pytest.approx(sps.kstwo.sf(0.1, 50))
    assert math.isnan(p[1])


@pytest.mark.parametrize("base", [2, math.e])
def test_js_distance_equals_scipy_jensenshannon(base):
    # given counts with an empty bin on one side
    reference = np.array([120, 40, 0, 300, 7])
    current = np.array([100, 60, 25, 280, 0])

    # when / then
    assert stats.js_distance(reference, current, base) == pytest.approx(
        jensenshannon(reference, current, base=base), abs=1e-12
    )


def test_js_distance_vectorised_over_rows():
    reference = np.array([[1, 2, 3], [5, 5, 0]])
    current = np.array([[3, 2, 1], [1, 5, 4]])

    values = stats.js_distance(reference, current)

    assert values == pytest.approx(
        [jensenshannon(r, c, base=2) for r, c in zip(reference, current, strict=True)]
    )


def test_kl_divergence_equals_scipy_entropy_after_epsilon():
    # given counts with empty bins on both sides
    reference = np.array([50, 0, 30, 20])
    current = np.array([40, 10, 50, 0])
    eps = 1e-4

    # when
    value = stats.kl_divergence(reference, current, eps)

    # then it is scipy.stats.entropy(reference, current) on epsilon-filled proportions
    r = np.where(reference == 0, eps, reference / reference.sum())
    c = np.where(current == 0, eps, current / current.sum())
    assert value == pytest.approx(sps.entropy(r, c), abs=1e-12)


def _evidently_psi(reference_percents: np.ndarray, current_percents: np.ndarray) -> float:
    """Evidently 0.7 psi_stat_test after get_binned_data(feel_zeroes=True), re-implemented."""
    reference_percents = reference_percents.astype(float).copy()
    current_percents = current_percents.astype(float).copy()
    for percents in (reference_percents, current_percents):
        smallest = min(percents[percents != 0])
        np.place(percents, percents == 0, smallest / 10**6 if smallest <= 0.0001 else 0.0001)
    return float(
        np.sum(
            (reference_percents - current_percents) * np.log(reference_percents / current_percents)
        )
    )


def test_psi_equals_evidentlys_formula_on_the_same_bins():
    # given Evidently's numeric binning (Sturges on reference + current) done here
    rng = np.random.default_rng(3)
    reference, current = rng.normal(0, 1, 20_000), rng.normal(0.25, 1, 20_000)
    edges = np.histogram_bin_edges(np.concatenate((reference, current)), bins="sturges")
    ref_counts = np.histogram(reference, edges)[0]
    cur_counts = np.histogram(current, edges)[0]

    # when PSI is computed with epsilon 1e-4 on those counts
    value = stats.psi(ref_counts, cur_counts, epsilon=1e-4)

    # then it equals Evidently's definition (its epsilon is 1e-4 here: no bin below 1e-4)
    assert value == pytest.approx(
        _evidently_psi(ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum()), abs=1e-9
    )


def test_psi_fills_empty_bins_with_epsilon_on_that_side_only():
    # given a bin empty in the reference and 3% in the current
    reference = np.array([500, 500, 0])
    current = np.array([485, 485, 30])

    value = stats.psi(reference, current, epsilon=1e-4)

    expected = 2 * (0.485 - 0.5) * math.log(0.485 / 0.5) + (0.03 - 1e-4) * math.log(0.03 / 1e-4)
    assert value == pytest.approx(expected, abs=1e-12)


def test_wasserstein_normed_is_evidentlys_definition():
    # given Evidently's wasserstein_distance_norm: W1 / max(std_ref(ddof=0), 0.001)
    rng = np.random.default_rng(4)
    reference, current = rng.normal(5, 3, 4000), rng.normal(5.5, 3, 3000)
    evidently = sps.wasserstein_distance(reference, current) / max(np.std(reference), 0.001)

    # when
    _, w1 = stats.ks_wasserstein_sorted(np.sort(reference), np.sort(current))

    # then
    assert stats.wasserstein_normed(w1, float(np.std(reference))) == pytest.approx(
        evidently, abs=1e-9
    )
    # and a constant reference is floored at 0.001
    assert stats.wasserstein_normed(0.5, 0.0) == pytest.approx(500.0)


@pytest.mark.parametrize(
    ("reference", "current"),
    [
        ([300, 200, 100, 50], [280, 230, 90, 60]),  # several categories
        ([300, 200], [250, 260]),  # two categories: scipy applies Yates' correction
        ([300, 200, 0], [250, 240, 40]),  # a category only in the current data
    ],
)
def test_chi2_is_scipy_contingency_test(reference, current):
    statistic, p_value, dof = stats.chi2_contingency_test(np.array(reference), np.array(current))

    expected = sps.chi2_contingency(np.array([reference, current]))
    assert statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)
    assert dof == expected.dof


def test_chi2_contingency_is_not_evidentlys_goodness_of_fit():
    # given equal-size samples with identical proportions up to noise
    reference = np.array([5000, 3000, 2000])
    current = np.array([5100, 2950, 1950])

    statistic, _, _ = stats.chi2_contingency_test(reference, current)
    goodness_of_fit = sps.chisquare(current, f_exp=reference * current.sum() / reference.sum())

    # then the two-sample statistic is about half the goodness-of-fit one
    assert statistic == pytest.approx(goodness_of_fit.statistic / 2, rel=0.05)


def test_chi2_single_category_and_empty_side():
    assert stats.chi2_contingency_test(np.array([10, 0]), np.array([5, 0])) == (0.0, 1.0, 0)
    statistic, p_value, _ = stats.chi2_contingency_test(np.array([0, 0]), np.array([5, 1]))
    assert math.isnan(statistic)
    assert math.isnan(p_value)


def test_quantile_edges_match_numpy_quantile_and_collapse_ties():
    rng = np.random.default_rng(5)
    values = np.sort(rng.normal(size=1001))
    levels = np.arange(1, 10) / 10

    assert np.array_equal(stats.quantile_edges(values, 10), np.quantile(values, levels))
    assert np.array_equal(stats.sorted_quantile(values, levels), np.quantile(values, levels))
    # given a column with three tied values
    tied = np.sort(np.repeat([1.0, 2.0, 3.0], [300, 500, 200]))

    edges = stats.quantile_edges(tied, 10)

    # then duplicates collapse and each value's whole mass lands in one bin
    assert np.all(np.diff(edges) > 0)
    assert len(edges) < 9
    counts = stats.bin_counts(tied, edges)
    assert sorted(counts[counts > 0].tolist()) == [200, 300, 500]


def test_bin_counts_are_right_closed():
    counts = stats.bin_counts(np.array([0.0, 1.0, 1.0, 1.5, 2.0, 3.0]), np.array([1.0, 2.0]))

    assert counts.tolist() == [3, 2, 1]  # (-inf, 1], (1, 2], (2, inf)


def test_adjust_pvalues():
    p = np.array([0.01, 0.04, 0.03, np.nan, 0.5])

    bonferroni = stats.adjust_pvalues(p, "bonferroni")
    fdr = stats.adjust_pvalues(p, "fdr_bh")

    assert bonferroni[:3].tolist() == pytest.approx([0.04, 0.16, 0.12])
    assert math.isnan(bonferroni[3])
    assert bonferroni[4] == 1.0
    valid = ~np.isnan(p)
    assert fdr[valid] == pytest.approx(sps.false_discovery_control(p[valid], method="bh"))
    assert np.array_equal(stats.adjust_pvalues(p, "none"), p, equal_nan=True)
    with pytest.raises(ValueError, match="unknown correction"):
        stats.adjust_pvalues(p, "holm")
