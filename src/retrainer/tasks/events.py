"""Emit Retrainer events to the Prefect API (automations trigger on them)."""

from __future__ import annotations

import logging
from typing import Any

from retrainer.events import ORIGIN_CT, ORIGIN_STANDALONE, json_safe, model_resource

CT_TAG = "retrainer:continuous-training"
"""The Prefect tag a continuous-training run puts around its steps (``prefect.tags``)."""

logger = logging.getLogger(__name__)


def emit(
    event: str,
    model_name: str,
    payload: dict[str, Any] | None = None,
    event_id: str | None = None,
    **resource_labels: str,
) -> str | None:
    """Emit ``event`` for a model; returns the event id (None if Prefect did not take it).

    Args:
        event: Event name, e.g. ``retrainer.drift.detected``.
        model_name: The model (resource ``retrainer.model.<name>``).
        payload: JSON-able details (dates, numpy scalars and NaN are converted).
        event_id: A stable id (UUID) makes redelivery idempotent on the Prefect side.
        **resource_labels: Extra resource labels such as ``version="3"``; ``origin``
            (``retrainer.origin``) defaults to :func:`current_origin`.
    """
    from prefect.events import emit_event

    kwargs: dict[str, Any] = {}
    if event_id:
        kwargs["id"] = event_id
    resource_labels.setdefault("origin", current_origin())
    emitted = emit_event(
        event=event,
        resource=model_resource(model_name, **resource_labels),
        payload=json_safe(payload or {}),
        **kwargs,
    )
    if emitted is None:
        logger.warning("event %s for %s was not emitted (no Prefect API?)", event, model_name)
        return None
    return str(emitted.id)


def prefect_api_is_shared() -> bool:
    """Whether runs talk to a Prefect server others can reach (not the ephemeral one).

    A paused run can only be resumed from another process through a shared API, and events
    emitted to the ephemeral API of a local run reach no automation.
    """
    from prefect.settings import get_current_settings

    return bool(get_current_settings().api.url)


def current_origin() -> str:
    """The ``retrainer.origin`` label of events emitted here (CT triggers match on it).

    ``continuous-training`` inside the steps of a CT run (within its :data:`CT_TAG`), else
    ``standalone``.
    """
    from prefect.context import TagsContext

    return ORIGIN_CT if CT_TAG in TagsContext.get().current_tags else ORIGIN_STANDALONE
