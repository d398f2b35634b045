"""The performance event's stable id, and what a monitoring run logs about skipped partitions."""

from datetime import date, timedelta

import numpy as np
import pandas as pd

from retrainer.config.monitoring import MonitoringSection
from retrainer.events import PERFORMANCE_CHECKED, PERFORMANCE_DEGRADED
from retrainer.monitoring import PerformanceMonitor
from retrainer.monitoring.report import report_metrics
from retrainer.monitoring.screen import screen_span

START = date(2026, 3, 1)


def _window(seed: int, shuffled: bool) -> pd.DataFrame:
    """Two labelled weeks of predictions; ``shuffled`` breaks the score-label relation."""
    rng = np.random.default_rng(seed)
    n = 14 * 300
    score = rng.beta(1.2, 5.0, n)
    truth = rng.permutation(score) if shuffled else score
    days = np.repeat(np.arange(14), 300)
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "ts": [pd.Timestamp(START + timedelta(days=int(k)), tz="UTC") for k in days],
            "score": score,
            "prediction": (score >= 0.5).astype(int),
            "y": (rng.random(n) < truth).astype(float),
        }
    )


def _report(version="3", end=START + timedelta(days=13), shuffled=False):
    monitor = PerformanceMonitor(MonitoringSection(metrics=["roc_auc"]), "binary", "y", "ts", [])
    monitor.fit(_window(1, shuffled=False), None)
    return monitor.evaluate(
        _window(2, shuffled),
        model_name="credit",
        model_version=version,
        window_start=START,
        window_end=end,
        as_of=end,
    )


def _event(report):
    return PERFORMANCE_DEGRADED if report.degraded else PERFORMANCE_CHECKED


def test_the_event_id_is_stable_across_reruns_and_differs_per_version_window_and_verdict():
    # given the same check run twice, and checks of another version, window or verdict
    first, rerun = _report(), _report()
    degraded = _report(shuffled=True)
    assert (first.verdict, degraded.verdict) == ("ok", "degraded")

    # then a rerun gets the same id, so Prefect processes the finding once
    assert first.incident_id(_event(first)) == rerun.incident_id(_event(rerun))
    # and each other check is another finding
    ids = {
        first.incident_id(_event(first)),
        _report(version="4").incident_id(_event(first)),
        _report(end=START + timedelta(days=12)).incident_id(_event(first)),
        degraded.incident_id(_event(degraded)),
    }
    assert len(ids) == 4


def test_the_payload_and_the_mlflow_metrics_name_the_partitions_left_out():
    # given a window whose second day validation marked invalid (left in place)
    second = START + timedelta(days=1)
    ledger = {
        START: {"status": "valid", "at": "2026-03-02T08:00:00"},
        second: {"status": "invalid", "at": "2026-03-03T08:00:00", "errors": 1},
    }
    report = _report()
    report.screen = screen_span([START, second], ledger, "validate")

    # then the event payload and the logged metrics say it was left out, and why
    payload = report.event_payload()
    assert payload["partitions"]["excluded"] == {
        "2026-03-02": "invalid (validated 2026-03-03: 1 error(s))"
    }
    assert ("excluded_partitions", 1, 0, None) in report_metrics(report)
