"""Time helpers of the policy: cron occurrences and UTC days (pure)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime (a naive one is taken to be UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def next_occurrence(cron: str, timezone: str, after: datetime) -> datetime:
    """The first occurrence of ``cron`` (in ``timezone``) strictly after ``after`` (UTC)."""
    from cronsim import CronSim

    local = utc(after).astimezone(ZoneInfo(timezone))
    return utc(next(CronSim(cron, local)))


def end_of_day(day: date) -> datetime:
    """The last second of ``day`` (UTC): when a nightly decision on that day's data is taken."""
    return datetime.combine(day, time(23, 59, 59), UTC)
