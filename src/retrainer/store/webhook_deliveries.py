"""Signatures of accepted webhook requests, so a replay is refused by every receiver process.

The webhook receiver (:mod:`retrainer.webhooks`) claims a request's signature before it acts
on it. Several receivers behind a load balancer share this table: the claim is one
``INSERT ... ON CONFLICT DO NOTHING``, so of two processes claiming the same signature at the
same moment exactly one wins. A signature is kept until its request would be stale anyway
(``expires_at``); each claim first purges the expired rows, so the table stays small.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa

from retrainer.store._sql import upsert_insert
from retrainer.store.schema import webhook_deliveries

if TYPE_CHECKING:
    from retrainer.store.engine import Store


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class WebhookDeliveries:
    """Repository of the ``webhook_deliveries`` table: the receiver's replay guard.

    Implements the ``ReplayGuard`` protocol of :mod:`retrainer.webhooks.app`.

    Args:
        store: The operational store.
        clock: Seconds since the epoch (tests pass their own).
    """

    def __init__(self, store: Store, clock: Callable[[], float] = time.time):
        self.store = store
        self.clock = clock

    def claim(self, signature: str, expires_at: float) -> bool:
        """Remember ``signature`` until ``expires_at`` (Unix seconds), purging expired ones.

        Returns:
            True for the first claim of a signature that is not remembered (or has expired),
            False when another claim holds it (a replay).
        """
        now = _moment(self.clock())
        table = webhook_deliveries
        with self.store.write() as conn:
            conn.execute(sa.delete(table).where(table.c.expires_at <= now))
            insert = upsert_insert(conn, table).values(
                signature=signature, received_at=now, expires_at=_moment(expires_at)
            )
            stmt = insert.on_conflict_do_nothing(index_elements=["signature"])
            return conn.execute(stmt.returning(table.c.signature)).first() is not None

    def release(self, signature: str) -> None:
        """Forget ``signature`` (its request could not be delivered; the sender may retry)."""
        table = webhook_deliveries
        with self.store.write() as conn:
            conn.execute(sa.delete(table).where(table.c.signature == signature))

    def remembered(self) -> int:
        """How many signatures are held (expired ones included until the next claim)."""
        with self.store.read() as conn:
            return conn.execute(
                sa.select(sa.func.count()).select_from(webhook_deliveries)
            ).scalar_one()
