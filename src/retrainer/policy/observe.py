"""Observations from what the checks report (pure): drift, monitoring, labels, triggers.

The continuous-training flow turns the results of its drift and monitoring steps, the
labelled-row counts and its own parameters into :class:`Observations` with these functions;
the policy backtest builds them the same way from replayed checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from retrainer.policy.observations import (
    Alert,
    DriftObservation,
    PerformanceObservation,
    SegmentPerformance,
)

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
        per_segment.append(
            SegmentPerformance(
                segment=segment,
                realised=_value(realised),
                estimated=_value(found.get("estimated")),
                support=int((realised or {}).get("support") or 0),
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
