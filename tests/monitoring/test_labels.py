from datetime import date

import pandas as pd
import pytest

from retrainer.monitoring import (
    LABELLED_COLUMN,
    join_labels,
    labelled_share_by_day,
    labels_known_as_of,
)


def _labels(rows: list[tuple[str, str, int]]) -> pd.DataFrame:
    # (id, arrival date, label)
    return pd.DataFrame(
        {
            "id": [r[0] for r in rows],
            "_arrival": [date.fromisoformat(r[1]) for r in rows],
            "label_ts": [pd.Timestamp(f"{r[1]} 09:00", tz="UTC") for r in rows],
            "y": [r[2] for r in rows],
        }
    )


def test_only_labels_arrived_by_as_of_are_known_and_the_latest_wins():
    # given a label for a, a correction for a two days later, and a label for b after as_of
    labels = _labels([("a", "2026-01-05", 0), ("a", "2026-01-07", 1), ("b", "2026-01-09", 1)])

    # when asking what was known on the 7th
    known = labels_known_as_of(labels, "id", "y", "2026-01-07", label_time_column="label_ts")

    # then a carries its correction and b is not known yet
    assert known.set_index("id")["y"].to_dict() == {"a": 1}

    # and on the 6th only the first label of a was known
    earlier = labels_known_as_of(labels, "id", "y", "2026-01-06", label_time_column="label_ts")
    assert earlier.set_index("id")["y"].to_dict() == {"a": 0}


def test_label_time_after_as_of_is_ignored_even_in_an_earlier_partition():
    # given a label filed in the 5th's partition but stamped as arriving on the 8th
    labels = _labels([("a", "2026-01-05", 1)])
    labels["label_ts"] = pd.Timestamp("2026-01-08 09:00", tz="UTC")

    known = labels_known_as_of(labels, "id", "y", "2026-01-06", label_time_column="label_ts")

    assert known.empty


def test_join_keeps_unlabelled_predictions_and_marks_them():
    predictions = pd.DataFrame({"id": ["a", "b", "c"], "score": [0.1, 0.8, 0.4]})
    known = pd.DataFrame({"id": ["a", "c"], "y": [0, 1]})

    joined = join_labels(predictions, known, "id", "y")

    assert joined["id"].tolist() == ["a", "b", "c"]
    assert joined[LABELLED_COLUMN].tolist() == [True, False, True]
    assert joined["y"].isna().tolist() == [False, True, False]


def test_join_rejects_duplicate_label_ids():
    predictions = pd.DataFrame({"id": ["a"], "score": [0.1]})
    known = pd.DataFrame({"id": ["a", "a"], "y": [0, 1]})

    with pytest.raises(ValueError, match="duplicate ids"):
        join_labels(predictions, known, "id", "y")


def test_labelled_share_per_day_reports_the_unlabelled_tail():
    # given three days of predictions; labels have arrived for all of day 1 and half of day 2
    frame = pd.DataFrame(
        {
            "day": [date(2026, 1, 1)] * 2 + [date(2026, 1, 2)] * 2 + [date(2026, 1, 3)] * 2,
            LABELLED_COLUMN: [True, True, True, False, False, False],
        }
    )

    share = labelled_share_by_day(frame, "day")

    assert share["labelled_share"].tolist() == [1.0, 0.5, 0.0]
    assert share["unlabelled"].tolist() == [0, 1, 2]
