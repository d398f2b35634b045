"""Putting quarantined or invalid partitions back: one date, a range or all, in one pass.

No Prefect import: the CLI calls :func:`release_partitions` directly (a release must not wait
for a flow-run server to start), the ``release-quarantined`` flow wraps it for deployments.
A partition moved to the quarantine is moved back; one marked invalid but left in place
(``validation.quarantine: false``, or a move that failed) is released in place. Either way the
ledger records ``released`` (so pending validation runs leave it and training reads it) with
who and why, in one write for the whole release, and the quarantine log gets one line each.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from retrainer.data import DataCatalog, QuarantineError
from retrainer.validation.ledger import ValidationLedger


@dataclass
class Release:
    """What a release put back."""

    table: str
    moved: dict[date, int] = field(default_factory=dict)
    in_place: list[date] = field(default_factory=list)
    by: str = ""
    note: str = ""

    @property
    def dates(self) -> list[date]:
        """Every released date, in order."""
        return sorted([*self.moved, *self.in_place])

    @property
    def files(self) -> int:
        """Files moved back."""
        return sum(self.moved.values())

    def label(self) -> str:
        """``2026-01-03`` or ``2026-01-03..2026-03-14 (52 batches)``."""
        days = self.dates
        if len(days) == 1:
            return days[0].isoformat()
        return f"{days[0]}..{days[-1]} ({len(days)} batches)" if days else "nothing"

    def payload(self, location: str) -> dict[str, Any]:
        """The ``retrainer.data.released`` event payload."""
        days = self.dates
        return {
            "batch": self.label(),
            "batches": [d.isoformat() for d in days],
            "count": len(days),
            "first": days[0].isoformat() if days else None,
            "last": days[-1].isoformat() if days else None,
            "table": self.table,
            "files": self.files,
            "in_place": [d.isoformat() for d in self.in_place],
            "by": self.by,
            "note": self.note,
            "location": location,
        }


def releasable(catalog: DataCatalog, ledger: ValidationLedger) -> dict[date, str]:
    """Partitions that can be released: date → ``quarantined`` or ``invalid`` (in place)."""
    table = catalog.features
    out = {day: "quarantined" for day in catalog.quarantine.dates(table.name)}
    present = set(table.dates())
    for day, entry in ledger.entries().items():
        if entry.get("status") == "invalid" and day in present and day not in out:
            out[day] = "invalid"
    return dict(sorted(out.items()))


def release_partitions(
    catalog: DataCatalog,
    ledger: ValidationLedger,
    *,
    start: date | None = None,
    end: date | None = None,
    everything: bool = False,
    by: str,
    note: str,
) -> Release:
    """Release one date (``start == end``), a range, or every held partition.

    Args:
        catalog: The data catalog.
        ledger: The validation ledger of its features table.
        start: First date (inclusive).
        end: Last date (inclusive).
        everything: Release every quarantined or invalid partition (``start``/``end`` unused).
        by: Who releases.
        note: Why (kept in the ledger and the quarantine log).

    Returns:
        What was released.

    Raises:
        QuarantineError: When nothing in the range is held, or a date cannot be released
            (its partition date is taken in the table); nothing moves then.
    """
    held = releasable(catalog, ledger)
    if not everything:
        held = {
            d: s
            for d, s in held.items()
            if (start is None or d >= start) and (end is None or d <= end)
        }
    if not held:
        where = "" if everything else f" between {start} and {end}"
        single = start is not None and start == end
        raise QuarantineError(
            f"no quarantined batch for {catalog.features.name} on {start}"
            if single
            else f"no quarantined or invalid batch of {catalog.features.name}{where}"
        )
    moved_days = [d for d, s in held.items() if s == "quarantined"]
    release = Release(table=catalog.features.name, by=by, note=note)
    release.moved = catalog.quarantine.release_many(catalog.features, moved_days, by=by, note=note)
    release.in_place = [d for d, s in held.items() if s == "invalid"]
    ledger.record_many(
        {
            day: {"status": "released", "by": by, "note": note, "in_place": day in release.in_place}
            for day in release.dates
        }
    )
    return release
