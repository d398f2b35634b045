"""Fits run ahead of the replay (a second process) and the sharing of training jobs.

A fit made ahead must be the model the replay would have fitted itself: the replays with and
without the second process are compared field by field. A job whose training set depends on
the serving model (``segment_upsample``, ``warm_start``) is never shared between champions.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml
from support import write_demo_project

from retrainer.backtest.prefetch import schedule_days
from retrainer.config.policy import PolicySection

pytestmark = pytest.mark.slow


def _spec(policy: dict):
    from retrainer.backtest import PolicySpec
    from retrainer.config.training import FixedWindow

    return PolicySpec("p", PolicySection.model_validate(policy), FixedWindow(days=14))


def test_the_days_a_schedule_falls_due_are_known_before_the_replay():
    # given a replay of two weeks from Thursday 2026-03-05, the first model the day before
    days = [date(2026, 3, 5) + timedelta(days=i) for i in range(14)]
    first = date(2026, 3, 4)
    daily = _spec({"triggers": [{"kind": "schedule", "cron": "0 0 * * *"}]})
    weekly = _spec({"triggers": [{"kind": "schedule", "cron": "0 0 * * 0"}]})
    nested = _spec(
        {
            "triggers": [
                {"kind": "drift"},
                {"kind": "hybrid", "triggers": [{"kind": "schedule", "cron": "0 0 * * 0"}]},
            ]
        }
    )
    drift = _spec({"triggers": [{"kind": "drift"}]})

    # then a daily cadence is due every day, a weekly one on the day after each Sunday midnight
    assert schedule_days([daily], days, first) == days
    assert schedule_days([weekly], days, first) == [date(2026, 3, 8), date(2026, 3, 15)]
    # and a schedule inside a hybrid counts; a policy without one plans nothing
    assert schedule_days([nested], days, first) == [date(2026, 3, 8), date(2026, 3, 15)]
    assert schedule_days([drift], days, first) == []


def _history(root: Path, window: dict):
    from retrainer.backtest import load_history
    from retrainer.project import Project
    from retrainer.simulate import simulate

    config = write_demo_project(root, simulate("concept_sudden", days=60, seed=4, rows_per_day=250))
    data = yaml.safe_load(config.read_text())
    data["training"] = {"window": window}
    data["gates"] = {"holdout": {"days": 4}}
    data["monitoring"] = {"metrics": ["accuracy", "roc_auc"]}
    data["backtest"] = {"metric": "accuracy", "warmup_days": 30}
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    project = Project.load(config)
    return project.config, load_history(project, unvalidated="allow")


@pytest.fixture(scope="module")
def fixed(tmp_path_factory):
    return _history(tmp_path_factory.mktemp("ahead"), {"kind": "fixed", "days": 21})


def test_a_replay_with_fits_made_ahead_is_the_replay_without_them(fixed):
    from retrainer.backtest import run_backtest, standard_policies

    config, history = fixed
    specs = standard_policies(config.policy, config.training.window, oracle=True)

    # when the same replay runs in one process, and with a second one fitting ahead
    alone = run_backtest(config, history, specs, n_jobs=1)
    ahead = run_backtest(config, history, specs, n_jobs=2)

    # then the second process fitted the scheduled days, and the first used them
    assert alone.fits_ahead == 0
    assert ahead.fits_ahead > 0
    assert ahead.fits_run == alone.fits_run
    assert ahead.fits_requested == alone.fits_requested
    assert "ahead of the replay" in ahead.fits_text()
    # and every policy decided, retrained and scored exactly as before
    for one, two in zip(alone.runs, ahead.runs, strict=True):
        assert one.decisions == two.decisions, one.name
        assert one.metric == two.metric, one.name
        assert [r.to_dict() | {"training_seconds": 0} for r in one.retrains] == [
            r.to_dict() | {"training_seconds": 0} for r in two.retrains
        ], one.name


def test_a_job_built_on_the_champion_is_not_shared_between_champions(tmp_path):
    from retrainer.backtest.engine import Workbench

    config, history = _history(
        tmp_path, {"kind": "segment_upsample", "days": 21, "min_support": 20, "min_gap": 0.0}
    )
    bench = Workbench(
        config, history, config.training.window, drift=False, performance=False, metric="accuracy"
    )
    # given two different serving models
    first = bench.fit(date(2026, 2, 1), None)
    second = bench.fit(date(2026, 2, 10), None)
    assert first is not None
    assert second is not None
    assert first.key != second.key

    # when both ask for a retrain on the same day
    one = bench.fit(date(2026, 2, 20), first)
    two = bench.fit(date(2026, 2, 20), second)

    # then each got its own job (the weak segments are the serving model's), fitted once each
    assert one.key != two.key
    assert bench.fits_run == 4
    assert bench.fit(date(2026, 2, 20), first) is one
