"""Versions side by side in the predictions table, and which partitions a scoring run scores."""

from datetime import date

import pandas as pd
import pytest

from retrainer.monitoring import MonitoringError
from retrainer.monitoring.scoring import (
    merge_predictions,
    parse_version_option,
    partitions_to_score,
    requested_partitions,
    select_version,
)

DAY = date(2026, 3, 1)


def _scored(version: str | None, ids, score: float, at: str = "2026-03-02") -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "id": list(ids),
            "score": score,
            "prediction": int(score >= 0.5),
            "scored_at": pd.Timestamp(at, tz="UTC"),
        }
    )
    if version is not None:
        frame.insert(1, "model_version", version)
    return frame


def test_rescoring_with_another_version_adds_its_rows_and_the_same_version_replaces_them():
    # given a day scored by version 1
    day = merge_predictions(None, _scored("1", [1, 2, 3], 0.2), "1")

    # when version 2 scores it, then version 1 again (a rerun)
    day = merge_predictions(day, _scored("2", [1, 2, 3], 0.7), "2")
    rerun = merge_predictions(day, _scored("1", [1, 2, 3], 0.3, at="2026-03-05"), "1")

    # then both versions' rows are kept, the rerun replaced only version 1's
    assert sorted(day["model_version"]) == ["1"] * 3 + ["2"] * 3
    assert len(rerun) == 6
    assert set(rerun.loc[rerun["model_version"] == "1", "score"]) == {0.3}
    assert set(rerun.loc[rerun["model_version"] == "2", "score"]) == {0.7}


def test_each_reader_gets_its_version_one_prediction_per_id_and_a_note_on_the_others():
    # given a window where versions 1 and 2 scored the same rows, and v2 logged id 2 twice
    frame = pd.concat(
        [
            _scored("1", [1, 2, 3], 0.2),
            _scored("2", [1, 2, 3], 0.7),
            _scored("2", [2], 0.9, at="2026-03-04"),
        ],
        ignore_index=True,
    )

    # when each version's predictions are read
    one = select_version(frame, "1", "id")
    two = select_version(frame, "2", "id")

    # then each has one row per id, its own, the latest scored
    assert one.frame.set_index("id")["score"].to_dict() == {1: 0.2, 2: 0.2, 3: 0.2}
    assert two.frame.set_index("id")["score"].to_dict() == {1: 0.7, 2: 0.9, 3: 0.7}
    assert one.notes("--version 1") == [
        "4 predictions of other versions (2) are not read (--version 1)"
    ]
    # and reading every version keeps the latest scored per id
    assert select_version(frame, None, "id").frame.set_index("id")["score"].to_dict() == {
        1: 0.7,
        2: 0.9,
        3: 0.7,
    }


def test_a_partition_without_a_version_column_still_reads_and_says_so():
    # given a day logged before versions were recorded (no model_version column), and a
    # later day of version 3, read together as one window
    legacy = _scored(None, [1, 2], 0.4)
    later = _scored("3", [3, 4], 0.6)
    window = pd.concat([legacy, later], ignore_index=True)

    # when version 3's predictions are read
    selected = select_version(window, "3", "id")

    # then the rows without a version stand in for it, and the note says so
    assert sorted(selected.frame["id"]) == [1, 2, 3, 4]
    assert selected.unversioned_rows == 2
    assert "2 predictions carry no model version" in selected.notes("x")[0]
    # and a reader that can score rows itself (the drift check) takes only v3's own rows
    assert sorted(select_version(window, "3", "id", stand_in=False).frame["id"]) == [3, 4]


def test_rescoring_a_legacy_partition_keeps_its_rows_and_reads_the_new_version_first():
    # given a legacy day (no version column) rescored by version 2
    day = merge_predictions(_scored(None, [1, 2], 0.4), _scored("2", [1, 2], 0.8), "2")

    # then the legacy rows are kept, and version 2 reads its own predictions, not them
    assert len(day) == 4
    assert day["model_version"].isna().sum() == 2
    selected = select_version(day, "2", "id")
    assert set(selected.frame["score"]) == {0.8}
    assert selected.unversioned_rows == 0


def test_scoring_selection_skips_scored_partitions_unless_rescoring():
    days = [date(2026, 3, d) for d in (1, 2, 3, 5)]

    assert requested_partitions(days, day="2026-03-02") == [date(2026, 3, 2)]
    assert requested_partitions(days, day="2026-03-04") == []
    assert requested_partitions(days, start="2026-03-02", end="2026-03-03") == days[1:3]
    with pytest.raises(MonitoringError, match="not both"):
        requested_partitions(days, day="2026-03-02", start="2026-03-01")

    selection = partitions_to_score(days, scored=days[:2])
    assert (selection.to_score, selection.already_scored) == (days[2:], days[:2])
    assert partitions_to_score(days, scored=days[:2], rescore=True).to_score == days


@pytest.mark.parametrize(("text", "expected"), [("3", "3"), ("v12", "12"), (4, "4"), (None, None)])
def test_version_options_are_version_numbers(text, expected):
    assert parse_version_option(text) == expected


def test_a_version_option_that_is_not_a_number_names_the_option():
    with pytest.raises(ValueError, match="--version: expected a version number"):
        parse_version_option("champion")
