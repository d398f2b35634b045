"""The drift detector: profile a reference once, compare current windows against it.

Decision procedure (per comparison):

1. Every metric of the column's kind is computed (numeric: PSI, KS, W1 raw and normed, JS,
   KL of the finite values, and ``missing_share``, the rise of the share of missing values;
   categorical: PSI, chi-square, JS, KL, unseen share, missing values counted as their own
   category; embedding: MMD², classifier AUC).
2. Each column has one significance test: KS (numeric), chi-square (categorical), the
   domain classifier's fold-combined Mann-Whitney test (embedding). Their p-values are
   corrected across the columns of the check (``tests.correction``), optionally computed at
   a capped sample size (``tests.sample_size``). ``missing_share`` has its own test (a
   one-sided Fisher exact test of the missing counts), corrected the same way across the
   numeric columns as a second family.
3. A deciding distance flags drift when ``value >= drift threshold`` (warning likewise) and,
   with ``tests.guard_distances`` (default), the column's corrected p-value is below
   ``tests.alpha`` (``missing_share``: its own corrected p-value). A deciding test (``ks``,
   ``chi2``) flags drift when its corrected p-value is below ``alpha``. Other metrics are
   informational (``drifted = None``).
   With the guard and a correction (``bonferroni`` or ``fdr_bh``), the probability that a
   window with no drift at all has any column flagged by a distribution metric is at most
   ``alpha`` at every sample size (up to the accuracy of the asymptotic KS and chi-square
   p-values), and by ``missing_share`` at most ``alpha`` more; at large sizes every real
   effect passes the tests, so the thresholds decide.
4. A column drifts when any deciding distribution metric does (``column_rule: any``,
   default) or when all do (``all``), or when a deciding ``missing_share`` does; the data
   set drifts when any column does (``dataset.rule: any``) or when the share of drifted
   columns reaches ``dataset.drift_share``.
5. A column with values in the baseline but none in the current data (no finite value, all
   missing, no complete vector) has status ``no_data`` and counts as drift, as a warning or
   not at all (``no_data``). A baseline without values is a note: nothing can drift.

Prediction or score drift needs nothing special: declare a score column numeric, or a
predicted-label column categorical, and it is checked like a feature.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from retrainer.config.drift import MISSING_METRICS, TEST_METRICS, DriftSection
from retrainer.drift import stats
from retrainer.drift.embeddings import (
    RowSampler,
    classifier_auc,
    embedding_matrix,
    median_bandwidth,
    mmd_rff,
)
from retrainer.drift.profile import (
    BaselineProfile,
    CategoricalProfile,
    EmbeddingProfile,
    NumericProfile,
    category_key,
    finite_sorted,
    numeric_values,
)
from retrainer.drift.report import (
    NO_DATA_EFFECT,
    NO_DATA_VERDICT,
    ColumnDrift,
    ColumnKind,
    DriftReport,
    Histogram,
    MetricResult,
)
from retrainer.drift.sketch import NumericSketch, compare_sketches, sketch_sorted

_MAX_UNSEEN_TRACKED = 10_000
_UNSEEN_REPORTED = 10
_HISTOGRAM_MAX_CATEGORIES = 50
_NUMERIC_DISTANCES = ("psi", "ks", "wasserstein", "wasserstein_norm", "js", "kl")
#: Metrics that report a p-value (NaN when the metric cannot be computed).
_WITH_P_VALUE = frozenset({"ks", "chi2", "mmd", "classifier_auc"})


class DriftDetector:
    """Detect drift of numeric, categorical and embedding columns against a baseline.

    Follows scikit-learn conventions: ``__init__`` stores parameters, :meth:`fit` learns
    ``profile_`` (and keeps ``reference_`` for exact KS/Wasserstein), and
    :meth:`from_profile` rebuilds a fitted detector from a saved :class:`BaselineProfile`.

    Args:
        numeric: Numeric columns (features, or a model's score column).
        categorical: Categorical columns (features, or a predicted-label column).
        embeddings: Vector columns: names of columns whose cells are equal-length float
            arrays, or a mapping ``{name: [component columns]}`` for an embedding stored as
            one numeric column per dimension.
        config: The ``drift:`` section; defaults to ``DriftSection()``.

    Attributes:
        profile_: The baseline profile (after :meth:`fit` or :meth:`from_profile`).
        reference_: The reference frame given to :meth:`fit` when ``binning.precision`` is
            ``exact`` (not copied; do not modify it), else None.

    Example:
        >>> detector = DriftDetector(numeric=["income"], categorical=["region"]).fit(ref)
        >>> detector.profile_.save("baseline.json")
        >>> report = detector.compare(current)
        >>> report.drifted, report.drifted_columns
    """

    def __init__(
        self,
        numeric: Sequence[str] = (),
        categorical: Sequence[str] = (),
        embeddings: Sequence[str] | Mapping[str, Sequence[str]] = (),
        config: DriftSection | None = None,
    ):
        self.numeric = numeric
        self.categorical = categorical
        self.embeddings = embeddings
        self.config = config

    # -- setup ----------------------------------------------------------------------------

    def _settings(self) -> DriftSection:
        return self.config if self.config is not None else DriftSection()

    def _embedding_sources(self) -> dict[str, list[str] | None]:
        if isinstance(self.embeddings, Mapping):
            return {name: list(cols) for name, cols in self.embeddings.items()}
        return {name: None for name in self.embeddings}

    def _declared(self) -> list[tuple[str, str]]:
        """(column, kind) pairs to check, ignored columns left out; validates the lists."""
        for kind, names in (("numeric", self.numeric), ("categorical", self.categorical)):
            if isinstance(names, str):
                raise TypeError(f"{kind} must be a list of column names, not the string {names!r}")
        declared = [(c, "numeric") for c in self.numeric]
        declared += [(c, "categorical") for c in self.categorical]
        declared += [(c, "embedding") for c in self._embedding_sources()]
        seen: dict[str, str] = {}
        for column, kind in declared:
            if column in seen:
                raise ValueError(f"column {column!r} is declared both {seen[column]} and {kind}")
            seen[column] = kind
        config = self._settings()
        checked = [(c, k) for c, k in declared if not config.is_ignored(c)]
        for column, kind in checked:
            config.decision_metrics_for(kind, column)  # raises on metrics of the wrong kind
        return checked

    def fit(self, reference: pd.DataFrame) -> DriftDetector:
        """Profile the reference data.

        Args:
            reference: The reference (training or baseline window) frame.

        Returns:
            self, with ``profile_`` (and ``reference_`` in exact mode) set.

        Raises:
            ValueError: No columns to check, a declared column missing from ``reference``, a
                numeric column that is not numeric, too many categories, bad embeddings.
        """
        config = self._settings()
        declared = self._declared()
        if not declared:
            raise ValueError("no columns to check: pass numeric, categorical or embeddings")
        sources = self._embedding_sources()
        _require_columns(reference, declared, sources, "reference data")
        binning, emb = config.binning, config.embedding
        columns: dict[str, NumericProfile | CategoricalProfile | EmbeddingProfile] = {}
        for column, kind in declared:
            if kind == "numeric":
                values = numeric_values(reference[column], column)
                columns[column], _ = NumericProfile.build(
                    values, binning.psi_bins, binning.sketch_size, binning.histogram_bins
                )
            elif kind == "categorical":
                columns[column] = CategoricalProfile.build(
                    reference[column], column, binning.max_categories
                )
            else:
                matrix, n_missing = embedding_matrix(reference, column, sources[column])
                sampler = RowSampler(emb.sample_size, emb.seed)
                if len(matrix):
                    sampler.add(matrix)
                # Stored as float32 (as in the saved profile), so a reloaded profile gives
                # bit-identical results.
                sample = sampler.sample().astype(np.float32)
                columns[column] = EmbeddingProfile(
                    n_rows=len(reference),
                    n_missing=n_missing,
                    dim=int(matrix.shape[1]) if matrix.ndim == 2 else 0,
                    sample=sample,
                    bandwidth=median_bandwidth(sample.astype(np.float64)),
                    source_columns=sources[column],
                )
        self.profile_ = BaselineProfile(
            columns=columns,
            n_rows=len(reference),
            settings={
                "psi_bins": binning.psi_bins,
                "sketch_size": binning.sketch_size,
                "histogram_bins": binning.histogram_bins,
                "embedding_sample_size": emb.sample_size,
                "seed": emb.seed,
            },
        )
        self.reference_ = reference if binning.precision == "exact" else None
        return self

    @classmethod
    def from_profile(
        cls, profile: BaselineProfile, config: DriftSection | None = None
    ) -> DriftDetector:
        """A fitted detector from a saved profile (KS/Wasserstein then come from the sketch).

        Binning is fixed by the profile: ``psi_bins``, ``sketch_size`` and
        ``histogram_bins`` in ``config`` do not change it.

        Args:
            profile: The baseline profile.
            config: The ``drift:`` section; defaults to ``DriftSection()``.

        Returns:
            A detector ready for :meth:`compare` and :meth:`compare_batches`.
        """
        sources = {
            name: profile.columns[name].source_columns  # type: ignore[union-attr]
            for name in profile.embeddings
        }
        embeddings: Sequence[str] | Mapping[str, Sequence[str]]
        if any(v for v in sources.values()):
            embeddings = {name: (cols or []) for name, cols in sources.items()}
        else:
            embeddings = list(sources)
        detector = cls(
            numeric=profile.numeric,
            categorical=profile.categorical,
            embeddings=embeddings,
            config=config,
        )
        detector._declared()
        detector.profile_ = profile
        detector.reference_ = None
        return detector

    def _check_fitted(self) -> BaselineProfile:
        profile = getattr(self, "profile_", None)
        if profile is None:
            raise RuntimeError("DriftDetector is not fitted: call fit() or from_profile() first")
        return profile

    def _checked_columns(self) -> list[tuple[str, str]]:
        profile = self._check_fitted()
        config = self._settings()
        return [
            (name, p.kind) for name, p in profile.columns.items() if not config.is_ignored(name)
        ]

    # -- comparisons ----------------------------------------------------------------------

    def compare(self, current: pd.DataFrame) -> DriftReport:
        """Compare an in-memory current window with the baseline.

        KS and Wasserstein are exact when the detector was fitted on a frame with
        ``binning.precision: exact``; otherwise they come from the profile sketch.

        Args:
            current: The current frame.

        Returns:
            The drift report.

        Raises:
            ValueError: A checked column is missing from ``current`` (the message names it)
                or has the wrong type.
            RuntimeError: The detector is not fitted.
        """
        columns = self._checked_columns()
        profile = self._check_fitted()
        sources = self._embedding_sources_from_profile(profile)
        _require_columns(current, columns, sources, "current data")
        accumulators = self._new_accumulators(columns)
        use_exact = self.reference_ is not None and self._settings().binning.precision == "exact"
        for column, kind in columns:
            accumulator = accumulators[column]
            if kind == "numeric":
                current_sorted = accumulator.add(numeric_values(current[column], column))
                if use_exact:
                    reference_sorted = finite_sorted(
                        numeric_values(self.reference_[column], column)
                    )
                    if len(reference_sorted) and len(current_sorted):
                        accumulator.exact = stats.ks_wasserstein_sorted(
                            reference_sorted, current_sorted
                        )
                    del reference_sorted
                del current_sorted
            else:
                accumulator.add_frame(current)
        return self._report(columns, accumulators, len(current))

    def compare_batches(self, batches: Iterable[pd.DataFrame]) -> DriftReport:
        """Compare a current window given as a stream of frames, with bounded memory.

        Each batch (e.g. one Parquet row group) is summarised and dropped: numeric columns
        into the profile's knot sketch, categorical columns into category counts, embeddings
        into a fixed-size uniform row sample. Memory is one batch plus the sketches. PSI, JS,
        KL and chi-square equal the in-memory results exactly; KS and Wasserstein come from
        the sketch (within the error bounds in each metric's ``details``); embedding results
        equal the in-memory ones when the rows arrive in the same order.

        Args:
            batches: Frames with the checked columns (at least one), or pyarrow
                ``RecordBatch``/``Table`` objects (converted one at a time), e.g.
                ``pyarrow.parquet.ParquetFile(path).iter_batches(batch_size=500_000)``.

        Returns:
            The drift report.

        Raises:
            ValueError: No batch, or a batch misses a checked column (the message names the
                column and the batch number).
        """
        stream = self.stream()
        for batch in batches:
            stream.add(batch)
        if stream.n_batches == 0:
            raise ValueError("compare_batches got no batches")
        return stream.report()

    def stream(self) -> DriftStream:
        """An open comparison fed batch by batch (:meth:`compare_batches` one call at a time).

        For callers that feed many comparisons from one pass over the data, e.g. one per
        segment: each gets its batches' rows through :meth:`DriftStream.add`, and
        :meth:`DriftStream.report` gives the same report ``compare_batches`` would.
        """
        return DriftStream(self)

    # -- internals ------------------------------------------------------------------------

    def _embedding_sources_from_profile(
        self, profile: BaselineProfile
    ) -> dict[str, list[str] | None]:
        return {
            name: profile.columns[name].source_columns  # type: ignore[union-attr]
            for name in profile.embeddings
        }

    def _new_accumulators(self, columns: list[tuple[str, str]]) -> dict[str, Any]:
        profile = self._check_fitted()
        config = self._settings()
        accumulators: dict[str, Any] = {}
        for column, kind in columns:
            column_profile = profile.columns[column]
            if kind == "numeric":
                accumulators[column] = _NumericAccumulator(column_profile)
            elif kind == "categorical":
                accumulators[column] = _CategoricalAccumulator(column, column_profile)
            else:
                accumulators[column] = _EmbeddingAccumulator(
                    column, column_profile, config.embedding.sample_size, config.embedding.seed
                )
        return accumulators

    def _report(
        self,
        columns: list[tuple[str, str]],
        accumulators: dict[str, Any],
        n_current: int,
    ) -> DriftReport:
        profile = self._check_fitted()
        config = self._settings()
        results: list[ColumnDrift] = []
        test_p: list[float] = []
        for column, kind in columns:
            statistics = _COLUMN_STATISTICS[kind]
            entry, p = statistics(column, profile.columns[column], accumulators[column], config)
            results.append(entry)
            test_p.append(p)
        adjusted = stats.adjust_pvalues(np.asarray(test_p, dtype=float), config.tests.correction)
        _adjust_missing_tests(results, config.tests.correction)
        for entry, p_adj in zip(results, adjusted, strict=True):
            _decide(entry, float(p_adj), config)
        n_drifted = sum(c.drifted for c in results)
        share = n_drifted / len(results) if results else 0.0
        rule = config.dataset.rule
        drifted = n_drifted > 0 if rule == "any" else share >= config.dataset.drift_share
        unused = sorted(set(config.columns) - set(profile.columns))
        settings: dict[str, Any] = {
            "alpha": config.tests.alpha,
            "correction": config.tests.correction,
            "guard_distances": config.tests.guard_distances,
            "test_sample_size": config.tests.sample_size,
            "js_base": config.binning.js_base,
            "epsilon": config.binning.epsilon,
            "no_data": config.no_data,
            **{f"profile_{k}": v for k, v in profile.settings.items()},
        }
        if unused:
            settings["unused_column_overrides"] = unused
        return DriftReport(
            columns=results,
            drifted=bool(drifted),
            drift_share=share,
            dataset_rule=rule,
            dataset_threshold=config.dataset.drift_share if rule == "share" else None,
            mode="exact"
            if any(getattr(a, "exact", None) for a in accumulators.values())
            else "sketch",
            n_reference=profile.n_rows,
            n_current=n_current,
            settings=settings,
        )


class DriftStream:
    """A comparison with a fitted detector's baseline, fed one batch at a time.

    Memory is the sketches (and the embedding samples), not the rows added.
    """

    def __init__(self, detector: DriftDetector):
        self.detector = detector
        self.columns = detector._checked_columns()
        profile = detector._check_fitted()
        self._sources = detector._embedding_sources_from_profile(profile)
        self._accumulators = detector._new_accumulators(self.columns)
        self.n_rows = 0
        self.n_batches = 0

    def add(self, batch: Any) -> None:
        """Summarise one frame (or pyarrow ``RecordBatch``/``Table``) into the comparison.

        Raises:
            ValueError: The batch misses a checked column (named, with the batch number).
        """
        self.n_batches += 1
        if not isinstance(batch, pd.DataFrame) and hasattr(batch, "to_pandas"):
            batch = batch.to_pandas()  # a pyarrow RecordBatch or Table
        _require_columns(batch, self.columns, self._sources, f"batch {self.n_batches}")
        for column, kind in self.columns:
            if kind == "numeric":
                self._accumulators[column].add(numeric_values(batch[column], column))
            else:
                self._accumulators[column].add_frame(batch)
        self.n_rows += len(batch)

    def report(self) -> DriftReport:
        """The drift report of every row added so far."""
        return self.detector._report(self.columns, self._accumulators, self.n_rows)


# ---------------------------------------------------------------------------------------------
# Accumulators: one per checked column, fed by one frame (compare) or many (compare_batches)
# ---------------------------------------------------------------------------------------------


class _NumericAccumulator:
    def __init__(self, profile: NumericProfile):
        self.knots = profile.knots
        self.sketch = NumericSketch.empty(len(profile.knots))
        self.n_rows = 0
        self.n_missing = 0
        self.exact: tuple[float, float] | None = None  # (KS D, W1) from the reference rows

    def add(self, values: np.ndarray) -> np.ndarray:
        current_sorted = finite_sorted(values)
        self.n_rows += len(values)
        self.n_missing += len(values) - len(current_sorted)
        if len(self.knots):
            self.sketch.add(sketch_sorted(current_sorted, self.knots))
        else:
            self.sketch.interval_counts[0] += len(current_sorted)
        return current_sorted


class _CategoricalAccumulator:
    def __init__(self, column: str, profile: CategoricalProfile):
        self.column = column
        self.index = pd.Index(profile.categories, dtype=object)
        self.counts = np.zeros(len(profile.categories), dtype=np.int64)
        self.n_rows = 0
        self.n_missing = 0
        self.unseen_total = 0
        self.unseen_counts: dict[Any, int] = {}

    def add_frame(self, frame: pd.DataFrame) -> None:
        series = frame[self.column]
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        counts = np.bincount(codes + 1, minlength=len(uniques) + 1)
        self.n_rows += len(series)
        self.n_missing += int(counts[0])
        counts = counts[1:]
        positions = self.index.get_indexer(pd.Index(uniques, dtype=object))
        unmatched = np.flatnonzero(positions < 0)
        if len(unmatched):
            # Categories stored as JSON scalars (e.g. str of a timestamp): retry converted.
            keys = [category_key(uniques[i]) for i in unmatched]
            positions[unmatched] = self.index.get_indexer(pd.Index(keys, dtype=object))
        known = positions >= 0
        np.add.at(self.counts, positions[known], counts[known])
        for i in np.flatnonzero(~known):
            count = int(counts[i])
            self.unseen_total += count
            key = category_key(uniques[i])
            if key in self.unseen_counts or len(self.unseen_counts) < _MAX_UNSEEN_TRACKED:
                self.unseen_counts[key] = self.unseen_counts.get(key, 0) + count


class _EmbeddingAccumulator:
    def __init__(self, column: str, profile: EmbeddingProfile, sample_size: int, seed: int):
        self.column = column
        self.source_columns = profile.source_columns
        self.dim = profile.dim
        # A different stream from the reference sample's (same seed would pick the same
        # row positions on both sides).
        self.sampler = RowSampler(sample_size, seed + 1)
        self.n_rows = 0
        self.n_missing = 0

    def add_frame(self, frame: pd.DataFrame) -> None:
        matrix, n_missing = embedding_matrix(frame, self.column, self.source_columns)
        self.n_rows += len(frame)
        self.n_missing += n_missing
        if len(matrix) == 0:
            return
        if self.dim and matrix.shape[1] != self.dim:
            raise ValueError(
                f"embedding column {self.column!r}: current vectors have dimension "
                f"{matrix.shape[1]}, the reference has {self.dim}"
            )
        self.sampler.add(matrix)


# ---------------------------------------------------------------------------------------------
# Column statistics
# ---------------------------------------------------------------------------------------------


def _capped(n: int, cap: int | None) -> int:
    return n if cap is None else min(n, cap)


def _cap_scale(n_reference: int, n_current: int, cap: int | None) -> tuple[float, float]:
    """Factors that bring each side's counts to the capped test sample size."""
    reference = _capped(n_reference, cap) / n_reference if n_reference else 1.0
    current = _capped(n_current, cap) / n_current if n_current else 1.0
    return reference, current


def _share(part: int, total: int) -> float:
    return part / total if total else 0.0


def _column_entry(
    column: str, kind: ColumnKind, profile: Any, accumulator: Any, **extra: Any
) -> ColumnDrift:
    """A column's result without metrics yet: row counts and null shares of both sides."""
    return ColumnDrift(
        column=column,
        kind=kind,
        n_reference=profile.n_rows,
        n_current=accumulator.n_rows,
        metrics={},
        null_share_reference=_share(profile.n_missing, profile.n_rows),
        null_share_current=_share(accumulator.n_missing, accumulator.n_rows),
        **extra,
    )


def _nan_metrics(names: Iterable[str]) -> dict[str, MetricResult]:
    """Metrics that cannot be computed (an empty side); tests get a NaN p-value too."""
    return {
        name: MetricResult(name, math.nan, p_value=math.nan if name in _WITH_P_VALUE else None)
        for name in names
    }


def _note_empty_side(entry: ColumnDrift, what: str, valid: tuple[int, int], policy: str) -> None:
    """Note a side without values: a baseline problem, or ``no_data`` in the current window.

    Args:
        entry: The column's result.
        what: What is missing, in words (``finite values``, ``complete vectors`` ...).
        valid: Usable values in the reference and in the current data.
        policy: ``drift.no_data``.
    """
    n_reference, n_current = valid
    if n_reference == 0:
        entry.notes.append(
            f"the baseline has no {what} in its {entry.n_reference} rows: nothing to compare "
            "with, so this column cannot drift; rebuild the baseline from data that has it"
        )
    elif n_current == 0:
        entry.no_data = True
        entry.notes.append(
            f"no {what} in the {entry.n_current} current rows: status no_data, "
            f"{NO_DATA_EFFECT[policy]} (drift.no_data: {policy})"
        )


def _missing_share(profile: Any, accumulator: Any, cap: int | None) -> MetricResult:
    """The rise of a column's missing share, with its one-sided test (raw p-value)."""
    reference = (profile.n_missing, profile.n_rows)
    current = (accumulator.n_missing, accumulator.n_rows)
    scale = _cap_scale(profile.n_rows, accumulator.n_rows, cap)
    rise, p_value = stats.missing_share_test(reference, current, scale)
    details = {
        "reference_share": _share(*reference),
        "current_share": _share(*current),
        "reference_missing": profile.n_missing,
        "current_missing": accumulator.n_missing,
        "test": "fisher_exact, one-sided",
    }
    return MetricResult("missing_share", rise, p_value=p_value, details=details)


def _ks_wasserstein(
    profile: NumericProfile, accumulator: _NumericAccumulator
) -> tuple[float, float, dict[str, Any], dict[str, Any]]:
    """KS D and W1 (exact when the accumulator has them, else from the sketches), with details."""
    if accumulator.exact is not None:
        ks, wasserstein = accumulator.exact
        return ks, wasserstein, {"approximate": False}, {"approximate": False}
    estimate = compare_sketches(profile.sketch, accumulator.sketch, profile.knots)
    ks_bound, w_bound = estimate.ks_error_bound, estimate.wasserstein_error_bound
    return (
        estimate.ks,
        estimate.wasserstein,
        {"approximate": ks_bound > 0, "error_bound": ks_bound},
        {"approximate": w_bound > 0, "error_bound": w_bound},
    )


def _numeric_distances(
    profile: NumericProfile, accumulator: _NumericAccumulator, config: DriftSection
) -> tuple[dict[str, MetricResult], float]:
    """PSI, KS, W1 (raw and normed), JS and KL of the finite values, and the KS p-value."""
    binning = config.binning
    base = 2.0 if binning.js_base == 2 else math.e
    n_ref, n_cur = profile.n_valid, accumulator.sketch.n
    reference_bins = profile.psi_counts
    current_bins = accumulator.sketch.bin_counts(profile.knots, profile.psi_edges)
    ks, wasserstein, ks_details, w_details = _ks_wasserstein(profile, accumulator)
    cap = config.tests.sample_size
    p_ks = float(stats.ks_pvalue(ks, _capped(n_ref, cap), _capped(n_cur, cap)))
    std = profile.std or 0.0
    norm_details = {**w_details, "reference_std": std}
    if "error_bound" in w_details:
        norm_details["error_bound"] = stats.wasserstein_normed(w_details["error_bound"], std)
    metrics = {
        "psi": MetricResult("psi", stats.psi(reference_bins, current_bins, binning.epsilon)),
        "ks": MetricResult("ks", ks, p_value=p_ks, details=ks_details),
        "wasserstein": MetricResult("wasserstein", wasserstein, details=w_details),
        "wasserstein_norm": MetricResult(
            "wasserstein_norm", stats.wasserstein_normed(wasserstein, std), details=norm_details
        ),
        "js": MetricResult("js", stats.js_distance(reference_bins, current_bins, base)),
        "kl": MetricResult(
            "kl", stats.kl_divergence(reference_bins, current_bins, binning.epsilon)
        ),
    }
    return metrics, p_ks


def _numeric_column(
    column: str, profile: NumericProfile, accumulator: _NumericAccumulator, config: DriftSection
) -> tuple[ColumnDrift, float]:
    n_ref, n_cur = profile.n_valid, accumulator.sketch.n
    entry = _column_entry(column, "numeric", profile, accumulator)
    _note_empty_side(entry, "finite values", (n_ref, n_cur), config.no_data)
    p_ks = math.nan
    if n_ref == 0 or n_cur == 0:
        entry.metrics = _nan_metrics(_NUMERIC_DISTANCES)
    else:
        entry.metrics, p_ks = _numeric_distances(profile, accumulator, config)
        hist_inner = profile.histogram_edges[1:-1]
        entry.histogram = Histogram(
            reference=(profile.histogram_counts / n_ref).tolist(),
            current=(accumulator.sketch.bin_counts(profile.knots, hist_inner) / n_cur).tolist(),
            edges=profile.histogram_edges.tolist(),
        )
        if any(entry.metrics[name].details["approximate"] for name in ("ks", "wasserstein")):
            entry.notes.append(
                "KS and Wasserstein estimated from the profile sketch (error bounds in details)"
            )
    entry.metrics["missing_share"] = _missing_share(profile, accumulator, config.tests.sample_size)
    return entry, p_ks


def _categorical_histogram(
    labels: list[str], reference: np.ndarray, current: np.ndarray, n_ref: int, n_cur: int
) -> Histogram:
    """Shares per category; beyond the plotted number of categories the rest is ``(other)``."""
    if len(labels) > _HISTOGRAM_MAX_CATEGORIES + 2:
        head = _HISTOGRAM_MAX_CATEGORIES
        tail_ref, tail_cur = reference[head:], current[head:]
        labels = [*labels[:head], "(other)"]
        reference = np.append(reference[:head], tail_ref.sum())
        current = np.append(current[:head], tail_cur.sum())
    return Histogram(
        reference=(reference / n_ref).tolist(), current=(current / n_cur).tolist(), labels=labels
    )


def _categorical_column(
    column: str,
    profile: CategoricalProfile,
    accumulator: _CategoricalAccumulator,
    config: DriftSection,
) -> tuple[ColumnDrift, float]:
    binning = config.binning
    base = 2.0 if binning.js_base == 2 else math.e
    labels = [str(c) for c in profile.categories] + ["(unseen)", "(missing)"]
    reference = np.concatenate((profile.counts, [0, profile.n_missing]))
    current = np.concatenate(
        (accumulator.counts, [accumulator.unseen_total, accumulator.n_missing])
    )
    keep = (reference + current) > 0
    reference, current = reference[keep], current[keep]
    labels = [label for label, k in zip(labels, keep, strict=True) if k]
    n_ref, n_cur = profile.n_rows, accumulator.n_rows
    unseen_share = _share(accumulator.unseen_total, n_cur)
    top_unseen = sorted(accumulator.unseen_counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
    entry = _column_entry(
        column,
        "categorical",
        profile,
        accumulator,
        unseen_share=unseen_share,
        unseen_values={str(k): v for k, v in top_unseen[:_UNSEEN_REPORTED]},
    )
    valid = (n_ref - profile.n_missing, n_cur - accumulator.n_missing)
    _note_empty_side(entry, "values", valid, config.no_data)
    if valid[0] == 0 or n_cur == 0:
        # All-missing current rows are still compared: their "(missing)" share is the finding.
        entry.metrics = _nan_metrics(("psi", "chi2", "js", "kl"))
        entry.metrics["unseen_share"] = MetricResult("unseen_share", unseen_share)
        return entry, math.nan
    scale = _cap_scale(n_ref, n_cur, config.tests.sample_size)
    chi2, p_chi2, dof = stats.chi2_contingency_test(reference, current, scale)
    entry.metrics = {
        "psi": MetricResult("psi", stats.psi(reference, current, binning.epsilon)),
        "chi2": MetricResult("chi2", chi2, p_value=p_chi2, details={"dof": dof}),
        "js": MetricResult("js", stats.js_distance(reference, current, base)),
        "kl": MetricResult("kl", stats.kl_divergence(reference, current, binning.epsilon)),
        "unseen_share": MetricResult("unseen_share", unseen_share),
    }
    entry.histogram = _categorical_histogram(labels, reference, current, n_ref, n_cur)
    return entry, p_chi2


def _embedding_column(
    column: str,
    profile: EmbeddingProfile,
    accumulator: _EmbeddingAccumulator,
    config: DriftSection,
) -> tuple[ColumnDrift, float]:
    options = config.embedding
    reference = profile.sample.astype(np.float64)
    current = accumulator.sampler.sample()
    entry = _column_entry(column, "embedding", profile, accumulator)
    complete = (
        profile.n_rows - profile.n_missing,
        accumulator.n_rows - accumulator.n_missing,
    )
    _note_empty_side(entry, "complete vectors", complete, config.no_data)
    if len(reference) < 2 or len(current) < 2:
        if not entry.notes:
            entry.notes.append("fewer than 2 complete vectors on a side: no statistics")
        entry.metrics = _nan_metrics(("mmd", "classifier_auc"))
        return entry, math.nan
    mmd = mmd_rff(
        reference,
        current,
        profile.bandwidth,
        n_features=options.rff_features,
        permutations=options.permutations,
        seed=options.seed,
    )
    classifier = classifier_auc(reference, current, folds=options.cv_folds, seed=options.seed)
    sizes = {"n_reference_sample": len(reference), "n_current_sample": len(current)}
    entry.metrics = {
        "mmd": MetricResult(
            "mmd",
            mmd.mmd2,
            p_value=mmd.p_value,
            details={"bandwidth": mmd.bandwidth, "permutations": options.permutations, **sizes},
        ),
        "classifier_auc": MetricResult(
            "classifier_auc", classifier.auc, p_value=classifier.p_value, details=sizes
        ),
    }
    return entry, classifier.p_value


_COLUMN_STATISTICS: dict[str, Callable[[str, Any, Any, DriftSection], tuple[ColumnDrift, float]]]
_COLUMN_STATISTICS = {
    "numeric": _numeric_column,
    "categorical": _categorical_column,
    "embedding": _embedding_column,
}


# ---------------------------------------------------------------------------------------------
# Decisions
# ---------------------------------------------------------------------------------------------


def _significant(p_value: float | None, alpha: float) -> bool:
    return p_value is not None and not math.isnan(p_value) and p_value < alpha


def _adjust_missing_tests(results: list[ColumnDrift], correction: str) -> None:
    """Correct the missing-share p-values across the columns that have them (own family)."""
    for name in MISSING_METRICS:
        metrics = [c.metrics[name] for c in results if name in c.metrics]
        raw = np.asarray([math.nan if m.p_value is None else m.p_value for m in metrics])
        for metric, adjusted in zip(metrics, stats.adjust_pvalues(raw, correction), strict=True):
            metric.p_value_adjusted = float(adjusted)


def _decide_distance(metric: MetricResult, threshold: Any, guard: bool | None) -> None:
    """Flag a distance at its drift / warning threshold; ``guard`` (if not None) must pass."""
    metric.threshold = threshold.drift
    metric.warning_threshold = threshold.warning
    valid = not math.isnan(metric.value)
    over = valid and threshold.drift is not None and metric.value >= threshold.drift
    near = valid and threshold.warning is not None and metric.value >= threshold.warning
    if guard is not None:
        metric.details["guard_passed"] = guard
        over, near = over and guard, near and guard
    metric.drifted = bool(over)
    metric.warning = bool(near and not over)


def _decide(entry: ColumnDrift, p_adjusted: float, config: DriftSection) -> None:
    """Mark deciding metrics and set the column verdict (see the module docstring)."""
    tests = config.tests
    significant = _significant(p_adjusted, tests.alpha)
    for name in config.decision_metrics_for(entry.kind, entry.column):
        metric = entry.metrics.get(name)
        if metric is None:
            continue
        if name in TEST_METRICS:
            metric.threshold = tests.alpha
            metric.p_value_adjusted = p_adjusted
            metric.drifted = significant
            metric.warning = False
            continue
        if name in MISSING_METRICS:
            guard = _significant(metric.p_value_adjusted, tests.alpha)
        else:
            guard = significant
            if tests.guard_distances:
                metric.p_value_adjusted = p_adjusted
        threshold = config.threshold_for(name, entry.column)
        _decide_distance(metric, threshold, guard if tests.guard_distances else None)
    _set_verdict(entry, config)


def _set_verdict(entry: ColumnDrift, config: DriftSection) -> None:
    """Combine the deciding metrics (``column_rule``; missing metrics on their own)."""
    decided = [m for m in entry.metrics.values() if m.drifted is not None]
    distribution = [m for m in decided if m.name not in MISSING_METRICS]
    missing = [m for m in decided if m.name in MISSING_METRICS]
    combine = any if config.column_rule == "any" else all
    drifted = bool(distribution) and combine(m.drifted for m in distribution)
    near = bool(distribution) and combine(m.drifted or m.warning for m in distribution)
    entry.drifted = drifted or any(m.drifted for m in missing)
    entry.warning = not entry.drifted and (near or any(m.warning for m in missing))
    if entry.no_data:
        entry.drifted, entry.warning = NO_DATA_VERDICT[config.no_data]


def _require_columns(
    frame: pd.DataFrame,
    columns: list[tuple[str, str]],
    embedding_sources: Mapping[str, Sequence[str] | None],
    what: str,
) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{what} must be a pandas DataFrame, got {type(frame).__name__}")
    needed: list[str] = []
    for column, kind in columns:
        sources = embedding_sources.get(column) if kind == "embedding" else None
        needed.extend(sources if sources else [column])
    missing = [c for c in dict.fromkeys(needed) if c not in frame.columns]
    if missing:
        names = ", ".join(repr(c) for c in missing)
        raise ValueError(f"{what} is missing column(s) {names} checked for drift")
