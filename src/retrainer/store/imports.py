"""One-time imports of state that used to live in files (the file is left as it was)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

from retrainer.store._sql import upsert_insert
from retrainer.store.schema import imports, utcnow

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from retrainer.store.engine import Store


class Imports:
    """Repository of the ``imports`` table: which files were imported, once each."""

    def __init__(self, store: Store):
        self.store = store

    def done(self, kind: str, key: str) -> bool:
        """Whether ``key`` (a file) was imported as ``kind`` already."""
        query = sa.select(imports.c.key).where(imports.c.kind == kind, imports.c.key == key)
        with self.store.read() as conn:
            return conn.execute(query).first() is not None

    def claim(self, conn: Connection, kind: str, key: str) -> bool:
        """Mark ``key`` imported inside the caller's write transaction.

        Returns:
            False when another process imported it first (then import nothing).
        """
        stmt = upsert_insert(conn, imports).values(kind=kind, key=key, records=0, at=utcnow())
        stmt = stmt.on_conflict_do_nothing(index_elements=["kind", "key"])
        return conn.execute(stmt.returning(imports.c.key)).first() is not None

    def count(self, conn: Connection, kind: str, key: str, records: int) -> None:
        """Note how many records the import brought in."""
        conn.execute(
            sa.update(imports)
            .where(imports.c.kind == kind, imports.c.key == key)
            .values(records=records)
        )
