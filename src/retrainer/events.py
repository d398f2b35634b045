"""Event names and payloads Retrainer emits (documented in docs/architecture.md).

Events are named ``retrainer.<noun>.<verb>`` and carry the model as their resource
(``retrainer.model.<name>``), so one automation can match every model with
``retrainer.model.*``. This module is plain Python: the Prefect emitter lives in
``tasks/events.py``.
"""

from __future__ import annotations

import uuid
from typing import Any

DATA_VALIDATED = "retrainer.data.validated"
DATA_INVALID = "retrainer.data.invalid"
DATA_RELEASED = "retrainer.data.released"
DRIFT_DETECTED = "retrainer.drift.detected"
DRIFT_CHECKED = "retrainer.drift.checked"
PERFORMANCE_DEGRADED = "retrainer.performance.degraded"
PERFORMANCE_CHECKED = "retrainer.performance.checked"
MODEL_TRAINED = "retrainer.model.trained"
GATE_PASSED = "retrainer.gate.passed"
GATE_FAILED = "retrainer.gate.failed"
MODEL_PROMOTED = "retrainer.model.promoted"
MODEL_ROLLED_BACK = "retrainer.model.rolled_back"
ALERT_RECEIVED = "retrainer.alert.received"
ALERT_RESOLVED = "retrainer.alert.resolved"  # Prefect Cloud webhooks: nothing was firing
RETRAIN_DECIDED = "retrainer.retrain.decided"
RETRAIN_SUPPRESSED = "retrainer.retrain.suppressed"
ROLLOUT_STARTED = "retrainer.rollout.started"
ROLLOUT_ADVANCED = "retrainer.rollout.advanced"
ROLLOUT_PAUSED = "retrainer.rollout.paused"
ROLLOUT_PROMOTED = "retrainer.rollout.promoted"
ROLLOUT_ABORTED = "retrainer.rollout.aborted"
ROLLOUT_ROLLED_BACK = "retrainer.rollout.rolled_back"

ORIGIN_LABEL = "retrainer.origin"
"""Resource label: ``continuous-training`` for events of a CT run's steps, else ``standalone``.

Deployment triggers into the CT flow match ``standalone`` only, so the checks a CT run makes
itself do not start another CT run."""
ORIGIN_CT = "continuous-training"
ORIGIN_STANDALONE = "standalone"

ALL_EVENTS = [
    DATA_VALIDATED,
    DATA_INVALID,
    DATA_RELEASED,
    DRIFT_DETECTED,
    DRIFT_CHECKED,
    PERFORMANCE_DEGRADED,
    PERFORMANCE_CHECKED,
    MODEL_TRAINED,
    GATE_PASSED,
    GATE_FAILED,
    MODEL_PROMOTED,
    MODEL_ROLLED_BACK,
    ALERT_RECEIVED,
    ALERT_RESOLVED,
    RETRAIN_DECIDED,
    RETRAIN_SUPPRESSED,
    ROLLOUT_STARTED,
    ROLLOUT_ADVANCED,
    ROLLOUT_PAUSED,
    ROLLOUT_PROMOTED,
    ROLLOUT_ABORTED,
    ROLLOUT_ROLLED_BACK,
]

RESOURCE_PREFIX = "retrainer.model."


def model_resource(model_name: str, **labels: str) -> dict[str, str]:
    """The Prefect event resource for a model.

    Args:
        model_name: Registered model name.
        **labels: Extra resource labels (e.g. ``version="3"``); keys get a ``retrainer.``
            prefix.

    Returns:
        A resource dict with ``prefect.resource.id`` = ``retrainer.model.<name>``.
    """
    resource = {
        "prefect.resource.id": f"{RESOURCE_PREFIX}{model_name}",
        "prefect.resource.name": model_name,
        "retrainer.model.name": model_name,
    }
    for key, value in labels.items():
        resource[f"retrainer.{key}"] = str(value)
    return resource


def stable_event_id(event: str, *identity: object) -> str:
    """A stable event id (UUID 5) for a finding: the event name plus what identifies it.

    The same finding checked twice (a retry, a second schedule, a re-run by hand) gets the
    same id, and Prefect processes an event id once, so it does not trigger a second retrain.
    The drift check passes model, version, window, baseline and drifted columns; the
    performance check model, version, window, basis and verdict.

    Args:
        event: The event name, e.g. ``retrainer.drift.detected``.
        *identity: The parts that identify the finding, in a fixed order (None counts as "").

    Returns:
        The id as text.
    """
    key = "|".join([event, *("" if part is None else str(part) for part in identity)])
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"retrainer:{key}"))


def json_safe(value: Any) -> Any:
    """Make a payload JSON-serialisable (dates, numpy scalars, NaN → None)."""
    import math
    from datetime import date, datetime

    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [json_safe(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "item") and callable(value.item):
        try:
            value = value.item()
        except (ValueError, TypeError):
            return str(value)
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
