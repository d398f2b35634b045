"""Drift of vector (embedding) columns: random-feature MMD² and a domain classifier.

Both work on uniform samples of at most ``sample_size`` rows per side (the reference sample
is stored in the baseline profile), so their cost does not grow with the window size beyond
one sampling pass. Neither builds a pairwise kernel matrix nor runs t-SNE.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps


def embedding_matrix(
    frame: pd.DataFrame, name: str, source_columns: Sequence[str] | None
) -> tuple[np.ndarray, int]:
    """Rows of an embedding as a 2-D float array, without rows that have missing values.

    Args:
        frame: The data.
        name: The embedding's name: a column whose cells are equal-length float arrays
            (lists, NumPy arrays, or a pyarrow list column), unless ``source_columns`` is set.
        source_columns: Numeric columns that form the vector, in order (an exploded
            embedding), or None.

    Returns:
        ``(matrix, n_missing)``: a ``(rows, dim)`` float64 array of the complete rows and the
        number of rows left out (null cell, NaN component).

    Raises:
        ValueError: Cells of different lengths, or values that are not numbers; the message
            names the column.
    """
    if source_columns:
        matrix = frame[list(source_columns)].to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        series = frame[name]
        matrix = _cells_to_matrix(series, name)
    if matrix.ndim != 2:
        raise ValueError(f"embedding column {name!r}: expected vectors, got shape {matrix.shape}")
    if matrix.shape[1] == 0:  # no vector at all: every row is missing
        return np.empty((0, 0)), len(matrix)
    complete = np.isfinite(matrix).all(axis=1)
    n_missing = int(len(matrix) - complete.sum())
    if n_missing:
        matrix = matrix[complete]
    return matrix, n_missing


def _cells_to_matrix(series: pd.Series, name: str) -> np.ndarray:
    dtype = series.dtype
    if isinstance(dtype, pd.ArrowDtype):
        import pyarrow as pa

        array = series.array.__arrow_array__()
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        is_list = pa.types.is_list(array.type) or pa.types.is_large_list(array.type)
        if is_list and array.null_count == 0:
            lengths = np.asarray(array.value_lengths())
            if len(lengths) and (lengths == lengths[0]).all():
                flat = np.asarray(array.flatten().to_numpy(zero_copy_only=False), dtype=float)
                return flat.reshape(len(array), int(lengths[0]))
        if pa.types.is_fixed_size_list(array.type) and array.null_count == 0:
            flat = np.asarray(array.flatten().to_numpy(zero_copy_only=False), dtype=float)
            return flat.reshape(len(array), array.type.list_size)
    cells = series.to_numpy(dtype=object)
    if len(cells) == 0:
        return np.empty((0, 0))
    try:  # fast path: every cell is a 1-D vector of the same length
        lengths = np.fromiter(map(len, cells), dtype=np.int64, count=len(cells))
        if (lengths == lengths[0]).all():
            flat = np.concatenate(cells).astype(np.float64, copy=False)
            if flat.ndim == 1 and len(flat) == len(cells) * lengths[0]:
                return flat.reshape(len(cells), int(lengths[0]))
    except (TypeError, ValueError):
        pass  # missing cells or scalars: the careful path below
    lengths = [(-1 if _is_missing_cell(c) else len(c)) for c in cells]
    dims = {d for d in lengths if d >= 0}
    if len(dims) > 1:
        raise ValueError(
            f"embedding column {name!r}: vectors have different lengths {sorted(dims)[:5]}"
        )
    if not dims:
        return np.full((len(cells), 0), np.nan)
    dim = dims.pop()
    matrix = np.full((len(cells), dim), np.nan)
    present = np.array([d >= 0 for d in lengths])
    try:
        matrix[present] = np.stack([np.asarray(c, dtype=np.float64) for c in cells[present]])
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"embedding column {name!r}: cells are not numeric vectors: {exc}"
        ) from None
    return matrix


def _is_missing_cell(cell: object) -> bool:
    if cell is None:
        return True
    if isinstance(cell, float) and math.isnan(cell):
        return True
    return not hasattr(cell, "__len__")


class RowSampler:
    """A uniform sample without replacement of up to ``size`` rows from a stream of batches.

    Every row gets a random key (drawn in stream order from one seeded generator) and the
    rows with the ``size`` smallest keys are kept, so memory is bounded by one batch plus the
    sample, and feeding the same rows in one batch or in many yields the same sample.
    """

    def __init__(self, size: int, seed: int):
        self.size = size
        self._rng = np.random.default_rng(seed)
        self._keys = np.empty(0)
        self._rows: np.ndarray | None = None
        self.n_seen = 0

    def add(self, rows: np.ndarray) -> None:
        """Offer a batch of rows (2-D array); only the kept rows are copied."""
        keys = self._rng.random(len(rows))
        self.n_seen += len(rows)
        if self._rows is None:
            self._rows = np.empty((0, rows.shape[1]), dtype=np.float64)
        elif rows.shape[1] != self._rows.shape[1]:
            raise ValueError(
                f"vectors of dimension {rows.shape[1]} after {self._rows.shape[1]} in a stream"
            )
        n_kept = len(self._keys)
        all_keys = np.concatenate((self._keys, keys))
        if len(all_keys) > self.size:
            chosen = np.sort(np.argpartition(all_keys, self.size - 1)[: self.size])
        else:
            chosen = np.arange(len(all_keys))
        from_kept = chosen[chosen < n_kept]
        from_batch = chosen[chosen >= n_kept] - n_kept
        self._rows = np.concatenate((self._rows[from_kept], rows[from_batch]))
        self._keys = np.concatenate((self._keys[from_kept], keys[from_batch]))

    def sample(self) -> np.ndarray:
        """The sampled rows, in key order (deterministic for a given seed and stream)."""
        if self._rows is None:
            return np.empty((0, 0))
        order = np.argsort(self._keys, kind="stable")
        return self._rows[order]


def median_bandwidth(reference_sample: np.ndarray, max_rows: int = 1000) -> float:
    """Median heuristic: the median Euclidean distance between reference rows.

    Args:
        reference_sample: ``(n, d)`` reference rows.
        max_rows: Use at most this many (the first ones; the sample is already random).

    Returns:
        The bandwidth ``sigma`` of the Gaussian kernel ``exp(-|x - y|^2 / (2 sigma^2))``;
        1.0 when all rows are equal.
    """
    rows = reference_sample[:max_rows]
    if len(rows) < 2:
        return 1.0
    squared = np.sum(rows**2, axis=1)
    d2 = squared[:, None] + squared[None, :] - 2.0 * rows @ rows.T
    upper = d2[np.triu_indices(len(rows), k=1)]
    median = float(np.sqrt(max(np.median(upper), 0.0)))
    return median if median > 0 else 1.0


@dataclass(frozen=True)
class MmdResult:
    """Unbiased MMD² with random Fourier features and its permutation p-value."""

    mmd2: float
    p_value: float
    bandwidth: float


def mmd_rff(
    reference: np.ndarray,
    current: np.ndarray,
    bandwidth: float,
    n_features: int = 1024,
    permutations: int = 200,
    seed: int = 0,
) -> MmdResult:
    """Squared maximum mean discrepancy with random Fourier features, and a permutation test.

    The Gaussian kernel ``k(x, y) = exp(-|x - y|^2 / (2 sigma^2))`` is approximated by
    ``phi(x) . phi(y)`` with ``phi(x) = sqrt(2/D) [cos(W x), sin(W x)]``, ``W`` having
    ``D/2`` rows drawn from ``N(0, sigma^-2 I)`` (Rahimi & Recht), so ``|phi(x)| = 1``. With
    ``mu_r``, ``mu_c`` the mean features of the ``n`` reference and ``m`` current rows, the
    unbiased estimate (pairs of a row with itself left out) is
    ``MMD² = (n |mu_r|^2 - 1)/(n - 1) + (m |mu_c|^2 - 1)/(m - 1) - 2 mu_r . mu_c``,
    which is about 0 under no drift at any sample size and costs O((n + m) d D): linear in
    the number of rows. The p-value is ``(1 + #{permuted >= observed}) / (1 + permutations)``
    over random re-splits of the pooled rows.

    Args:
        reference: ``(n, d)`` reference rows, ``n >= 2``.
        current: ``(m, d)`` current rows, ``m >= 2``.
        bandwidth: Kernel bandwidth ``sigma`` (see :func:`median_bandwidth`).
        n_features: ``D``, even.
        permutations: Number of permutations.
        seed: Seed of the features and permutations.

    Returns:
        The estimate, its p-value and the bandwidth.
    """
    n, m = len(reference), len(current)
    if n < 2 or m < 2:
        return MmdResult(math.nan, math.nan, bandwidth)
    rng = np.random.default_rng(seed)
    dim = reference.shape[1]
    weights = (rng.standard_normal((dim, n_features // 2)) / bandwidth).astype(np.float32)
    pooled = np.concatenate((reference, current)).astype(np.float32)
    projection = pooled @ weights
    scale = np.float32(math.sqrt(2.0 / n_features))
    features = np.concatenate((np.cos(projection), np.sin(projection)), axis=1) * scale
    del projection
    total = features.sum(axis=0, dtype=np.float64)

    def statistic(sum_reference: np.ndarray) -> np.ndarray:
        mu_r = sum_reference / n
        mu_c = (total - sum_reference) / m
        return (
            (n * np.sum(mu_r**2, axis=-1) - 1) / (n - 1)
            + (m * np.sum(mu_c**2, axis=-1) - 1) / (m - 1)
            - 2 * np.sum(mu_r * mu_c, axis=-1)
        )

    observed = float(statistic(features[:n].sum(axis=0, dtype=np.float64)))
    exceed = 0
    batch = max(1, min(permutations, (64 << 20) // (4 * (n + m))))  # <= 64 MB of selections
    for start in range(0, permutations, batch):
        count = min(batch, permutations - start)
        selection = np.zeros((count, n + m), dtype=np.float32)
        for row in range(count):
            selection[row, rng.permutation(n + m)[:n]] = 1.0
        sums = (selection @ features).astype(np.float64)
        exceed += int(np.sum(statistic(sums) >= observed))
    p_value = (1 + exceed) / (1 + permutations)
    return MmdResult(observed, p_value, bandwidth)


@dataclass(frozen=True)
class ClassifierResult:
    """Cross-validated ROC AUC of a reference-vs-current classifier."""

    auc: float
    p_value: float


def classifier_auc(
    reference: np.ndarray, current: np.ndarray, folds: int = 5, seed: int = 0
) -> ClassifierResult:
    """Domain classifier: how well a logistic regression tells current rows from reference.

    Standardised features and ``LogisticRegression`` (L2, C=1, balanced class weights) in
    stratified ``folds``-fold cross-validation. In each fold, one model trained without the
    held-out rows scores them, and its AUC (current = positive) is the Mann-Whitney
    ``U / (n_k m_k)``; the reported AUC is the mean over folds, 0.5 in expectation when the
    samples are indistinguishable. The p-value is ``min(1, 2 * median)`` of the per-fold
    one-sided Mann-Whitney p-values, which is valid under any dependence between folds
    (Rüschendorf 1982, Meng 1993); measured conservative (0 of 80 no-drift windows below
    0.05). Pooling out-of-fold scores of different fold models into one test, as
    ``cross_val_predict`` + one AUC would, is not valid: measured 12-17% of p-values below
    0.05 under no drift.

    Args:
        reference: ``(n, d)`` reference rows.
        current: ``(m, d)`` current rows.
        folds: Cross-validation folds (reduced when a side has fewer rows).
        seed: Seed of the fold split.

    Returns:
        AUC and p-value (NaN when a side has fewer than 2 rows).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    n, m = len(reference), len(current)
    folds = min(folds, n, m)
    if folds < 2:
        return ClassifierResult(math.nan, math.nan)
    features = np.concatenate((reference, current))
    labels = np.concatenate((np.zeros(n, dtype=np.int8), np.ones(m, dtype=np.int8)))
    split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    aucs: list[float] = []
    p_values: list[float] = []
    for train, test in split.split(features, labels):
        model = make_pipeline(
            StandardScaler(), LogisticRegression(max_iter=500, class_weight="balanced")
        )
        model.fit(features[train], labels[train])
        scores = model.decision_function(features[test])
        held_out = labels[test] == 1
        result = sps.mannwhitneyu(scores[held_out], scores[~held_out], alternative="greater")
        aucs.append(float(result.statistic) / (held_out.sum() * (~held_out).sum()))
        p_values.append(float(result.pvalue))
    return ClassifierResult(float(np.mean(aucs)), min(1.0, 2.0 * float(np.median(p_values))))
