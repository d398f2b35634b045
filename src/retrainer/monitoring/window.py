"""Which event dates a monitoring run covers and which labels it may use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from retrainer.data.tables import as_date


@dataclass(frozen=True)
class MonitoringWindow:
    """Event dates ``start..end`` (inclusive) judged with the labels known on ``as_of``."""

    start: date
    end: date
    as_of: date

    @property
    def days(self) -> int:
        """Number of calendar days in the window."""
        return (self.end - self.start).days + 1

    def label(self) -> str:
        """``START:END`` text."""
        return f"{self.start.isoformat()}:{self.end.isoformat()}"


def calendar_days(start: date, end: date) -> list[date]:
    """Every calendar day from ``start`` to ``end`` (inclusive)."""
    return [start + timedelta(days=k) for k in range((end - start).days + 1)]


def parse_window(text: str) -> tuple[date, date]:
    """Parse ``START:END`` (ISO dates, inclusive).

    Raises:
        ValueError: Naming the problem (format, bad date, end before start).
    """
    start_text, sep, end_text = text.partition(":")
    if not sep or not start_text or not end_text:
        raise ValueError(f"window {text!r}: expected START:END, e.g. 2026-03-01:2026-03-14")
    start, end = as_date(start_text), as_date(end_text)
    if end < start:
        raise ValueError(f"window {text!r}: end {end} is before start {start}")
    return start, end


def resolve_window(
    latest: date | None,
    default_days: int,
    window: str | None = None,
    days: int | None = None,
    as_of: date | str | None = None,
) -> MonitoringWindow:
    """Work out the window of a monitoring run.

    ``as_of`` defaults to the window's end when ``window`` is given, else to ``latest`` (the
    newest feature partition: the data clock). Without ``window`` the window is the last
    ``days`` (default ``default_days``) days ending at ``as_of``. A window ending after
    ``as_of`` is cut at ``as_of``: nothing later was known.

    Args:
        latest: The newest feature partition date (None when there is no data).
        default_days: ``monitoring.window_days``.
        window: ``START:END``.
        days: Window length in days (instead of ``window``).
        as_of: Date whose labels are used.

    Returns:
        The window.

    Raises:
        ValueError: On conflicting or malformed options, or when there is no data to date.
    """
    if window is not None and days is not None:
        raise ValueError("give either a window (START:END) or a number of days, not both")
    if days is not None and days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    as_of_day = as_date(as_of) if as_of is not None else None
    if window is not None:
        start, end = parse_window(window)
        as_of_day = as_of_day or end
        end = min(end, as_of_day)
        if end < start:
            raise ValueError(f"window starts on {start}, after as_of {as_of_day}")
        return MonitoringWindow(start, end, as_of_day)
    as_of_day = as_of_day or latest
    if as_of_day is None:
        raise ValueError("no feature partitions: nothing to monitor")
    length = days if days is not None else default_days
    return MonitoringWindow(as_of_day - timedelta(days=length - 1), as_of_day, as_of_day)
