"""The ``monitoring:`` section: live performance monitoring under label delay.

Every metric is compared with a threshold built from up to three bounds, all optional:

- ``limit``: the worst acceptable value (a floor for metrics where higher is better such as
  ``roc_auc``; a ceiling for error metrics such as ``log_loss`` or ``rmse``);
- ``max_drop``: the largest allowed degradation versus the reference performance, in metric
  units;
- ``max_relative_drop``: the same as a fraction of the reference.

The reference performance is the champion's holdout metric at training time (MLflow metric
``holdout_<metric>`` on its training run; for a segment, the champion's metric on the
segment's holdout rows). The effective threshold is the strictest bound that applies.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from retrainer.config.base import StrictModel

Task = Literal["binary", "multiclass", "regression"]

DEFAULT_METRICS: dict[str, list[str]] = {
    "binary": ["roc_auc", "accuracy", "log_loss"],
    "multiclass": ["accuracy", "f1_macro"],
    "regression": ["rmse", "mae"],
}
"""Metrics monitored when ``monitoring.metrics`` is not set, by task."""

_SEGMENT_KEY = re.compile(r"^[^=\s][^=]*=.+$")


def _check_metric_names(names: list[str] | dict[str, object]) -> None:
    """Raise ValueError naming an unknown metric (and the valid ones)."""
    from retrainer.metrics import UnknownMetricError, get_metric

    for name in names:
        try:
            get_metric(name)
        except UnknownMetricError as exc:
            raise ValueError(str(exc)) from None


class MetricThreshold(StrictModel):
    """When a metric counts as degraded. The strictest of the bounds given applies."""

    limit: float | None = Field(
        default=None,
        description="Worst acceptable value: a floor for metrics where higher is better "
        "(roc_auc, accuracy, f1), a ceiling for error metrics (log_loss, brier, rmse, mae). "
        "null = no absolute bound.",
    )
    max_drop: float | None = Field(
        default=None,
        ge=0,
        description="Largest allowed degradation versus the reference performance, in metric "
        "units (0.05: a reference roc_auc of 0.82 may fall to 0.77). null = none.",
    )
    max_relative_drop: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Largest allowed degradation as a fraction of the reference (0.1: an "
        "error metric may grow by 10 %, a score may shrink by 10 %). null = none.",
    )

    @model_validator(mode="after")
    def _at_least_one_bound(self) -> MetricThreshold:
        if self.limit is None and self.max_drop is None and self.max_relative_drop is None:
            raise ValueError("set at least one of limit, max_drop, max_relative_drop")
        return self


def _default_thresholds() -> dict[str, MetricThreshold]:
    return {
        "roc_auc": MetricThreshold(max_drop=0.05),
        "average_precision": MetricThreshold(max_relative_drop=0.15),
        "accuracy": MetricThreshold(max_drop=0.03),
        "precision": MetricThreshold(max_drop=0.1),
        "recall": MetricThreshold(max_drop=0.1),
        "f1": MetricThreshold(max_drop=0.1),
        "f1_macro": MetricThreshold(max_drop=0.05),
        "roc_auc_ovr": MetricThreshold(max_drop=0.05),
        "log_loss": MetricThreshold(max_relative_drop=0.1),
        "brier": MetricThreshold(max_relative_drop=0.1),
        "rmse": MetricThreshold(max_relative_drop=0.1),
        "mae": MetricThreshold(max_relative_drop=0.1),
        "mape": MetricThreshold(max_relative_drop=0.1),
        "r2": MetricThreshold(max_drop=0.05),
    }


DEFAULT_THRESHOLDS: dict[str, MetricThreshold] = _default_thresholds()
"""Built-in thresholds; ``monitoring.thresholds`` entries replace them per metric."""


class SegmentOverride(StrictModel):
    """Settings for one named segment (``column=value``) that differ from the segment defaults."""

    min_support: int | None = Field(
        default=None, ge=1, description="Minimum rows for this segment; null = segments default."
    )
    thresholds: dict[str, MetricThreshold] = Field(
        default_factory=dict,
        description="Per-metric thresholds for this segment; metrics not listed use the "
        "segment defaults.",
    )


class SegmentMonitoring(StrictModel):
    """Per-segment (cohort) monitoring: every value of every segment column is a segment."""

    enabled: bool = Field(default=True, description="Compute metrics per segment.")
    columns: list[str] | None = Field(
        default=None,
        description="Segment columns (each must be in the predictions table); null = "
        "`columns.segments`.",
    )
    min_support: int = Field(
        default=200,
        ge=1,
        description="Minimum rows (labelled rows for realised metrics, unlabelled rows for "
        "estimates) before a segment's metric is judged; below it the segment is reported as "
        "insufficient_data, never as passed.",
    )
    max_segments_per_column: int = Field(
        default=50,
        ge=1,
        description="Only the most frequent values of a column are monitored (guards against "
        "id-like columns).",
    )
    thresholds: dict[str, MetricThreshold] = Field(
        default_factory=dict,
        description="Per-metric thresholds for segments; metrics not listed use the overall "
        "threshold (`monitoring.thresholds`).",
    )
    overrides: dict[str, SegmentOverride] = Field(
        default_factory=dict,
        description="Per-segment settings keyed `column=value`, e.g. `region=south`.",
    )

    @field_validator("thresholds")
    @classmethod
    def _known_metrics(cls, value: dict[str, MetricThreshold]) -> dict[str, MetricThreshold]:
        _check_metric_names(value)
        return value

    @field_validator("overrides")
    @classmethod
    def _segment_keys(cls, value: dict[str, SegmentOverride]) -> dict[str, SegmentOverride]:
        for key, override in value.items():
            if not _SEGMENT_KEY.match(key):
                raise ValueError(f"segment key {key!r} must look like column=value")
            _check_metric_names(override.thresholds)
        return value


class EstimationSettings(StrictModel):
    """Performance estimation before labels land (confidence-based, as NannyML's CBPE).

    Only binary classifiers are estimated. The method assumes the calibrated score still
    means the same probability of the positive class after deployment (no concept drift in
    P(y | score)); realised performance is needed to catch a change of that relation.
    """

    enabled: bool = Field(
        default=True, description="Estimate metrics on rows whose labels have not arrived."
    )
    calibration: Literal["isotonic", "sigmoid", "none"] = Field(
        default="isotonic",
        description="How scores are mapped to probabilities on the reference data: isotonic "
        "regression, a logistic (Platt) fit on the score's log-odds, or none (trust the "
        "scores as probabilities).",
    )
    calibrate_only_if_needed: bool = Field(
        default=True,
        description="Like NannyML: keep the raw scores when calibrating does not lower the "
        "expected calibration error in cross-validation on the reference.",
    )
    reference: Literal["holdout", "before_window"] = Field(
        default="holdout",
        description="Labelled data the calibrator is fitted on: the champion's holdout "
        "(rescored; falls back to before_window when the version has no holdout tags) or the "
        "champion's labelled predictions in the `reference_days` before the window.",
    )
    reference_days: int = Field(
        default=14, ge=1, description="Days of labelled predictions used by before_window."
    )
    min_reference_rows: int = Field(
        default=300,
        ge=10,
        description="Labelled reference rows needed to fit the calibrator; with fewer, "
        "estimation is skipped (with the reason in the report).",
    )
    alert: bool = Field(
        default=True,
        description="An estimated metric beyond its threshold makes the check degraded (the "
        "event says which breaches are estimated; policies can ignore those).",
    )


class MonitoringSection(StrictModel):
    """Live performance monitoring: realised metrics once labels land, estimates before."""

    html_report: Literal["always", "on_degraded", "never"] = Field(
        default="always",
        description="When a check renders its HTML report (the JSON report, the MLflow run "
        "and the event are always written): always, only when performance degraded, or "
        "never. An explicit --html / html= renders it regardless.",
    )
    metrics: list[str] | None = Field(
        default=None,
        description="Metrics to monitor, the first is the primary one (plots, event "
        "`metric`). null = task defaults: binary roc_auc, accuracy, log_loss; multiclass "
        "accuracy, f1_macro; regression rmse, mae.",
    )
    window_days: int = Field(
        default=14,
        ge=1,
        description="Days of predictions monitored, ending at `as_of` (the newest feature "
        "partition by default).",
    )
    min_support: int = Field(
        default=200,
        ge=1,
        description="Minimum rows for an overall metric to be judged (labelled rows for "
        "realised, unlabelled rows for estimated); below it: insufficient_data.",
    )
    significance: float | None = Field(
        default=0.05,
        gt=0,
        lt=0.5,
        description="A realised metric beyond its threshold counts as degraded only when it "
        "is also worse than its reference by more than sampling noise: a one-sided z-test "
        "with bootstrap standard errors of the window's and the reference's metric, at this "
        "family-wise level over all realised checks of the run (Bonferroni: many segments "
        "do not multiply false alarms). Beyond the threshold but not significant is reported "
        "as `warning`. null = judge on the threshold alone.",
    )
    bootstrap_samples: int = Field(
        default=200,
        ge=50,
        le=5000,
        description="Bootstrap resamples for the standard errors used by `significance`.",
    )
    thresholds: dict[str, MetricThreshold] = Field(
        default_factory=_default_thresholds,
        description="Per-metric thresholds. Entries replace the built-in default of that "
        "metric (roc_auc max_drop 0.05, accuracy max_drop 0.03, f1 max_drop 0.1, log_loss / "
        "brier / rmse / mae max_relative_drop 0.1 ...); other metrics keep theirs.",
    )
    default_threshold: MetricThreshold = Field(
        default_factory=lambda: MetricThreshold(max_relative_drop=0.1),
        description="Threshold of a monitored metric without an entry in `thresholds`.",
    )
    segments: SegmentMonitoring = Field(
        default_factory=SegmentMonitoring, description="Per-segment monitoring."
    )
    estimation: EstimationSettings = Field(
        default_factory=EstimationSettings,
        description="Estimated performance where labels have not arrived (binary only).",
    )
    model_versions: Literal["champion", "all"] = Field(
        default="champion",
        description="Which logged predictions are monitored: only the current champion's "
        "(the version a retrain decision is about) or every version's.",
    )

    @field_validator("metrics")
    @classmethod
    def _metrics_unique(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("list at least one metric, or leave metrics unset for the defaults")
        if len(set(value)) != len(value):
            raise ValueError("a metric is listed twice")
        _check_metric_names(value)
        return value

    @field_validator("thresholds")
    @classmethod
    def _merge_defaults(cls, value: dict[str, MetricThreshold]) -> dict[str, MetricThreshold]:
        _check_metric_names(value)
        return {**_default_thresholds(), **value}

    def metrics_for(self, task: Task | str) -> list[str]:
        """The monitored metrics for a task (the configured list or the task defaults).

        Args:
            task: binary, multiclass or regression.

        Returns:
            Metric names, primary first.
        """
        if self.metrics is not None:
            return list(self.metrics)
        return list(DEFAULT_METRICS[task])

    def threshold_for(self, metric: str, segment: str | None = None) -> MetricThreshold:
        """The threshold that applies to a metric overall or for a segment.

        Args:
            metric: Metric name.
            segment: ``column=value``; None for the overall metric.

        Returns:
            The segment override, else the segments' per-metric threshold, else the overall
            threshold of the metric, else ``default_threshold``.
        """
        if segment is not None:
            override = self.segments.overrides.get(segment)
            if override is not None and metric in override.thresholds:
                return override.thresholds[metric]
            if metric in self.segments.thresholds:
                return self.segments.thresholds[metric]
        return self.thresholds.get(metric, self.default_threshold)

    def segment_min_support(self, segment: str) -> int:
        """Minimum rows for a segment (its override or the segments default)."""
        override = self.segments.overrides.get(segment)
        if override is not None and override.min_support is not None:
            return override.min_support
        return self.segments.min_support
