"""Reference profiles: per-day statistics aggregated robustly, JSON round trip."""

import json
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from validation_helpers import START, profile_of

from retrainer.validation import ReferenceProfile


def test_profile_keeps_dtypes_null_shares_quantiles_categories_and_daily_rows(reference):
    # when profiling 14 clean days
    profile = profile_of(reference)

    # then what the suite needs is there, close to the truth of the stream
    assert profile.rows == len(reference)
    assert len(profile.daily_rows) == 14
    assert set(profile.daily_rows.values()) == {2000}
    income = profile.profiles["income"]
    assert income.family == "numeric"
    assert (
        income.quantile(0.5) == np.median(reference["income"])
        or abs(income.quantile(0.5) / np.median(reference["income"]) - 1) < 0.05
    )
    assert income.quantile(0.0) == reference["income"].min()  # pooled extremes
    assert income.quantile(1.0) == reference["income"].max()
    assert profile.profiles["employment_years"].null_share > 0  # the stream's natural nulls
    assert profile.profiles["event_time"].timezone == "UTC"
    assert {v for v, _ in profile.profiles["channel"].categories} == set(reference["channel"])
    assert profile.profiles["loan_id"].family == "string"
    assert profile.id_duplicate_share == 0.0


def test_one_broken_day_inside_the_reference_does_not_widen_it(reference):
    # given a reference where one of 14 days had loan_amount x1000 and a burst of a new channel
    broken = reference.copy()
    day = broken["event_time"].dt.date == START + timedelta(days=5)
    broken.loc[day, "loan_amount"] *= 1000
    broken.loc[day, "channel"] = "aggregator"

    # when profiling it
    clean, dirty = profile_of(reference), profile_of(broken)

    # then the per-day medians barely move and the one-day category is not "known"
    q_clean = clean.profiles["loan_amount"].quantile(0.999)
    q_dirty = dirty.profiles["loan_amount"].quantile(0.999)
    assert q_dirty < 1.2 * q_clean
    assert "aggregator" not in {v for v, _ in dirty.profiles["channel"].categories}
    # (a pooled quantile would have been dragged up a thousandfold)
    assert broken["loan_amount"].quantile(0.999) > 100 * q_clean


def test_profile_survives_a_json_round_trip(reference):
    profile = profile_of(reference)

    again = ReferenceProfile.from_dict(json.loads(json.dumps(profile.to_dict())))

    assert again == profile


def test_an_empty_reference_is_rejected_clearly(reference):
    with pytest.raises(ValueError, match="reference frame has no rows"):
        profile_of(reference.iloc[0:0])


def test_a_frame_without_timestamps_is_profiled_pooled():
    frame = pd.DataFrame({"loan_id": ["a", "b", "c"], "income": [1.0, 2.0, None]})

    profile = profile_of(frame)

    assert profile.daily_rows == {}
    assert profile.profiles["income"].null_share == pytest.approx(1 / 3, abs=1e-6)
    assert profile.profiles["income"].quantile(1.0) == 2.0
