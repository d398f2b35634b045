"""Which partitions a scoring, drift or monitoring run reads, after the validation ledger.

Training never reads a partition the validation ledger marks ``invalid`` or ``quarantined``
(:func:`retrainer.validation.ledger.screen_partitions`). The score, drift and monitor flows
apply the same screen to every span they read, with the same policy for partitions never
validated (``validation.before_training``): ``validate`` validates them first, ``skip`` leaves
them out, ``allow`` reads them (also what happens with ``validation.enabled: false``). A
quarantined batch is not in the table any more, but a new delivery at its date was never
validated: it is left out until ``retrainer validate --date DAY`` says otherwise.

Pure (no Prefect, no IO): the flows read the ledger through ``ledger_for`` and pass its
entries in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from retrainer.monitoring.window import calendar_days
from retrainer.validation.ledger import BLOCKED, screen_partitions

MAX_NOTE_LINES = 10
"""Partitions named one per note line; the rest are counted."""


@dataclass
class ReadScreen:
    """The partitions of one span a run reads, and why it leaves the others out.

    Attributes:
        before_training: The policy applied to partitions never validated
            (``validation.before_training``; ``allow`` when validation is disabled).
        validation_enabled: ``validation.enabled``.
        read: Partitions to read.
        excluded: Partition → why it is not read (invalid, quarantined, not validated).
        validated: Partitions this run validated first (``validate``).
        unvalidated_read: Partitions read although never validated (``allow``).
        missing: Days of the span with no partition and no ledger verdict.
    """

    before_training: str
    validation_enabled: bool = True
    read: list[date] = field(default_factory=list)
    excluded: dict[date, str] = field(default_factory=dict)
    validated: list[date] = field(default_factory=list)
    unvalidated_read: list[date] = field(default_factory=list)
    missing: list[date] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The ``partitions`` entry of a flow result, report and event payload."""
        return {
            "before_training": self.before_training,
            "excluded": {day.isoformat(): why for day, why in sorted(self.excluded.items())},
            "validated": [day.isoformat() for day in self.validated],
            "unvalidated_read": [day.isoformat() for day in self.unvalidated_read],
        }

    def notes(self, verb: str, span: str = "the window") -> list[str]:
        """Lines for the reader: what was left out (and why), validated first or read unvalidated.

        Args:
            verb: What the run does with a partition (``checked``, ``scored``, ``monitored``).
            span: What the span is called in the lines (``the window``, ``the baseline``).
        """
        lines = [f"{day} not {verb}: {why}" for day, why in sorted(self.excluded.items())]
        lines = lines[:MAX_NOTE_LINES]
        hidden = len(self.excluded) - len(lines)
        if hidden:
            lines.append(f"... and {hidden} more partition(s) of {span} not {verb}")
        if self.validated:
            lines.append(
                f"validated {len(self.validated)} partition(s) of {span} first "
                f"(validation.before_training: validate): {_dates(self.validated)}"
            )
        if self.unvalidated_read:
            why = (
                "validation.before_training: allow"
                if self.validation_enabled
                else "validation.enabled: false"
            )
            lines.append(
                f"{len(self.unvalidated_read)} partition(s) of {span} never validated were "
                f"{verb} ({why}): {_dates(self.unvalidated_read)}"
            )
        if self.missing:
            lines.append(f"{len(self.missing)} day(s) of {span} have no partition")
        return lines


def _dates(days: list[date]) -> str:
    text = ", ".join(day.isoformat() for day in days[:MAX_NOTE_LINES])
    return text + (" ..." if len(days) > MAX_NOTE_LINES else "")


def _gone_reason(entry: Mapping[str, Any]) -> str:
    """Why a blocked partition that is not in the table any more is not read."""
    when = str(entry.get("at", ""))[:10]
    errors = f"{entry['errors']} error(s)" if "errors" in entry else None
    why = entry.get("reason") or errors or "see the quarantine report"
    return f"{entry.get('status')} (validated {when}: {why}; not in the table any more)"


def screen_span(
    present: Iterable[date],
    entries: Mapping[date, Mapping[str, Any]],
    before_training: str,
    *,
    start: date | None = None,
    end: date | None = None,
    quarantined: Iterable[date] = (),
    validation_enabled: bool = True,
) -> ReadScreen:
    """Sort the partitions of a span into read and excluded, as training does.

    Args:
        present: The partitions present in the span (those a run would read).
        entries: The validation ledger's entries (:meth:`ValidationLedger.entries`).
        before_training: The policy for partitions never validated (``allow`` reads them;
            ``skip``, and ``validate`` for whatever is still pending after validating, leave
            them out).
        start: First day of the span (None: open); bounds the days listed as excluded or
            missing that are not present.
        end: Last day of the span (None: open).
        quarantined: Dates held in the quarantine (moved out of the table).
        validation_enabled: ``validation.enabled`` (for the notes).

    Returns:
        The screen. Partitions marked invalid or quarantined are excluded whatever the
        policy; blocked or quarantined dates of the span that are not in the table any more
        are listed too, so the run can say why a day is absent.
    """
    present = sorted(set(present))
    screened = screen_partitions(present, dict(entries), before_training)
    excluded = dict(screened.excluded)
    here = set(present)

    def within(day: date) -> bool:
        return (start is None or day >= start) and (end is None or day <= end)

    for day, entry in entries.items():
        if entry.get("status") in BLOCKED and day not in here and within(day):
            excluded[day] = _gone_reason(entry)
    for day in quarantined:
        if day not in here and day not in excluded and within(day):
            excluded[day] = "quarantined (moved to the quarantine; see its report)"
    missing = []
    if start is not None and end is not None:
        missing = [d for d in calendar_days(start, end) if d not in here and d not in excluded]
    return ReadScreen(
        before_training=before_training,
        validation_enabled=validation_enabled,
        read=list(screened.read),
        excluded=dict(sorted(excluded.items())),
        unvalidated_read=list(screened.pending) if before_training == "allow" else [],
        missing=missing,
    )
