"""The ``promotion:`` section: how a gated challenger becomes the champion."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from retrainer.config.base import StrictModel


class ShadowStage(StrictModel):
    """The champion answers; the challenger's predictions are logged and compared."""

    kind: Literal["shadow"] = "shadow"
    sample_fraction: float = Field(default=1.0, gt=0, le=1, description="Requests mirrored.")
    min_requests: int = Field(default=1_000, ge=1, description="Requests before a decision.")
    max_duration_hours: float = Field(default=72, gt=0, description="Give up after this long.")


class CanaryStage(StrictModel):
    """Traffic moves to the challenger in weight steps, with an analysis at each step."""

    kind: Literal["canary"] = "canary"
    weights: list[int] = Field(
        default_factory=lambda: [5, 25, 50], description="Traffic percentages, ascending."
    )
    min_labelled_per_step: int = Field(default=500, ge=1, description="Labels per analysis.")
    failure_limit: int = Field(default=0, ge=0, description="Failed analyses tolerated.")
    inconclusive_limit: int = Field(
        default=1, ge=0, description="Inconclusive analyses before pausing for a human."
    )

    @model_validator(mode="after")
    def _ascending(self) -> CanaryStage:
        if not self.weights or any(not 0 < w < 100 for w in self.weights):
            raise ValueError("canary weights must be between 1 and 99")
        if self.weights != sorted(set(self.weights)):
            raise ValueError("canary weights must be strictly ascending")
        return self


class ABStage(StrictModel):
    """A sticky split with a pre-set horizon and a statistical decision."""

    kind: Literal["ab"] = "ab"
    challenger_share: float = Field(default=0.5, gt=0, lt=1, description="Traffic share.")
    horizon_days: float = Field(default=7, gt=0, description="Pre-set duration of the test.")
    alpha: float = Field(default=0.05, gt=0, lt=1, description="Significance level.")


Stage = Annotated[ShadowStage | CanaryStage | ABStage, Field(discriminator="kind")]


class PromotionSection(StrictModel):
    """Promotion plan."""

    stages: list[Stage] = Field(
        default_factory=list,
        description="Rollout stages in order (shadow, ab, canary). Reserved for staged "
        "rollouts through the serving gateway, not built yet: validated, and `config check` "
        "warns when set; promotion works as without stages (aliases move directly, the "
        "previous champion stays one command away).",
    )
    auto_promote: bool = Field(
        default=False,
        description="Promote automatically after the gate passes; otherwise it stays "
        "`challenger` until `retrainer promote`.",
    )
