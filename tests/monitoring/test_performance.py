import json
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from retrainer.config.monitoring import MonitoringSection
from retrainer.monitoring import (
    DEGRADED,
    INSUFFICIENT,
    OK,
    MonitoringInputError,
    PerformanceMonitor,
    resolve_threshold,
)
from retrainer.monitoring.report import WARNING

START = date(2026, 3, 1)


def _frame(
    rng,
    days=14,
    per_day=800,
    regions=("north", "east", "south", "tiny"),
    shares=(0.45, 0.35, 0.18, 0.02),
    drift_region=None,
    labelled_days=None,
    id_offset=0,
):
    """Predictions with labels: y ~ Bernoulli(score), except in ``drift_region`` where the
    score no longer ranks the risk (concept drift: the true probabilities are shuffled).
    Labels are known for the first ``labelled_days`` days."""
    n = days * per_day
    day_index = np.repeat(np.arange(days), per_day)
    region = rng.choice(regions, n, p=shares)
    score = rng.beta(1.2, 5.0, n)
    truth = score.copy()
    if drift_region is not None:
        hit = region == drift_region
        truth[hit] = rng.permutation(score[hit])
    y = (rng.random(n) < truth).astype(float)
    if labelled_days is not None:
        y[day_index >= labelled_days] = np.nan
    return pd.DataFrame(
        {
            "id": np.arange(n) + id_offset,
            "ts": [pd.Timestamp(START + timedelta(days=int(d)), tz="UTC") for d in day_index],
            "score": score,
            "prediction": (score >= 0.5).astype(int),
            "y": y,
            "region": region,
        }
    )


def _monitor(settings=None, reference=None, recorded=None):
    settings = settings or MonitoringSection(metrics=["roc_auc", "log_loss"])
    monitor = PerformanceMonitor(settings, "binary", "y", "ts", ["region"])
    return monitor.fit(reference, recorded)


def test_segment_degradation_within_overall_threshold_names_the_segment():
    # given a reference, and a window where only region south (18 % of rows) drifted
    rng = np.random.default_rng(0)
    reference = _frame(rng, days=7, id_offset=10**6)
    window = _frame(rng, drift_region="south", labelled_days=10)

    # when judging the window
    report = _monitor(reference=reference).evaluate(window, model_name="m", model_version="3")

    # then the overall AUC stays within its threshold, the south segment breaches
    overall = report.check("roc_auc", "realised")
    south = report.check("roc_auc", "realised", "region=south")
    assert overall.verdict == OK
    assert south.verdict == DEGRADED
    assert south.value < south.threshold.value
    assert report.verdict == DEGRADED

    # and the event payload names the segment, its value, threshold and support
    payload = report.event_payload()
    assert payload["overall"] is False
    assert "region=south" in payload["segments"]
    assert not any(s.startswith("region=north") for s in payload["segments"])
    breach = next(b for b in payload["breaches"] if b["scope"] == "region=south")
    assert breach["basis"] == "realised"
    assert breach["value"] == pytest.approx(south.value)
    assert breach["threshold"] == pytest.approx(south.threshold.value)
    assert breach["support"] == south.support


def test_segment_below_min_support_is_insufficient_not_passed():
    # given a window where region tiny has about 2 % of the rows
    rng = np.random.default_rng(1)
    reference = _frame(rng, days=7, id_offset=10**6)
    window = _frame(rng, labelled_days=10)

    report = _monitor(reference=reference).evaluate(window, model_name="m", model_version="1")

    # then tiny is reported as insufficient data, never as ok, and does not fail the run
    tiny = report.check("roc_auc", "realised", "region=tiny")
    assert tiny.support < tiny.min_support
    assert tiny.verdict == INSUFFICIENT
    assert "min_support" in tiny.reason
    assert "region=tiny" in report.insufficient_segments()
    assert not any(b.segment == "region=tiny" for b in report.breaches)
    assert "region=tiny" in report.event_payload()["insufficient_segments"]


def test_labelled_share_is_reported_overall_and_per_day():
    # given 14 days of which the first 9 have labels
    rng = np.random.default_rng(2)
    window = _frame(rng, labelled_days=9)
    reference = _frame(rng, days=7, id_offset=10**6)

    report = _monitor(reference=reference).evaluate(window, model_name="m", model_version="1")

    # then the report says which part of the window is labelled
    assert report.labelled_share == pytest.approx(9 / 14)
    assert report.daily["labelled_share"].tolist() == [1.0] * 9 + [0.0] * 5
    # and realised values exist for labelled days only, estimates for every day
    assert report.daily["roc_auc_realised"].notna().tolist() == [True] * 9 + [False] * 5
    assert report.daily["roc_auc_estimated"].notna().all()
    # and the unlabelled rows get estimated checks
    estimated = report.check("roc_auc", "estimated")
    assert estimated.support == 5 * 800
    assert estimated.verdict == OK


def test_overall_below_min_support_is_insufficient():
    rng = np.random.default_rng(3)
    window = _frame(rng, days=2, per_day=50)
    settings = MonitoringSection(metrics=["roc_auc"], min_support=500)

    report = _monitor(settings).evaluate(window, model_name="m", model_version="1")

    assert report.check("roc_auc", "realised").verdict == INSUFFICIENT
    assert report.verdict == INSUFFICIENT


def test_recorded_holdout_metric_is_the_reference():
    # given the training run recorded holdout_roc_auc = 0.99 (far above what the window shows)
    rng = np.random.default_rng(4)
    window = _frame(rng)
    reference = _frame(rng, days=7, id_offset=10**6)

    report = _monitor(reference=reference, recorded={"roc_auc": 0.99}).evaluate(
        window, model_name="m", model_version="1"
    )

    check = report.check("roc_auc", "realised")
    assert check.threshold.reference == 0.99
    assert check.threshold.value == pytest.approx(0.94)
    assert check.verdict == DEGRADED


def test_breach_within_sampling_noise_is_a_warning():
    # given a small window whose reference was recorded slightly too high, and no drift
    rng = np.random.default_rng(5)
    window = _frame(rng, days=2, per_day=150)
    reference = _frame(rng, days=2, per_day=150, id_offset=10**6)
    realised = PerformanceMonitor(
        MonitoringSection(metrics=["roc_auc"], significance=None), "binary", "y", "ts"
    ).fit(window)
    value = realised.reference_["overall"]["roc_auc"]
    recorded = {"roc_auc": value + 0.051}
    strict = MonitoringSection(metrics=["roc_auc"], min_support=100)
    lenient = MonitoringSection(metrics=["roc_auc"], min_support=100, significance=None)

    # when judged with and without the significance test
    noisy = PerformanceMonitor(strict, "binary", "y", "ts").fit(reference, recorded)
    plain = PerformanceMonitor(lenient, "binary", "y", "ts").fit(reference, recorded)
    with_test = noisy.evaluate(window, model_name="m", model_version="1")
    without = plain.evaluate(window, model_name="m", model_version="1")

    # then without the test the 0.051 shortfall is a breach; with it (the reference and the
    # window hold 300 rows each, an AUC standard error of about 0.03 each) it is a warning
    # that does not count
    assert without.check("roc_auc").verdict == DEGRADED
    check = with_test.check("roc_auc")
    assert check.verdict == WARNING
    assert check.standard_error > 0
    assert not with_test.breaches


def test_estimated_breach_counts_only_when_estimates_alert():
    # given a window whose unlabelled tail moved into the uncertain score region
    rng = np.random.default_rng(6)
    reference = _frame(rng, days=7, id_offset=10**6)
    window = _frame(rng, labelled_days=7)
    tail = window.index[window["y"].isna()]
    window.loc[tail, "score"] = rng.beta(4.0, 4.0, len(tail))
    window.loc[tail, "prediction"] = (window.loc[tail, "score"] >= 0.5).astype(int)
    metrics = ["accuracy", "log_loss"]

    alerting = _monitor(MonitoringSection(metrics=metrics), reference)
    advisory = _monitor(MonitoringSection(metrics=metrics, estimation={"alert": False}), reference)
    loud = alerting.evaluate(window, model_name="m", model_version="1")
    quiet = advisory.evaluate(window, model_name="m", model_version="1")

    # then the estimate sees the accuracy drop before any label lands
    assert loud.check("accuracy", "realised").verdict == OK
    assert loud.check("accuracy", "estimated").verdict == DEGRADED
    assert loud.event_payload()["basis"] == "estimated"
    # and with alert off it is shown but does not make the run degraded
    assert quiet.check("accuracy", "estimated").verdict == DEGRADED
    assert not quiet.breaches
    assert quiet.verdict == OK


def test_expectation_gap_flags_concept_drift_on_labelled_rows():
    # given a window where every region drifted (labels landed)
    rng = np.random.default_rng(7)
    reference = _frame(rng, days=7, id_offset=10**6)
    window = _frame(rng, regions=("north",), shares=(1.0,), drift_region="north")

    report = _monitor(reference=reference).evaluate(window, model_name="m", model_version="1")

    # then realised AUC is far below what CBPE expected on the same rows
    assert report.expectation_gap["roc_auc"] < -0.2


def test_report_is_json_and_has_a_summary_table():
    rng = np.random.default_rng(8)
    report = _monitor(reference=_frame(rng, days=7, id_offset=10**6)).evaluate(
        _frame(rng, labelled_days=10), model_name="m", model_version="1"
    )

    document = json.loads(json.dumps(report.to_dict()))
    table = report.summary_table()

    assert document["labelled_share"] == pytest.approx(10 / 14)
    assert {c["scope"] for c in document["checks"]} == {
        "overall",
        "region=north",
        "region=east",
        "region=south",
        "region=tiny",
    }
    assert list(table.columns) == [
        "metric",
        "scope",
        "basis",
        "value",
        "support",
        "reference",
        "threshold",
        "verdict",
    ]
    assert len(table) == len(report.checks)


def test_strictest_threshold_applies_and_error_metrics_point_up():
    # greater is better: limit 0.7, reference 0.8 - 0.05 = 0.75 -> 0.75 is stricter
    auc = resolve_threshold(0.7, 0.05, None, 0.8, greater_is_better=True)
    assert auc.value == pytest.approx(0.75)
    assert auc.breached_by(0.74)
    assert not auc.breached_by(0.76)

    # lower is better: reference 0.30 * 1.1 = 0.33 vs limit 0.32 -> 0.32 is stricter
    loss = resolve_threshold(0.32, None, 0.1, 0.30, greater_is_better=False)
    assert loss.value == pytest.approx(0.32)
    assert loss.breached_by(0.325)
    assert not loss.breached_by(0.31)

    # drop rules without a reference cannot apply
    assert resolve_threshold(None, 0.05, None, None, True).value is None


def test_metric_that_does_not_fit_the_task_is_rejected():
    with pytest.raises(MonitoringInputError, match="rmse"):
        PerformanceMonitor(MonitoringSection(metrics=["rmse"]), "binary", "y", "ts")


def test_missing_segment_column_is_named():
    rng = np.random.default_rng(9)
    monitor = PerformanceMonitor(MonitoringSection(), "binary", "y", "ts", ["channel"]).fit(None)

    with pytest.raises(MonitoringInputError, match="channel"):
        monitor.evaluate(_frame(rng), model_name="m", model_version="1")


def test_regression_is_monitored_without_estimation():
    # given a regression model whose errors grew in one region
    rng = np.random.default_rng(10)
    n = 3000

    def frame(noise_south):
        region = rng.choice(["north", "south"], n)
        truth = rng.normal(100, 10, n)
        noise = np.where(region == "south", noise_south, 2.0)
        pred = truth + rng.normal(0, 1, n) * noise
        ts = pd.Timestamp(START, tz="UTC")
        return pd.DataFrame(
            {"ts": ts, "score": pred, "prediction": pred, "y": truth, "region": region}
        )

    monitor = PerformanceMonitor(MonitoringSection(), "regression", "y", "ts", ["region"])
    report = monitor.fit(frame(2.0)).evaluate(frame(6.0), model_name="m", model_version="1")

    assert report.metrics == ["rmse", "mae"]
    assert report.check("rmse", "realised", "region=south").verdict == DEGRADED
    assert report.check("rmse", "realised", "region=north").verdict == OK
    assert not report.estimation.available
    assert "binary" in report.estimation.reason


def test_multiclass_uses_the_per_class_probabilities():
    rng = np.random.default_rng(11)
    n = 2000
    classes = np.array(["a", "b", "c"])
    proba = rng.dirichlet([1, 1, 1], n)
    y = np.array([rng.choice(classes, p=p) for p in proba], dtype=object)
    frame = pd.DataFrame(
        {
            "ts": pd.Timestamp(START, tz="UTC"),
            "score": proba.max(axis=1),
            "prediction": classes[proba.argmax(axis=1)],
            "proba_a": proba[:, 0],
            "proba_b": proba[:, 1],
            "proba_c": proba[:, 2],
            "y": y,
        }
    )

    monitor = PerformanceMonitor(MonitoringSection(), "multiclass", "y", "ts").fit(frame)
    report = monitor.evaluate(frame, model_name="m", model_version="1")

    accuracy = report.check("accuracy", "realised")
    assert accuracy.value == pytest.approx((frame["prediction"] == frame["y"]).mean())
    assert accuracy.verdict == OK
