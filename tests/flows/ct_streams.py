"""The streams, policies and replays the continuous-training flow tests share.

Each stream runs the same checks under a plain policy (drift or performance retrain) and a
performance-aware one (``require_degradation``). Runs are replayed on chosen days with
``as_of``: the decisions' clock is the data's.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from support import forget_mlflow_store, write_demo_project

BOOTSTRAP = "2026-02-24"  # day 54: the first model
AFTER_DRIFT = "2026-03-08"  # day 66: a week after the day-60 change, labels up to day 59
LABELS_LANDED = "2026-03-19"  # day 77: labels of the first 10 changed days have arrived

PLAIN = {
    "triggers": [
        {"kind": "drift"},
        {"kind": "performance", "max_drop": 0.05, "basis": "realised", "scope": "overall"},
        {"kind": "webhook"},
        {"kind": "on_demand"},
    ],
    "cooldown_hours": 72,
    "labels": {"min_rows": 500, "min_per_class": 20},
}
AWARE = {**PLAIN, "require_degradation": True, "degradation_drop": 0.05}


def ct_project(root: Path, scenario: str, policy: dict) -> Path:
    from retrainer.simulate import simulate

    sim = simulate(scenario, days=80, seed=11, rows_per_day=150)
    config = write_demo_project(root, sim)
    data = yaml.safe_load(config.read_text())
    data["policy"] = policy
    data["drift"] = {"columns": {c: {"ignore": True} for c in ("age", "open_accounts")}}
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    return config


def ct(config: Path, as_of: str, **params):
    from retrainer.flows.continuous_training import continuous_training

    forget_mlflow_store()
    return continuous_training(config=str(config), as_of=as_of, **params)


def decisions(config: Path):
    from retrainer.project import Project
    from retrainer.store import open_store

    project = Project.load(config)
    return list(reversed(open_store(project).decisions.latest(project.model_name, 100)))


def replayed(config: Path, days: list[str]) -> list[dict]:
    """The backtest's decisions for the configured policy on ``days`` (first model: BOOTSTRAP)."""
    from datetime import date

    from retrainer.backtest import PolicySpec, load_history, run_backtest
    from retrainer.project import Project

    project = Project.load(config)
    cfg = project.config
    spec = PolicySpec("current", cfg.policy, cfg.training.window, "current")
    result = run_backtest(
        cfg,
        load_history(project),
        [spec],
        decision_days=[date.fromisoformat(d) for d in days],
        first_model_day=date.fromisoformat(BOOTSTRAP),
    )
    return result.runs[0].decisions


def assert_same_decision(live: dict, replayed: dict) -> None:
    keys = ("retrain", "status", "fired", "suppressed_by", "reasons", "consecutive", "labels")
    assert {k: replayed[k] for k in keys} == {k: live[k] for k in keys}
