"""Feedback requests: labels for earlier predictions, checked field by field (pure).

A body is ``{"labels": [...]}`` (or one label object alone); each label holds ``label`` (a
string, number or boolean), ``request_id`` or ``entity_key`` (at least one), and optionally
``event_at`` (ISO 8601; a time without zone is UTC). A problem is a :class:`FeedbackError`
naming the field (``labels[2].request_id``), answered 422.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from retrainer.store.labels import Label

FIELDS = {"label", "request_id", "entity_key", "event_at"}
MAX_LABELS = 100_000


class FeedbackError(ValueError):
    """A bad feedback request; ``field`` says where."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def to_dict(self) -> dict[str, Any]:
        """The JSON error body."""
        return {"error": self.message, "field": self.field}


def _key(item: dict[str, Any], name: str, where: str) -> str | None:
    value = item.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise FeedbackError(f"{where}.{name}", "expected a non-empty string")
    return str(value)


def _when(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise FeedbackError(where, "expected an ISO 8601 time")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise FeedbackError(where, f"{value!r} is not an ISO 8601 time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _label(item: Any, where: str) -> Label:
    if not isinstance(item, dict):
        raise FeedbackError(where, "expected an object with label and request_id or entity_key")
    unknown = sorted(set(item) - FIELDS)
    if unknown:
        raise FeedbackError(f"{where}.{unknown[0]}", f"unknown field; expected {sorted(FIELDS)}")
    value = item.get("label")
    if value is None:
        raise FeedbackError(f"{where}.label", "missing")
    if not isinstance(value, str | int | float | bool) or (
        isinstance(value, float) and not math.isfinite(value)
    ):
        raise FeedbackError(f"{where}.label", "expected a finite number, a string or a boolean")
    request_id = _key(item, "request_id", where)
    entity_key = _key(item, "entity_key", where)
    if request_id is None and entity_key is None:
        raise FeedbackError(f"{where}.request_id", "give request_id or entity_key")
    event_at = _when(item.get("event_at"), f"{where}.event_at")
    return Label(value, request_id=request_id, entity_key=entity_key, event_at=event_at)


def parse_feedback(body: Any) -> list[Label]:
    """The labels of a decoded JSON body.

    Raises:
        FeedbackError: The first problem found, naming its field.
    """
    if isinstance(body, dict) and "labels" in body:
        extra = sorted(set(body) - {"labels"})
        if extra:
            raise FeedbackError(extra[0], "unknown field; expected labels")
        items, prefix = body["labels"], "labels"
        if not isinstance(items, list) or not items:
            raise FeedbackError("labels", "expected a non-empty list of labels")
        if len(items) > MAX_LABELS:
            raise FeedbackError("labels", f"{len(items):,} labels; at most {MAX_LABELS:,}")
        return [_label(item, f"{prefix}[{i}]") for i, item in enumerate(items)]
    return [_label(body, "body")]
