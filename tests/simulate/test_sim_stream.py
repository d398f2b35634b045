"""The base stream: determinism, shape, realistic marginals, a learnable nonlinear signal."""

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from sim_helpers import drift_p_value, model_frame, roc_auc, rows_on, simulated, single_thread

from retrainer.simulate import (
    CATEGORIES,
    FEATURE_COLUMNS,
    NUMERIC_COLUMNS,
    SCENARIOS,
    SimulationError,
    simulate,
)


def _frame_hash(frame: pd.DataFrame) -> int:
    return int(pd.util.hash_pandas_object(frame, index=True).sum())


def test_same_seed_gives_identical_frames_and_another_seed_differs():
    # given three small simulations of the demo scenario (drifts and an incident inside)
    kwargs = {"days": 100, "rows_per_day": 60, "incidents": ["null_burst@2026-01-05:age"]}

    # when two use the same seed and one another
    first = simulate("demo", seed=7, **kwargs)
    again = simulate("demo", seed=7, **kwargs)
    other = simulate("demo", seed=8, **kwargs)

    # then the same seed reproduces every frame exactly, a new seed does not
    pd.testing.assert_frame_equal(first.features, again.features)
    pd.testing.assert_frame_equal(first.labels, again.labels)
    assert _frame_hash(first.features) == _frame_hash(again.features)
    assert first.broken_batches.keys() == again.broken_batches.keys()
    for day, batch in first.broken_batches.items():
        pd.testing.assert_frame_equal(batch, again.broken_batches[day])
    assert first.schedule.to_dict() == again.schedule.to_dict()
    assert not np.allclose(first.features["income"], other.features["income"])
    assert not first.labels["defaulted"].equals(other.labels["defaulted"])


def test_a_longer_simulation_extends_a_shorter_one():
    # given the same scenario and seed simulated for 10 and for 20 days
    short = simulate("stable", days=10, rows_per_day=50)
    long = simulate("stable", days=20, rows_per_day=50)

    # then the first 10 days are the same rows
    pd.testing.assert_frame_equal(short.features, long.features.iloc[: len(short.features)])


def test_rows_have_the_documented_columns_types_and_days():
    # given the default stable stream
    sim = simulated("stable")
    features = sim.features
    n = sim.schedule.rows_per_day

    # then columns, types, ids and event days are as documented
    assert list(features.columns) == ["loan_id", "event_time", *FEATURE_COLUMNS]
    assert features["loan_id"].is_unique
    assert features["loan_id"].iloc[0] == "L00000001"
    assert str(features["event_time"].dt.tz) == "UTC"
    assert all(pd.api.types.is_float_dtype(features[c]) for c in NUMERIC_COLUMNS)
    days = features["event_time"].dt.date
    assert days.value_counts().eq(n).all()
    assert days.iloc[0] == date(2026, 1, 1)
    assert days.iloc[-1] == sim.schedule.end
    assert features["event_time"].dt.hour.nunique() == 24  # spread over the day
    for column, (values, _) in CATEGORIES.items():
        assert set(features[column]) == set(values)
    assert list(sim.labels.columns) == ["loan_id", "label_time", "defaulted"]
    assert sim.labels["defaulted"].dtype == np.int64
    assert set(sim.labels["loan_id"]) == set(features["loan_id"])


def test_marginals_are_realistic_with_low_stable_null_rates():
    # given the default stable stream
    features = simulated("stable").features

    # then the marginals look like consumer loans
    assert features["credit_score"].between(300, 850).all()
    assert 620 < features["credit_score"].mean() < 720
    assert 35_000 < features["income"].median() < 80_000
    assert features["income"].skew() > 1  # lognormal: long right tail
    assert features["term_months"].isin([12, 24, 36, 48, 60]).all()
    assert features["utilization"].dropna().between(0, 1).all()
    assert features["age"].between(21, 85).all()
    assert features["region"].nunique() == 5
    assert features["channel"].nunique() == 4
    # and correlated as expected
    assert features["loan_amount"].corr(features["income"], method="spearman") > 0.4
    assert features["interest_rate"].corr(features["credit_score"], method="spearman") < -0.5
    # and a low, stable share of nulls in employment_years only (plus rare utilization nulls)
    daily_nulls = features.groupby(features["event_time"].dt.date)["employment_years"].apply(
        lambda s: s.isna().mean()
    )
    assert 0.005 < daily_nulls.mean() < 0.02
    assert daily_nulls.max() < 0.03
    null_columns = {c for c in FEATURE_COLUMNS if features[c].isna().any()}
    assert null_columns == {"employment_years", "utilization"}


def test_the_default_signal_is_learnable_and_nonlinear(pre_drift_model):
    # given gradient boosting trained on 30 days x 2,000 rows and the next 10 unseen days
    from sklearn.compose import make_column_transformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    model, sim = pre_drift_model
    train = rows_on(sim, sim.schedule.dates()[:30])
    test = rows_on(sim, sim.schedule.dates()[30:])
    linear = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), list(CATEGORIES)),
            (make_pipeline(SimpleImputer(), StandardScaler()), list(NUMERIC_COLUMNS)),
        ),
        LogisticRegression(max_iter=500),
    )
    with single_thread():
        linear.fit(model_frame(train), train["defaulted"])

    # when both are scored on the unseen days
    boosted_auc = roc_auc(model, test)
    linear_auc = roc_auc(linear, test)

    # then boosting lands in the intended range and beats the linear model
    assert 0.75 <= boosted_auc <= 0.85
    assert boosted_auc > linear_auc + 0.01
    assert 0.10 <= train["defaulted"].mean() <= 0.20


def test_stable_stream_shows_no_drift_between_clean_windows():
    # given two windows of the stable stream, far apart
    sim = simulated("stable")
    early = rows_on(sim, sim.schedule.dates()[:14])
    late = rows_on(sim, sim.schedule.dates()[-14:])

    # when every feature and the label rate are compared
    p_values = {c: drift_p_value(early[c], late[c]) for c in FEATURE_COLUMNS}
    p_values["defaulted"] = drift_p_value(early["defaulted"], late["defaulted"])

    # then nothing is detected (Bonferroni over the columns at 1%)
    assert min(p_values.values()) > 0.01 / len(p_values), p_values


def test_bad_arguments_raise_errors_naming_the_value():
    with pytest.raises(SimulationError, match="unknown scenario 'nope'"):
        simulate("nope")
    with pytest.raises(SimulationError, match="days must be at least 1"):
        simulate("stable", days=0)
    with pytest.raises(SimulationError, match="outside the simulation"):
        simulate("stable", days=5, incidents=["null_burst@2027-01-01"])
    with pytest.raises(SimulationError, match="unknown kind 'melt'"):
        simulate("stable", days=5, incidents=["melt@2026-01-02"])


def test_every_scenario_builds_and_drifts_after_the_end_are_left_out():
    # given every scenario, once at full length (schedule only) and the demo cut short
    from retrainer.simulate import build_schedule

    for name, scenario in SCENARIOS.items():
        schedule = build_schedule(name)
        assert schedule.days == scenario.days
        assert len(schedule.drifts) == len(scenario.drifts)

    # when the demo is cut before its first drift
    short = build_schedule("demo", days=60)

    # then its schedule holds neither the drifts nor the incident, and ends on day 60
    assert short.drifts == []
    assert short.incidents == []
    assert short.end == date(2026, 1, 1) + timedelta(days=59)
