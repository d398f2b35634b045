"""The promotion ledger: append-only records of promotions, rollbacks, approvals and aborts."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from retrainer.store._sql import transaction
from retrainer.store.schema import ledger, utcnow

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from retrainer.store.engine import Store

ACTIONS = ("promote", "rollback", "approval", "abort", "import", "adopt")
"""``promote``/``rollback`` change the champion; ``approval``/``abort`` record a decision;
``import`` notes a champion found in MLflow on first use, ``adopt`` one moved outside retrainer."""


@dataclass(frozen=True)
class PromotionRecord:
    """One ledger record: who did what to which versions, why, and the evidence.

    Attributes:
        id: Position in the ledger (increasing).
        model: Registered model name.
        action: One of :data:`ACTIONS`.
        from_version: The champion before (None when there was none).
        to_version: The version acted on (the new champion for promote/rollback).
        by: Who (a person, ``gate``, ``retrainer``).
        reason: Why, in words.
        at: When (UTC).
        evidence: Gate summary, metrics, links to reports, ``forced`` ...
    """

    id: int
    model: str
    action: str
    from_version: str | None
    to_version: str | None
    by: str
    reason: str
    at: datetime
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """As a JSON-able dict (``at`` as ISO text)."""
        return {**asdict(self), "at": self.at.isoformat(timespec="seconds")}


class Ledger:
    """Repository of the ``ledger`` table (append and read; records never change)."""

    def __init__(self, store: Store):
        self.store = store

    def append(
        self,
        model: str,
        action: str,
        *,
        from_version: str | None,
        to_version: str | None,
        by: str,
        reason: str = "",
        evidence: dict[str, Any] | None = None,
        conn: Connection | None = None,
    ) -> PromotionRecord:
        """Append a record (inside ``conn``'s transaction when given).

        Raises:
            ValueError: For an unknown action or an empty ``by``.
        """
        if action not in ACTIONS:
            raise ValueError(f"ledger action {action!r} is not one of {', '.join(ACTIONS)}")
        if not by:
            raise ValueError("a ledger record needs `by` (who)")
        values = {
            "model": model,
            "action": action,
            "from_version": from_version,
            "to_version": to_version,
            "by": by,
            "reason": reason or "",
            "at": utcnow(),
            "evidence": evidence or {},
        }
        with transaction(self.store, conn, write=True) as tx:
            record_id = tx.execute(sa.insert(ledger).values(values).returning(ledger.c.id)).scalar()
        return PromotionRecord(id=int(record_id), **values)

    def get(self, record_id: int, conn: Connection | None = None) -> PromotionRecord | None:
        """A record by id."""
        with transaction(self.store, conn, write=False) as tx:
            row = tx.execute(sa.select(ledger).where(ledger.c.id == record_id)).first()
        return PromotionRecord(**row._mapping) if row else None

    def history(self, model: str, limit: int | None = None) -> list[PromotionRecord]:
        """A model's records, newest first."""
        query = sa.select(ledger).where(ledger.c.model == model).order_by(ledger.c.id.desc())
        if limit is not None:
            query = query.limit(limit)
        with self.store.read() as conn:
            return [PromotionRecord(**row._mapping) for row in conn.execute(query)]
