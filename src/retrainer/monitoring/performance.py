"""Performance of a deployed model under label delay, overall, per segment and per day.

:class:`PerformanceMonitor` takes the model's logged predictions joined with the labels known
on a date (:func:`retrainer.monitoring.labels.join_labels`) and computes:

- **realised** metrics on the labelled rows of the window, overall and per segment;
- **estimated** metrics (binary classifiers, CBPE) on the rows whose labels have not arrived;
- the labelled share and both kinds of values per event date;
- a verdict per metric, scope and basis against the configured thresholds. A scope with fewer
  rows than its minimum support is reported as ``insufficient_data``, never as passed.

A realised value beyond its threshold is also tested against sampling noise (when
``monitoring.significance`` is set): the shortfall from the reference divided by the
Poisson-bootstrap standard errors of the window's and the reference's metric must pass a
one-sided z-test at ``significance / number of realised checks`` (Bonferroni), otherwise the
check is a ``warning`` that does not count. Without it, small segments and small holdouts
raise false alarms whenever several segments are monitored. Estimated values are judged on
the threshold alone.

The reference performance (what "a drop" is measured from) is the champion's holdout
performance: the ``holdout_<metric>`` values recorded at training time when given, otherwise
the metrics recomputed on the reference rows. A segment's reference is its own metric on the
reference rows when the segment has enough support there, else the overall reference.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from retrainer.config.monitoring import MonitoringSection
from retrainer.metrics import MetricInputError, PreparedInputs, get_metric, prepare_inputs
from retrainer.monitoring.estimation import (
    ESTIMABLE_METRICS,
    ConfidenceBasedEstimator,
    EstimationError,
)
from retrainer.monitoring.labels import LABELLED_COLUMN, labelled_share_by_day
from retrainer.monitoring.predictions import (
    PREDICTION_COLUMN,
    SCORE_COLUMN,
    proba_columns,
)
from retrainer.monitoring.report import (
    DEGRADED,
    INSUFFICIENT,
    OK,
    SKIPPED,
    WARNING,
    Basis,
    EstimationInfo,
    MetricCheck,
    PerformanceReport,
    resolve_threshold,
)

DATE_COLUMN = "_event_date"
MIN_DAILY_ROWS = 30
"""Daily values (plots, per-day table) need at least this many rows; fewer → missing."""
MAX_BOOTSTRAP_ROWS = 50_000
"""Bootstrap standard errors use at most this many rows (scaled to the full count)."""


class MonitoringInputError(ValueError):
    """Inputs that cannot be monitored (missing column, metric not for the task ...)."""


class _Bootstrap:
    """Poisson-bootstrap standard errors of metrics on subsets of the same prepared rows.

    One weight matrix (``samples`` x rows) serves every metric and every segment: the columns
    of a segment's rows are a bootstrap of that segment. Above ``MAX_BOOTSTRAP_ROWS`` rows a
    random subsample is resampled and the standard error scaled by ``sqrt(k / n)``.
    """

    def __init__(self, inputs: PreparedInputs, samples: int, seed: int):
        rng = np.random.default_rng(seed)
        n = inputs.n
        self.inputs = inputs
        self.samples = samples
        if n > MAX_BOOTSTRAP_ROWS:
            self.rows = np.sort(rng.choice(n, MAX_BOOTSTRAP_ROWS, replace=False))
        else:
            self.rows = np.arange(n)
        self.weights = rng.poisson(1.0, size=(samples, len(self.rows)))

    def standard_error(self, metric: str, mask: np.ndarray | None = None) -> float | None:
        """Standard error of ``metric`` on the rows in ``mask`` (all rows when None)."""
        if mask is None:
            in_sub = np.ones(len(self.rows), dtype=bool)
            total = self.inputs.n
        else:
            in_sub = mask[self.rows]
            total = int(mask.sum())
        k = int(in_sub.sum())
        if k < 2:
            return None
        try:
            values = get_metric(metric).weighted(
                self.inputs.subset(self.rows[in_sub]), self.weights[:, in_sub]
            )
        except MetricInputError:
            return None
        finite = values[np.isfinite(values)]
        if len(finite) < self.samples // 2:
            return None
        return float(np.std(finite, ddof=1) * np.sqrt(k / total))


def segment_key(column: str, value: Any) -> str:
    """The name of a segment: ``column=value``."""
    return f"{column}={value}"


def _normalise_labels(values: pd.Series, like: pd.Series | None) -> np.ndarray:
    """Labels as the predicted labels' type (a left join turns integer labels into floats)."""
    array = values.to_numpy()
    if like is None or like.empty:
        return array
    kind = like.dtype.kind
    if array.dtype.kind == "f" and kind in "biu" and np.all(array == np.round(array)):
        return array.astype(like.dtype)
    return array


def prepare_predictions(
    frame: pd.DataFrame, task: str, target_column: str, classes: Sequence[Any] | None = None
) -> PreparedInputs:
    """Labelled rows in the predictions layout, encoded for the metrics.

    Args:
        frame: Rows with ``score`` / ``prediction`` (and ``proba_<class>`` for multiclass) and
            the target column.
        task: binary, multiclass or regression.
        target_column: The label column.
        classes: Binary class order (default: inferred).

    Raises:
        MetricInputError: When the labels or outputs cannot be encoded.
    """
    y = _normalise_labels(frame[target_column], frame.get(PREDICTION_COLUMN))
    pred = frame[PREDICTION_COLUMN].to_numpy() if PREDICTION_COLUMN in frame else None
    if task == "regression":
        return prepare_inputs("regression", y, None, frame[SCORE_COLUMN].to_numpy())
    if task == "binary":
        return prepare_inputs(
            "binary", y, frame[SCORE_COLUMN].to_numpy(dtype=float), pred, classes=classes
        )
    columns = proba_columns(frame)
    return prepare_inputs(
        "multiclass",
        np.asarray([str(v) for v in y], dtype=object),
        frame[columns].to_numpy(dtype=float),
        None if pred is None else np.asarray([str(v) for v in pred], dtype=object),
        classes=[c.removeprefix("proba_") for c in columns],
    )


class PerformanceMonitor:
    """Compute realised and estimated performance of a model's predictions.

    Args:
        settings: The ``monitoring:`` section.
        task: binary, multiclass or regression.
        target_column: Label column.
        timestamp_column: Event time column of the predictions.
        segment_columns: Segment columns (``monitoring.segments.columns`` or
            ``columns.segments``).

    Attributes:
        metrics_: Monitored metrics, primary first (after :meth:`fit`).
        reference_: Reference values ``{"overall": {...}, "segments": {...}, ...}``.
        estimator_: The fitted CBPE estimator, or None.
        estimation_: How estimation went (:class:`EstimationInfo`).
        classes_: Class labels in the order metrics use (classification).

    Raises:
        MonitoringInputError: When a monitored metric does not apply to the task.
    """

    def __init__(
        self,
        settings: MonitoringSection,
        task: str,
        target_column: str,
        timestamp_column: str,
        segment_columns: Sequence[str] = (),
    ):
        self.settings = settings
        self.task = task
        self.target_column = target_column
        self.timestamp_column = timestamp_column
        self.segment_columns = list(segment_columns)
        wrong = [m for m in settings.metrics_for(task) if not get_metric(m).applies_to(task)]
        if wrong:
            raise MonitoringInputError(
                f"monitoring.metrics: {wrong} do not apply to a {task} model"
            )

    # -- inputs ---------------------------------------------------------------------------
    def _prepare(self, frame: pd.DataFrame) -> PreparedInputs:
        """Encode labelled rows for the metrics (raises MetricInputError)."""
        return prepare_predictions(
            frame, self.task, self.target_column, getattr(self, "classes_", None)
        )

    def _check_columns(self, frame: pd.DataFrame, what: str, labelled: bool) -> None:
        needed = [self.timestamp_column, SCORE_COLUMN, PREDICTION_COLUMN, *self.segment_columns]
        if labelled:
            needed.append(self.target_column)
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise MonitoringInputError(f"{what} lack column(s) {missing}")

    def _realised(
        self, inputs: PreparedInputs | None, rows: np.ndarray | None, metrics: Sequence[str]
    ) -> dict[str, tuple[float | None, str | None]]:
        if inputs is None:
            return {m: (None, "labels could not be read") for m in metrics}
        subset = inputs if rows is None else inputs.subset(rows)
        if subset.n == 0:
            return {m: (None, "no labelled rows") for m in metrics}
        out = {}
        for m in metrics:
            result = get_metric(m).compute(subset)
            out[m] = (result.value, result.reason)
        return out

    # -- fitting on the reference ---------------------------------------------------------
    def fit(
        self,
        reference: pd.DataFrame | None,
        recorded: Mapping[str, float | None] | None = None,
        reference_source: str = "reference rows",
    ) -> PerformanceMonitor:
        """Learn the reference performance and fit the estimator.

        Args:
            reference: Labelled reference rows in the predictions layout (score, prediction,
                target, segment columns), e.g. the champion's holdout rescored; None when
                there is none.
            recorded: Reference values recorded at training time (``holdout_<metric>``),
                which win over values recomputed on ``reference``.
            reference_source: Where the reference rows come from (for the report).

        Returns:
            self

        Raises:
            MonitoringInputError: When the reference lacks a needed column.
        """
        settings = self.settings
        self.metrics_ = settings.metrics_for(self.task)
        recorded = {k: v for k, v in (recorded or {}).items() if v is not None}
        overall: dict[str, float | None] = {m: recorded.get(m) for m in self.metrics_}
        sources = {m: "recorded holdout metric" for m in self.metrics_ if m in recorded}
        segments: dict[str, dict[str, float | None]] = {}
        overall_se: dict[str, float | None] = dict.fromkeys(self.metrics_)
        segments_se: dict[str, dict[str, float | None]] = {}
        segment_support: dict[str, int] = {}
        self.classes_ = None
        ref = None
        if reference is not None and not reference.empty:
            self._check_columns(reference, "reference rows", labelled=True)
            ref = reference[reference[self.target_column].notna()].reset_index(drop=True)
        inputs = None
        if ref is not None and len(ref):
            try:
                inputs = self._prepare(ref)
            except MetricInputError as exc:
                raise MonitoringInputError(f"reference rows: {exc}") from exc
            if self.task != "regression":
                self.classes_ = list(inputs.classes) if self.task == "binary" else None
            computed = self._realised(inputs, None, self.metrics_)
            boot = self._bootstrap(inputs, seed=1)
            for m in self.metrics_:
                if overall[m] is None and computed[m][0] is not None:
                    overall[m] = computed[m][0]
                    sources[m] = reference_source
                if boot is not None:
                    overall_se[m] = boot.standard_error(m)
            if settings.segments.enabled:
                for column in self.segment_columns:
                    values = ref[column]
                    for value, count in values.value_counts().items():
                        key = segment_key(column, value)
                        segment_support[key] = int(count)
                        if count < settings.segment_min_support(key):
                            continue
                        mask = (values == value).to_numpy()
                        seg = self._realised(inputs, mask, self.metrics_)
                        segments[key] = {m: seg[m][0] for m in self.metrics_}
                        if boot is not None:
                            segments_se[key] = {
                                m: boot.standard_error(m, mask) for m in self.metrics_
                            }
        self.reference_ = {
            "overall": overall,
            "overall_standard_error": overall_se,
            "sources": sources,
            "segments": segments,
            "segments_standard_error": segments_se,
            "segment_support": segment_support,
            "rows": 0 if ref is None else len(ref),
            "source": reference_source if ref is not None else None,
        }
        self._fit_estimator(ref, reference_source)
        return self

    def _bootstrap(self, inputs: PreparedInputs | None, seed: int) -> _Bootstrap | None:
        if self.settings.significance is None or inputs is None or inputs.n < 2:
            return None
        return _Bootstrap(inputs, self.settings.bootstrap_samples, seed)

    def _fit_estimator(self, ref: pd.DataFrame | None, source: str) -> None:
        est = self.settings.estimation
        info = EstimationInfo(enabled=est.enabled, available=False, calibration=est.calibration)
        self.estimator_ = None
        if not est.enabled:
            info.reason = "estimation is disabled (monitoring.estimation.enabled: false)"
        elif self.task != "binary":
            info.reason = f"estimation covers binary classifiers only (this is {self.task})"
        elif ref is None or len(ref) < est.min_reference_rows:
            rows = 0 if ref is None else len(ref)
            info.reason = (
                f"{rows} labelled reference rows; the calibrator needs at least "
                f"{est.min_reference_rows} (monitoring.estimation.min_reference_rows)"
            )
        else:
            positive = self.classes_[1] if self.classes_ else 1
            y = _normalise_labels(ref[self.target_column], ref[PREDICTION_COLUMN])
            estimator = ConfidenceBasedEstimator(
                calibration=est.calibration,
                calibrate_only_if_needed=est.calibrate_only_if_needed,
                positive_label=positive,
            )
            try:
                estimator.fit(ref[SCORE_COLUMN].to_numpy(dtype=float), y)
            except EstimationError as exc:
                info.reason = f"cannot fit the calibrator: {exc}"
            else:
                self.estimator_ = estimator
                info.available = True
                info.calibrated = estimator.calibrated_
                info.reference_rows = estimator.reference_rows_
                info.ece_raw = estimator.ece_raw_
                info.ece_calibrated = estimator.ece_calibrated_
        info.reference_source = source if ref is not None else None
        self.estimation_ = info

    def _estimate(
        self, frame: pd.DataFrame, metrics: Sequence[str]
    ) -> dict[str, tuple[float | None, str | None]]:
        estimable = [m for m in metrics if m in ESTIMABLE_METRICS]
        values: dict[str, tuple[float | None, str | None]] = {
            m: (None, f"{m} cannot be estimated without labels") for m in metrics
        }
        if self.estimator_ is None or frame.empty or not estimable:
            return values
        pred = frame[PREDICTION_COLUMN].to_numpy()
        estimates = self.estimator_.estimate_many(
            estimable, frame[SCORE_COLUMN].to_numpy(dtype=float), pred
        )
        for m in estimable:
            value = estimates[m]
            values[m] = (value, None if value is not None else f"{m} is undefined on these rows")
        return values

    # -- evaluating a window --------------------------------------------------------------
    def _judge(
        self,
        metric: str,
        basis: Basis,
        segment: str | None,
        value: float | None,
        reason: str | None,
        support: int,
        min_support: int,
        standard_error: Callable[[], float | None] | None = None,
    ) -> MetricCheck:
        """Judge one value; ``standard_error`` is called only when the threshold is breached."""
        spec = get_metric(metric)
        rule = self.settings.threshold_for(metric, segment)
        reference = self.reference_["overall"].get(metric)
        reference_se = self.reference_["overall_standard_error"].get(metric)
        if segment is not None:
            seg_ref = self.reference_["segments"].get(segment, {}).get(metric)
            if seg_ref is not None:
                reference = seg_ref
                reference_se = (
                    self.reference_["segments_standard_error"].get(segment, {}).get(metric)
                )
        threshold = resolve_threshold(
            rule.limit, rule.max_drop, rule.max_relative_drop, reference, spec.greater_is_better
        )
        counts = basis == "realised" or self.settings.estimation.alert
        combined_se = None
        z = None
        if support < min_support:
            verdict = INSUFFICIENT
            reason = f"{support} rows < min_support {min_support}"
        elif value is None:
            verdict = SKIPPED
        elif threshold.value is None:
            verdict = SKIPPED
            reason = "no threshold applies (no limit and no reference performance)"
        elif threshold.breached_by(value):
            verdict = DEGRADED
            reason = f"{value:.4g} is worse than {threshold.describe()}"
            value_se = standard_error() if standard_error is not None else None
            if value_se is not None:
                combined_se = float(np.hypot(value_se, reference_se or 0.0))
            if basis == "realised" and combined_se is not None:
                base = reference if reference is not None else threshold.value
                shortfall = spec.orient(base - value)
                z = shortfall / combined_se if combined_se > 0 else float("inf")
        else:
            verdict = OK
            reason = None
        return MetricCheck(
            metric=metric,
            basis=basis,
            segment=segment,
            value=value,
            support=support,
            min_support=min_support,
            threshold=threshold,
            verdict=verdict,
            reason=reason,
            counts=counts,
            standard_error=combined_se,
            z=None if z is None or not np.isfinite(z) else float(z),
        )

    def _apply_significance(self, checks: list[MetricCheck]) -> int:
        """Downgrade realised breaches within sampling noise to warnings (Bonferroni).

        The family is every realised check that was judged (enough rows, a value): each
        breach must be significant at ``significance / family size``.

        Returns:
            The family size.
        """
        alpha = self.settings.significance
        family = [
            c for c in checks if c.basis == "realised" and c.verdict in (OK, DEGRADED, WARNING)
        ]
        if alpha is None or not family:
            return len(family)
        level = alpha / len(family)
        critical = float(norm.ppf(1 - level))
        for check in family:
            if check.verdict != DEGRADED or check.z is None:
                continue
            if check.z < critical:
                check.verdict = WARNING
                check.reason = (
                    f"{check.reason}, but within sampling noise (z = {check.z:.2f} < "
                    f"{critical:.2f}: significance {alpha:g} over {len(family)} checks)"
                )
            else:
                check.reason = f"{check.reason} (z = {check.z:.2f} >= {critical:.2f})"
        return len(family)

    def evaluate(
        self,
        frame: pd.DataFrame,
        *,
        model_name: str,
        model_version: str | None,
        window_start: date | None = None,
        window_end: date | None = None,
        as_of: date | None = None,
        notes: Sequence[str] = (),
        daily: bool = True,
    ) -> PerformanceReport:
        """Judge the window's predictions.

        Args:
            frame: Predictions of the window joined with known labels (``join_labels``).
            model_name: Registered model name.
            model_version: The monitored version.
            window_start: First event date of the window.
            window_end: Last event date of the window.
            as_of: Date whose labels were used.
            notes: Extra lines for the report.
            daily: Compute the per-day series of the report's plots (the verdict and the
                window's values do not depend on it; the policy backtest skips it).

        Returns:
            The report.

        Raises:
            MonitoringInputError: When the frame lacks a needed column or the monitor is not
                fitted.
        """
        if not hasattr(self, "reference_"):
            raise MonitoringInputError("call fit() (with or without reference rows) first")
        self._check_columns(frame, "predictions", labelled=True)
        settings = self.settings
        metrics = self.metrics_
        frame = frame.reset_index(drop=True).copy()
        if LABELLED_COLUMN not in frame.columns:
            frame[LABELLED_COLUMN] = frame[self.target_column].notna()
        frame[DATE_COLUMN] = pd.to_datetime(frame[self.timestamp_column], utc=True).dt.date
        labelled_mask = frame[LABELLED_COLUMN].to_numpy(dtype=bool)
        labelled = frame.loc[labelled_mask].reset_index(drop=True)
        unlabelled = frame.loc[~labelled_mask].reset_index(drop=True)
        report_notes = list(notes)

        inputs = None
        if len(labelled):
            try:
                inputs = self._prepare(labelled)
            except MetricInputError as exc:
                report_notes.append(f"realised metrics skipped: {exc}")
        estimating = self.estimator_ is not None
        boot = self._bootstrap(inputs, seed=2)

        def se(metric: str, mask: np.ndarray | None = None) -> Callable[[], float | None]:
            return lambda: boot.standard_error(metric, mask) if boot is not None else None

        checks: list[MetricCheck] = []
        # overall
        realised = self._realised(inputs, None, metrics)
        estimated = self._estimate(unlabelled, metrics) if estimating else {}
        for m in metrics:
            value, reason = realised[m]
            checks.append(
                self._judge(
                    m,
                    "realised",
                    None,
                    value,
                    reason,
                    len(labelled),
                    settings.min_support,
                    se(m),
                )
            )
            if estimating:
                if unlabelled.empty:
                    continue
                value, reason = estimated[m]
                checks.append(
                    self._judge(
                        m, "estimated", None, value, reason, len(unlabelled), settings.min_support
                    )
                )

        # the concept-drift signature: realised vs estimated on the same labelled rows
        gap: dict[str, float | None] = {}
        if estimating and len(labelled):
            on_labelled = self._estimate(labelled, metrics)
            for m in metrics:
                r, e = realised[m][0], on_labelled[m][0]
                gap[m] = (
                    None if r is None or e is None else get_metric(m).orient(float(r) - float(e))
                )

        # segments
        segment_rows: list[dict[str, Any]] = []
        if settings.segments.enabled:
            for column in self.segment_columns:
                counts = frame[column].value_counts()
                keep = counts.index[: settings.segments.max_segments_per_column]
                if len(counts) > len(keep):
                    report_notes.append(
                        f"segment column {column}: {len(counts)} values, only the "
                        f"{len(keep)} most frequent are monitored"
                    )
                lab_values = labelled[column].to_numpy() if len(labelled) else np.array([])
                for value in keep:
                    key = segment_key(column, value)
                    min_support = settings.segment_min_support(key)
                    lab_rows = lab_values == value
                    seg_unlab = unlabelled[unlabelled[column] == value]
                    n_lab = int(lab_rows.sum())
                    seg_real = self._realised(inputs, lab_rows, metrics)
                    seg_est = self._estimate(seg_unlab, metrics) if estimating else {}
                    row: dict[str, Any] = {
                        "segment": key,
                        "column": column,
                        "value": value,
                        "rows": int(counts[value]),
                        "labelled": n_lab,
                        "labelled_share": n_lab / int(counts[value]),
                    }
                    for m in metrics:
                        c = self._judge(
                            m,
                            "realised",
                            key,
                            seg_real[m][0],
                            seg_real[m][1],
                            n_lab,
                            min_support,
                            se(m, lab_rows),
                        )
                        checks.append(c)
                        row[f"{m}_realised"] = c.value
                        row[f"{m}_realised_verdict"] = c.verdict
                        row[f"{m}_threshold"] = c.threshold.value
                        if estimating and len(seg_unlab):
                            e = self._judge(
                                m,
                                "estimated",
                                key,
                                seg_est[m][0],
                                seg_est[m][1],
                                len(seg_unlab),
                                min_support,
                            )
                            checks.append(e)
                            row[f"{m}_estimated"] = e.value
                            row[f"{m}_estimated_verdict"] = e.verdict
                    segment_rows.append(row)
        checks.sort(key=lambda c: (metrics.index(c.metric), c.segment is not None))
        self._apply_significance(checks)

        series = (
            self._daily(frame, labelled, inputs, metrics, estimating)
            if daily
            else labelled_share_by_day(frame, DATE_COLUMN)
        )
        return PerformanceReport(
            model_name=model_name,
            model_version=model_version,
            task=self.task,
            metrics=list(metrics),
            window_start=window_start,
            window_end=window_end,
            as_of=as_of,
            rows=len(frame),
            labelled_rows=len(labelled),
            checks=checks,
            daily=series,
            segments=pd.DataFrame(segment_rows),
            reference=self.reference_,
            estimation=self.estimation_,
            expectation_gap=gap,
            notes=report_notes,
        )

    def _daily(
        self,
        frame: pd.DataFrame,
        labelled: pd.DataFrame,
        inputs: PreparedInputs | None,
        metrics: Sequence[str],
        estimating: bool,
    ) -> pd.DataFrame:
        daily = labelled_share_by_day(frame, DATE_COLUMN)
        lab_dates = labelled[DATE_COLUMN].to_numpy() if len(labelled) else np.array([])
        for m in metrics:
            daily[f"{m}_realised"] = np.nan
            if estimating:
                daily[f"{m}_estimated"] = np.nan
        for i, day in enumerate(daily["date"]):
            rows = lab_dates == day
            if rows.sum() >= MIN_DAILY_ROWS and inputs is not None:
                values = self._realised(inputs, rows, metrics)
                for m in metrics:
                    if values[m][0] is not None:
                        daily.loc[i, f"{m}_realised"] = values[m][0]
            if estimating:
                day_rows = frame[frame[DATE_COLUMN] == day]
                if len(day_rows) >= MIN_DAILY_ROWS:
                    values = self._estimate(day_rows, metrics)
                    for m in metrics:
                        if values[m][0] is not None:
                            daily.loc[i, f"{m}_estimated"] = values[m][0]
        return daily
