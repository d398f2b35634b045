"""One row per model: the champion, the previous champion and a counter for compare-and-set.

The row is the truth; MLflow's aliases are its projection. ``counter`` grows with every
change and ``projected`` is the counter last written to the aliases, so a crash between the
two writes leaves ``counter != projected`` for the next command to repair.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from retrainer.store._sql import transaction, upsert_insert
from retrainer.store.schema import champions, utcnow

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from retrainer.store.engine import Store


@dataclass(frozen=True)
class ChampionState:
    """A model's champion row.

    Attributes:
        model: Registered model name.
        champion: The champion version (None: no champion yet).
        previous: The champion before it.
        counter: Changes so far (the compare-and-set token).
        projected: The counter the MLflow aliases were last written for.
        record_id: The ledger record of the last change.
        updated_at: When the row last changed.
    """

    model: str
    champion: str | None
    previous: str | None
    counter: int
    projected: int
    record_id: int | None
    updated_at: datetime

    @property
    def pending(self) -> bool:
        """Whether the aliases still have to follow the last change."""
        return self.projected != self.counter


class Champions:
    """Repository of the ``champions`` table."""

    def __init__(self, store: Store):
        self.store = store

    def get(self, model: str, conn: Connection | None = None) -> ChampionState | None:
        """The model's row, or None before its first use."""
        with transaction(self.store, conn, write=False) as tx:
            row = tx.execute(sa.select(champions).where(champions.c.model == model)).first()
        return _state(row)

    def lock(self, conn: Connection, model: str) -> ChampionState | None:
        """The row, locked until ``conn`` commits (PostgreSQL row lock; SQLite's write lock)."""
        query = sa.select(champions).where(champions.c.model == model).with_for_update()
        return _state(conn.execute(query).first())

    def create(
        self,
        conn: Connection,
        model: str,
        champion: str | None = None,
        previous: str | None = None,
        record_id: int | None = None,
    ) -> bool:
        """Insert the row unless it exists (projected as it is).

        Returns:
            Whether this call created it.
        """
        counter = 1 if champion else 0
        stmt = upsert_insert(conn, champions).values(
            model=model,
            champion=champion,
            previous=previous,
            counter=counter,
            projected=counter,
            record_id=record_id,
            updated_at=utcnow(),
        )
        stmt = stmt.on_conflict_do_nothing(index_elements=["model"])
        return conn.execute(stmt.returning(champions.c.model)).first() is not None

    def compare_and_set(
        self,
        conn: Connection,
        model: str,
        *,
        counter: int,
        champion: str,
        previous: str | None,
        record_id: int,
        projected: bool = False,
    ) -> bool:
        """Set the champion only if the row is still at ``counter``.

        Args:
            conn: The write transaction.
            model: Registered model name.
            counter: The counter read before (the row must still carry it).
            champion: The new champion.
            previous: The new previous champion.
            record_id: The ledger record of this change.
            projected: The aliases already show this state (an adopted alias change).

        Returns:
            False when another writer changed the row first (nothing written).
        """
        values: dict[str, Any] = {
            "champion": champion,
            "previous": previous,
            "counter": counter + 1,
            "record_id": record_id,
            "updated_at": utcnow(),
        }
        if projected:
            values["projected"] = counter + 1
        result = conn.execute(
            sa.update(champions)
            .where(champions.c.model == model, champions.c.counter == counter)
            .values(values)
        )
        return result.rowcount == 1

    def mark_projected(self, conn: Connection, model: str, counter: int) -> None:
        """Note that the aliases now show the row at ``counter``."""
        conn.execute(
            sa.update(champions).where(champions.c.model == model).values(projected=counter)
        )


def _state(row: Any) -> ChampionState | None:
    return ChampionState(**row._mapping) if row else None
