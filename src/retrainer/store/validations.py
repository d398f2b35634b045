"""The validation ledger's rows: a verdict per data source, table and date, and first sightings.

:class:`retrainer.validation.ledger.ValidationLedger` is the interface flows use; this
module only maps its entries (dicts with ``status``, ``at``, ``first_at`` and details) to the
``validations`` and ``validation_seen`` tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from retrainer.store._sql import transaction, upsert_insert
from retrainer.store.schema import validation_seen, validations

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from retrainer.store.engine import Store

_TYPES: dict[str, type] = {
    "suite": str,
    "rows": int,
    "errors": int,
    "warnings": int,
    "fingerprint": str,
    "mlflow_run_id": str,
    "reason": str,
    "by": str,
    "note": str,
    "in_place": bool,
}
"""Entry details with a column of their own; any other detail goes to ``details`` (JSON)."""

_KEY = ("source", "table_name", "day")


def _text(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def _row(
    source: str, table: str, day: date, entry: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    """The table row of one entry (``at`` defaults to now; ``first_at`` counts for new rows)."""
    row: dict[str, Any] = {
        "source": source,
        "table_name": table,
        "day": day,
        "status": str(entry["status"]),
        "at": _moment(entry.get("at")) or now,
        "first_at": _moment(entry.get("first_at")) or now,
        "details": None,
    }
    extra = {}
    for key, value in entry.items():
        if key in ("status", "at", "first_at"):
            continue
        if key in _TYPES:
            row[key] = None if value is None else _TYPES[key](value)
        else:
            extra[key] = value
    for key in _TYPES:
        row.setdefault(key, None)
    row["details"] = extra or None
    return row


def _moment(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    from datetime import UTC

    moment = datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _entry(row: Any) -> dict[str, Any]:
    data = dict(row._mapping)
    entry = {"status": data["status"], "at": _text(data["at"]), "first_at": _text(data["first_at"])}
    entry.update({k: data[k] for k in _TYPES if data[k] is not None})
    entry.update(data["details"] or {})
    return entry


class ValidationRecords:
    """Repository of ``validations`` and ``validation_seen`` for one source and table.

    Args:
        store: The operational store.
        source: The data source URI.
        table: The table name.
    """

    def __init__(self, store: Store, source: str, table: str):
        self.store = store
        self.source = source
        self.table = table

    def _mine(self, table: sa.Table) -> Any:
        return sa.and_(table.c.source == self.source, table.c.table_name == self.table)

    def entries(self) -> dict[date, dict[str, Any]]:
        """Date → entry, oldest first (times as ISO text)."""
        query = sa.select(validations).where(self._mine(validations)).order_by(validations.c.day)
        with self.store.read() as conn:
            return {row.day: _entry(row) for row in conn.execute(query)}

    def seen(self) -> dict[date, str]:
        """Date → first sighting (ISO text), oldest first."""
        t = validation_seen
        query = sa.select(t.c.day, t.c.first_seen_at).where(self._mine(t)).order_by(t.c.day)
        with self.store.read() as conn:
            return {row.day: _text(row.first_seen_at) for row in conn.execute(query)}

    def upsert(
        self,
        entries: Mapping[date, Mapping[str, Any]],
        now: datetime,
        *,
        keep_existing: bool = False,
        conn: Connection | None = None,
    ) -> None:
        """Write entries in one transaction (``first_at`` of an existing row is kept).

        Args:
            entries: Date → entry (``status`` plus details).
            now: The ``at`` of every written entry.
            keep_existing: Leave rows that exist alone (imports).
            conn: The caller's write transaction, if any.
        """
        rows = [_row(self.source, self.table, day, e, now) for day, e in entries.items()]
        if not rows:
            return
        with transaction(self.store, conn, write=True) as tx:
            stmt = upsert_insert(tx, validations)
            if keep_existing:
                stmt = stmt.on_conflict_do_nothing(index_elements=list(_KEY))
            else:
                kept = (*_KEY, "first_at")
                columns = [c.name for c in validations.columns if c.name not in kept]
                stmt = stmt.on_conflict_do_update(
                    index_elements=list(_KEY), set_={c: stmt.excluded[c] for c in columns}
                )
            tx.execute(stmt, rows)

    def observe(
        self, days: Iterable[date], now: datetime, conn: Connection | None = None
    ) -> list[date]:
        """Note first sightings (an existing sighting is kept).

        Returns:
            The dates not seen before.
        """
        days = sorted(set(days))
        if not days:
            return []
        with transaction(self.store, conn, write=True) as tx:
            t = validation_seen
            known = set(tx.execute(sa.select(t.c.day).where(self._mine(t))).scalars())
            new = [d for d in days if d not in known]
            if new:
                stmt = upsert_insert(tx, t).on_conflict_do_nothing(index_elements=list(_KEY))
                values = [
                    {"source": self.source, "table_name": self.table, "day": d}
                    | {"first_seen_at": now}
                    for d in new
                ]
                tx.execute(stmt, values)
        return new

    def import_seen(self, seen: Mapping[date, str], conn: Connection) -> None:
        """Add imported first sightings (existing ones win)."""
        if not seen:
            return
        stmt = upsert_insert(conn, validation_seen).on_conflict_do_nothing(
            index_elements=list(_KEY)
        )
        values = [
            {"source": self.source, "table_name": self.table, "day": d, "first_seen_at": _moment(v)}
            for d, v in seen.items()
        ]
        conn.execute(stmt, values)
