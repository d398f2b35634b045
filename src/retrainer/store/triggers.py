"""Per model and trigger: the last retrain, consecutive breaches, processed event ids.

:class:`PolicyStates` keeps the whole trigger-policy state of a model, locked while a
decision is taken.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from retrainer.store._sql import transaction, upsert_insert
from retrainer.store.schema import trigger_state, utcnow

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from retrainer.store.engine import Store


@dataclass
class TriggerState:
    """What a trigger policy remembers between evaluations.

    Attributes:
        model: Registered model name.
        trigger: The trigger's name (e.g. ``drift``, ``performance``).
        last_retrain_at: When it last caused a retrain.
        consecutive_breaches: Breaches in a row (for debouncing).
        processed_event_ids: Ids of events already acted on.
        updated_at: Last write.
    """

    model: str
    trigger: str
    last_retrain_at: datetime | None = None
    consecutive_breaches: int = 0
    processed_event_ids: list[str] = field(default_factory=list)
    updated_at: datetime = field(default_factory=utcnow)


class TriggerStates:
    """Repository of the ``trigger_state`` table."""

    def __init__(self, store: Store):
        self.store = store

    def get(self, model: str, trigger: str) -> TriggerState | None:
        """The state of one trigger, or None before its first save."""
        query = sa.select(trigger_state).where(
            trigger_state.c.model == model, trigger_state.c.trigger == trigger
        )
        with self.store.read() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return TriggerState(**{k: v for k, v in row._mapping.items() if k != "state"})

    def save(self, state: TriggerState) -> None:
        """Insert or replace the state (``updated_at`` is set to now)."""
        state.updated_at = utcnow()
        values = {
            "model": state.model,
            "trigger": state.trigger,
            "last_retrain_at": state.last_retrain_at,
            "consecutive_breaches": state.consecutive_breaches,
            "processed_event_ids": list(state.processed_event_ids),
            "updated_at": state.updated_at,
        }
        with self.store.write() as conn:
            stmt = upsert_insert(conn, trigger_state).values(values)
            keys = ("model", "trigger")
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=list(keys),
                    set_={k: stmt.excluded[k] for k in values if k not in keys},
                )
            )


POLICY_ROW = "policy"
"""The ``trigger`` key of the row holding a model's whole policy state."""


def _policy_values(model: str, state: dict[str, Any]) -> dict[str, Any]:
    last = state.get("last_retrain")
    return {
        "model": model,
        "trigger": POLICY_ROW,
        "last_retrain_at": datetime.fromisoformat(last) if last else None,
        "consecutive_breaches": max((state.get("consecutive") or {}).values(), default=0),
        "processed_event_ids": list(state.get("processed_events") or []),
        "state": state,
        "updated_at": utcnow(),
    }


class PolicyStates:
    """A model's policy state (:class:`retrainer.policy.PolicyState` as a dict), locked.

    One ``trigger_state`` row per model (``trigger = "policy"``) holds the whole state as
    JSON, with the last retrain, the highest breach counter and the processed ids as columns
    for people reading the table.
    """

    def __init__(self, store: Store):
        self.store = store

    def get(self, model: str, conn: Connection | None = None) -> dict[str, Any] | None:
        """The state as saved (None before the first decision)."""
        query = sa.select(trigger_state.c.state).where(
            trigger_state.c.model == model, trigger_state.c.trigger == POLICY_ROW
        )
        with transaction(self.store, conn, write=False) as c:
            row = c.execute(query).first()
        return dict(row.state or {}) if row else None

    def lock(self, conn: Connection, model: str) -> dict[str, Any]:
        """Create the row if missing and lock it for this transaction; its state.

        Decisions of concurrent runs queue here (PostgreSQL row lock, SQLite's write lock),
        so an alert storm is decided one run after the other.
        """
        stmt = upsert_insert(conn, trigger_state).values(_policy_values(model, {}))
        conn.execute(stmt.on_conflict_do_nothing(index_elements=["model", "trigger"]))
        query = sa.select(trigger_state.c.state).where(
            trigger_state.c.model == model, trigger_state.c.trigger == POLICY_ROW
        )
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        return dict(conn.execute(query).scalar_one() or {})

    def save(self, conn: Connection, model: str, state: dict[str, Any]) -> None:
        """Replace the (locked) state."""
        values = _policy_values(model, state)
        conn.execute(
            sa.update(trigger_state)
            .where(trigger_state.c.model == model, trigger_state.c.trigger == POLICY_ROW)
            .values({k: v for k, v in values.items() if k not in ("model", "trigger")})
        )


LEASE_ROW = "checking"
"""The ``trigger`` key of the row saying which run is checking a model right now."""


class CheckLeases:
    """Which continuous-training run is checking a model now, and what arrived meanwhile.

    The first run of a storm takes the lease and runs the checks; runs that find it held
    hand their request (an alert, a person's request) to the holder and stop. The holder
    takes the handed-over requests into its decision and gives the lease back.
    """

    def __init__(self, store: Store):
        self.store = store

    def _where(self, model: str) -> Any:
        return sa.and_(trigger_state.c.model == model, trigger_state.c.trigger == LEASE_ROW)

    def claim(
        self, model: str, run_id: str, until: datetime, request: dict[str, Any] | None = None
    ) -> str | None:
        """Take the lease; when another run holds it (unexpired), hand it ``request``.

        Returns:
            None when this run holds the lease now, else the holder's run id.
        """
        now = utcnow()
        fresh = {"run": run_id, "until": until.isoformat(), "handed_over": []}
        with self.store.write() as conn:
            stmt = upsert_insert(conn, trigger_state).values(_lease_values(model, None))
            conn.execute(stmt.on_conflict_do_nothing(index_elements=["model", "trigger"]))
            query = sa.select(trigger_state.c.state).where(self._where(model))
            if conn.dialect.name == "postgresql":
                query = query.with_for_update()
            held = conn.execute(query).scalar_one()
            if held and held.get("run") != run_id and datetime.fromisoformat(held["until"]) > now:
                if request:
                    held = {**held, "handed_over": [*held.get("handed_over", []), request]}
                    self._write(conn, model, held)
                return str(held["run"])
            self._write(conn, model, fresh)
        return None

    def take(self, conn: Connection, model: str, run_id: str) -> list[dict[str, Any]]:
        """Give the lease back (inside the decision's transaction); the handed-over requests."""
        query = sa.select(trigger_state.c.state).where(self._where(model))
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        held = conn.execute(query).scalar()
        if not held or held.get("run") != run_id:
            return []
        self._write(conn, model, None)
        return list(held.get("handed_over", []))

    def release(self, model: str, run_id: str) -> None:
        """Give the lease back (a run that failed before deciding)."""
        with self.store.write() as conn:
            self.take(conn, model, run_id)

    def _write(self, conn: Connection, model: str, state: dict[str, Any] | None) -> None:
        values = _lease_values(model, state)
        conn.execute(
            sa.update(trigger_state)
            .where(self._where(model))
            .values({k: v for k, v in values.items() if k not in ("model", "trigger")})
        )


def _lease_values(model: str, state: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "model": model,
        "trigger": LEASE_ROW,
        "last_retrain_at": None,
        "consecutive_breaches": 0,
        "processed_event_ids": [],
        "state": state,
        "updated_at": utcnow(),
    }
