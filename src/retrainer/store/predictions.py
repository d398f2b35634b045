"""The prediction log: one row per answered request (the serving gateway writes it)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from retrainer.store._sql import upsert_insert
from retrainer.store.schema import predictions, utcnow

if TYPE_CHECKING:
    from retrainer.store.engine import Store


@dataclass(frozen=True)
class Prediction:
    """One logged prediction.

    Attributes:
        request_id: The request's id (unique: a retried request is logged once).
        model: Registered model name.
        version: Model version that answered.
        variant: Which role answered (``champion``, ``challenger``, ``shadow`` ...).
        inputs: The request's features (JSON-able).
        label: The predicted label (class or value).
        score: The predicted score or probability.
        latency_ms: Time to answer.
        entity_key: The entity the request was about (joins labels that carry no request id).
        at: When it was answered (UTC).
        error: Why the model failed on this request (a shadow or canary failure), else None.
    """

    request_id: str
    model: str
    version: str
    variant: str
    inputs: dict[str, Any]
    label: Any = None
    score: float | None = None
    latency_ms: float | None = None
    entity_key: str | None = None
    at: datetime = field(default_factory=utcnow)
    error: str | None = None


class Predictions:
    """Repository of the ``predictions`` table."""

    def __init__(self, store: Store):
        self.store = store

    def insert_many(self, rows: Iterable[Prediction]) -> int:
        """Log predictions in one transaction; a request id already logged is skipped.

        Returns:
            How many rows were new.
        """
        values = list({row.request_id: asdict(row) for row in rows}.values())
        if not values:
            return 0
        with self.store.write() as conn:
            stmt = upsert_insert(conn, predictions).on_conflict_do_nothing(
                index_elements=["request_id"]
            )
            result = conn.execute(stmt.returning(predictions.c.request_id), values)
            return len(result.all())

    def get(self, request_id: str) -> Prediction | None:
        """The prediction logged for a request, or None."""
        with self.store.read() as conn:
            row = conn.execute(
                sa.select(predictions).where(predictions.c.request_id == request_id)
            ).first()
        return _prediction(row) if row else None

    def for_model(
        self, model: str, start: datetime | None = None, end: datetime | None = None
    ) -> list[Prediction]:
        """Predictions of a model answered in ``[start, end)``, oldest first."""
        query = sa.select(predictions).where(predictions.c.model == model)
        if start is not None:
            query = query.where(predictions.c.at >= start)
        if end is not None:
            query = query.where(predictions.c.at < end)
        with self.store.read() as conn:
            rows = conn.execute(query.order_by(predictions.c.at, predictions.c.id)).all()
        return [_prediction(row) for row in rows]


def _prediction(row: Any) -> Prediction:
    data = dict(row._mapping)
    data.pop("id")
    return Prediction(**data)
