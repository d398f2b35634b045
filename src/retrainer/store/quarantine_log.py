"""The quarantine log: every quarantine and release of one data source."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from retrainer.store._sql import transaction
from retrainer.store.schema import quarantine_log

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from retrainer.store.engine import Store

_COLUMNS = ("reason", "by", "note", "location")
_TIME_KEYS = ("at", "quarantined_at", "released_at")


def _row(source: str, entry: dict[str, Any]) -> dict[str, Any]:
    """The table row of a log entry (``action``, ``table``, ``date`` + the rest)."""
    when = next((entry[k] for k in _TIME_KEYS if entry.get(k)), None)
    moment = datetime.fromisoformat(str(when)) if when else datetime.now(UTC)
    taken = {"action", "table", "date", *_COLUMNS, *_TIME_KEYS}
    details = {k: v for k, v in entry.items() if k not in taken}
    return {
        "source": source,
        "action": str(entry["action"]),
        "table_name": str(entry["table"]),
        "day": date.fromisoformat(str(entry["date"])[:10]),
        **{k: entry.get(k) for k in _COLUMNS},
        "at": moment if moment.tzinfo else moment.replace(tzinfo=UTC),
        "details": details or None,
    }


class QuarantineLog:
    """Repository of ``quarantine_log`` for one data source.

    Args:
        store: The operational store.
        source: Where the quarantine lives (the storage's URI).
    """

    def __init__(self, store: Store, source: str):
        self.store = store
        self.source = source

    def append(self, entries: list[dict[str, Any]], conn: Connection | None = None) -> None:
        """Add entries (dicts with ``action``, ``table``, ``date`` ...) in one transaction."""
        if not entries:
            return
        with transaction(self.store, conn, write=True) as tx:
            tx.execute(sa.insert(quarantine_log), [_row(self.source, e) for e in entries])

    def entries(self) -> list[dict[str, Any]]:
        """Every entry, oldest first: action, table, date, at, and the details it has."""
        query = (
            sa.select(quarantine_log)
            .where(quarantine_log.c.source == self.source)
            .order_by(quarantine_log.c.id)
        )
        with self.store.read() as conn:
            rows = conn.execute(query).all()
        out = []
        for row in rows:
            entry = {
                "action": row.action,
                "table": row.table_name,
                "date": row.day.isoformat(),
                "at": row.at.isoformat(timespec="seconds"),
                **{k: getattr(row, k) for k in _COLUMNS if getattr(row, k) is not None},
            }
            out.append({**entry, **(row.details or {})})
        return out
