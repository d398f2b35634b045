"""A compact, mergeable summary of a numeric sample on fixed knots, for KS and Wasserstein.

The reference fixes ``K`` knots ``x_0 < ... < x_{K-1}``: its values at ``sketch_size + 1``
evenly spaced ranks (so each gap holds about ``1/sketch_size`` of the reference, and the
minimum and maximum are knots), plus the PSI and histogram edges; when the reference has at
most ``sketch_size`` distinct values, the knots are exactly those values. A sample is then
summarised by, for each knot, the count of values equal to it (*atoms*) and, for each of the
``K + 1`` open intervals ``(-inf, x_0), (x_0, x_1), ..., (x_{K-1}, +inf)``, the count of values
inside and the sum of their *gaps* (distance to the interval's right knot; for the last,
unbounded interval, distance to ``x_{K-1}``).

From these, for any sample on the same knots:

* the empirical CDF is exact at every knot, just before and at it (``F(x_k-)``, ``F(x_k)``);
* the integral of the CDF over every interval is exact:
  ``int_(x_{k-1}, x_k) F = F(x_{k-1}) * (x_k - x_{k-1}) + gaps_k / n``; beyond the ends
  ``int_(-inf, x_0) F = gaps_0 / n`` and ``int_(x_{K-1}, inf) (1 - F) = gaps_K / n``.

So the Wasserstein-1 distance ``sum_k |int_k (F_r - F_c)|`` is exact except inside intervals
where ``F_r - F_c`` changes sign, and KS ``D`` is exact at the knots. Each comparison returns
a rigorous bound on the error (``D <= D_true <= D + ks_bound`` and
``W <= W_true <= W + w_bound``). The KS bound is the largest reference mass of one interval
(about ``1 / sketch_size``: 4.9e-4 at the default 2,048). Measured on 100k-row samples of
eight shapes (mean and scale shifts, lognormal, no drift, values near 1e6, discrete with a
new value, zero-inflated, current partly outside the reference range): the largest
|error| was 1.4e-4 for KS D and 4.5e-5 reference standard deviations for W1 at 2,048 knots
(1.6e-4 and 5.2e-5 at 1,024; 5e-5 and 3.9e-5 at 4,096); see
``tests/drift/test_drift_sketch.py``. NannyML's 10,000 equal-width bins give about 1e-4.
Counts are integers, so PSI/JS/KL/chi-square computed from sketches are exact, and sketches
of chunks add up to the sketch of their concatenation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def choose_knots(
    sorted_reference: np.ndarray, sketch_size: int, extra: np.ndarray | None = None
) -> tuple[np.ndarray, bool]:
    """Knots for a reference sample.

    Args:
        sorted_reference: Finite reference values, sorted ascending, non-empty.
        sketch_size: Number of rank gaps (the sketch has about this many knots).
        extra: Values that must be knots as well (PSI and histogram edges).

    Returns:
        ``(knots, exact)``: strictly increasing knots, and whether they are all the distinct
        reference values (then the reference is represented exactly).
    """
    n = len(sorted_reference)
    n_distinct = int(np.count_nonzero(np.diff(sorted_reference))) + 1
    if n_distinct <= sketch_size:
        knots = np.unique(sorted_reference)
        exact = True
    else:
        ranks = np.unique(np.round(np.linspace(0, n - 1, sketch_size + 1)).astype(np.int64))
        knots = np.unique(sorted_reference[ranks])
        exact = False
    if extra is not None and len(extra):
        knots = np.union1d(knots, extra)
    return knots, exact


@dataclass
class NumericSketch:
    """Counts and gap sums of one sample on fixed knots (see the module docstring).

    Attributes:
        atom_counts: ``(K,)`` values equal to each knot.
        interval_counts: ``(K + 1,)`` values strictly inside each interval.
        interval_gaps: ``(K + 1,)`` sum over those values of their distance to the interval's
            right knot (``x_{K-1}`` for the last interval, measured upwards).
    """

    atom_counts: np.ndarray
    interval_counts: np.ndarray
    interval_gaps: np.ndarray

    @property
    def n(self) -> int:
        """Number of values summarised."""
        return int(self.atom_counts.sum() + self.interval_counts.sum())

    @classmethod
    def empty(cls, n_knots: int) -> NumericSketch:
        """An all-zero sketch for ``n_knots`` knots."""
        return cls(
            np.zeros(n_knots, dtype=np.int64),
            np.zeros(n_knots + 1, dtype=np.int64),
            np.zeros(n_knots + 1, dtype=np.float64),
        )

    def add(self, other: NumericSketch) -> None:
        """Add another sketch on the same knots in place (chunk merging)."""
        self.atom_counts += other.atom_counts
        self.interval_counts += other.interval_counts
        self.interval_gaps += other.interval_gaps

    def cumulative(self) -> tuple[np.ndarray, np.ndarray]:
        """Counts strictly below and at-or-below each knot: ``(n F(x_k-), n F(x_k))``."""
        below = np.cumsum(self.interval_counts[:-1])
        below[1:] += np.cumsum(self.atom_counts[:-1])
        return below, below + self.atom_counts

    def counts_at_or_below(self, knots: np.ndarray, edges: np.ndarray) -> np.ndarray:
        """Counts of values ``<= e`` for edges that are knots."""
        index = np.searchsorted(knots, edges)
        _, at_or_below = self.cumulative()
        return at_or_below[index]

    def bin_counts(self, knots: np.ndarray, edges: np.ndarray) -> np.ndarray:
        """Counts in right-closed bins ``(-inf, e_1], ..., (e_last, inf)``; edges are knots."""
        cumulative = self.counts_at_or_below(knots, edges)
        return np.diff(np.concatenate(([0], cumulative, [self.n])))


def sketch_sorted(sorted_values: np.ndarray, knots: np.ndarray) -> NumericSketch:
    """Summarise sorted finite values on ``knots``.

    Args:
        sorted_values: Finite values, sorted ascending (may be empty).
        knots: Strictly increasing knots.

    Returns:
        The sketch.
    """
    n = len(sorted_values)
    n_knots = len(knots)
    if n == 0:
        return NumericSketch.empty(n_knots)
    below = np.searchsorted(sorted_values, knots, side="left")
    at_or_below = np.searchsorted(sorted_values, knots, side="right")
    atom_counts = (at_or_below - below).astype(np.int64)
    interval_counts = (np.append(below, n) - np.insert(at_or_below, 0, 0)).astype(np.int64)
    # The sorted values fall in segments I_0, A_0, I_1, A_1, ..., A_{K-1}, I_K (intervals and
    # atoms); one reduceat over the non-empty segment starts gives every segment's sum.
    # gap_k = c_k * anchor_k - sum_k, anchor = right knot (x_{K-1} for I_K, sign flipped). The
    # relative rounding error is about 1e-16 * |x| / (knot gap): negligible unless values are
    # ~1e9 times larger than the gaps between neighbouring knots.
    lengths = np.empty(2 * n_knots + 1, dtype=np.int64)
    lengths[0::2] = interval_counts
    lengths[1::2] = atom_counts
    nonempty = lengths > 0
    per_segment = np.zeros(2 * n_knots + 1, dtype=np.float64)
    per_segment[nonempty] = np.add.reduceat(sorted_values, (np.cumsum(lengths) - lengths)[nonempty])
    anchors = np.append(knots, knots[-1])
    gaps = interval_counts * anchors - per_segment[0::2]
    gaps[-1] = -gaps[-1]
    np.maximum(gaps, 0.0, out=gaps)
    return NumericSketch(atom_counts, interval_counts, gaps)


@dataclass(frozen=True)
class SketchComparison:
    """KS and Wasserstein-1 estimated from two sketches, with rigorous error bounds.

    Attributes:
        ks: Largest |F_r - F_c| at the knots (a lower bound of the true D).
        ks_error_bound: The true D is at most ``ks + ks_error_bound``.
        wasserstein: Sum of per-interval |integral(F_r - F_c)| (a lower bound of the true W1).
        wasserstein_error_bound: The true W1 is at most ``wasserstein + bound``.
    """

    ks: float
    ks_error_bound: float
    wasserstein: float
    wasserstein_error_bound: float


def compare_sketches(
    reference: NumericSketch, current: NumericSketch, knots: np.ndarray
) -> SketchComparison:
    """KS D and Wasserstein-1 between two samples from their sketches on the same knots.

    Args:
        reference: Sketch of the reference.
        current: Sketch of the current sample.
        knots: The shared knots.

    Returns:
        Estimates and error bounds (NaN when a side is empty).
    """
    n_r, n_c = reference.n, current.n
    if n_r == 0 or n_c == 0:
        nan = float("nan")
        return SketchComparison(nan, nan, nan, nan)
    below_r, at_r = reference.cumulative()
    below_c, at_c = current.cumulative()
    diff_below = below_r / n_r - below_c / n_c
    diff_at = at_r / n_r - at_c / n_c
    ks = float(max(np.abs(diff_below).max(), np.abs(diff_at).max()))

    width = np.diff(knots)
    # Interior intervals k = 1..K-1: integral of F over (x_{k-1}, x_k).
    integral_r = at_r[:-1] / n_r * width + reference.interval_gaps[1:-1] / n_r
    integral_c = at_c[:-1] / n_c * width + current.interval_gaps[1:-1] / n_c
    inner = integral_r - integral_c
    below_tail = reference.interval_gaps[0] / n_r - current.interval_gaps[0] / n_c
    above_tail = current.interval_gaps[-1] / n_c - reference.interval_gaps[-1] / n_r
    wasserstein = float(np.abs(inner).sum() + abs(below_tail) + abs(above_tail))

    # Error bounds. Inside interval k the reference CDF rises by dr, the current by dc; the
    # difference f = F_r - F_c starts at f_left (just after x_{k-1}) and ends at f_right
    # (just before x_k), so f <= min(f_left + dr, f_right + dc) and
    # f >= max(f_left - dc, f_right - dr).
    dr = reference.interval_counts[1:-1] / n_r
    dc = current.interval_counts[1:-1] / n_c
    f_left = diff_at[:-1]
    f_right = diff_below[1:]
    ks_bound = float(np.minimum(dr, dc).max(initial=0.0))
    upper = np.maximum(np.minimum(f_left + dr, f_right + dc), 0.0)
    lower = np.maximum(-np.maximum(f_left - dc, f_right - dr), 0.0)
    # |int f| misses 2 * min(int f+, int f-) <= 2 * width * min(max f+, max f-).
    w_bound = float(np.sum(2.0 * width * np.minimum(upper, lower)))
    # Tails: the reference has no mass beyond its own min/max knots unless knots were
    # extended; a sign change there is bounded by the smaller side's tail integral.
    w_bound += 2.0 * min(reference.interval_gaps[0] / n_r, current.interval_gaps[0] / n_c)
    w_bound += 2.0 * min(reference.interval_gaps[-1] / n_r, current.interval_gaps[-1] / n_c)
    return SketchComparison(ks, ks_bound, wasserstein, w_bound)
