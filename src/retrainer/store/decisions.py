"""Every trigger-policy decision, taken or suppressed, with its reasons and what came of it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from retrainer.store._sql import transaction
from retrainer.store.schema import trigger_decisions, utcnow

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from retrainer.store.engine import Store

OUTCOMES = (
    "promoted",
    "rollout_started",
    "not_promoted",
    "gate_failed",
    "awaiting_approval",
    "failed",
)
"""What a retrain decision led to (set when the run finishes)."""


@dataclass(frozen=True)
class DecisionRecord:
    """One recorded decision.

    Attributes:
        id: Position (increasing).
        model: Registered model name.
        at: When it was decided (UTC).
        reason: What started the run (``schedule``, ``webhook`` ...).
        event_id: The triggering event's id, if any.
        status: ``retrain``, ``no_trigger``, ``suppressed`` or ``waiting_for_labels``.
        retrain: Whether a retrain was decided.
        suppressed_by: The guard that held it back, if any.
        detail: One line: what was decided and why.
        decision: The whole decision (:meth:`retrainer.policy.Decision.to_dict`).
        flow_run_id: The Prefect flow run that decided.
        outcome: For a retrain: ``promoted``, ``rollout_started`` (a staged rollout took
            over), ``not_promoted``, ``gate_failed``,
            ``awaiting_approval`` or ``failed`` (None while it runs).
        version: The version the retrain registered.
        outcome_detail: What happened, in words.
    """

    id: int
    model: str
    at: datetime
    reason: str
    event_id: str | None
    status: str
    retrain: bool
    suppressed_by: str | None
    detail: str
    decision: dict[str, Any] = field(default_factory=dict)
    flow_run_id: str | None = None
    outcome: str | None = None
    version: str | None = None
    outcome_detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        data = asdict(self)
        data["at"] = self.at.isoformat()
        return data


class TriggerDecisions:
    """Repository of the ``trigger_decisions`` table (append, then one outcome update)."""

    def __init__(self, store: Store):
        self.store = store

    def record(
        self,
        conn: Connection,
        model: str,
        decision: dict[str, Any],
        *,
        reason: str,
        event_id: str | None,
        flow_run_id: str | None,
        at: datetime | None = None,
    ) -> int:
        """Append a decision (inside the caller's transaction); its id."""
        values = {
            "model": model,
            "at": at or utcnow(),
            "reason": reason,
            "event_id": event_id,
            "status": decision["status"],
            "retrain": bool(decision["retrain"]),
            "suppressed_by": decision.get("suppressed_by"),
            "detail": decision.get("detail") or "",
            "decision": decision,
            "flow_run_id": flow_run_id,
        }
        result = conn.execute(sa.insert(trigger_decisions).values(values))
        return int(result.inserted_primary_key[0])

    def set_outcome(
        self, decision_id: int, outcome: str, *, version: str | None = None, detail: str = ""
    ) -> None:
        """Record what a retrain decision led to."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; one of {', '.join(OUTCOMES)}")
        with self.store.write() as conn:
            conn.execute(
                sa.update(trigger_decisions)
                .where(trigger_decisions.c.id == decision_id)
                .values(outcome=outcome, version=version, outcome_detail=detail or None)
            )

    def latest(
        self, model: str, limit: int = 20, conn: Connection | None = None
    ) -> list[DecisionRecord]:
        """The model's decisions, newest first."""
        query = (
            sa.select(trigger_decisions)
            .where(trigger_decisions.c.model == model)
            .order_by(trigger_decisions.c.id.desc())
            .limit(limit)
        )
        with transaction(self.store, conn, write=False) as c:
            rows = c.execute(query).all()
        return [DecisionRecord(**row._mapping) for row in rows]

    def count(self, model: str, status: str | None = None) -> int:
        """How many decisions the model has (of one status)."""
        query = sa.select(sa.func.count()).where(trigger_decisions.c.model == model)
        if status is not None:
            query = query.where(trigger_decisions.c.status == status)
        with self.store.read() as conn:
            return int(conn.execute(query).scalar_one())
