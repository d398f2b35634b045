"""Drift checks on the simulator's stream at the default thresholds: recall and false alarms.

Every day from day 30 on is checked on its own against a baseline profiled on days 0..29
(what a model trained before the drift would carry), the way ``retrainer drift --days 1``
checks it. The simulator's schedule says which days drifted.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

import numpy as np
import pandas as pd
import pytest
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from retrainer.config.drift import DriftSection
from retrainer.drift import DriftDetector
from retrainer.drift.baseline import (
    PREDICTION_SCORE,
    build_baseline_profile,
    checked_columns,
    prediction_frame,
)
from retrainer.drift.check import DriftCheck, check_window, headline_metric
from retrainer.simulate import CATEGORICAL_COLUMNS, FEATURE_COLUMNS, simulate

NUMERIC = [c for c in FEATURE_COLUMNS if c not in CATEGORICAL_COLUMNS]
CATEGORICAL = list(CATEGORICAL_COLUMNS)
ROWS_PER_DAY = 1000
DAYS = 100
BASELINE_DAYS = 30


@cache
def _stream(scenario: str, seed: int = 3):
    return simulate(scenario, days=DAYS, seed=seed, rows_per_day=ROWS_PER_DAY)


def _day(sim, index: int) -> pd.DataFrame:
    return sim.features.iloc[index * ROWS_PER_DAY : (index + 1) * ROWS_PER_DAY]


@cache
def _daily_verdicts(scenario: str) -> dict[date, tuple[bool, list[str]]]:
    """Each checked day's verdict and drifted columns (baseline: days 0..29)."""
    sim = _stream(scenario)
    reference = sim.features.iloc[: BASELINE_DAYS * ROWS_PER_DAY]
    detector = DriftDetector.from_profile(
        DriftDetector(NUMERIC, CATEGORICAL).fit(reference).profile_
    )
    start = sim.schedule.start
    days = [(start + timedelta(days=i), _day(sim, i)) for i in range(BASELINE_DAYS, DAYS)]
    _, daily = check_window(detector, days)
    return {d.day: (d.drifted, d.drifted_columns) for d in daily}


# (scenario, days after the onset by which the drift must be flagged): sudden and recurring
# drift is full-size at once; gradual and incremental drift starts at zero and grows, so
# their first days are below any sensible threshold
DETECTION_DELAY = {"sudden": 2, "recurring": 2, "gradual": 8, "incremental": 8}


@pytest.mark.parametrize("scenario", list(DETECTION_DELAY))
def test_covariate_drift_is_detected_where_the_schedule_marks_it(scenario):
    # given a stream whose schedule marks drifted days, checked day by day at the defaults
    sim = _stream(scenario)
    verdicts = _daily_verdicts(scenario)
    drift_days = sim.schedule.drift_days("covariate") & set(verdicts)
    (onset,) = sim.schedule.onsets("covariate").values()
    delay = timedelta(days=DETECTION_DELAY[scenario])
    drifted_columns = {c for d in sim.schedule.drifts for c in d.columns}

    # then the drift is flagged within the delay of its onset ...
    first = min(d for d, (drifted, _) in verdicts.items() if drifted)
    assert onset <= first <= onset + delay
    # ... >= 90% of its days are flagged from then on (recurring: in every on-period) ...
    judged = [d for d in drift_days if d > onset + delay or scenario == "recurring"]
    recall = np.mean([verdicts[d][0] for d in judged])
    assert recall >= 0.9, f"{scenario}: recall {recall:.2f} on {len(judged)} drift days"
    # ... and only the columns the schedule names are flagged
    flagged = {c for d in drift_days for c in verdicts[d][1]}
    assert flagged
    assert flagged <= drifted_columns


def test_at_most_one_false_alarm_per_60_clean_days():
    # given every clean day after the baseline in a stable stream and before the drifts
    clean_verdicts = []
    for scenario in ("stable", "sudden", "gradual", "incremental", "recurring"):
        sim = _stream(scenario)
        verdicts = _daily_verdicts(scenario)
        clean = sim.schedule.clean_days() & set(verdicts)
        clean_verdicts += [verdicts[d][0] for d in sorted(clean)]

    # then false alarms stay at or below 1 per 60 clean days
    assert len(clean_verdicts) >= 150
    false_alarms = sum(clean_verdicts)
    assert false_alarms <= len(clean_verdicts) / 60, (false_alarms, len(clean_verdicts))


def _model(sim):
    rows = sim.features.iloc[: BASELINE_DAYS * ROWS_PER_DAY]
    labels = rows.merge(sim.labels, on="loan_id")["defaulted"]
    model = make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression(max_iter=500))
    return model.fit(rows[NUMERIC], labels)


def _baseline_with_scores(sim, model):
    """Features profiled on days 0..29, the model's scores on the fresh days 30..36."""
    reference = sim.features.iloc[: BASELINE_DAYS * ROWS_PER_DAY]
    holdout = sim.features.iloc[BASELINE_DAYS * ROWS_PER_DAY : 37 * ROWS_PER_DAY]
    return build_baseline_profile(
        reference,
        numeric=NUMERIC,
        categorical=CATEGORICAL,
        predictions=prediction_frame(model, holdout[NUMERIC], "binary"),
    )


def test_prediction_drift_is_reported_apart_from_feature_drift():
    # given a model on the numeric features, a baseline with its scores on fresh rows, and a
    # window after incomes dropped (which moves the model's scores)
    sim = _stream("sudden")
    model = _model(sim)
    profile = _baseline_with_scores(sim, model)
    features, predicted = checked_columns(profile)
    assert predicted == [PREDICTION_SCORE]
    assert profile.columns[PREDICTION_SCORE].n_rows == 7 * ROWS_PER_DAY
    detector = DriftDetector.from_profile(profile)

    def window(first: int, last: int):
        for i in range(first, last + 1):
            day = _day(sim, i)
            yield (
                sim.schedule.start + timedelta(days=i),
                pd.concat([day, prediction_frame(model, day[NUMERIC], "binary")], axis=1),
            )

    # when a pre-drift week and a post-drift week are checked
    before, _ = check_window(detector, window(40, 46))
    after, daily = check_window(detector, window(62, 68))
    check = DriftCheck(
        model="m",
        model_version="1",
        window_start=date(2026, 3, 4),
        window_end=date(2026, 3, 10),
        baseline={"kind": "training"},
        report=after,
        daily=daily,
        prediction_columns=predicted,
    )

    # then nothing drifts before; after, income and the model's scores drift, and the event
    # payload names them with their metric, value and threshold
    assert not before.drifted
    assert check.drifted_features == ["income"]
    assert check.prediction_drift
    payload = check.event_payload()
    assert payload["verdict"] == "drift"
    assert payload["drifted_columns"] == ["income", PREDICTION_SCORE]
    named = {c["column"]: c for c in payload["columns"]}
    assert named["income"]["metric"] == "wasserstein_norm"
    assert named["income"]["value"] >= named["income"]["threshold"] == 0.1
    assert len(check.daily) == 7
    assert all(d.drifted for d in check.daily)
    assert set(features) == set(NUMERIC + CATEGORICAL)


def test_headline_metric_is_the_one_furthest_past_its_threshold():
    # given a column flagged by PSI (just over) and by normed Wasserstein (far over)
    rng = np.random.default_rng(0)
    reference = pd.DataFrame({"x": rng.normal(0, 1, 20_000)})
    current = pd.DataFrame({"x": rng.normal(0.6, 1, 20_000)})
    config = DriftSection.model_validate({"metrics": {"numeric": ["psi", "wasserstein_norm"]}})
    column = DriftDetector(["x"], config=config).fit(reference).compare(current).column("x")

    # then the headline is the metric with the larger value / threshold ratio
    ratios = {
        m: column.metrics[m].value / column.metrics[m].threshold
        for m in column.metrics
        if column.metrics[m].threshold
    }
    assert headline_metric(column).name == max(ratios, key=ratios.get)


def test_a_window_without_rows_and_a_day_missing_a_column_are_named():
    detector = DriftDetector(["x"]).fit(pd.DataFrame({"x": np.arange(100.0)}))
    with pytest.raises(ValueError, match="no rows"):
        check_window(detector, [(date(2026, 1, 1), pd.DataFrame({"x": []}))])
    with pytest.raises(ValueError, match=r"2026-01-02.*'x'"):
        check_window(detector, [(date(2026, 1, 2), pd.DataFrame({"y": [1.0]}))])


def test_a_feature_named_like_a_prediction_column_is_refused():
    frame = pd.DataFrame({PREDICTION_SCORE: np.arange(50.0)})
    scores = pd.DataFrame({PREDICTION_SCORE: np.linspace(0, 1, 50)})
    with pytest.raises(ValueError, match="clash"):
        build_baseline_profile(
            frame, numeric=[PREDICTION_SCORE], categorical=[], predictions=scores
        )


def test_baseline_options_parse_or_name_the_expected_forms():
    from retrainer.config.drift import TrainingBaseline, WindowBaseline
    from retrainer.drift.baseline import parse_baseline

    section = DriftSection()
    assert isinstance(parse_baseline(None, section), TrainingBaseline)
    assert isinstance(parse_baseline("Training", section), TrainingBaseline)
    window = parse_baseline("2026-01-01:2026-01-31", section)
    assert isinstance(window, WindowBaseline)
    assert (window.start, window.end) == (date(2026, 1, 1), date(2026, 1, 31))
    with pytest.raises(ValueError, match="expected 'training' or START:END"):
        parse_baseline("last-week", section)


def test_the_incident_id_is_stable_for_the_same_check_and_differs_for_another_window():
    detector = DriftDetector(["x"]).fit(pd.DataFrame({"x": np.arange(100.0)}))
    report = detector.compare(pd.DataFrame({"x": np.arange(100.0) + 500}))

    def check(end: date) -> DriftCheck:
        return DriftCheck("m", "3", date(2026, 1, 1), end, {"kind": "training"}, report)

    event = "retrainer.drift.detected"
    assert check(date(2026, 1, 7)).incident_id(event) == check(date(2026, 1, 7)).incident_id(event)
    assert check(date(2026, 1, 7)).incident_id(event) != check(date(2026, 1, 8)).incident_id(event)
    # and it is the id earlier releases emitted for this check (an upgrade re-emits nothing)
    assert check(date(2026, 1, 7)).incident_id(event) == "b692f3df-2aa1-57ff-89d4-87e1497d28c1"


# -- missing data in a window ---------------------------------------------------------------------


def _with_nulls(n: int, share: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    values = rng.normal(50.0, 5.0, n)
    values[rng.random(n) < share] = np.nan
    return pd.DataFrame({"x": values, "y": rng.normal(0.0, 1.0, n)})


def test_per_day_scores_show_a_null_burst_by_its_missing_share():
    # given a baseline with 5% nulls in x and three days, the last with 30% nulls
    detector = DriftDetector(["x", "y"]).fit(_with_nulls(5_000, 0.05, seed=1))
    days = [(date(2026, 1, d), _with_nulls(1_000, s, seed=d)) for d, s in [(1, 0.05), (2, 0.05)]]
    days.append((date(2026, 1, 3), _with_nulls(1_000, 0.30, seed=3)))

    # when the window is checked day by day
    report, daily = check_window(detector, days)

    # then the third day's score for x is its missing-share rise, flagged as drift ...
    score = daily[2].scores["x"]
    assert (score.metric, score.status) == ("missing_share", "drift")
    assert score.value == pytest.approx(0.25, abs=0.04)
    assert score.threshold == 0.05
    assert daily[2].drifted_columns == ["x"]
    assert [d.drifted for d in daily] == [False, False, True]
    # ... and the window's verdict names x too, by the same metric
    assert report.drifted_columns == ["x"]
    assert headline_metric(report.column("x")).name == "missing_share"


def _no_data_check(config: DriftSection | None = None) -> DriftCheck:
    detector = DriftDetector(["x", "y"], config=config).fit(_with_nulls(2_000, 0.0, seed=4))
    day = _with_nulls(500, 0.0, seed=5).assign(x=np.nan)
    day_5 = date(2026, 1, 5)
    report, daily = check_window(detector, [(day_5, day)])
    return DriftCheck("m", "3", day_5, day_5, {"kind": "training"}, report, daily)


def test_a_column_without_data_is_in_the_event_payload_and_the_day_scores():
    # when a day without any value of x is checked at the defaults
    check = _no_data_check()

    # then the event names x as drifted with status no_data
    payload = check.event_payload()
    assert payload["verdict"] == "drift"
    assert payload["drifted_columns"] == ["x"]
    assert [(c["column"], c["status"]) for c in payload["columns"]] == [("x", "no_data")]
    assert check.daily[0].scores["x"].status == "no_data"
    assert check.daily[0].drifted_columns == ["x"]


def test_an_ignored_column_without_data_stays_out_of_the_event():
    # when drift.no_data is ignore
    check = _no_data_check(DriftSection.model_validate({"no_data": "ignore"}))

    # then nothing is flagged, while the full summary still shows the column's status
    payload = check.event_payload()
    assert payload["verdict"] == "no drift"
    assert payload["columns"] == []
    assert {c["column"]: c["status"] for c in check.column_summary()}["x"] == "no_data"


def test_missing_share_does_not_flag_the_model_scores():
    # given a model whose imputer fills missing inputs, and a window where 30% of
    # employment_years is missing (its scores still exist for every row)
    sim = _stream("stable")
    model = _model(sim)
    profile = _baseline_with_scores(sim, model)
    rng = np.random.default_rng(0)
    day = _day(sim, 50).copy()
    day.loc[rng.random(len(day)) < 0.3, "employment_years"] = np.nan
    day = pd.concat([day, prediction_frame(model, day[NUMERIC], "binary")], axis=1)

    # when the day is compared with the baseline
    report = DriftDetector.from_profile(profile).compare(day)

    # then the feature is flagged by its missing share, the score column is not
    assert report.column("employment_years").metrics["missing_share"].drifted is True
    score = report.column(PREDICTION_SCORE).metrics["missing_share"]
    assert score.value == 0.0
    assert score.drifted is False


def test_a_day_that_arrives_in_chunks_gives_the_report_of_the_whole_day():
    # given a week of the sudden stream, each day once whole and once in chunks of 300 rows
    sim = _stream("sudden")
    reference = sim.features.iloc[: BASELINE_DAYS * ROWS_PER_DAY]
    detector = DriftDetector.from_profile(
        DriftDetector(NUMERIC, CATEGORICAL).fit(reference).profile_
    )
    start = sim.schedule.start
    indices = range(55, 62)  # the drift starts on day 60
    whole = [(start + timedelta(days=i), _day(sim, i)) for i in indices]

    def chunks(frame: pd.DataFrame):
        return (frame.iloc[k : k + 300] for k in range(0, len(frame), 300))

    chunked = [(day, chunks(frame)) for day, frame in whole]

    # when both are checked
    report_whole, daily_whole = check_window(detector, whole)
    report_chunked, daily_chunked = check_window(detector, chunked)

    # then the window and every day read the same, metric for metric
    assert report_chunked.drifted_columns == report_whole.drifted_columns
    for one, two in zip(report_whole.columns, report_chunked.columns, strict=True):
        for name, metric in one.metrics.items():
            assert two.metrics[name].value == pytest.approx(metric.value, rel=1e-9, nan_ok=True)
    assert [d.n_rows for d in daily_chunked] == [d.n_rows for d in daily_whole]
    for one, two in zip(daily_whole, daily_chunked, strict=True):
        assert (one.day, one.drifted) == (two.day, two.drifted)
        assert one.drifted_columns == two.drifted_columns
        for column, score in one.scores.items():
            assert two.scores[column].value == pytest.approx(score.value, rel=1e-9, nan_ok=True)
