"""What a policy sees when it decides (pure data; the CT flow and the backtest fill it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class DriftObservation:
    """The latest drift check of the champion's inputs and predictions.

    Attributes:
        drifted: The check's verdict.
        drifted_columns: Feature columns that drifted.
        prediction_drift: Whether the champion's predictions drifted.
        event_id: The check's event id (a repeated check is seen once).
    """

    drifted: bool
    drifted_columns: tuple[str, ...] = ()
    prediction_drift: bool = False
    event_id: str | None = None


@dataclass(frozen=True)
class SegmentPerformance:
    """One segment's value of the monitored metric.

    Attributes:
        segment: ``column=value``.
        realised: Realised value on the segment's labelled rows.
        estimated: Estimated value before labels land.
        support: Labelled rows behind ``realised``.
        reference: The champion's value for this segment (its own holdout value when the
            segment had enough rows there, else the overall one); None: use the overall.
    """

    segment: str
    realised: float | None = None
    estimated: float | None = None
    support: int = 0
    reference: float | None = None


@dataclass(frozen=True)
class PerformanceObservation:
    """The latest monitoring of the champion: realised (labelled) and estimated values.

    Attributes:
        metric: The metric.
        higher_is_better: Its direction.
        realised: Realised value on the labels that arrived (None: too few).
        estimated: Estimated value before labels land (None: not estimable).
        reference: The champion's recorded holdout value.
        support: Labelled rows behind ``realised``.
        segments: Per-segment values.
        event_id: The monitoring event's id.
    """

    metric: str
    higher_is_better: bool = True
    realised: float | None = None
    estimated: float | None = None
    reference: float | None = None
    support: int = 0
    segments: tuple[SegmentPerformance, ...] = ()
    event_id: str | None = None


@dataclass(frozen=True)
class Alert:
    """An alert of a monitoring tool (through the webhook receiver) or a Prefect event."""

    source: str
    alert_id: str
    reason: str = ""


@dataclass(frozen=True)
class Observations:
    """Everything a decision looks at, at one moment.

    Attributes:
        now: When the decision is taken (UTC).
        has_champion: Whether the model has a champion (without one, the first model is
            trained as soon as the labels allow).
        champion_trained_at: When the champion was trained (a schedule counts from there
            until the policy's first retrain).
        drift: The latest drift check, if any ran.
        performance: The latest monitoring, if any ran.
        labelled_rows: Labelled rows the training window holds.
        labelled_per_class: The same per class (classifiers).
        new_labelled_rows: Labelled rows that arrived since the champion was trained.
        config_hash: The current config's hash; ``champion_config_hash`` the one that trained
            the champion (None: unknown).
        code_version: The running code's version; ``champion_code_version`` the champion's.
        alerts: Webhook alerts and events delivered to this decision.
        on_demand: A person's request, with the reason they gave.
        rollout: The challenger a staged rollout is running for, e.g. ``v5 (canary 25%)``
            (None: no rollout runs).
    """

    now: datetime
    has_champion: bool = True
    champion_trained_at: datetime | None = None
    drift: DriftObservation | None = None
    performance: PerformanceObservation | None = None
    labelled_rows: int = 0
    labelled_per_class: dict[str, int] = field(default_factory=dict)
    new_labelled_rows: int = 0
    config_hash: str | None = None
    champion_config_hash: str | None = None
    code_version: str | None = None
    champion_code_version: str | None = None
    alerts: tuple[Alert, ...] = ()
    on_demand: str | None = None
    rollout: str | None = None
