"""Which days the gate's holdout spans, and when the policy says they are not fresh."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from retrainer.config.gates import HoldoutConfig
from retrainer.gates import GateSetupError
from retrainer.gates.holdout import HoldoutWindow, champion_overlap_note, holdout_window

DAYS = [date(2026, 3, 1) + timedelta(days=i) for i in range(20)]
RECORDED = {"retrainer.holdout_start": "2026-03-10", "retrainer.holdout_end": "2026-03-16"}


def _never_read() -> list[date]:
    raise AssertionError("the labelled days were read although the holdout is recorded")


def test_a_recorded_holdout_is_used_as_recorded_and_is_fresh():
    # given a version trained by the train flow (holdout days on its tags)
    # when the window is chosen
    window = holdout_window("3", RECORDED, HoldoutConfig(), _never_read)
    # then it is the recorded days, fresh, with nothing to note (and no data was read)
    assert window == HoldoutWindow(date(2026, 3, 10), date(2026, 3, 16))


def test_an_unrecorded_holdout_fails_closed_on_the_latest_labelled_days():
    # given a version registered outside the train flow, and labelled days (repeated, unsorted)
    # when the window is chosen with the default settings
    window = holdout_window("4", {}, HoldoutConfig(days=5), lambda: [*DAYS[::-1], DAYS[3]])
    # then the latest 5 labelled days are used and marked not fresh, saying what to do
    assert (window.start, window.end) == (date(2026, 3, 16), date(2026, 3, 20))
    assert window.not_fresh.startswith("no recorded holdout dates: v4 was not registered")
    assert "gates.holdout.allow_unrecorded: true" in window.not_fresh
    assert window.notes == ()


def test_allowing_unrecorded_holdouts_only_notes_them():
    # given the explicit setting
    settings = HoldoutConfig(days=5, allow_unrecorded=True)
    # when the window is chosen for a version without recorded days
    window = holdout_window("4", {}, settings, lambda: DAYS)
    # then the same days are fresh enough, and the report will say why they may not be
    assert window.not_fresh is None
    assert window.notes == (
        "v4 has no recorded holdout; using the latest labelled days 2026-03-16..2026-03-20, "
        "which it may have been trained on (gates.holdout.allow_unrecorded: true)",
    )


def test_without_recorded_days_and_without_labels_the_gate_cannot_run():
    with pytest.raises(GateSetupError, match="no labelled data to build a holdout from"):
        holdout_window("4", {}, HoldoutConfig(), list)


@pytest.mark.parametrize(
    ("window_end", "noted"), [("2026-03-09", False), ("2026-03-10", True), ("2026-03-20", True)]
)
def test_a_champion_trained_on_holdout_days_is_noted(window_end, noted):
    # given a champion whose training window ends before, on, or after the holdout's first day
    window = HoldoutWindow(date(2026, 3, 10), date(2026, 3, 16))
    # when the overlap is checked
    note = champion_overlap_note("2", {"retrainer.window_end": window_end}, window)
    # then only an overlap is noted, naming both windows
    assert (note is not None) == noted
    if noted:
        assert note == (
            f"champion v2 was trained on data up to {window_end}, overlapping the holdout "
            "(2026-03-10..2026-03-16): the comparison favours the champion"
        )
