"""The fresh holdout both models are scored on, and the policy that says when it is not fresh.

The train flow records the holdout days it kept out of training on the version
(``retrainer.holdout_start`` / ``retrainer.holdout_end``). A version without them (registered
outside the train flow) can only be judged on the latest labelled days, which it may have been
trained on: that holdout is *not fresh*, and the ``holdout`` check fails unless
``gates.holdout.allow_unrecorded`` is true, which only notes it. A champion trained on days of
the holdout is favoured by the comparison; that is noted too. No IO here: the caller reads the
labelled days and the rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd

from retrainer.config.gates import HoldoutConfig
from retrainer.data.tables import as_date
from retrainer.gates.decision import GateSetupError
from retrainer.registry.models import TAG_PREFIX

TAG_HOLDOUT_START = f"{TAG_PREFIX}holdout_start"
TAG_HOLDOUT_END = f"{TAG_PREFIX}holdout_end"
TAG_WINDOW_END = f"{TAG_PREFIX}window_end"


@dataclass
class Holdout:
    """The fresh holdout both models are scored on.

    Attributes:
        frame: The labelled rows.
        start: First holdout day.
        end: Last holdout day.
        as_of: Labels known on this date.
        notes: What a reader should know (shown under the verdict).
        not_fresh: Why the rows may have been used to train the challenger (fails the
            ``holdout`` check), or None.
    """

    frame: pd.DataFrame
    start: date | None
    end: date | None
    as_of: date
    notes: list[str] = field(default_factory=list)
    not_fresh: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The ``holdout`` entry of the gate document (dates as ISO text)."""
        return {
            "start": str(self.start),
            "end": str(self.end),
            "rows": len(self.frame),
            "as_of": str(self.as_of),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class HoldoutWindow:
    """Which days the holdout spans, and what the freshness policy says about them."""

    start: date
    end: date
    notes: tuple[str, ...] = ()
    not_fresh: str | None = None


def holdout_text(holdout: Mapping[str, Any]) -> str:
    """``start..end (N rows)`` from the ``holdout`` entry of a gate document."""
    return f"{holdout.get('start')}..{holdout.get('end')} ({holdout.get('rows')} rows)"


def recorded_window(tags: Mapping[str, str]) -> tuple[date, date] | None:
    """The holdout days the train flow recorded on a version, or None."""
    start, end = tags.get(TAG_HOLDOUT_START), tags.get(TAG_HOLDOUT_END)
    if not (start and end):
        return None
    return as_date(start), as_date(end)


def _unrecorded(version: str, start: date, end: date, settings: HoldoutConfig) -> HoldoutWindow:
    if settings.allow_unrecorded:
        note = (
            f"v{version} has no recorded holdout; using the latest labelled days "
            f"{start}..{end}, which it may have been trained on "
            "(gates.holdout.allow_unrecorded: true)"
        )
        return HoldoutWindow(start, end, notes=(note,))
    reason = (
        f"no recorded holdout dates: v{version} was not registered by the train flow, so the "
        f"latest labelled days {start}..{end} may be rows it was trained on; retrain it with "
        "`retrainer train`, or set gates.holdout.allow_unrecorded: true to judge it on them "
        "anyway"
    )
    return HoldoutWindow(start, end, not_fresh=reason)


def holdout_window(
    version: str,
    tags: Mapping[str, str],
    settings: HoldoutConfig,
    labelled_days: Callable[[], Iterable[date]],
) -> HoldoutWindow:
    """The challenger's holdout days and the freshness verdict on them.

    Args:
        version: The challenger's version.
        tags: Its version tags.
        settings: ``gates.holdout``.
        labelled_days: Reads the days that have labelled rows; called only when the version
            has no recorded holdout.

    Returns:
        The recorded days; otherwise the latest ``settings.days`` labelled days, marked not
        fresh (fail closed) or, with ``allow_unrecorded``, noted.

    Raises:
        GateSetupError: Without recorded days and without labelled data.
    """
    recorded = recorded_window(tags)
    if recorded is not None:
        return HoldoutWindow(*recorded)
    days = sorted(set(labelled_days()))
    if not days:
        raise GateSetupError("no labelled data to build a holdout from")
    window = days[-settings.days :]
    return _unrecorded(version, window[0], window[-1], settings)


def champion_overlap_note(
    champion_version: str, champion_tags: Mapping[str, str], window: HoldoutWindow
) -> str | None:
    """A note when the champion was trained on data up to or after the holdout's start."""
    end_tag = champion_tags.get(TAG_WINDOW_END)
    if not end_tag or as_date(end_tag) < window.start:
        return None
    return (
        f"champion v{champion_version} was trained on data up to {end_tag}, overlapping the "
        f"holdout ({window.start}..{window.end}): the comparison favours the champion"
    )
