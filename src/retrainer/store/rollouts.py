"""Each model's rollout state, written by compare-and-set, and the history of its transitions.

The reconciler reads the state at some revision, computes one transition with
:func:`retrainer.rollout.advance` and writes it only if the stored revision is still the one
it read; a concurrent writer (another reconciler run, a person pausing the rollout) makes the
write fail, and the caller reads again. The transition and its history row are one
transaction, so a crash leaves either both or neither.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from retrainer.rollout import RolloutState, Transition
from retrainer.rollout.machine import TERMINAL
from retrainer.store.schema import rollout_history, rollouts, utcnow

if TYPE_CHECKING:
    from retrainer.store.engine import Store


class Rollouts:
    """Repository of the ``rollouts`` and ``rollout_history`` tables."""

    def __init__(self, store: Store):
        self.store = store

    def get(self, model: str) -> RolloutState | None:
        """The model's rollout (the latest, running or ended), or None before the first."""
        query = sa.select(rollouts.c.state).where(rollouts.c.model == model)
        with self.store.read() as conn:
            state = conn.execute(query).scalar_one_or_none()
        return None if state is None else RolloutState.from_dict(state)

    def write(self, transition: Transition, expected: int | None) -> RolloutState | None:
        """Store ``transition`` if the stored revision is still ``expected``.

        A new rollout (``expected`` None) may replace one that has ended; its revisions then
        continue from the ended one's, so a writer holding a stale read can never match.

        Args:
            transition: What :mod:`retrainer.rollout` decided (a ``wait`` writes nothing).
            expected: The revision the decision was computed from; None for a new rollout.

        Returns:
            The state as stored, or None when another writer came first (read again).
        """
        state = transition.state
        if not transition.changed:
            return state
        with self.store.write() as conn:
            stored = conn.execute(
                sa.select(rollouts.c.revision, rollouts.c.status).where(
                    rollouts.c.model == state.model
                )
            ).first()
            if stored is None and expected is not None:
                return None
            if stored is not None and expected is None:
                if stored.status not in TERMINAL:
                    return None
                state = replace(state, revision=stored.revision + 1)
            elif stored is not None and stored.revision != expected:
                return None
            values = {
                "model": state.model,
                "revision": state.revision,
                "status": state.status,
                "challenger": state.challenger,
                "champion": state.champion,
                "state": state.to_dict(),
                "updated_at": utcnow(),
            }
            if stored is None:
                conn.execute(sa.insert(rollouts).values(values))
            else:
                done = conn.execute(
                    sa.update(rollouts)
                    .where(rollouts.c.model == state.model, rollouts.c.revision == stored.revision)
                    .values(values)
                )
                if done.rowcount != 1:
                    return None
            conn.execute(
                sa.insert(rollout_history).values(
                    model=state.model,
                    revision=state.revision,
                    action=transition.action,
                    reason=transition.reason,
                    state=state.to_dict(),
                    analysis=transition.analysis.to_dict() if transition.analysis else None,
                    at=values["updated_at"],
                )
            )
        return state

    def history(self, model: str, limit: int = 100) -> list[dict[str, Any]]:
        """The model's transitions, newest first."""
        query = (
            sa.select(rollout_history)
            .where(rollout_history.c.model == model)
            .order_by(rollout_history.c.id.desc())
            .limit(limit)
        )
        with self.store.read() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]
