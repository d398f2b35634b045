"""Small helpers the repositories share: dialect-specific upserts and optional transactions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from retrainer.store.engine import Store

_INSERTS = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


def upsert_insert(conn: Connection, table: sa.Table) -> Any:
    """An INSERT that supports ``on_conflict_do_nothing``/``on_conflict_do_update``."""
    return _INSERTS[conn.dialect.name](table)


@contextmanager
def transaction(store: Store, conn: Connection | None, *, write: bool) -> Iterator[Connection]:
    """``conn`` when the caller holds a transaction, else a new read or write transaction."""
    if conn is not None:
        yield conn
        return
    with store.write() if write else store.read() as new:
        yield new
