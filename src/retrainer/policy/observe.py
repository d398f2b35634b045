"""Observations from what the checks report (pure): drift, monitoring, labels, triggers.

The continuous-training flow turns the results of its drift and monitoring steps, the
labelled-row counts and its own parameters into :class:`Observations` with these functions;
the policy backtest builds them the same way from replayed checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from retrainer.policy.observations import (
    Alert,
    DriftObservation,
    PerformanceObservation,
    SegmentPerformance,
)

if TYPE_CHECKING:
    import pandas as pd

EVENT_REASONS = ("drift", "performance", "new_data", "webhook")
"""Reasons of runs started by an event (the event itself is the news)."""


def drift_observation(result: Mapping[str, Any] | None) -> DriftObservation | None:
    """A drift check's result (``retrainer.flows.drift.check_drift``) as an observation.

    Args:
        result: The check's result dict, or None when no check ran.

    Returns:
        The observation (None without a check, or when the check had no rows).
    """
    if not result or not result.get("rows"):
        return None
    return DriftObservation(
        drifted=result.get("verdict") == "drift",
        drifted_columns=tuple(result.get("drifted_features") or ()),
        prediction_drift=bool(result.get("prediction_drift")),
        event_id=result.get("event_id"),
    )


def _by_basis(checks: list[Mapping[str, Any]], metric: str, segment: str | None) -> dict:
    found: dict[str, Mapping[str, Any]] = {}
    for check in checks:
        if check.get("metric") == metric and check.get("segment") == segment:
            found[str(check.get("basis"))] = check
    return found


def _value(check: Mapping[str, Any] | None) -> float | None:
    value = None if check is None else check.get("value")
    return None if value is None or value != value else float(value)  # NaN: no value


def performance_observation(
    result: Mapping[str, Any] | None, metric: str | None = None
) -> PerformanceObservation | None:
    """A monitoring result (``retrainer.flows.monitor.monitor_performance``) as an observation.

    Args:
        result: The monitoring result dict, or None when none ran.
        metric: The metric to observe (default: the monitoring's primary metric).

    Returns:
        Realised and estimated values overall and per segment, with the champion's reference
        (None without a monitoring result).
    """
    if not result or not result.get("checks"):
        return None
    checks = list(result["checks"])
    metric = metric or (result.get("metrics") or [checks[0].get("metric")])[0]
    overall = _by_basis(checks, metric, None)
    any_check = next(iter(overall.values()), None) or next(
        (c for c in checks if c.get("metric") == metric), {}
    )
    segments = sorted({c["segment"] for c in checks if c.get("segment")})
    per_segment = []
    for segment in segments:
        found = _by_basis(checks, metric, segment)
        realised = found.get("realised")
        judged = realised or found.get("estimated") or {}
        per_segment.append(
            SegmentPerformance(
                segment=segment,
                realised=_value(realised),
                estimated=_value(found.get("estimated")),
                support=int((realised or {}).get("support") or 0),
                reference=_value({"value": judged.get("reference")}),
            )
        )
    realised = overall.get("realised")
    reference = any_check.get("reference")
    return PerformanceObservation(
        metric=metric,
        higher_is_better=bool(any_check.get("greater_is_better", True)),
        realised=_value(realised),
        estimated=_value(overall.get("estimated")),
        reference=None if reference is None else float(reference),
        support=int((realised or {}).get("support") or 0),
        segments=tuple(per_segment),
        event_id=result.get("event_id"),
    )


def trigger_alerts(
    reason: str,
    *,
    event_id: str | None = None,
    alert_id: str | None = None,
    alert_source: str | None = None,
    detail: str | None = None,
) -> tuple[Alert, ...]:
    """The alert a webhook-started run carries (its alert id, else its event id)."""
    if reason != "webhook":
        return ()
    key = alert_id or event_id
    if not key:
        return ()
    return (Alert(source=alert_source or "webhook", alert_id=key, reason=detail or ""),)


def label_window_days(strategy: Any) -> int | None:
    """Days of labelled history the label guard counts: the training window's length.

    A fixed window's ``days``, a dynamic window's longest candidate; None (all history) for a
    window without a length.
    """
    days = getattr(strategy, "days", None) or max(getattr(strategy, "candidates_days", [0]))
    return days or None


def count_labels(
    frame: pd.DataFrame, target: str, timestamp: str, task: str, since: date | None
) -> dict[str, Any]:
    """Labelled rows of a window: overall, per class (classifiers) and new since ``since``.

    Args:
        frame: The window's feature rows joined with the labels known now (the target column
            is null where a label has not arrived).
        target: Target column.
        timestamp: Event-time column.
        task: binary, multiclass or regression.
        since: The end of the champion's training window: rows with a later event date are
            new (None: every row is new).

    Returns:
        ``{"rows": ..., "per_class": {...}, "new": ...}``.
    """
    import pandas as pd

    labelled = frame[frame[target].notna()]
    per_class: dict[str, int] = {}
    if task != "regression":
        per_class = {str(k): int(v) for k, v in labelled[target].value_counts().items()}
    new = len(labelled)
    if since is not None:
        after = pd.Timestamp(since, tz="UTC") + pd.Timedelta(days=1)  # event date > since
        new = int((pd.to_datetime(labelled[timestamp], utc=True) >= after).sum())
    return {"rows": len(labelled), "per_class": per_class, "new": new}
