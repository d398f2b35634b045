"""Paired statistics: DeLong, McNemar, paired bootstrap, decisions and multiplicity."""

from __future__ import annotations

import math
from fractions import Fraction
from statistics import NormalDist

import numpy as np
import pytest

from retrainer.gates.stats import (
    adjust_p_values,
    decide,
    delong_test,
    mcnemar_p_value,
    mcnemar_test,
    paired_bootstrap,
    resample_counts,
)

# Slow references, independent of scipy (which the module under test uses): exact binomial
# tails by summing math.comb terms (as Fractions where p is 1/2), Clopper–Pearson by bisection
# on those tails, Newcombe's closed form of the Wilson interval with continuity correction, and
# the standard library's normal distribution.
NORMAL = NormalDist()


def _tail_le(k: int, m: int, p: float) -> float:
    """P(X ≤ k) for X ~ Binomial(m, p), summed term by term."""
    return math.fsum(math.comb(m, i) * p**i * (1 - p) ** (m - i) for i in range(0, k + 1))


def _tail_ge(k: int, m: int, p: float) -> float:
    """P(X ≥ k) for X ~ Binomial(m, p), summed term by term."""
    return math.fsum(math.comb(m, i) * p**i * (1 - p) ** (m - i) for i in range(max(k, 0), m + 1))


def _exact_mcnemar_p(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value: 2 P(X ≤ min(b, c)), X ~ Binomial(b + c, 1/2), capped."""
    m = b + c
    tail = sum(Fraction(math.comb(m, i), 2**m) for i in range(min(b, c) + 1))
    return float(min(Fraction(1), 2 * tail))


def _bisect(f, target: float, increasing: bool) -> float:
    lo, hi = 0.0, 1.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if (f(mid) < target) == increasing:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _clopper_pearson(k: int, m: int, alpha: float) -> tuple[float, float]:
    """The p where P(X ≥ k) = alpha/2 (lower) and P(X ≤ k) = alpha/2 (upper)."""
    low = 0.0 if k == 0 else _bisect(lambda p: _tail_ge(k, m, p), alpha / 2, True)
    high = 1.0 if k == m else _bisect(lambda p: _tail_le(k, m, p), alpha / 2, False)
    return low, high


def _wilson_cc(k: int, m: int, alpha: float) -> tuple[float, float]:
    """Newcombe (1998), method 4: Wilson score interval with continuity correction."""
    z = NORMAL.inv_cdf(1 - alpha / 2)
    p = k / m
    denominator = 2 * (m + z * z)
    low = 2 * m * p + z * z - 1 - z * math.sqrt(z * z - 2 - 1 / m + 4 * p * (m * (1 - p) + 1))
    high = 2 * m * p + z * z + 1 + z * math.sqrt(z * z + 2 - 1 / m + 4 * p * (m * (1 - p) - 1))
    low = 0.0 if k == 0 else max(0.0, low / denominator)
    high = 1.0 if k == m else min(1.0, high / denominator)
    return low, high


def _slow_mcnemar(b: int, c: int, n: int, threshold: float, exact_below: int = 25) -> dict:
    """Interval and one-sided p-values of the accuracy difference, as mcnemar_test documents."""
    m = b + c
    exact = m < exact_below
    pi_low, pi_high = (_clopper_pearson if exact else _wilson_cc)(b, m, 0.05)
    pi_t = (threshold * n / m + 1) / 2
    if pi_t <= 0:
        p_better, p_worse = 0.0, 1.0
    elif pi_t >= 1:
        p_better, p_worse = 1.0, 0.0
    elif exact:
        p_better, p_worse = _tail_ge(b, m, pi_t), _tail_le(b, m, pi_t)
    else:
        sd = math.sqrt(m * pi_t * (1 - pi_t))
        p_better = 1 - NORMAL.cdf((b - 0.5 - m * pi_t) / sd)
        p_worse = NORMAL.cdf((b + 0.5 - m * pi_t) / sd)
    return {
        "ci_low": (2 * pi_low - 1) * m / n,
        "ci_high": (2 * pi_high - 1) * m / n,
        "p_better": p_better,
        "p_worse": p_worse,
    }


def _slow_delong(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """O(m n) DeLong: placement values from every positive/negative pair."""
    pos = y == 1
    structural = []
    for s in (a, b):
        x, z = s[pos][:, None], s[~pos][None, :]
        psi = (x > z) + 0.5 * (x == z)
        structural.append((psi.mean(axis=1), psi.mean(axis=0), psi.mean()))
    m, n = pos.sum(), (~pos).sum()
    s10 = np.cov(np.vstack([structural[0][0], structural[1][0]]))
    s01 = np.cov(np.vstack([structural[0][1], structural[1][1]]))
    cov = s10 / m + s01 / n
    diff = structural[0][2] - structural[1][2]
    return diff, float(np.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]))


def _equal_skill(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    y = (rng.random(n) < 0.4).astype(int)
    signal = rng.normal(size=n) + y
    return y, signal + rng.normal(size=n), signal + rng.normal(size=n)


@pytest.mark.parametrize("rounding", [None, 1])
def test_delong_matches_the_slow_reference(rounding: int | None) -> None:
    # given two correlated score vectors (with many ties when rounded)
    rng = np.random.default_rng(3)
    y, a, b = _equal_skill(rng, 500)
    b = b + 0.4 * y
    if rounding is not None:
        a, b = np.round(a, rounding), np.round(b, rounding)
    # when running the fast test and the O(m n) reference
    result = delong_test(y, a, b)
    diff, se = _slow_delong(y, a, b)
    # then difference, standard error and interval agree to 1e-9
    assert result.difference == pytest.approx(diff, abs=1e-9)
    assert result.details["se"] == pytest.approx(se, abs=1e-9)
    half = NORMAL.inv_cdf(0.975) * se
    assert result.ci_low == pytest.approx(diff - half, abs=1e-9)
    assert result.ci_high == pytest.approx(diff + half, abs=1e-9)
    assert result.challenger == pytest.approx(np.mean(_slow_auc(y, a)), abs=1e-12)


def _slow_auc(y: np.ndarray, s: np.ndarray) -> float:
    x, z = s[y == 1][:, None], s[y == 0][None, :]
    return float(((x > z) + 0.5 * (x == z)).mean())


def test_delong_is_calibrated_for_equal_skill_models() -> None:
    # given 200 holdouts scored by two models of equal skill
    rng = np.random.default_rng(2024)
    rejections = 0
    for _ in range(200):
        y, a, b = _equal_skill(rng, 300)
        # when testing at alpha = 0.05 (two-sided)
        result = delong_test(y, a, b, alpha=0.05)
        rejections += result.ci_low > 0 or result.ci_high < 0
    # then about 5% of the intervals exclude zero
    assert 0.01 <= rejections / 200 <= 0.07


def test_delong_detects_a_real_difference_and_orients_p_values() -> None:
    # given a challenger whose scores carry more signal
    rng = np.random.default_rng(5)
    y, a, b = _equal_skill(rng, 2000)
    a = a + 0.8 * y
    # when comparing challenger a against champion b
    result = delong_test(y, a, b)
    # then the difference is positive and significant in the "better" direction only
    assert result.ci_low > 0
    assert result.p_better < 1e-4
    assert result.p_worse > 0.99


def test_mcnemar_uses_the_exact_test_for_few_discordant_pairs() -> None:
    # given 3 rows only the challenger gets right and 9 only the champion gets right
    # when testing
    statistic, p_value, method = mcnemar_p_value(3, 9)
    # then the exact binomial test is used: 2 P(X ≤ 3) for X ~ Binomial(12, 1/2)
    assert method == "exact"
    assert statistic == 3
    assert p_value == pytest.approx(_exact_mcnemar_p(3, 9), rel=1e-12)
    assert p_value == pytest.approx(2 * (1 + 12 + 66 + 220) / 4096, rel=1e-12)


def test_mcnemar_uses_chi_square_with_continuity_correction_for_many() -> None:
    # given many discordant pairs
    # when testing
    statistic, p_value, method = mcnemar_p_value(40, 20)
    # then it is the corrected chi-square on one degree of freedom
    assert method == "chi2_cc"
    assert statistic == pytest.approx(19**2 / 60)
    # (the chi-square tail on one degree of freedom is erfc(sqrt(x / 2)))
    assert p_value == pytest.approx(math.erfc(math.sqrt(19**2 / 60 / 2)), rel=1e-12)


def _paired_predictions(b: int, c: int, both: int, n: int) -> tuple[np.ndarray, ...]:
    y = np.zeros(n, dtype=int)
    challenger = np.ones(n, dtype=int)
    champion = np.ones(n, dtype=int)
    challenger[:b] = 0  # only the challenger right
    champion[b : b + c] = 0  # only the champion right
    challenger[b + c : b + c + both] = 0
    champion[b + c : b + c + both] = 0
    return y, challenger, champion


def test_mcnemar_test_reports_discordant_counts_and_a_consistent_interval() -> None:
    # given predictions with known discordant counts
    for b, c in [(3, 9), (12, 2), (60, 35), (40, 41), (0, 0)]:
        y, challenger, champion = _paired_predictions(b, c, both=100, n=400)
        # when testing the accuracy difference
        result = mcnemar_test(y, challenger, champion, alpha=0.05)
        # then counts, difference and interval agree with McNemar's p-value
        assert (result.details["b"], result.details["c"]) == (b, c)
        assert result.difference == pytest.approx((b - c) / 400)
        assert result.ci_low <= result.difference <= result.ci_high
        excludes_zero = result.ci_low > 0 or result.ci_high < 0
        assert excludes_zero == (result.details["mcnemar_p_value"] < 0.05)


def test_mcnemar_interval_excludes_zero_exactly_when_the_test_rejects() -> None:
    # given every small table of discordant counts
    mismatches = []
    for b in range(0, 45, 2):
        for c in range(0, 45, 3):
            if b + c == 0:
                continue
            y, challenger, champion = _paired_predictions(b, c, both=0, n=200)
            # when testing
            result = mcnemar_test(y, challenger, champion, alpha=0.05)
            excludes_zero = result.ci_low > 0 or result.ci_high < 0
            if excludes_zero != (result.details["mcnemar_p_value"] < 0.05):
                mismatches.append((b, c))
    # then interval and test never disagree (exact and chi-square regimes)
    assert mismatches == []


@pytest.mark.parametrize(
    ("b", "c", "threshold"),
    [
        (3, 9, 0.0),  # exact regime (12 discordant rows)
        (12, 2, 0.01),
        (0, 7, -0.01),
        (10, 0, 0.0),
        (6, 6, 0.02),
        (60, 35, 0.0),  # Wilson with continuity correction (95 discordant rows)
        (40, 41, -0.02),
        (0, 30, 0.0),
        (90, 10, 0.1),
        (20, 15, 0.5),  # a threshold no discordant count can reach
    ],
)
def test_mcnemar_interval_and_p_values_match_the_slow_references(b, c, threshold) -> None:
    # given predictions with known discordant counts on 400 rows
    y, challenger, champion = _paired_predictions(b, c, both=50, n=400)
    # when testing the accuracy difference against a threshold
    result = mcnemar_test(y, challenger, champion, alpha=0.05, threshold=threshold)
    # then the interval and both one-sided p-values are the slow references'
    expected = _slow_mcnemar(b, c, 400, threshold)
    assert result.ci_low == pytest.approx(expected["ci_low"], abs=1e-9)
    assert result.ci_high == pytest.approx(expected["ci_high"], abs=1e-9)
    assert result.p_better == pytest.approx(expected["p_better"], abs=1e-9)
    assert result.p_worse == pytest.approx(expected["p_worse"], abs=1e-9)
    # and the two-sided p-value is the exact test's below 25 discordant rows
    if b + c < 25:
        assert result.details["mcnemar_p_value"] == pytest.approx(_exact_mcnemar_p(b, c), rel=1e-12)


def _coverage(metric: str, truth: float, simulate, n_sims: int = 100) -> float:
    rng = np.random.default_rng(11)
    covered = 0
    for sim in range(n_sims):
        y, a, b = simulate(rng)
        result = paired_bootstrap(metric, y, a, b, n_resamples=400, seed=sim, task="binary")
        covered += result.ci_low <= truth <= result.ci_high
    return covered / n_sims


def test_bootstrap_interval_covers_the_true_accuracy_difference() -> None:
    # given models right with probability 0.80 and 0.72, independently (truth: +0.08)
    def simulate(rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        n = 400
        y = rng.integers(0, 2, n)
        a = np.where(rng.random(n) < 0.80, y, 1 - y)
        b = np.where(rng.random(n) < 0.72, y, 1 - y)
        return y, a, b

    # when bootstrapping 100 holdouts
    coverage = _coverage("accuracy", 0.08, simulate)
    # then the 95% intervals cover the truth about 95% of the time
    assert coverage >= 0.88


def test_bootstrap_interval_covers_the_true_auc_difference() -> None:
    # given binormal scores with known AUCs Φ(1/√2) and Φ(0.5/√2)
    truth = NORMAL.cdf(1 / np.sqrt(2)) - NORMAL.cdf(0.5 / np.sqrt(2))

    def simulate(rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        n = 400
        y = (rng.random(n) < 0.3).astype(int)
        shared = rng.normal(size=n)
        a = y * 1.0 + (shared + rng.normal(size=n)) / np.sqrt(2)
        b = y * 0.5 + (shared + rng.normal(size=n)) / np.sqrt(2)
        return y, a, b

    # when bootstrapping 100 holdouts
    coverage = _coverage("roc_auc", truth, simulate)
    # then coverage is near 95%
    assert coverage >= 0.88


def test_bootstrap_agrees_with_delong_on_a_large_holdout() -> None:
    # given a large holdout
    rng = np.random.default_rng(8)
    y, a, b = _equal_skill(rng, 5000)
    a = a + 0.2 * y
    # when comparing AUCs both ways
    boot = paired_bootstrap("roc_auc", y, a, b, n_resamples=1000, stratify=True, seed=1)
    delong = delong_test(y, a, b)
    # then the intervals nearly coincide
    width = delong.ci_high - delong.ci_low
    assert boot.difference == pytest.approx(delong.difference, abs=1e-12)
    assert boot.ci_low == pytest.approx(delong.ci_low, abs=0.15 * width)
    assert boot.ci_high == pytest.approx(delong.ci_high, abs=0.15 * width)


def test_bootstrap_is_reproducible_and_independent_of_threads() -> None:
    # given one seed
    rng = np.random.default_rng(9)
    y, a, b = _equal_skill(rng, 3000)
    # when resampling with one thread and with two
    one = paired_bootstrap("roc_auc", y, a, b, n_resamples=1500, seed=42, n_jobs=1)
    two = paired_bootstrap("roc_auc", y, a, b, n_resamples=1500, seed=42, n_jobs=2)
    other = paired_bootstrap("roc_auc", y, a, b, n_resamples=1500, seed=43, n_jobs=1)
    # then the same seed gives the same interval, another seed another one
    assert (one.ci_low, one.ci_high, one.p_better) == (two.ci_low, two.ci_high, two.p_better)
    assert (one.ci_low, one.ci_high) != (other.ci_low, other.ci_high)


def test_stratified_resamples_keep_class_counts() -> None:
    # given rows sorted by class: 30 negatives then 10 positives
    rng = np.random.default_rng(0)
    # when drawing stratified resamples
    counts = resample_counts(40, 50, rng, strata=[(0, 30), (30, 40)])
    # then each resample keeps 30 negatives and 10 positives
    assert (counts[:, :30].sum(axis=1) == 30).all()
    assert (counts[:, 30:].sum(axis=1) == 10).all()
    assert (counts[:, 30:] > 1).any()  # rows are drawn with replacement


def test_bootstrap_orients_losses_so_positive_means_better() -> None:
    # given a challenger with sharper (better) probabilities than the champion
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 2000)
    challenger = np.clip(np.where(y == 1, 0.8, 0.2) + rng.normal(0, 0.05, 2000), 0.01, 0.99)
    champion = np.clip(np.where(y == 1, 0.6, 0.4) + rng.normal(0, 0.05, 2000), 0.01, 0.99)
    # when bootstrapping log_loss
    result = paired_bootstrap("log_loss", y, challenger, champion, n_resamples=300)
    # then the raw difference is negative but the improvement is positive and significant
    assert result.difference < 0
    assert result.improvement > 0
    assert result.improvement_ci[0] > 0
    assert result.p_better < 0.01


@pytest.mark.parametrize(
    ("mode", "ci", "verdict", "passed"),
    [
        ("superiority", (0.011, 0.03), "superior", True),
        ("superiority", (0.002, 0.008), "not_superior", False),
        ("superiority", (-0.01, 0.02), "inconclusive", None),
        ("non_inferiority", (-0.009, 0.01), "non_inferior", True),
        ("non_inferiority", (-0.03, -0.011), "inferior", False),
        ("non_inferiority", (-0.02, 0.01), "inconclusive", None),
    ],
)
def test_decide_superiority_and_non_inferiority(
    mode: str, ci: tuple[float, float], verdict: str, passed: bool | None
) -> None:
    # given an AUC difference interval and a margin of 0.01
    # when deciding
    decision = decide(sum(ci) / 2, *ci, margin=0.01, mode=mode, metric="roc_auc")
    # then the verdict follows the position of the interval relative to ±margin
    assert decision.verdict == verdict
    assert decision.passed is passed
    assert decision.significant == (passed is not None)
    assert "roc_auc" in decision.explanation


def test_decide_orients_lower_is_better_metrics() -> None:
    # given a log_loss difference (challenger - champion) clearly below zero
    # when deciding superiority
    decision = decide(-0.05, -0.07, -0.03, margin=0.0, mode="superiority", greater_is_better=False)
    # then the challenger is superior
    assert decision.verdict == "superior"
    assert decision.improvement == pytest.approx(0.05)
    assert (decision.ci_low, decision.ci_high) == pytest.approx((0.03, 0.07))


def test_decide_rejects_a_negative_margin() -> None:
    # given a negative margin
    # when deciding
    # then the error names the margin
    with pytest.raises(ValueError, match="margin"):
        decide(0.0, -0.1, 0.1, margin=-0.01, mode="superiority")


def test_holm_and_bonferroni_adjustments() -> None:
    # given three p-values
    p = [0.01, 0.04, 0.03]
    # when adjusting
    # then Holm steps down and Bonferroni multiplies (both capped at 1)
    np.testing.assert_allclose(adjust_p_values(p, "holm"), [0.03, 0.06, 0.06])
    np.testing.assert_allclose(adjust_p_values(p, "bonferroni"), [0.03, 0.12, 0.09])
    np.testing.assert_allclose(adjust_p_values(p, "none"), p)
    assert adjust_p_values([0.6, 0.7], "bonferroni").max() == 1.0
