"""The numpy/scipy floor: the same statistics as our report, computed as directly as possible.

Per numeric column, from one sort per side and one linear merge: PSI, JS (distance, base 2) and
KL on 10 reference-decile bins; KS D and W1 read off the same merged empirical CDFs (p-value
``kstwo.sf(D, round(en))``, as ``scipy.stats.ks_2samp`` does for large samples); W1 normalised
by the reference std (ddof 0, floored at 0.001, as Evidently). Per categorical column: level
counts on both sides, ``chi2_contingency`` on the 2×k table, PSI/JS/KL on the level proportions.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from _drift_bench.data import CATEGORICAL, NUMERIC
from _drift_bench.frames import read_frame
from _drift_bench.runners import Runner

EPS = 1e-4
DECILES = np.linspace(0.1, 0.9, 9)


def _binned_divergences(ref_props: np.ndarray, cur_props: np.ndarray) -> dict[str, float]:
    """PSI and KL (eps-clipped proportions) and the JS distance (base 2) of two histograms."""
    from scipy.spatial.distance import jensenshannon

    ref_eps = np.clip(ref_props, EPS, None)
    cur_eps = np.clip(cur_props, EPS, None)
    log_ratio = np.log(cur_eps / ref_eps)
    return {
        "psi": float(np.sum((cur_eps - ref_eps) * log_ratio)),
        "kl": float(np.sum(cur_eps * log_ratio)),
        "js": float(jensenshannon(ref_props, cur_props, base=2)),
    }


def numeric_stats(reference: np.ndarray, current: np.ndarray) -> dict[str, float]:
    """All numeric statistics of one column.

    Args:
        reference: Reference values (float64, no NaN).
        current: Current values (float64, no NaN).

    Returns:
        ``ks_d``, ``ks_p``, ``w1``, ``w1_norm``, ``psi``, ``js``, ``kl``.
    """
    from scipy.stats import kstwo

    ref_sorted = np.sort(reference)
    cur_sorted = np.sort(current)
    n_ref, n_cur = ref_sorted.size, cur_sorted.size

    # One merge of the two sorted runs (timsort: linear): the empirical CDFs at every merged
    # point are running counts of where the points came from. KS D is taken at the last point of
    # each run of ties (the right-continuous CDF); W1 = ∫|F_ref - F_cur| dx.
    merged = np.concatenate([ref_sorted, cur_sorted])
    order = np.argsort(merged, kind="stable")
    support = merged[order]
    from_reference = order < n_ref
    cdf_gap = np.cumsum(from_reference, dtype=np.int64) * (1.0 / n_ref)
    cdf_gap -= np.cumsum(~from_reference, dtype=np.int64) * (1.0 / n_cur)
    np.abs(cdf_gap, out=cdf_gap)
    steps = np.diff(support)
    w1 = float(np.dot(cdf_gap[:-1], steps))
    ks_d = float(cdf_gap[np.append(steps != 0, True)].max())
    big, small = max(n_ref, n_cur), min(n_ref, n_cur)
    ks_p = float(kstwo.sf(ks_d, np.round(big * small / (big + small))))

    # Reference deciles by linear interpolation on the sorted values (numpy's default method).
    position = DECILES * (n_ref - 1)
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, n_ref - 1)
    edges = ref_sorted[low] + (position - low) * (ref_sorted[high] - ref_sorted[low])
    ref_cuts = np.searchsorted(ref_sorted, edges, side="right")
    cur_cuts = np.searchsorted(cur_sorted, edges, side="right")
    ref_props = np.diff(np.concatenate([[0], ref_cuts, [n_ref]])) / n_ref
    cur_props = np.diff(np.concatenate([[0], cur_cuts, [n_cur]])) / n_cur

    return {
        "ks_d": ks_d,
        "ks_p": ks_p,
        "w1": w1,
        "w1_norm": w1 / max(float(np.std(reference)), 0.001),
        **_binned_divergences(ref_props, cur_props),
    }


def categorical_stats(reference: pd.Series, current: pd.Series) -> dict[str, float]:
    """χ² contingency test and PSI/JS/KL of one categorical column."""
    from scipy.stats import chi2_contingency

    ref_counts = reference.value_counts(sort=False)
    cur_counts = current.value_counts(sort=False)
    levels = ref_counts.index.union(cur_counts.index)
    table = np.vstack(
        [
            ref_counts.reindex(levels, fill_value=0).to_numpy(dtype=np.float64),
            cur_counts.reindex(levels, fill_value=0).to_numpy(dtype=np.float64),
        ]
    )
    chi2 = chi2_contingency(table)
    return {
        "chi2": float(chi2.statistic),
        "chi2_p": float(chi2.pvalue),
        **_binned_divergences(table[0] / table[0].sum(), table[1] / table[1].sum()),
    }


def floor_stats(reference: pd.DataFrame, current: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Statistics for every benchmark column, keyed by column name."""
    stats: dict[str, dict[str, float]] = {}
    for column in NUMERIC:
        stats[column] = numeric_stats(
            reference[column].to_numpy(dtype=np.float64), current[column].to_numpy(dtype=np.float64)
        )
    for column in CATEGORICAL:
        stats[column] = categorical_stats(reference[column], current[column])
    return stats


class NumpyFloor(Runner):
    """Bare numpy/scipy pass over the frames: the floor our library is held to."""

    def import_libraries(self) -> None:
        import scipy.spatial.distance
        import scipy.stats  # noqa: F401

    def load_inputs(self) -> None:
        self.reference = read_frame(self.args.reference)
        self.current = read_frame(self.args.current)

    def warm_up(self) -> None:
        rows = self.args.warmup_rows
        floor_stats(self.reference.iloc[:rows], self.current.iloc[:rows])

    def compute(self) -> Any:
        return floor_stats(self.reference, self.current)

    def extra(self, result: Any) -> dict[str, Any]:
        return {"stats": result}

    def versions(self) -> dict[str, str]:
        import scipy

        return {"numpy": np.__version__, "scipy": scipy.__version__, "pandas": pd.__version__}
