"""Every drift shows up where the schedule says and nowhere else."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sim_helpers import (
    day_numbers,
    drift_p_value,
    model_frame,
    roc_auc,
    rows_on,
    scenario_sim,
    simulated,
    single_thread,
)

from retrainer.simulate import FEATURE_COLUMNS, simulate

COVARIATE = ["sudden", "gradual", "incremental", "recurring", "segment_covariate"]
CONCEPT = ["concept_sudden", "concept_gradual", "concept_incremental", "concept_recurring"]


def _changed(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Cell by cell: does ``a`` differ from ``b``? (nulls equal nulls)"""
    return ~((a == b) | (a.isna() & b.isna()))


def _windows(sim):
    """Reference (first 14 days), drifted (last 7 drift days), quiet (last 7 clean days after)."""
    schedule = sim.schedule
    reference = schedule.dates()[:14]
    drifted = sorted(schedule.drift_days())[-7:]
    quiet = sorted(d for d in schedule.clean_days() if d > reference[-1])[-7:]
    return reference, drifted, quiet


def _segment_rows(frame: pd.DataFrame, segment: dict | None) -> pd.DataFrame:
    for column, value in (segment or {}).items():
        frame = frame[frame[column] == value]
    return frame


@pytest.mark.parametrize("scenario", COVARIATE)
def test_covariate_drift_is_detected_on_drift_days_and_not_on_clean_days(scenario):
    # given a covariate-drift scenario and its ground truth
    sim = simulated(scenario)
    [drift] = sim.schedule.drifts
    assert drift.kind == "covariate"
    reference, drifted, quiet = _windows(sim)
    assert len(drifted) == 7
    assert len(quiet) == 7

    # when each drifted column is tested: reference vs drifted days, reference vs clean days
    ref_rows = _segment_rows(rows_on(sim, reference), drift.segment)
    for column in drift.columns:
        p_drift = drift_p_value(
            ref_rows[column], _segment_rows(rows_on(sim, drifted), drift.segment)[column]
        )
        p_clean = drift_p_value(
            ref_rows[column], _segment_rows(rows_on(sim, quiet), drift.segment)[column]
        )

        # then the test fires on the drift days only
        assert p_drift < 1e-6, (column, p_drift)
        assert p_clean > 1e-3, (column, p_clean)


@pytest.mark.parametrize("scenario", COVARIATE)
def test_covariate_drift_changes_only_its_columns_rows_and_days(scenario):
    # given a covariate-drift scenario and the stable stream of the same seed
    sim, stable = simulated(scenario), simulated("stable")
    [drift] = sim.schedule.drifts

    # when their feature rows are compared cell by cell
    changed = _changed(sim.features[list(FEATURE_COLUMNS)], stable.features[list(FEATURE_COLUMNS)])
    days = sim.features["event_time"].dt.date

    # then only the drift's columns changed, only on its days, only in its segment ...
    other = [c for c in FEATURE_COLUMNS if c not in drift.columns]
    assert not changed[other].to_numpy().any()
    changed_days = set(days[changed.any(axis=1)])
    assert changed_days <= sim.schedule.drift_days()
    assert len(changed_days) >= 0.9 * len(sim.schedule.drift_days())
    outside = ~pd.Series(True, index=sim.features.index)
    for column, value in (drift.segment or {}).items():
        outside |= stable.features[column] != value
    assert not changed[outside].to_numpy().any()
    # ... and labels follow the unchanged concept (covariate drift keeps P(y | x))
    assert sim.truth["default_probability"][~changed.any(axis=1)].equals(
        stable.truth["default_probability"][~changed.any(axis=1)]
    )


def test_gradual_and_incremental_drift_grow_between_start_and_end():
    # given the gradual (share of rows) and incremental (size of the shift) scenarios
    for scenario, column in [("gradual", "credit_score"), ("incremental", "loan_amount")]:
        sim, stable = simulated(scenario), simulated("stable")
        [drift] = sim.schedule.drifts
        days = sim.features["event_time"].dt.date
        change = (sim.features[column] - stable.features[column]).abs()

        # when the mean change per day is followed through the ramp
        daily = change.groupby(days).mean()
        ramp = daily.loc[drift.start : drift.end]

        # then it rises from almost nothing to its full size and stays there
        assert ramp.iloc[0] < 0.2 * ramp.iloc[-1]
        assert ramp.iloc[: len(ramp) // 2].mean() < ramp.iloc[len(ramp) // 2 :].mean()
        after = daily.loc[drift.end :].iloc[1:]
        assert after.mean() > 0.8 * ramp.iloc[-1]
        assert daily.loc[: drift.start].iloc[:-1].max() == 0


def test_seasonal_variation_cycles_and_is_not_counted_as_drift():
    # given the seasonal scenario (weekly loan-amount cycle, 30-day base-rate cycle)
    sim = simulated("seasonal")
    schedule = sim.schedule
    weekly = schedule.drift("weekly_loan_cycle")
    monthly = schedule.drift("monthly_default_cycle")

    # then the schedule marks it as expected: no drift days, every day clean
    assert schedule.drift_days() == set()
    assert schedule.clean_days() == set(schedule.dates())
    assert schedule.drift_days(include_expected=True) == set(schedule.dates())

    # and the loan-amount cycle separates peak from trough days but not equal phases
    def phase(drift, day):
        return math.sin(2 * math.pi * (day - drift.start).days / drift.period_days)

    peak = [d for d in schedule.dates()[:56] if phase(weekly, d) > 0.7]
    trough = [d for d in schedule.dates()[:56] if phase(weekly, d) < -0.7]
    same_phase_early = [d for d in peak if d < schedule.dates()[28]]
    same_phase_late = [d for d in peak if d >= schedule.dates()[28]]
    loans = lambda days: rows_on(sim, days)["loan_amount"]  # noqa: E731
    assert drift_p_value(loans(trough), loans(peak)) < 1e-6
    assert drift_p_value(loans(same_phase_early), loans(same_phase_late)) > 1e-3

    # and the default rate follows the 30-day cycle
    high = rows_on(sim, [d for d in schedule.dates() if phase(monthly, d) > 0.7])["defaulted"]
    low = rows_on(sim, [d for d in schedule.dates() if phase(monthly, d) < -0.7])["defaulted"]
    table = [[high.sum(), len(high) - high.sum()], [low.sum(), len(low) - low.sum()]]
    assert high.mean() > low.mean() + 0.03
    assert stats.chi2_contingency(table)[1] < 1e-6


def test_seasonal_concept_drift_miscalibrates_a_model_fitted_across_the_cycle():
    # given a model fitted on one whole 30-day base-rate cycle (days 0..29), so that it is
    # calibrated on average, and the next cycle's peak and trough days
    from sklearn.ensemble import HistGradientBoostingClassifier

    sim = simulated("seasonal")
    monthly = sim.schedule.drift("monthly_default_cycle")
    dates = sim.schedule.dates()
    train = rows_on(sim, dates[:30])
    model = HistGradientBoostingClassifier(
        max_iter=100, learning_rate=0.1, categorical_features="from_dtype", random_state=0
    )
    with single_thread():
        model.fit(model_frame(train), train["defaulted"])

    def phase(day):
        return math.sin(2 * math.pi * (day - monthly.start).days / monthly.period_days)

    later = dates[30:90]
    peak = rows_on(sim, [d for d in later if phase(d) > 0.7])
    trough = rows_on(sim, [d for d in later if phase(d) < -0.7])

    def gap(rows):  # mean predicted probability minus the realised default rate
        return model.predict_proba(model_frame(rows))[:, 1].mean() - rows["defaulted"].mean()

    # then P(y|x) moved with the season although the features did not: the model
    # under-predicts defaults at the peaks and over-predicts them in the troughs
    assert gap(peak) < -0.02
    assert gap(trough) > 0.015
    assert drift_p_value(peak["income"], trough["income"]) > 1e-3


@pytest.mark.parametrize("scenario", CONCEPT)
def test_concept_drift_drops_a_pre_drift_model_on_drift_days_only(scenario, pre_drift_model):
    # given a model trained on 30 clean days, its AUC on unseen clean days, and a scenario
    model, stable = pre_drift_model
    baseline = roc_auc(model, rows_on(stable, stable.schedule.dates()[30:]))
    sim = simulated(scenario)
    [drift] = sim.schedule.drifts
    assert drift.kind == "concept"
    _, drifted, quiet = _windows(sim)

    # when the model scores the last drift days and clean days after its training
    drifted_auc = roc_auc(model, rows_on(sim, drifted))
    quiet_auc = roc_auc(model, rows_on(sim, quiet))

    # then the AUC drops clearly on drift days and not on clean days
    assert drifted_auc < baseline - 0.10, (drifted_auc, baseline)
    assert quiet_auc > baseline - 0.03, (quiet_auc, baseline)


@pytest.mark.parametrize("scenario", [*CONCEPT, "segment_concept"])
def test_concept_drift_keeps_the_features_and_changes_labels_on_its_days_only(scenario):
    # given a concept-drift scenario and the stable stream of the same seed
    sim, stable = simulated(scenario), simulated("stable")
    [drift] = sim.schedule.drifts

    # then P(x) is untouched: identical feature rows
    pd.testing.assert_frame_equal(sim.features, stable.features)
    # and the true default probability differs only on drift days (and in the segment)
    moved = sim.truth["default_probability"] != stable.truth["default_probability"]
    assert set(sim.truth["event_date"][moved]) <= sim.schedule.drift_days(kind="concept")
    if drift.segment:
        [(column, value)] = drift.segment.items()
        assert (sim.features.loc[moved, column] == value).all()


def test_segment_concept_drift_drops_the_segment_but_barely_the_overall_metric(pre_drift_model):
    # given the segment-only concept drift (region south) and a pre-drift model
    model, _ = pre_drift_model
    sim = simulated("segment_concept")
    [drift] = sim.schedule.drifts
    assert drift.segment == {"region": "south"}
    drifted = sorted(sim.schedule.drift_days())[-14:]
    quiet = sorted(sim.schedule.clean_days())[-14:]
    after, before = rows_on(sim, drifted), rows_on(sim, quiet)

    # when the model is scored overall and in the segment, before and after the onset
    south_drop = roc_auc(model, before[before.region == "south"]) - roc_auc(
        model, after[after.region == "south"]
    )
    overall_drop = roc_auc(model, before) - roc_auc(model, after)

    # then the segment falls clearly while the overall metric barely moves
    assert south_drop > 0.10, south_drop
    assert overall_drop < 0.04, overall_drop
    assert np.isclose(after["defaulted"].mean(), before["defaulted"].mean(), atol=0.02)


# -- yearly cycles and range widening (shaped scenarios at their own rows per day) ---------


def _daily_log_median(sim, column):
    return np.log(sim.features[column]).groupby(day_numbers(sim)).median().to_numpy()


def test_yearly_cycles_peak_in_spring_and_trough_in_autumn_and_are_expected():
    # given a year of the yearly-cycle scenario (loan amounts +1 sd, incomes -0.6 sd)
    sim = scenario_sim("yearly_cycle")
    schedule = sim.schedule
    loans, incomes = (
        schedule.drift("yearly_loan_amount_cycle"),
        schedule.drift("yearly_income_cycle"),
    )
    phase = np.sin(2 * np.pi * np.arange(schedule.days) / loans.period_days)

    # when the daily medians are followed through the year
    loan_median = _daily_log_median(sim, "loan_amount")
    income_median = _daily_log_median(sim, "income")

    # then loan amounts follow the cycle's phase (peak near day 91, trough near day 274)
    # and incomes the opposite one
    assert loans.period_days == incomes.period_days == 365
    assert np.corrcoef(phase, loan_median)[0, 1] > 0.95
    assert np.corrcoef(phase, income_median)[0, 1] < -0.95
    assert 80 <= np.argmax(np.convolve(loan_median, np.ones(15) / 15, "same")) <= 105
    peak, trough = phase > 0.9, phase < -0.9
    assert np.exp(loan_median[peak].mean() - loan_median[trough].mean()) > 2.5
    # and the season is expected variation: no drift day, every day clean
    assert schedule.drift_days() == set()
    assert schedule.clean_days() == set(schedule.dates())
    assert schedule.drift_days(include_expected=True) == set(schedule.dates())


def test_small_days_keep_the_yearly_cycle_visible():
    # given 24-row days over a year
    sim = scenario_sim("small_days")
    phase = np.sin(2 * np.pi * np.arange(sim.schedule.days) / 365)

    # then even noisy daily medians follow the cycle
    assert np.corrcoef(phase, _daily_log_median(sim, "loan_amount"))[0, 1] > 0.8


def test_the_widening_drift_spreads_values_after_its_start_and_not_before():
    # given the range-widening scenario and the stable stream of the same size
    sim = scenario_sim("range_widening")
    stable = simulate("stable", days=sim.schedule.days, rows_per_day=sim.schedule.rows_per_day)
    drift = sim.schedule.drift("loan_range_widening")
    after = sorted(sim.schedule.active_days("loan_range_widening"))
    day = day_numbers(sim)
    first = (after[0] - sim.schedule.start).days

    # then the ground truth is a covariate drift of loan_amount from day 80 on
    assert (drift.kind, drift.effect, drift.columns, drift.magnitude) == (
        "covariate",
        "widen",
        ("loan_amount",),
        2.0,
    )
    assert first == 80
    assert set(after) == sim.schedule.drift_days(kind="covariate")
    assert sim.schedule.clean_days() == set(sim.schedule.dates()[:80])
    # and before it the rows are the stable stream's, afterwards only loan_amount changed
    before = day < first
    pd.testing.assert_frame_equal(sim.features[before], stable.features[before])
    others = [c for c in FEATURE_COLUMNS if c != "loan_amount"]
    pd.testing.assert_frame_equal(sim.features[others], stable.features[others])
    # and the spread (log scale) doubles on every day from the start, the centre stays
    log_sd = np.log(sim.features["loan_amount"]).groupby(day).std().to_numpy()
    assert log_sd[:first].max() < 0.8 < 1.15 < log_sd[first:].min()
    reference = sim.features.loc[before, "loan_amount"]
    widened = sim.features.loc[~before, "loan_amount"]
    assert abs(np.log(widened.median() / reference.median())) < 0.1
    # and values leave the reference range on both sides while staying plausible
    assert (widened > reference.max()).mean() > 0.02
    assert (widened < reference.min()).mean() > 0.02
    assert widened.between(100, 1_000_000).all()
    assert np.isfinite(widened).all()
