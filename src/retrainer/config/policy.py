"""The ``policy:`` section: when to retrain (triggers, and the guards every policy has).

Triggers are a discriminated union on ``kind``. Any number of them make a policy: the policy
fires when ``mode`` says so (``any`` by default — a schedule as the baseline plus event safety
nets is a hybrid policy), or a ``hybrid`` trigger combines a group of them (any / all / at
least k). Guards apply to every decision: a cooldown, N consecutive breaches (per trigger), a
daily cap, enough labelled rows, and ``require_degradation`` (drift alone does not retrain a
model whose performance holds). :func:`retrainer.policy.decide` is the one place that applies
it, for the live continuous-training flow and for the policy backtest alike.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from retrainer.config.base import StrictModel

Basis = Literal["realised", "estimated", "either"]
Scope = Literal["overall", "segments", "any"]


class _Trigger(StrictModel):
    """Fields every trigger has."""

    name: str | None = Field(
        default=None,
        description="Name in decisions and the trigger state (default: `<kind>` or "
        "`<kind>[<position>]` when a kind repeats).",
    )


class ScheduleTrigger(_Trigger):
    """Retrain when a cron occurrence has passed since the last retrain (the baseline)."""

    kind: Literal["schedule"] = "schedule"
    cron: str = Field(default="0 3 * * 0", description="Cron expression (5 fields).")
    timezone: str = Field(default="UTC", description="IANA time zone of the cron expression.")

    @field_validator("cron")
    @classmethod
    def _parses(cls, value: str) -> str:
        from cronsim import CronSim, CronSimError

        from retrainer.policy.clock import EPOCH

        try:
            next(CronSim(value, EPOCH))
        except (CronSimError, StopIteration) as exc:
            raise ValueError(f"not a cron expression: {exc}") from None
        return value


class DriftTrigger(_Trigger):
    """Retrain when the drift check reports drift (its thresholds are the drift section's)."""

    kind: Literal["drift"] = "drift"
    columns: list[str] | None = Field(
        default=None,
        description="Only drift of these columns counts (default: any checked feature).",
    )
    min_drifted_columns: int = Field(default=1, ge=1, description="Columns that must drift.")
    prediction: bool = Field(
        default=True, description="Drift of the champion's predictions counts too."
    )
    consecutive: int = Field(
        default=1, ge=1, description="Consecutive drifted checks before firing (debounce)."
    )


class PerformanceTrigger(_Trigger):
    """Retrain when a monitored metric falls below a threshold, overall or for a segment."""

    kind: Literal["performance"] = "performance"
    metric: str | None = Field(
        default=None, description="Monitored metric (default: the monitoring section's primary)."
    )
    threshold: float | None = Field(
        default=None,
        description="Fire when the metric is worse than this absolute value.",
    )
    max_drop: float | None = Field(
        default=None,
        gt=0,
        description="Fire when the metric is worse than the champion's recorded holdout value "
        "by more than this (absolute).",
    )
    basis: Basis = Field(
        default="either",
        description="`realised` (labels arrived), `estimated` (before labels land) or `either`.",
    )
    scope: Scope = Field(
        default="any", description="`overall`, `segments` (any segment) or `any` of both."
    )
    min_support: int = Field(
        default=200,
        ge=1,
        description="Labelled rows a realised value (overall or a segment's) needs to count.",
    )
    consecutive: int = Field(
        default=1, ge=1, description="Consecutive breaching checks before firing (debounce)."
    )

    @model_validator(mode="after")
    def _bound(self) -> PerformanceTrigger:
        if self.threshold is None and self.max_drop is None:
            raise ValueError("set threshold (an absolute value) or max_drop (vs the champion)")
        return self


class DataVolumeTrigger(_Trigger):
    """Retrain when enough new labelled rows have arrived since the last retrain."""

    kind: Literal["data_volume"] = "data_volume"
    min_new_rows: int = Field(default=10_000, ge=1, description="New labelled rows needed.")


class CodeChangeTrigger(_Trigger):
    """Retrain when the config or the code differs from what trained the champion."""

    kind: Literal["code_change"] = "code_change"
    config: bool = Field(default=True, description="A changed config hash fires.")
    code: bool = Field(default=True, description="A changed code version fires.")


class WebhookTrigger(_Trigger):
    """Retrain when a monitoring tool's alert arrives (through the webhook receiver)."""

    kind: Literal["webhook"] = "webhook"
    sources: list[str] | None = Field(
        default=None, description="Only alerts of these sources (default: any source)."
    )


class OnDemandTrigger(_Trigger):
    """Retrain when a person asks (`retrainer trigger REASON`, the Prefect UI)."""

    kind: Literal["on_demand"] = "on_demand"
    bypass_cooldown: bool = Field(
        default=True,
        description="A person's request is not held back by the cooldown and the daily cap "
        "(it still needs enough labelled rows).",
    )


SimpleTrigger = Annotated[
    ScheduleTrigger
    | DriftTrigger
    | PerformanceTrigger
    | DataVolumeTrigger
    | CodeChangeTrigger
    | WebhookTrigger
    | OnDemandTrigger,
    Field(discriminator="kind"),
]


class HybridTrigger(_Trigger):
    """A group of triggers combined: any, all, or at least k of them fire."""

    kind: Literal["hybrid"] = "hybrid"
    mode: Literal["any", "all", "at_least"] = Field(
        default="any", description="How the group's triggers combine."
    )
    k: int | None = Field(default=None, ge=1, description="With mode at_least: how many.")
    triggers: list[SimpleTrigger] = Field(min_length=1, description="The group.")

    @model_validator(mode="after")
    def _k(self) -> HybridTrigger:
        if self.mode == "at_least" and (self.k is None or self.k > len(self.triggers)):
            raise ValueError("mode at_least needs k between 1 and the number of triggers")
        if self.mode != "at_least" and self.k is not None:
            raise ValueError("k goes with mode at_least")
        return self


Trigger = Annotated[
    ScheduleTrigger
    | DriftTrigger
    | PerformanceTrigger
    | DataVolumeTrigger
    | CodeChangeTrigger
    | WebhookTrigger
    | OnDemandTrigger
    | HybridTrigger,
    Field(discriminator="kind"),
]


class LabelGuard(StrictModel):
    """Enough labelled rows to train on."""

    min_rows: int = Field(
        default=1_000, ge=0, description="Labelled rows the training window must hold."
    )
    min_per_class: int = Field(
        default=50, ge=0, description="Classifiers: labelled rows each class needs."
    )


class PolicySection(StrictModel):
    """A retraining policy: triggers, and the guards that keep a storm to one retrain."""

    triggers: list[Trigger] = Field(
        default_factory=lambda: [ScheduleTrigger()],
        description="Triggers. Several make a hybrid policy (a schedule baseline plus event "
        "safety nets); combine them with `mode` or a `hybrid` trigger.",
    )
    mode: Literal["any", "all", "at_least"] = Field(
        default="any", description="How the top-level triggers combine."
    )
    k: int | None = Field(default=None, ge=1, description="With mode at_least: how many.")
    cooldown_hours: float = Field(
        default=24.0, ge=0, description="Minimum time between two retrains of this model."
    )
    max_per_day: int | None = Field(
        default=None, ge=1, description="At most this many retrains per UTC day (default: no cap)."
    )
    labels: LabelGuard = Field(
        default_factory=LabelGuard, description="Enough labelled rows to train on."
    )
    require_degradation: bool = Field(
        default=False,
        description="Drift alone does not retrain while realised and estimated performance "
        "hold: such a retrain is waste. Performance holds when no available basis is worse "
        "than the champion's recorded value by `degradation_drop`.",
    )
    degradation_drop: float = Field(
        default=0.02, gt=0, description="With require_degradation: the drop that counts."
    )
    hold_during_rollout: bool = Field(
        default=True,
        description="While a staged rollout (promotion.stages) of a challenger runs, a "
        "retrain is held back: the rollout decides first. Without it, a champion that "
        "stays degraded during the rollout retrains every cooldown, and each new challenger "
        "restarts the plan. An on-demand request still retrains.",
    )
    remember_events: int = Field(
        default=1_000, ge=10, description="Processed event ids kept to drop duplicates."
    )

    def leaf_triggers(self) -> list[Any]:
        """Every trigger, with ``hybrid`` groups unfolded into their members."""

        def unfold(triggers: list[Any]) -> list[Any]:
            out: list[Any] = []
            for t in triggers:
                out += unfold(t.triggers) if t.kind == "hybrid" else [t]
            return out

        return unfold(self.triggers)

    @model_validator(mode="after")
    def _consistent(self) -> PolicySection:
        if self.mode == "at_least" and (self.k is None or self.k > len(self.triggers)):
            raise ValueError("mode at_least needs k between 1 and the number of triggers")
        if self.mode != "at_least" and self.k is not None:
            raise ValueError("k goes with mode at_least")
        names = [t.name for t in self.triggers if t.name]
        if len(set(names)) != len(names):
            raise ValueError("trigger names must be unique")
        return self
