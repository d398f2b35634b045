"""Drift within segments (retrainer.drift.segments), checked against a detector per segment."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retrainer.drift import DriftDetector
from retrainer.drift.check import day_scores
from retrainer.drift.segments import (
    SegmentDriftError,
    SegmentSummary,
    check_shard,
    count_segments,
    plan_segments,
    segment_labels,
    shard,
)

NUMERIC = ["income", "amount"]
CATEGORICAL = ["purpose"]


def _frame(n: int, seed: int, south_income_shift: float = 0.0) -> pd.DataFrame:
    """Four regions x two channels; incomes move in region south only, when asked."""
    rng = np.random.default_rng(seed)
    region = rng.choice(["north", "south", "east", "west"], n, p=[0.5, 0.1, 0.2, 0.2])
    income = rng.normal(50, 10, n) + np.where(region == "south", south_income_shift, 0.0)
    return pd.DataFrame(
        {
            "region": region,
            "channel": rng.choice(["web", "branch"], n),
            "income": income,
            "amount": rng.lognormal(2, 0.5, n),
            "purpose": rng.choice(["car", "home", "other"], n),
        }
    )


def _detector() -> DriftDetector:
    return DriftDetector(numeric=NUMERIC, categorical=CATEGORICAL)


def _chunks(frame: pd.DataFrame, size: int) -> list[pd.DataFrame]:
    return [frame.iloc[i : i + size] for i in range(0, len(frame), size)]


def test_a_shift_in_one_segment_is_found_there_and_only_there():
    # given a baseline and a window whose incomes drop in region south only (-1 sd)
    reference, current = _frame(20_000, 0), _frame(10_000, 1, south_income_shift=-7)
    segments = sorted(count_segments([reference], ["region"]))

    # when each region is checked, both sides streamed in chunks of 1,500 rows
    results = check_shard(
        segments, ["region"], _detector, _chunks(reference, 1_500), _chunks(current, 1_500), 200
    )

    # then south drifted on income and nothing else did
    verdicts = {r.segment: (r.status, r.drifted_columns) for r in results}
    assert verdicts == {
        "region=east": ("ok", []),
        "region=north": ("ok", []),
        "region=south": ("drift", ["income"]),
        "region=west": ("ok", []),
    }
    # and the whole window, checked as one, barely moves (a tenth of the rows shifted)
    overall = _detector().fit(reference).compare(current)
    assert "income" not in overall.drifted_columns


def test_each_segment_equals_a_detector_fitted_on_that_segment_alone():
    # given baseline and window rows of two segment columns
    reference, current = _frame(12_000, 2), _frame(6_000, 3, south_income_shift=-6)
    columns = ["region", "channel"]
    segments = sorted(count_segments([reference, current], columns))

    # when the shard streams them in chunks
    results = check_shard(
        segments, columns, _detector, _chunks(reference, 700), _chunks(current, 700), 100
    )

    # then each result is what the slow way gives: select the segment's rows, fit, compare
    # them as one batch (a stream's numeric metrics come from the sketch, whatever the chunks)
    ref_labels, cur_labels = segment_labels(reference, columns), segment_labels(current, columns)
    for result in results:
        report = (
            _detector()
            .fit(reference[ref_labels == result.segment])
            .compare_batches([current[cur_labels == result.segment]])
        )
        expected = {c: s.to_dict() for c, s in day_scores(report).items()}
        assert result.drifted_columns == report.drifted_columns, result.segment
        assert result.n_reference == int((ref_labels == result.segment).sum())
        assert result.n_current == int((cur_labels == result.segment).sum())
        for column, score in expected.items():
            assert result.scores[column]["metric"] == score["metric"]
            assert result.scores[column]["value"] == pytest.approx(score["value"], rel=1e-9)


def test_a_segment_with_too_few_rows_gets_no_verdict():
    # given a window where region west has 50 rows, and a segment new in the window
    reference, current = _frame(8_000, 4), _frame(4_000, 5)
    current = pd.concat(
        [current[current.region != "west"], current[current.region == "west"].head(50)]
    )
    current.loc[current.index[:300], "region"] = "mars"

    # when checked with min_rows 200
    segments = plan_segments(
        count_segments([reference], ["region"]),
        count_segments([current], ["region"]),
        10,
        ["region"],
    )
    results = {
        r.segment: r
        for r in check_shard(segments, ["region"], _detector, [reference], [current], 200)
    }

    # then west (50 window rows) and mars (no baseline rows) are too_few_rows, the rest checked
    assert results["region=west"].status == "too_few_rows"
    assert (results["region=mars"].status, results["region=mars"].n_reference) == (
        "too_few_rows",
        0,
    )
    assert {results[s].status for s in ("region=north", "region=south", "region=east")} == {"ok"}


def test_missing_segment_values_are_a_segment_of_their_own():
    frame = pd.DataFrame({"region": ["north", None, "north"], "channel": ["web", "web", None]})
    assert list(segment_labels(frame, ["region", "channel"])) == [
        "region=north, channel=web",
        "region=<missing>, channel=web",
        "region=north, channel=<missing>",
    ]
    with pytest.raises(SegmentDriftError, match=r"\['segment'\] are missing"):
        segment_labels(frame, ["segment"])


def test_too_many_segments_fail_with_the_columns_named():
    counts = {f"id={i}": 1 for i in range(11)}
    with pytest.raises(SegmentDriftError, match=r"\['id'\] make 11 segments.*max_segments \(10\)"):
        plan_segments(counts, {}, 10, ["id"])


def test_shards_cover_every_segment_once():
    parts = shard([f"s{i:02d}" for i in range(23)][::-1], 5)
    assert [len(p) for p in parts] == [5, 5, 5, 5, 3]
    assert sorted(s for p in parts for s in p) == [f"s{i:02d}" for i in range(23)]


def test_the_summary_names_the_drifted_segments_and_their_features():
    reference, current = _frame(20_000, 6), _frame(10_000, 7, south_income_shift=-10)
    results = check_shard(
        sorted(count_segments([reference], ["region"])),
        ["region"],
        _detector,
        [reference],
        [current],
        200,
    )
    summary = SegmentSummary(["region"], results, shards=1)
    assert summary.headline() == "region=south: income"
    assert summary.drifted_features == ["income"]
    brief = summary.to_dict()
    assert (brief["segments"], brief["checked"], brief["drifted"]) == (4, 4, 1)
    assert brief["drifted_segments"] == [{"segment": "region=south", "columns": ["income"]}]


def test_an_integer_segment_column_read_as_float_in_a_file_with_a_null_is_one_segment():
    # given a baseline file where `store` is int64 and a window file where a null made it
    # float64 (what pyarrow gives back for a pandas-written integer column with a missing value)
    reference = _frame(6_000, 8).assign(store=lambda f: (f.index % 3).astype("int64"))
    current = _frame(3_000, 9).assign(store=lambda f: (f.index % 3).astype("float64"))
    current.loc[current.index[0], "store"] = np.nan

    # when the stores are checked
    segments = plan_segments(
        count_segments([reference], ["store"]), count_segments([current], ["store"]), 10, ["store"]
    )
    results = check_shard(segments, ["store"], _detector, [reference], [current], 200)

    # then store 1 is one segment on both sides (not "store=1" and "store=1.0"), and the
    # missing value is a segment of its own
    assert segments == ["store=0", "store=1", "store=2", "store=<missing>"]
    assert {r.segment: r.status for r in results}["store=1"] == "ok"


def test_a_segment_check_that_cannot_run_is_a_drift_check_error():
    from retrainer.drift.check import DriftCheckError

    with pytest.raises(DriftCheckError, match="max_segments"):
        plan_segments({f"id={i}": 1 for i in range(3)}, {}, 2, ["id"])
