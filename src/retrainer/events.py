"""Event names and payloads Retrainer emits (documented in docs/architecture.md).

Events are named ``retrainer.<noun>.<verb>`` and carry the model as their resource
(``retrainer.model.<name>``), so one automation can match every model with
``retrainer.model.*``. This module is plain Python: the Prefect emitter lives in
``tasks/events.py``.
"""

from __future__ import annotations

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
