"""The ``promotion:`` section: how a gated challenger becomes the champion."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from retrainer.config.base import StrictModel

AnalysisName = Literal[
    "metric_delta",
    "error_rate",
    "error_rate_delta",
    "agreement",
    "score_shift",
    "latency_p99_ratio",
]


class Bounds(StrictModel):
    """An interval a measurement falls in (either end open)."""

    min: float | None = Field(default=None, description="Lowest value inside (inclusive).")
    max: float | None = Field(default=None, description="Highest value inside (inclusive).")

    @model_validator(mode="after")
    def _some_end(self) -> Bounds:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self

    def holds(self, value: float) -> bool:
        """Whether ``value`` is inside."""
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)


class AnalysisMetric(StrictModel):
    """One measurement of a stage's analysis, judged like an Argo Rollouts metric.

    Failure takes precedence; a value in neither interval is inconclusive; a value that
    cannot be measured is an error. A metric with neither condition is a config error.
    """

    name: AnalysisName = Field(
        description="metric_delta: challenger minus champion on the primary metric (labelled "
        "requests); error_rate / error_rate_delta: the challenger's share of failed "
        "predictions, alone or minus the champion's; agreement: share of requests both "
        "models label alike; score_shift: PSI between the two score distributions; "
        "latency_p99_ratio: challenger p99 over champion p99."
    )
    success: Bounds | None = Field(default=None, description="Where the value passes.")
    failure: Bounds | None = Field(default=None, description="Where the value fails.")

    @model_validator(mode="after")
    def _judged(self) -> AnalysisMetric:
        if self.success is None and self.failure is None:
            raise ValueError(f"analysis metric {self.name!r} needs a success or failure condition")
        return self


def _default_analysis() -> list[AnalysisMetric]:
    return [
        AnalysisMetric(name="metric_delta", success=Bounds(min=-0.005), failure=Bounds(max=-0.02)),
        AnalysisMetric(name="error_rate", failure=Bounds(min=0.01)),
    ]


class _Analysed(StrictModel):
    analysis: list[AnalysisMetric] = Field(
        default_factory=_default_analysis,
        description="Measurements judged at each analysis (worst one decides).",
    )
    failure_limit: int = Field(default=0, ge=0, description="Failed analyses tolerated.")
    inconclusive_limit: int = Field(
        default=1, ge=0, description="Inconclusive analyses before pausing for a human."
    )


class ShadowStage(_Analysed):
    """The champion answers; the challenger's predictions are logged and compared."""

    kind: Literal["shadow"] = "shadow"
    sample_fraction: float = Field(default=1.0, gt=0, le=1, description="Requests mirrored.")
    min_requests: int = Field(default=1_000, ge=1, description="Requests before a decision.")
    min_labelled: int = Field(default=500, ge=0, description="Labelled requests before one.")
    min_duration_hours: float = Field(default=1, ge=0, description="Time before a decision.")
    max_duration_hours: float = Field(
        default=72, gt=0, description="Pause for a human when still short of evidence then."
    )


class CanaryStage(_Analysed):
    """Traffic moves to the challenger in weight steps, with an analysis at each step."""

    kind: Literal["canary"] = "canary"
    weights: list[int] = Field(
        default_factory=lambda: [5, 25, 50], description="Traffic percentages, ascending."
    )
    step_minutes: float = Field(default=30, ge=0, description="Pause at each step.")
    min_labelled_per_step: int = Field(default=500, ge=1, description="Labels per analysis.")
    max_step_hours: float = Field(
        default=24, gt=0, description="Pause for a human when a step is still short of labels."
    )

    @model_validator(mode="after")
    def _ascending(self) -> CanaryStage:
        if not self.weights or any(not 0 < w < 100 for w in self.weights):
            raise ValueError("canary weights must be between 1 and 99")
        if self.weights != sorted(set(self.weights)):
            raise ValueError("canary weights must be strictly ascending")
        return self


class ABStage(_Analysed):
    """A sticky split with a pre-set horizon and a statistical decision at its end.

    The analysis metrics act as guardrails during the test (a failure aborts early); the
    decision at the horizon is the comparison of the primary metric.
    """

    kind: Literal["ab"] = "ab"
    challenger_share: float = Field(default=0.5, gt=0, lt=1, description="Traffic share.")
    horizon_days: float = Field(default=7, gt=0, description="Pre-set duration of the test.")
    min_detectable_effect: float = Field(
        default=0.02,
        gt=0,
        lt=1,
        description="Smallest difference in the primary metric "
        "(a rate, e.g. accuracy) the test must detect; sets the required labelled requests.",
    )
    power: float = Field(default=0.8, gt=0, lt=1, description="Power at that effect.")
    alpha: float = Field(default=0.05, gt=0, lt=1, description="Significance level.")
    inconclusive_limit: int = Field(
        default=0, ge=0, description="An A/B test ends at its horizon: nothing to retry."
    )


Stage = Annotated[ShadowStage | CanaryStage | ABStage, Field(discriminator="kind")]


class PromotionSection(StrictModel):
    """Promotion plan."""

    stages: list[Stage] = Field(
        default_factory=list,
        description="Rollout stages in order (shadow, ab, canary), each with its analysis. "
        "Empty: a passed gate promotes directly (with auto_promote, or `retrainer promote`). "
        "Set: a passed challenger (once there is a champion) starts a staged rollout instead; "
        "the serving gateway (`retrainer serve`) routes by it and logs the evidence, and the "
        "reconcile-rollout flow advances it, promoting at the end or aborting with the "
        "champion unchanged.",
    )
    auto_promote: bool = Field(
        default=False,
        description="Promote automatically after the gate passes; otherwise it stays "
        "`challenger` until `retrainer promote`.",
    )
