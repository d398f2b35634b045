"""Replaying simulated streams through the standard policies (the live code, no Prefect).

Small streams (600 rows a day) keep this quick; `benchmarks/backtest.py` replays a year of
5,000 rows a day and prints the same tables for every scenario.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml
from support import write_demo_project

pytestmark = [pytest.mark.slow, pytest.mark.long]

POLICY = {  # the configured policy ("current"): performance-aware drift and performance
    "triggers": [
        {"kind": "drift", "consecutive": 2},
        {"kind": "performance", "max_drop": 0.02, "scope": "overall"},
    ],
    "cooldown_hours": 72,
    "require_degradation": True,
    "labels": {"min_rows": 1000, "min_per_class": 50},
}


def _project(root: Path, scenario: str) -> Path:
    from retrainer.simulate import simulate

    config = write_demo_project(root, simulate(scenario, days=110, seed=3, rows_per_day=600))
    data = yaml.safe_load(config.read_text())
    data["policy"] = POLICY
    data["training"] = {
        "window": {"kind": "fixed", "days": 21},
        "max_rows": 8000,
        "cost_per_hour": 36.0,
    }
    data["gates"] = {"holdout": {"days": 5}}
    data["monitoring"] = {"metrics": ["accuracy", "roc_auc"]}
    data["backtest"] = {"metric": "accuracy", "warmup_days": 35, "n_jobs": 1}
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    return config


def _replay(config: Path):
    from retrainer.backtest import load_history, run_backtest, standard_policies
    from retrainer.project import Project

    project = Project.load(config)
    history = load_history(project, unvalidated="allow")
    cfg = project.config
    specs = standard_policies(cfg.policy, cfg.training.window, oracle=True)
    return run_backtest(cfg, history, specs)


@pytest.fixture(scope="module")
def concept(tmp_path_factory):
    return _replay(_project(tmp_path_factory.mktemp("bt-concept"), "concept_sudden"))


@pytest.fixture(scope="module")
def harmless(tmp_path_factory):
    # broker campaigns: the channel mix moves every other fortnight, the model holds
    return _replay(_project(tmp_path_factory.mktemp("bt-covariate"), "recurring"))


def _mean(result, name: str) -> float:
    return result.row(name).mean


def _mean_after(result, name: str, first: date) -> float:
    run = next(r for r in result.runs if r.name == name)
    values = [m for d, m in zip(run.days, run.metric, strict=True) if d >= first and m is not None]
    return sum(values) / len(values)


def test_after_concept_drift_never_retraining_is_clearly_worst(concept):
    # the concept changes on day 60 (2026-03-02); its labels arrive a week later
    after = date(2026, 3, 9)
    never = _mean_after(concept, "never", after)
    retraining = {r.name: _mean_after(concept, r.name, after) for r in concept.rows if r.promoted}

    # then every policy whose retrains were promoted beats it, daily by more than a point
    assert set(retraining) >= {"daily", "weekly", "performance-realised", "oracle"}
    assert never < min(retraining.values()), (never, retraining)
    assert never < retraining["daily"] - 0.01, (never, retraining)
    # and the policies that watch only feature drift or estimates miss a pure concept change
    assert concept.row("drift").retrains == 0
    assert concept.row("performance-estimated").retrains == 0


def test_a_triggered_policy_keeps_up_with_daily_retraining_at_a_fraction_of_the_retrains(concept):
    daily = concept.row("daily")
    triggered = [r for r in concept.rows if r.kind in ("drift", "performance", "hybrid", "current")]
    best = max(triggered, key=lambda r: r.mean)

    assert best.mean >= daily.mean - 0.005, (best, daily)
    assert best.retrains <= 0.3 * daily.retrains, (best.retrains, daily.retrains)
    weekly = concept.row("weekly")
    assert best.mean > weekly.mean or best.cost < weekly.cost


def test_identical_training_jobs_are_fitted_once(concept):
    # daily, weekly and monthly retrain on the same days' windows: one fit serves them all
    assert concept.fits_run < concept.fits_requested
    assert concept.fits_run <= concept.row("daily").retrains + 1 + concept.row("oracle").retrains


def test_harmless_covariate_drift_retrains_a_plain_drift_policy_and_calls_it_waste(harmless):
    from retrainer.backtest.report import waste_lines

    drift, aware = harmless.row("drift"), harmless.row("current")

    assert drift.retrains >= 1, drift
    assert aware.retrains <= 1, (aware, aware.held_by)
    assert aware.held_by.get("require_degradation", 0) >= 1
    assert drift.waste >= 1
    assert any(line.startswith("drift:") for line in waste_lines(harmless))


def test_the_same_history_and_policies_give_the_same_result(tmp_path):
    from retrainer.backtest import load_history, run_backtest, standard_policies
    from retrainer.project import Project

    config = _project(tmp_path / "again", "concept_gradual")
    project = Project.load(config)
    cfg = project.config
    specs = [
        s
        for s in standard_policies(cfg.policy, cfg.training.window)
        if s.name in ("weekly", "current")
    ]
    first, second = (
        run_backtest(cfg, load_history(project, unvalidated="allow"), specs) for _ in range(2)
    )

    # then everything but the measured times (and what is priced from them) is the same
    a, b = first.to_dict(), second.to_dict()
    for doc in (a, b):
        doc.pop("seconds")
        for key in ("cost_per_week", "vs_current"):
            doc["recommendation"].pop(key)
        for row in doc["policies"]:
            for key in ("cost", "cost_per_week", "value", "net", "roi_vs_never", "net_vs_current"):
                row.pop(key)
        for retrains in doc["retrains"].values():
            for retrain in retrains:
                retrain.pop("training_seconds")
    assert a == b
    assert [r.day for r in first.runs[1].retrains] == [r.day for r in second.runs[1].retrains]
