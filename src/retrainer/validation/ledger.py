"""The ledger of validated partitions: what was validated, with which suite, and the verdict.

A small JSON file per project state directory. It makes the pending mode cheap (partitions not
in the ledger are new), tells the train flow which partitions it may read
(:func:`screen_partitions`), and gives the monotonic-dates check its reference
(:meth:`ValidationLedger.monotonic_reference`). Entries are kept per data source and table, so
pointing the config at other data does not reuse them.

Besides verdicts, the ledger remembers when each partition was first seen in the table by a
validation run (:meth:`ValidationLedger.observe`). That tells a backlog (partitions that were
there, just not validated yet) from a partition that arrived out of order (it appeared after a
newer one had been accepted).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from retrainer.data.tables import as_date
from retrainer.registry.models import file_lock

ACCEPTED = ("valid", "warning", "released")
"""Statuses of partitions that downstream flows may read."""

BLOCKED = ("invalid", "quarantined")
"""Statuses of partitions that failed validation (never read for training)."""


class LedgerError(ValueError):
    """The ledger file cannot be read or written (the message names the file)."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class ValidationLedger:
    """Validated partitions of one table of one data source.

    Args:
        path: The JSON file (created on the first write).
        source: The data source URI (entries are kept per source).
        table: The table name.
    """

    def __init__(self, path: Path | str, source: str, table: str):
        self.path = Path(path)
        self.source = source
        self.table = table

    def _read(self) -> dict[str, Any]:
        if not self.path.exists():
            return {"format": 1, "sources": {}}
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise LedgerError(f"{self.path}: cannot read the validation ledger: {exc}") from exc

    def _write(self, data: dict[str, Any]) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True, default=str), "utf-8")
            tmp.replace(self.path)
        except OSError as exc:
            raise LedgerError(f"{self.path}: cannot write the validation ledger: {exc}") from exc

    def entries(self) -> dict[date, dict[str, Any]]:
        """Date → entry (``status``, ``at``, ``first_at``, ``suite``, ...), oldest first."""
        tables = self._read()["sources"].get(self.source, {})
        items = tables.get(self.table, {})
        return {as_date(k): v for k, v in sorted(items.items())}

    def seen(self) -> dict[date, str]:
        """Date → when a validation run first saw the partition in the table (ISO time)."""
        items = self._read().get("seen", {}).get(self.source, {}).get(self.table, {})
        return {as_date(k): v for k, v in sorted(items.items())}

    def record(self, day: date | str, status: str, **details: Any) -> None:
        """Record the status of a partition (replacing an earlier entry).

        The time of the first verdict (``first_at``) is kept across re-validations.
        """
        self.record_many({as_date(day): {"status": status, **details}})

    def record_many(self, entries: Mapping[date | str, Mapping[str, Any]]) -> None:
        """Record many partitions in one write: date → ``{"status": ..., **details}``."""
        if not entries:
            return
        with file_lock(self.path.with_suffix(".lock")):
            data = self._read()
            table = data["sources"].setdefault(self.source, {}).setdefault(self.table, {})
            now = _now()
            for day, entry in entries.items():
                key = as_date(day).isoformat()
                earlier = table.get(key) or {}
                table[key] = {
                    "status": entry["status"],
                    "at": now,
                    "first_at": earlier.get("first_at") or earlier.get("at") or now,
                    **{k: v for k, v in entry.items() if k != "status"},
                }
            self._write(data)

    def observe(self, days: Iterable[date | str]) -> list[date]:
        """Note the partitions a validation run sees in the table (first sighting kept).

        Returns:
            The dates seen for the first time.
        """
        days = sorted({as_date(d) for d in days})
        known = self.seen()
        new = [d for d in days if d not in known]
        if not new:
            return []
        with file_lock(self.path.with_suffix(".lock")):
            data = self._read()
            seen = data.setdefault("seen", {}).setdefault(self.source, {})
            table = seen.setdefault(self.table, {})
            now = _now()
            for day in new:
                table.setdefault(day.isoformat(), now)
            self._write(data)
        return new

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
