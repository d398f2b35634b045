"""Arrived labels (feedback): keyed by the request id or by the entity key."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from retrainer.store.schema import labels, utcnow

if TYPE_CHECKING:
    from retrainer.store.engine import Store


@dataclass(frozen=True)
class Label:
    """One arrived label.

    Attributes:
        label: The true label (class or value).
        request_id: The request it answers (or None when keyed by entity).
        entity_key: The entity it is about (or None when keyed by request).
        event_at: When the labelled event happened.
        arrived_at: When the label arrived (UTC).
    """

    label: Any
    request_id: str | None = None
    entity_key: str | None = None
    event_at: datetime | None = None
    arrived_at: datetime = field(default_factory=utcnow)

    def __post_init__(self) -> None:
        if self.request_id is None and self.entity_key is None:
            raise ValueError("a label needs request_id or entity_key")


class Labels:
    """Repository of the ``labels`` table."""

    def __init__(self, store: Store):
        self.store = store

    def insert_many(self, rows: Iterable[Label]) -> int:
        """Store labels in one transaction.

        Returns:
            How many were stored.
        """
        values = [asdict(row) for row in rows]
        if not values:
            return 0
        with self.store.write() as conn:
            conn.execute(sa.insert(labels), values)
        return len(values)

    def for_requests(self, request_ids: Iterable[str]) -> list[Label]:
        """Labels of the given requests, in arrival order."""
        return self._where(labels.c.request_id.in_(list(request_ids)))

    def for_entities(self, entity_keys: Iterable[str]) -> list[Label]:
        """Labels of the given entities, in arrival order."""
        return self._where(labels.c.entity_key.in_(list(entity_keys)))

    def _where(self, condition: Any) -> list[Label]:
        query = sa.select(labels).where(condition).order_by(labels.c.arrived_at, labels.c.id)
        with self.store.read() as conn:
            rows = conn.execute(query).all()
        return [Label(**{k: v for k, v in row._mapping.items() if k != "id"}) for row in rows]
