"""Drift statistics: exact definitions, vectorised where it helps.

Conventions shared by every function here:

* Count-based statistics (PSI, Jensen-Shannon, KL) take per-bin counts of the reference and
  the current sample on the *same* bins; the last axis is the bin axis, so a 2-D input
  computes one value per row (one row per column of a data set).
* Numeric bins are fixed on the reference (see :func:`quantile_edges`), so a saved profile can
  be compared with new data without the reference rows. This differs from Evidently (Sturges
  bins on reference + current) and frouros (equal-width on the combined range); the values
  agree with those libraries whenever the same bins are passed in.
* Sample-based statistics (KS, Wasserstein) take sorted, finite reference and current values.
* Missing values are invisible to all of these; :func:`missing_share_test` measures the rise
  of their share.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special
from scipy import stats as sps

#: Default proportion given to a bin that is empty on one side (PSI, KL).
DEFAULT_EPSILON = 1e-4
#: Floor of the reference standard deviation in the normed Wasserstein distance (Evidently).
WASSERSTEIN_STD_FLOOR = 0.001


def quantile_edges(sorted_reference: np.ndarray, n_bins: int = 10) -> np.ndarray:
    """Interior bin edges at reference quantiles, for PSI, JS and KL on numeric columns.

    The edges are ``np.quantile(reference, [1/B, ..., (B-1)/B])`` (linear interpolation,
    NumPy's default method) with duplicates removed, so a column with ties or few distinct
    values gets fewer bins. Bins are right-closed: bin 0 is ``(-inf, e_1]``, bin ``i`` is
    ``(e_i, e_{i+1}]`` and the last bin is ``(e_{B-1}, +inf)``; an atom (tied value) sitting on
    an edge belongs to the bin that edge closes. Each bin holds about 1/B of the reference.

    Args:
        sorted_reference: Finite reference values, sorted ascending, at least one.
        n_bins: Number of quantile bins B (default 10, deciles).

    Returns:
        Up to ``B - 1`` strictly increasing interior edges.
    """
    levels = np.arange(1, n_bins) / n_bins
    return np.unique(sorted_quantile(sorted_reference, levels))


def sorted_quantile(sorted_values: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """``np.quantile(values, levels)`` (method ``linear``) for already sorted values.

    Uses NumPy's own interpolation formula, so results are bit-identical, without the
    partition NumPy performs on every call.

    Args:
        sorted_values: Values sorted ascending, non-empty.
        levels: Quantile levels in [0, 1].

    Returns:
        The quantiles.
    """
    levels = np.asarray(levels, dtype=np.float64)
    position = levels * (len(sorted_values) - 1)
    lower = np.floor(position).astype(np.int64)
    upper = np.minimum(lower + 1, len(sorted_values) - 1)
    fraction = position - lower
    below, above = sorted_values[lower], sorted_values[upper]
    difference = above - below
    result = below + difference * fraction
    # NumPy's _lerp: interpolate from the upper point when the fraction is >= 0.5.
    high = fraction >= 0.5
    result[high] = (above - difference * (1 - fraction))[high]
    return result


def bin_counts(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts of sorted values in right-closed bins ``(-inf, e_1], ..., (e_last, +inf)``.

    Args:
        sorted_values: Values sorted ascending.
        edges: Strictly increasing interior edges.

    Returns:
        ``len(edges) + 1`` integer counts.
    """
    cumulative = np.searchsorted(sorted_values, edges, side="right")
    return np.diff(np.concatenate(([0], cumulative, [len(sorted_values)])))


def _proportions(counts: np.ndarray) -> np.ndarray:
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return counts / total


def fill_empty(proportions: np.ndarray, epsilon: float = DEFAULT_EPSILON) -> np.ndarray:
    """Replace zero proportions by ``epsilon`` (no renormalisation).

    Args:
        proportions: Bin proportions (last axis = bins).
        epsilon: Value for empty bins (default 1e-4, as Evidently when no non-empty bin is
            below 1e-4).

    Returns:
        A copy with zeros replaced.
    """
    return np.where(proportions == 0, epsilon, proportions)


def psi(
    reference_counts: np.ndarray, current_counts: np.ndarray, epsilon: float = DEFAULT_EPSILON
) -> np.ndarray | float:
    """Population Stability Index.

    ``PSI = sum_i (c_i - r_i) * ln(c_i / r_i)`` where ``r_i`` and ``c_i`` are the reference
    and current proportions of bin ``i`` and a proportion of exactly 0 is replaced by
    ``epsilon`` (default 1e-4) on that side only, without renormalising. This is Evidently's
    formula (``psi_stat_test``) with a fixed epsilon; Evidently uses 1e-4 too unless some
    non-empty bin is itself below 1e-4. PSI is symmetric and >= 0; the usual reading is
    < 0.1 no shift, 0.1-0.25 moderate, > 0.25 significant.

    Args:
        reference_counts: Reference counts per bin (last axis = bins).
        current_counts: Current counts on the same bins.
        epsilon: Proportion for a bin empty on one side.

    Returns:
        PSI (a float for 1-D input, an array for 2-D input). NaN when a side is empty.
    """
    r = fill_empty(_proportions(reference_counts), epsilon)
    c = fill_empty(_proportions(current_counts), epsilon)
    value = np.sum((c - r) * np.log(c / r), axis=-1)
    return float(value) if np.ndim(value) == 0 else value


def js_distance(
    reference_counts: np.ndarray, current_counts: np.ndarray, base: float = 2.0
) -> np.ndarray | float:
    """Jensen-Shannon distance (the square root of the JS divergence).

    With ``p``, ``q`` the normalised counts and ``m = (p + q) / 2``:
    ``JS = sqrt((KL(p || m) + KL(q || m)) / 2)``, logarithms in ``base``. Empty bins need no
    epsilon (``0 * log 0 = 0``). Identical to ``scipy.spatial.distance.jensenshannon(p, q,
    base)``. Base 2 (default, NannyML) bounds it by 1; base e (Evidently) by
    ``sqrt(ln 2) = 0.8326``. Values are the same distance up to the factor
    ``1 / sqrt(ln 2)``: ``JS_2 = JS_e / 0.8326``.

    Args:
        reference_counts: Reference counts per bin (last axis = bins).
        current_counts: Current counts on the same bins.
        base: Log base, 2 or ``math.e``.

    Returns:
        The JS distance (float for 1-D input, array for 2-D).
    """
    p = _proportions(reference_counts)
    q = _proportions(current_counts)
    m = (p + q) / 2.0
    divergence = (special.rel_entr(p, m).sum(axis=-1) + special.rel_entr(q, m).sum(axis=-1)) / 2
    value = np.sqrt(np.maximum(divergence / math.log(base), 0.0))
    return float(value) if np.ndim(value) == 0 else value


def kl_divergence(
    reference_counts: np.ndarray, current_counts: np.ndarray, epsilon: float = DEFAULT_EPSILON
) -> np.ndarray | float:
    """Kullback-Leibler divergence KL(reference || current), in nats.

    ``KL = sum_i r_i * ln(r_i / c_i)`` where zero proportions are first replaced by
    ``epsilon`` and both vectors are then renormalised to sum to 1. This is exactly
    ``scipy.stats.entropy(r_eps, c_eps)`` and Evidently's ``kl_div`` direction
    (reference first). Not symmetric; >= 0.

    Args:
        reference_counts: Reference counts per bin (last axis = bins).
        current_counts: Current counts on the same bins.
        epsilon: Proportion for a bin empty on one side.

    Returns:
        KL in nats (float for 1-D input, array for 2-D).
    """
    r = _proportions(fill_empty(_proportions(reference_counts), epsilon))
    c = _proportions(fill_empty(_proportions(current_counts), epsilon))
    value = special.rel_entr(r, c).sum(axis=-1)
    return float(value) if np.ndim(value) == 0 else value


def ks_wasserstein_sorted(
    reference_sorted: np.ndarray, current_sorted: np.ndarray
) -> tuple[float, float]:
    """Exact two-sample Kolmogorov-Smirnov D and Wasserstein-1 distance from one merge.

    With ``F_r`` and ``F_c`` the empirical CDFs:
    ``D = sup_x |F_r(x) - F_c(x)|`` (as ``scipy.stats.ks_2samp(...).statistic``) and
    ``W1 = integral |F_r(x) - F_c(x)| dx`` (as ``scipy.stats.wasserstein_distance``). Both are
    read off the same merged CDF: the two sorted samples are merged (a stable argsort of two
    sorted runs, linear time); walking the merged values, ``n_r n_c (F_r - F_c)`` rises by
    ``n_c`` at a reference value and falls by ``n_r`` at a current value (exact integers).
    ``D`` is taken at the last point of every run of tied values and ``W1`` sums
    ``|F_r - F_c|`` times the gaps between consecutive merged values.

    Args:
        reference_sorted: Finite reference values, sorted ascending, non-empty.
        current_sorted: Finite current values, sorted ascending, non-empty.

    Returns:
        ``(D, W1)``.
    """
    n_ref, n_cur = len(reference_sorted), len(current_sorted)
    # Peak memory: three arrays of n_r + n_c values (the merge, its order, the sorted merge);
    # each is dropped as soon as the next step no longer needs it.
    merged = np.concatenate((reference_sorted, current_sorted))
    order = np.argsort(merged, kind="stable")  # two sorted runs: a linear merge
    merged = merged[order]
    from_reference = order < n_ref
    del order
    gaps = np.diff(merged)
    del merged
    # Steps +n_c / -n_r as float64: integers, exact while |n_r n_c| < 2**53.
    scaled = from_reference.astype(np.float64)
    del from_reference
    scaled *= n_ref + n_cur
    scaled -= n_ref
    np.cumsum(scaled, out=scaled)  # n_r n_c (F_r - F_c) after each merged value
    np.abs(scaled, out=scaled)
    scale = float(n_ref) * float(n_cur)
    w1 = float(np.dot(scaled[:-1], gaps)) / scale
    # D only at the end of a run of tied values (the last position has difference 0).
    run_end = gaps != 0
    inner = scaled[:-1] if run_end.all() else scaled[:-1][run_end]
    d = float(inner.max(initial=0.0)) / scale
    return d, w1


#: Largest effective sample size for which the KS p-value uses ``scipy.stats.kstwo``.
KS_KSTWO_MAX_N = 10_000


def ks_pvalue(
    statistic: np.ndarray | float, n_reference: np.ndarray | int, n_current: np.ndarray | int
) -> np.ndarray | float:
    """Two-sided asymptotic p-value of the two-sample KS statistic.

    With the effective size ``en = round(n_r n_c / (n_r + n_c))``:

    * ``en <= 10,000``: ``p = scipy.stats.kstwo.sf(D, en)``, exactly what
      ``scipy.stats.ks_2samp(..., method="asymp")`` returns (and alibi-detect's
      ``mode='asymp'``);
    * ``en > 10,000``: ``p = scipy.stats.kstwobign.sf((sqrt(en) + 0.12 + 0.11 / sqrt(en)) D)``,
      the limiting Kolmogorov distribution with Stephens' finite-size correction. ``kstwo``
      converges to it; the largest absolute difference from ``kstwo.sf`` is 1.4e-3 at
      ``en = 10^4`` and 6e-4 at ``5 * 10^4`` (falling like ``1/sqrt(en)``). ``kstwo.sf``
      itself takes 0.02-3 s per call at these sizes (measured), which would dominate a
      drift check.

    Both assume continuous data (ties make them conservative). Vectorised over columns.

    Args:
        statistic: KS D value(s).
        n_reference: Reference sample size(s).
        n_current: Current sample size(s).

    Returns:
        p-value(s); NaN where a sample is empty.
    """
    d = np.asarray(statistic, dtype=np.float64)
    n_r = np.asarray(n_reference, dtype=np.float64)
    n_c = np.asarray(n_current, dtype=np.float64)
    d, n_r, n_c = np.broadcast_arrays(d, n_r, n_c)
    with np.errstate(invalid="ignore", divide="ignore"):
        effective = np.round(n_r * n_c / (n_r + n_c))
    p = np.full(d.shape, np.nan)
    small = (effective >= 1) & (effective <= KS_KSTWO_MAX_N) & ~np.isnan(d)
    large = (effective > KS_KSTWO_MAX_N) & ~np.isnan(d)
    if small.any():
        p[small] = sps.kstwo.sf(d[small], effective[small])
    if large.any():
        root = np.sqrt(effective[large])
        p[large] = sps.kstwobign.sf((root + 0.12 + 0.11 / root) * d[large])
    p = np.clip(p, 0.0, 1.0)
    return float(p) if p.ndim == 0 else p


def wasserstein_normed(w1: float, reference_std: float) -> float:
    """Wasserstein-1 distance in units of the reference standard deviation.

    ``W1 / max(std_ref, 0.001)`` with ``std_ref`` the population standard deviation
    (``ddof=0``) of the reference: Evidently's ``wasserstein_distance_norm`` definition. It
    normalises by the reference only, so swapping the samples changes the value.

    Args:
        w1: Raw Wasserstein-1 distance.
        reference_std: Reference standard deviation (ddof=0).

    Returns:
        The normed distance.
    """
    return w1 / max(reference_std, WASSERSTEIN_STD_FLOOR)


def chi2_contingency_test(
    reference_counts: np.ndarray, current_counts: np.ndarray, scale: tuple[float, float] = (1, 1)
) -> tuple[float, float, int]:
    """Chi-square test of homogeneity on the 2 x k contingency table (reference, current).

    This is ``scipy.stats.chi2_contingency([reference_counts, current_counts])`` (with
    scipy's Yates continuity correction when there are exactly two categories), after
    dropping categories empty on both sides. Both samples are random, so the expected count
    of a cell is ``row_total * column_total / N``; with equal sizes and proportions
    ``p_i`` (reference), ``q_i`` (current) and pooled ``pi_i`` the statistic is
    ``n_r n_c / (n_r + n_c) * sum_i (p_i - q_i)^2 / pi_i``.

    Evidently's ``chisquare`` instead runs a goodness-of-fit test
    (``scipy.stats.chisquare(current, f_exp=reference * n_c / n_r)``) that treats the
    reference proportions as exact. It ignores the reference's own sampling noise, so its
    statistic is about doubled at equal sizes and grows further when the current sample is
    larger; at 200k rows it flags columns with no drift (p = 1.2e-4 in the drift notes). The
    contingency test is the correct two-sample test, as used by NannyML, alibi-detect and
    frouros.

    Args:
        reference_counts: Reference counts per category.
        current_counts: Current counts per category (same order).
        scale: Factors applied to the reference and current rows before the test (used to
            cap the effective sample size; counts may then be fractional).

    Returns:
        ``(statistic, p_value, degrees_of_freedom)``; ``(0.0, 1.0, 0)`` with fewer than two
        non-empty categories, NaNs when a side is empty.
    """
    table = np.vstack(
        (
            np.asarray(reference_counts, dtype=np.float64) * scale[0],
            np.asarray(current_counts, dtype=np.float64) * scale[1],
        )
    )
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] == 0 or table.sum(axis=1).min() <= 0:
        return math.nan, math.nan, 0
    if table.shape[1] < 2:
        return 0.0, 1.0, 0
    result = sps.chi2_contingency(table)
    return float(result.statistic), float(result.pvalue), int(result.dof)


def missing_share_test(
    reference: tuple[int, int], current: tuple[int, int], scale: tuple[float, float] = (1, 1)
) -> tuple[float, float]:
    """Rise of the missing share, and the one-sided two-sample test of that rise.

    With ``(missing, rows)`` per side, the value is ``m_c / n_c - m_r / n_r``: share points
    (0.25 = 25 percentage points more missing values now), negative when the share fell. The
    p-value is Fisher's exact test of the 2 x 2 table ``[[m_c, n_c - m_c], [m_r, n_r - m_r]]``
    with ``alternative="greater"`` (``scipy.stats.fisher_exact``): the probability of at
    least this many current missing values if both sides had the same missing rate. It is a
    two-sample test, so the reference's own sampling noise counts (like the contingency
    chi-square; a binomial test against the reference share taken as exact gives p = 0 for a
    single missing value whenever the reference had none, however small it was), and it is
    exact at any count.

    Args:
        reference: ``(missing, rows)`` of the reference.
        current: ``(missing, rows)`` of the current data.
        scale: Factors applied to the reference and current counts before the test (to cap
            the effective sample size, as in :func:`chi2_contingency_test`); scaled counts
            are rounded to whole rows.

    Returns:
        ``(rise, p_value)``; NaNs when a side has no rows.
    """
    (m_r, n_r), (m_c, n_c) = reference, current
    if n_r <= 0 or n_c <= 0:
        return math.nan, math.nan
    rise = m_c / n_c - m_r / n_r
    rows = np.array([[m_c, n_c - m_c], [m_r, n_r - m_r]], dtype=np.float64)
    table = np.rint(rows * np.array([[scale[1]], [scale[0]]])).astype(np.int64)
    p_value = sps.fisher_exact(table, alternative="greater").pvalue
    return float(rise), float(p_value)


def adjust_pvalues(p_values: np.ndarray, method: str) -> np.ndarray:
    """Multiple-testing adjusted p-values (NaNs are left out of the family and kept).

    Args:
        p_values: Raw p-values, one per test.
        method: ``bonferroni`` (``min(1, m p)``), ``fdr_bh`` (Benjamini-Hochberg, via
            ``scipy.stats.false_discovery_control``) or ``none``.

    Returns:
        Adjusted p-values, same shape; compare them with ``alpha``.

    Raises:
        ValueError: Unknown ``method``.
    """
    p = np.asarray(p_values, dtype=np.float64)
    out = p.copy()
    valid = ~np.isnan(p)
    m = int(valid.sum())
    if m == 0 or method == "none":
        return out
    if method == "bonferroni":
        out[valid] = np.minimum(1.0, p[valid] * m)
    elif method == "fdr_bh":
        out[valid] = sps.false_discovery_control(p[valid], method="bh")
    else:
        raise ValueError(f"unknown correction {method!r}: use bonferroni, fdr_bh or none")
    return out
