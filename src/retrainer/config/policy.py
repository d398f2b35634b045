"""The ``policy:`` section: when to retrain (triggers, cooldown, debounce)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from retrainer.config.base import StrictModel


class ScheduleTrigger(StrictModel):
    """Retrain on a cron schedule (the baseline of a hybrid policy)."""

    kind: Literal["schedule"] = "schedule"
    cron: str = Field(default="0 3 * * 0", description="Cron expression.")
    timezone: str = Field(default="UTC", description="IANA time zone of the cron expression.")


class DriftTrigger(StrictModel):
    """Retrain when a drift check reports drift."""

    kind: Literal["drift"] = "drift"
    min_drifted_columns: int = Field(default=1, ge=1, description="Columns that must drift.")
    consecutive: int = Field(
        default=1, ge=1, description="Consecutive drifted checks before firing (debounce)."
    )


class PerformanceTrigger(StrictModel):
    """Retrain when a monitored metric falls below a threshold, overall or for a segment."""

    kind: Literal["performance"] = "performance"
    metric: str = Field(default="roc_auc", description="Monitored metric.")
    threshold: float = Field(description="Fire when the metric is worse than this.")
    include_segments: bool = Field(default=True, description="A segment breach also fires.")
    use_estimated: bool = Field(
        default=False, description="Also fire on estimated performance before labels land."
    )


class DataArrivalTrigger(StrictModel):
    """Retrain when enough new labelled data has arrived."""

    kind: Literal["data"] = "data"
    min_new_rows: int = Field(default=10_000, ge=1, description="New labelled rows needed.")


class WebhookTrigger(StrictModel):
    """Retrain when a monitoring tool's webhook reports an alert."""

    kind: Literal["webhook"] = "webhook"
    source: str = Field(default="monitoring", description="Name of the sending tool.")


Trigger = Annotated[
    ScheduleTrigger | DriftTrigger | PerformanceTrigger | DataArrivalTrigger | WebhookTrigger,
    Field(discriminator="kind"),
]


class PolicySection(StrictModel):
    """A retraining policy: any trigger fires, cooldown and debounce keep storms to one run."""

    triggers: list[Trigger] = Field(
        default_factory=lambda: [ScheduleTrigger()],
        description="Triggers; several make a hybrid policy (schedule baseline + event nets).",
    )
    cooldown_hours: float = Field(
        default=24.0, ge=0, description="Minimum time between two retrains of this model."
    )
    debounce_minutes: float = Field(
        default=30.0, ge=0, description="Events within this window collapse into one retrain."
    )
