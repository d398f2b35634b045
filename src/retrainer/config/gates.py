"""The ``gates:`` section: what a challenger must show before it may replace the champion.

An empty section is valid for every task: the challenger's primary metric (binary roc_auc,
multiclass log_loss, regression rmse) must be computable, its predictions must be sane, and
with a champion it must be *significantly* better on the fresh holdout (superiority, margin
0; an inconclusive comparison rejects). Segment comparisons run on the segment columns the
flow passes (``columns.segments`` by default).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from retrainer.config.base import StrictModel
from retrainer.metrics import METRICS, get_metric, primary_metric

TestKind = Literal["auto", "delong", "mcnemar", "bootstrap"]

_TEST_METRIC = {"delong": "roc_auc", "mcnemar": "accuracy"}


def _known_metric(name: str | None) -> str | None:
    if name is not None:
        get_metric(name)  # raises UnknownMetricError (a ValueError) listing valid names
    return name


def _check_test(test: TestKind, metric: str | None) -> None:
    needed = _TEST_METRIC.get(test)
    if needed and metric is not None and metric != needed:
        raise ValueError(
            f"test: {test!r} compares {needed} only, but the metric is {metric!r}; use "
            f"test: bootstrap (or auto) for {metric}"
        )


def resolve_test(test: TestKind, metric: str) -> Literal["delong", "mcnemar", "bootstrap"]:
    """The test ``auto`` stands for: DeLong for roc_auc, McNemar for accuracy, else bootstrap.

    Args:
        test: Configured test.
        metric: Metric compared.

    Returns:
        The concrete test.
    """
    if test != "auto":
        return test
    if metric == "roc_auc":
        return "delong"
    if metric == "accuracy":
        return "mcnemar"
    return "bootstrap"


class MetricBounds(StrictModel):
    """Bounds on a metric value; at least one of ``min`` and ``max``."""

    min: float | None = Field(default=None, description="The metric must be ≥ this value.")
    max: float | None = Field(default=None, description="The metric must be ≤ this value.")

    @model_validator(mode="after")
    def _one_bound(self) -> MetricBounds:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        return self


def _check_bounds(bounds: dict[str, MetricBounds]) -> dict[str, MetricBounds]:
    for name, bound in bounds.items():
        spec = get_metric(name)
        for side in ("min", "max"):
            value = getattr(bound, side)
            if value is None:
                continue
            if (spec.lower is not None and value < spec.lower) or (
                spec.upper is not None and value > spec.upper
            ):
                low = "-inf" if spec.lower is None else spec.lower
                high = "inf" if spec.upper is None else spec.upper
                raise ValueError(
                    f"{name}.{side}: {value} is outside the range of {name} [{low}, {high}]"
                )
    return bounds


class ComparisonConfig(StrictModel):
    """Challenger against champion on the same fresh holdout rows."""

    metric: str | None = Field(
        default=None,
        description="Metric compared; null = the task's primary metric (binary roc_auc, "
        "multiclass log_loss, regression rmse).",
    )
    test: TestKind = Field(
        default="auto",
        description="Paired test: auto = DeLong for roc_auc, McNemar for accuracy, paired "
        "bootstrap otherwise; or delong | mcnemar | bootstrap explicitly.",
    )
    mode: Literal["superiority", "non_inferiority"] = Field(
        default="superiority",
        description="superiority: the interval's lower bound of the improvement must exceed "
        "`margin`; non_inferiority: it must exceed -`margin`.",
    )
    margin: float = Field(
        default=0.0, ge=0, description="Margin in metric units (≥ 0), e.g. 0.005 AUC."
    )
    alpha: float = Field(
        default=0.05,
        gt=0,
        lt=1,
        description="Two-sided level of the confidence interval (0.05 → 95% interval; each "
        "one-sided claim is thus tested at alpha/2).",
    )
    n_bootstrap: int = Field(
        default=2000, ge=100, le=100_000, description="Resamples of the paired bootstrap."
    )
    stratify: bool = Field(
        default=True,
        description="Bootstrap within each class (classification), keeping class counts.",
    )
    on_inconclusive: Literal["reject", "accept"] = Field(
        default="reject",
        description="When the interval contains the threshold (not significant): reject "
        "keeps the champion, accept lets the challenger pass this check.",
    )

    @field_validator("metric")
    @classmethod
    def _metric_known(cls, value: str | None) -> str | None:
        return _known_metric(value)

    @model_validator(mode="after")
    def _test_fits_metric(self) -> ComparisonConfig:
        _check_test(self.test, self.metric)
        return self


class SegmentsConfig(StrictModel):
    """Per-segment non-regression (and optional per-segment floors)."""

    columns: list[str] | None = Field(
        default=None,
        description="Segment columns; null = every segment column the flow passes "
        "(columns.segments). An empty list disables segment checks.",
    )
    metric: str | None = Field(
        default=None, description="Metric per segment; null = the comparison metric."
    )
    test: TestKind = Field(
        default="auto", description="Paired test per segment (same choices as comparison)."
    )
    min_support: int = Field(
        default=200, ge=1, description="Segments with fewer holdout rows are insufficient_data."
    )
    min_minority: int = Field(
        default=20,
        ge=0,
        description="Binary tasks: segments with fewer rows of the rarer class are "
        "insufficient_data.",
    )
    max_regression: float = Field(
        default=0.0,
        ge=0,
        description="Tolerated regression (challenger worse than champion) in metric units. "
        "A segment fails when it is significantly worse than this tolerance: the paired "
        "test's null hypothesis is 'improvement ≥ -max_regression'.",
    )
    alpha: float = Field(
        default=0.05,
        gt=0,
        lt=1,
        description="Two-sided level for 'the regression is significant' (one-sided at "
        "alpha/2), after the multiple-testing adjustment.",
    )
    adjust: Literal["holm", "bonferroni", "none"] = Field(
        default="holm",
        description="Family-wise adjustment of the segment p-values (many segments → many "
        "chances of a false alarm).",
    )
    n_bootstrap: int = Field(
        default=1000, ge=100, le=100_000, description="Resamples per segment (bootstrap)."
    )
    insufficient_data: Literal["report", "fail"] = Field(
        default="report",
        description="report: a segment with too little data is reported and does not fail "
        "the gate; fail: it fails the gate.",
    )
    max_values_per_column: int = Field(
        default=100,
        ge=1,
        description="A segment column with more distinct values fails its check (use a "
        "coarser column).",
    )
    floors: dict[str, MetricBounds] = Field(
        default_factory=dict,
        description="Absolute bounds every segment with enough data must meet (with or "
        "without a champion), e.g. {roc_auc: {min: 0.65}}.",
    )

    @field_validator("metric")
    @classmethod
    def _metric_known(cls, value: str | None) -> str | None:
        return _known_metric(value)

    @field_validator("floors")
    @classmethod
    def _floors_known(cls, value: dict[str, MetricBounds]) -> dict[str, MetricBounds]:
        return _check_bounds(value)

    @model_validator(mode="after")
    def _consistent(self) -> SegmentsConfig:
        _check_test(self.test, self.metric)
        if self.columns is not None and len(set(self.columns)) != len(self.columns):
            raise ValueError("columns: a segment column is listed twice")
        return self


class SanityConfig(StrictModel):
    """Checks that do not depend on labels."""

    require_signature_compatible: bool = Field(
        default=True,
        description="With a champion, the challenger must accept the champion's input "
        "columns with compatible types.",
    )
    max_latency_ms_per_1k_rows: float | None = Field(
        default=None,
        gt=0,
        description="Batch prediction budget in milliseconds per 1,000 rows; null = report only.",
    )
    max_model_size_mb: float | None = Field(
        default=None, gt=0, description="Serialized model size budget in MB; null = report only."
    )


class HumanApprovalConfig(StrictModel):
    """A person signs off after the automatic checks pass (executed by the flow)."""

    required: bool = Field(
        default=False, description="Wait for a person to approve a challenger that passed."
    )
    timeout_seconds: int = Field(
        default=86_400,
        ge=1,
        description="How long the flow waits; no answer in time counts as a rejection.",
    )


class HoldoutConfig(StrictModel):
    """The fresh holdout: the latest labelled window, never used for training."""

    days: int = Field(
        default=7, ge=1, description="Latest labelled days kept out of training for the gate."
    )
    min_rows: int = Field(
        default=200, ge=1, description="Fewer holdout rows fail the gate (cannot judge)."
    )
    min_minority: int = Field(
        default=20,
        ge=0,
        description="Binary tasks: fewer rows of the rarer class fail the gate.",
    )
    allow_unrecorded: bool = Field(
        default=False,
        description="A version without recorded holdout dates (registered outside the train "
        "flow) is judged on the latest labelled days, which it may have been trained on. "
        "false (fail closed): its holdout check fails; true: the gate runs on those days "
        "and the report notes it.",
    )


class GatesSection(StrictModel):
    """Metric gates: absolute bounds, comparison with the champion, segments, sanity."""

    absolute: dict[str, MetricBounds] = Field(
        default_factory=dict,
        description="Bounds on the challenger's holdout metrics, e.g. {roc_auc: {min: 0.75}, "
        "log_loss: {max: 0.6}}. Empty = the primary metric must be computable. A missing or "
        "uncomputable metric fails.",
    )
    comparison: ComparisonConfig = Field(
        default_factory=ComparisonConfig, description="Challenger vs champion."
    )
    segments: SegmentsConfig = Field(
        default_factory=SegmentsConfig, description="Per-segment non-regression."
    )
    sanity: SanityConfig = Field(default_factory=SanityConfig, description="Sanity checks.")
    human_approval: HumanApprovalConfig = Field(
        default_factory=HumanApprovalConfig, description="Optional human sign-off."
    )
    holdout: HoldoutConfig = Field(default_factory=HoldoutConfig, description="Fresh holdout.")

    @field_validator("absolute")
    @classmethod
    def _absolute_known(cls, value: dict[str, MetricBounds]) -> dict[str, MetricBounds]:
        return _check_bounds(value)

    @model_validator(mode="after")
    def _one_task(self) -> GatesSection:
        named = {
            **{f"absolute.{m}": m for m in self.absolute},
            **{f"segments.floors.{m}": m for m in self.segments.floors},
        }
        if self.comparison.metric:
            named["comparison.metric"] = self.comparison.metric
        if self.segments.metric:
            named["segments.metric"] = self.segments.metric
        if named and not any(
            all(get_metric(m).applies_to(task) for m in named.values())
            for task in ("binary", "multiclass", "regression")
        ):
            listing = ", ".join(f"{field}={metric}" for field, metric in named.items())
            raise ValueError(f"these metrics apply to no common task: {listing}")
        return self

    def comparison_metric(self, task: str) -> str:
        """The metric compared for ``task`` (configured, else the task's primary metric)."""
        return self.comparison.metric or primary_metric(task)

    def segment_metric(self, task: str) -> str:
        """The per-segment metric for ``task`` (configured, else the comparison metric)."""
        return self.segments.metric or self.comparison_metric(task)

    def problems_for_task(self, task: str) -> list[tuple[str, str]]:
        """What in this section does not fit ``task``.

        Args:
            task: binary, multiclass or regression.

        Returns:
            ``(field, message)`` pairs; empty when the section fits.
        """
        problems: list[tuple[str, str]] = []
        try:
            primary_metric(task)
        except ValueError as exc:
            return [("model.task", str(exc))]
        fields = [(f"gates.absolute.{m}", m) for m in self.absolute]
        fields += [(f"gates.segments.floors.{m}", m) for m in self.segments.floors]
        fields += [
            ("gates.comparison.metric", self.comparison_metric(task)),
            ("gates.segments.metric", self.segment_metric(task)),
        ]
        for field, metric in fields:
            spec = METRICS[metric]
            if not spec.applies_to(task):
                problems.append(
                    (
                        field,
                        f"{metric} does not apply to a {task} task (it applies to "
                        f"{', '.join(sorted(spec.tasks))})",
                    )
                )
        for field, test, metric in (
            ("gates.comparison.test", self.comparison.test, self.comparison_metric(task)),
            ("gates.segments.test", self.segments.test, self.segment_metric(task)),
        ):
            try:
                _check_test(test, metric)
            except ValueError as exc:
                problems.append((field, str(exc)))
        return problems
