"""The knot sketch: KS and Wasserstein within the documented error, mergeable chunks."""

import numpy as np
import pytest

from retrainer.drift import stats
from retrainer.drift.sketch import (
    NumericSketch,
    choose_knots,
    compare_sketches,
    sketch_sorted,
)

N = 100_000


def _pairs() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(11)
    zero_inflated = lambda share: np.where(rng.random(N) < share, 0.0, rng.exponential(size=N))  # noqa: E731
    return {
        "mean shift": (rng.normal(size=N), rng.normal(0.25, 1, N)),
        "scale": (rng.normal(size=N), rng.normal(0, 1.3, N)),
        "lognormal": (rng.lognormal(0, 0.5, N), rng.lognormal(0, 0.6, N)),
        "no drift": (rng.normal(size=N), rng.normal(size=N)),
        "large offset": (1e6 + rng.normal(size=N), 1e6 + rng.normal(0.1, 1, N)),
        "discrete with new value": (
            rng.choice([12.0, 24.0, 36.0], N, p=[0.3, 0.5, 0.2]),
            rng.choice([12.0, 24.0, 36.0, 48.0], N, p=[0.3, 0.4, 0.2, 0.1]),
        ),
        "zero inflated": (zero_inflated(0.3), zero_inflated(0.35)),
        "outside reference range": (rng.uniform(0, 1, N), rng.uniform(0.5, 1.5, N)),
    }


@pytest.mark.parametrize("case", list(_pairs()))
def test_sketch_ks_and_wasserstein_within_documented_error(case):
    # given a reference and a current sample
    reference, current = _pairs()[case]
    reference, current = np.sort(reference), np.sort(current)
    exact_d, exact_w = stats.ks_wasserstein_sorted(reference, current)

    # when both are summarised on the reference's default 2,048-gap knots
    knots, _ = choose_knots(reference, 2048, stats.quantile_edges(reference))
    estimate = compare_sketches(
        sketch_sorted(reference, knots), sketch_sorted(current, knots), knots
    )

    # then the estimates are within the documented 2e-4 (KS) and 1e-4 reference sd (W1)
    sd = reference.std()
    assert abs(estimate.ks - exact_d) <= 2e-4
    assert abs(estimate.wasserstein - exact_w) / sd <= 1e-4
    assert estimate.ks_error_bound <= 1 / 2048 + 1e-4
    # and the reported bounds hold: estimate <= exact <= estimate + bound
    assert estimate.ks <= exact_d + 1e-12 <= estimate.ks + estimate.ks_error_bound + 2e-12
    slack = 1e-9 * sd
    assert estimate.wasserstein - slack <= exact_w
    assert exact_w <= estimate.wasserstein + estimate.wasserstein_error_bound + slack


def test_discrete_reference_is_represented_exactly():
    # given a reference with fewer distinct values than the sketch size
    rng = np.random.default_rng(2)
    reference = np.sort(rng.integers(0, 50, 10_000).astype(float))
    current = np.sort(rng.integers(0, 50, 8_000).astype(float) + 0.0)

    knots, exact = choose_knots(reference, 2048)
    estimate = compare_sketches(
        sketch_sorted(reference, knots), sketch_sorted(current, knots), knots
    )

    # then the knots are the distinct values and KS/W1 are exact with zero error bounds
    assert exact
    assert len(knots) == 50
    d, w1 = stats.ks_wasserstein_sorted(reference, current)
    assert estimate.ks == pytest.approx(d, abs=1e-12)
    assert estimate.wasserstein == pytest.approx(w1, abs=1e-12)
    assert estimate.ks_error_bound == 0
    assert estimate.wasserstein_error_bound == 0


def test_chunk_sketches_add_up_to_the_whole():
    # given a sample cut into chunks
    rng = np.random.default_rng(3)
    reference = np.sort(rng.normal(size=20_000))
    knots, _ = choose_knots(reference, 512)
    current = rng.normal(0.1, 1.1, 30_000)

    # when each chunk is sketched and added
    merged = NumericSketch.empty(len(knots))
    for chunk in np.array_split(current, 7):
        merged.add(sketch_sorted(np.sort(chunk), knots))
    whole = sketch_sorted(np.sort(current), knots)

    # then counts are identical and gap sums equal up to rounding
    assert np.array_equal(merged.atom_counts, whole.atom_counts)
    assert np.array_equal(merged.interval_counts, whole.interval_counts)
    assert np.allclose(merged.interval_gaps, whole.interval_gaps, rtol=1e-12, atol=1e-9)
    assert merged.n == len(current)


def test_bin_counts_from_sketch_equal_direct_counts():
    rng = np.random.default_rng(4)
    reference = np.sort(rng.normal(size=5000))
    edges = stats.quantile_edges(reference)
    knots, _ = choose_knots(reference, 256, edges)
    current = np.sort(rng.normal(0.3, 1, 4000))

    sketch = sketch_sorted(current, knots)

    assert np.array_equal(sketch.bin_counts(knots, edges), stats.bin_counts(current, edges))
