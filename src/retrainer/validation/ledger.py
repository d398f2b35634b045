"""The ledger of validated partitions: what was validated, with which suite, and the verdict.

Kept in the operational store (:mod:`retrainer.store`, table ``validations``), so every
machine of a deployment shares it. It makes the pending mode cheap (partitions not in the
ledger are new), tells the train flow which partitions it may read (:func:`screen_partitions`),
and gives the monotonic-dates check its reference (:meth:`ValidationLedger.monotonic_reference`).
Entries are kept per data source and table, so pointing the config at other data does not
reuse them.

Besides verdicts, the ledger remembers when each partition was first seen in the table by a
validation run (:meth:`ValidationLedger.observe`). That tells a backlog (partitions that were
there, just not validated yet) from a partition that arrived out of order (it appeared after a
newer one had been accepted).

A ledger of an older retrainer (``<state_dir>/validation/ledger.json``) is imported once, on
first use (:func:`import_file_ledger`); the file is left as it was.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retrainer.data.tables import as_date

if TYPE_CHECKING:
    from retrainer.store import Store

logger = logging.getLogger(__name__)

ACCEPTED = ("valid", "warning", "released")
"""Statuses of partitions that downstream flows may read."""

BLOCKED = ("invalid", "quarantined")
"""Statuses of partitions that failed validation (never read for training)."""

IMPORT_KIND = "validation_ledger"


class LedgerError(ValueError):
    """The ledger cannot be read or written (the message names the store or file)."""


@contextmanager
def _store_errors(store: Store) -> Iterator[None]:
    import sqlalchemy.exc

    from retrainer.store import StoreError

    try:
        yield
    except StoreError as exc:
        raise LedgerError(f"validation ledger: {exc}") from exc
    except sqlalchemy.exc.SQLAlchemyError as exc:
        detail = " ".join(str(exc).split())[:300]
        raise LedgerError(f"validation ledger in {store.url}: {detail}") from exc


class ValidationLedger:
    """Validated partitions of one table of one data source.

    Args:
        store: The operational store (:func:`retrainer.store.open_store`).
        source: The data source URI (entries are kept per source).
        table: The table name.
    """

    def __init__(self, store: Store, source: str, table: str):
        self.store = store
        self.source = source
        self.table = table
        self._records = store.validations(source, table)

    def entries(self) -> dict[date, dict[str, Any]]:
        """Date → entry (``status``, ``at``, ``first_at``, ``suite``, ...), oldest first."""
        with _store_errors(self.store):
            return self._records.entries()

    def seen(self) -> dict[date, str]:
        """Date → when a validation run first saw the partition in the table (ISO time)."""
        with _store_errors(self.store):
            return self._records.seen()

    def record(self, day: date | str, status: str, **details: Any) -> None:
        """Record the status of a partition (replacing an earlier entry).

        The time of the first verdict (``first_at``) is kept across re-validations.
        """
        self.record_many({as_date(day): {"status": status, **details}})

    def record_many(self, entries: Mapping[date | str, Mapping[str, Any]]) -> None:
        """Record many partitions in one transaction: date → ``{"status": ..., **details}``."""
        if not entries:
            return
        rows = {as_date(day): entry for day, entry in entries.items()}
        with _store_errors(self.store):
            self._records.upsert(rows, datetime.now(UTC))

    def observe(self, days: Iterable[date | str]) -> list[date]:
        """Note the partitions a validation run sees in the table (first sighting kept).

        Returns:
            The dates seen for the first time.
        """
        with _store_errors(self.store):
            return self._records.observe({as_date(d) for d in days}, datetime.now(UTC))

    def status(self, day: date | str) -> str | None:
        """The recorded status of a partition, or None."""
        entry = self.entries().get(as_date(day))
        return entry["status"] if entry else None

    def pending(self, days: list[date]) -> list[date]:
        """The dates among ``days`` that have no entry yet."""
        known = self.entries()
        return [d for d in days if d not in known]

    def last_accepted_before(self, day: date | str) -> date | None:
        """The newest accepted partition (valid, warning or released) before ``day``."""
        day = as_date(day)
        accepted = [d for d, e in self.entries().items() if d < day and e["status"] in ACCEPTED]
        return accepted[-1] if accepted else None

    def monotonic_reference(self, day: date | str) -> date | None:
        """The partition ``day``'s events must not be older than (monotonic partition dates).

        That is the newest accepted partition that was accepted before ``day`` first showed
        up in the table, or else the newest accepted one before ``day``. A partition older than
        the reference arrived out of order: it fails the check as a whole. A partition never
        seen by a validation run counts as arriving now (compared with every accepted one).

        Returns:
            The reference date, or None when no partition was accepted (nothing to compare).
        """
        return monotonic_reference(as_date(day), self.entries(), self.seen())


def import_file_ledger(store: Store, path: Path) -> int:
    """Import a ledger file of an older retrainer once; the file is left as it was.

    Entries already in the store win. Every source and table in the file is imported.

    Returns:
        The number of entries imported (0 when the file is missing or was imported before).

    Raises:
        LedgerError: When the file cannot be read.
    """
    path = Path(path).resolve()
    if not path.is_file() or store.imports.done(IMPORT_KIND, str(path)):
        return 0
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise LedgerError(f"{path}: cannot read the validation ledger to import: {exc}") from exc
    count = 0
    with _store_errors(store), store.write() as conn:
        if not store.imports.claim(conn, IMPORT_KIND, str(path)):
            return 0
        now = datetime.now(UTC)
        for source, tables in data.get("sources", {}).items():
            for table, items in tables.items():
                records = store.validations(source, table)
                entries = {as_date(day): _imported(e, now) for day, e in items.items()}
                records.upsert(entries, now, keep_existing=True, conn=conn)
                count += len(entries)
        for source, tables in data.get("seen", {}).items():
            for table, items in tables.items():
                seen = {as_date(day): when for day, when in items.items()}
                store.validations(source, table).import_seen(seen, conn)
        store.imports.count(conn, IMPORT_KIND, str(path), count)
    logger.warning(
        "imported %d validation ledger entries from %s into the operational store %s "
        "(once; the file is left as it is and no longer read)",
        count,
        path,
        store.url,
    )
    return count


def _imported(entry: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """A file entry as the store keeps it (its own ``at``/``first_at`` times)."""
    out = dict(entry)
    out["first_at"] = entry.get("first_at") or entry.get("at") or now.isoformat()
    return out


def monotonic_reference(
    day: date, entries: Mapping[date, Mapping[str, Any]], seen: Mapping[date, str]
) -> date | None:
    """:meth:`ValidationLedger.monotonic_reference` on entries read once (for many days)."""
    arrived = _moment(seen[day]) if day in seen else None
    candidates = []
    for other, entry in entries.items():
        if other == day or entry.get("status") not in ACCEPTED:
            continue
        accepted_at = _moment(entry.get("first_at") or entry.get("at"))
        if other < day or arrived is None or accepted_at < arrived:
            candidates.append(other)
    return max(candidates) if candidates else None


def _moment(value: str | None) -> datetime:
    if not value:
        return datetime.min.replace(tzinfo=UTC)
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass
class PartitionScreen:
    """Which partitions of a window the train flow reads, and why the others are left out.

    Attributes:
        read: Partitions to read (accepted, plus pending ones under ``allow``).
        excluded: Partition → why it is not read (invalid, quarantined, not validated).
        pending: Partitions never validated (read only under ``allow``).
    """

    read: list[date] = field(default_factory=list)
    excluded: dict[date, str] = field(default_factory=dict)
    pending: list[date] = field(default_factory=list)


def _blocked_reason(entry: dict[str, Any]) -> str:
    when = str(entry.get("at", ""))[:10]
    why = entry.get("reason") or f"{entry.get('errors', '?')} error(s)"
    return f"{entry['status']} (validated {when}: {why})"


def screen_partitions(
    days: Iterable[date],
    entries: dict[date, dict[str, Any]],
    before_training: str,
) -> PartitionScreen:
    """Sort a window's partitions into read and excluded for training.

    Args:
        days: The feature partitions present in the window.
        entries: The ledger's entries (:meth:`ValidationLedger.entries`).
        before_training: ``validation.before_training`` for the partitions still pending:
            ``allow`` reads them, ``skip`` (and ``validate``, for whatever is still pending
            after validating) leaves them out.

    Returns:
        The screen. Partitions marked invalid or quarantined are always excluded (a
        quarantined date that holds data again is a new delivery nobody validated).
    """
    screen = PartitionScreen()
    for day in sorted(set(days)):
        entry = entries.get(day)
        if entry is None:
            screen.pending.append(day)
            if before_training == "allow":
                screen.read.append(day)
            else:
                screen.excluded[day] = (
                    f"not validated (validation.before_training: {before_training})"
                )
        elif entry.get("status") in ACCEPTED:
            screen.read.append(day)
        elif entry.get("status") == "quarantined":
            screen.excluded[day] = (
                f"quarantined on {str(entry.get('at', ''))[:10]}; the data now at this date "
                f"was not validated since (`retrainer validate --date {day}`)"
            )
        else:
            screen.excluded[day] = _blocked_reason(entry)
    return screen
