"""The policy sets a backtest compares and how they are priced (pure, no data)."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest
import yaml

from retrainer.backtest.engine import PolicyRun, Retrain
from retrainer.backtest.policies import (
    PoliciesFileError,
    load_policies_file,
    standard_policies,
    sweep_variants,
)
from retrainer.backtest.summary import Pricing, compare, frontier, recommend, summarise
from retrainer.config.backtest import SweepSection
from retrainer.config.policy import PolicySection
from retrainer.config.training import FixedWindow

WINDOW = FixedWindow(days=30)


def test_the_standard_set_has_the_oracle_only_when_the_truth_is_known():
    names = [s.name for s in standard_policies(PolicySection(), WINDOW)]
    with_truth = [s.name for s in standard_policies(PolicySection(), WINDOW, oracle=True)]

    assert names[:4] == ["never", "daily", "weekly", "monthly"]
    assert "current" in names
    assert "oracle" not in names
    assert with_truth[-1] == "oracle"


def test_a_recommended_snippet_is_a_valid_policy_section_for_retrainer_yaml():
    spec = next(s for s in sweep_variants(PolicySection(), SweepSection()) if "hybrid" in s.name)

    snippet = yaml.safe_load(spec.snippet(FixedWindow(days=60)))

    # then the policy block parses as the config model the live flow reads
    assert PolicySection.model_validate(snippet["policy"]) == spec.policy
    assert snippet["training"]["window"] == {"kind": "fixed", "days": spec.window.days}


def test_the_sweep_spans_the_grid_once_per_window_and_cooldown():
    sweep = SweepSection(
        cadences=["0 0 * * *"], drift_consecutive=[1, 2], performance_drops=[0.02],
        cooldown_hours=[24, 72], window_days=[14, 30],
    )  # fmt: skip

    specs = sweep_variants(PolicySection(), sweep)

    # 2 windows x (1 cadence + 2 cooldowns x (2 drift + 1 performance + 1 hybrid))
    assert len(specs) == 2 * (1 + 2 * 4)
    assert len({s.name for s in specs}) == len(specs)
    assert {s.window.days for s in specs} == {14, 30}


def test_a_policies_file_with_a_bad_field_names_the_file_and_the_field(tmp_path):
    path = tmp_path / "policies.yaml"
    path.write_text(
        yaml.safe_dump(
            {"policies": [{"name": "p", "policy": {"triggers": [{"kind": "drift", "x": 1}]}}]}
        )
    )

    with pytest.raises(PoliciesFileError) as raised:
        load_policies_file(path, WINDOW)

    assert str(path) in str(raised.value)
    assert "policies.0.policy.triggers.0.drift.x" in str(raised.value)


def test_a_policies_file_reads_each_policy_with_its_window(tmp_path):
    path = tmp_path / "policies.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "policies": [
                    {"name": "weekly", "policy": {"triggers": [{"kind": "schedule"}]}},
                    {
                        "name": "short",
                        "policy": {"triggers": [{"kind": "drift"}]},
                        "window": {"kind": "fixed", "days": 7},
                    },
                ]
            }
        )
    )

    specs = load_policies_file(path, WINDOW)

    assert [s.window for s in specs] == [WINDOW, FixedWindow(days=7)]


def _run(name: str, kind: str, metric: list[float], retrains: list[Retrain]) -> PolicyRun:
    days = [date(2026, 1, 1) + timedelta(days=i) for i in range(len(metric))]
    return PolicyRun(
        name, kind, "", "fixed 30d", {}, days, metric, ["m"] * len(metric), retrains, Counter()
    )


def _retrain(day: int, promoted: bool = True, gain: float | None = 0.05) -> Retrain:
    return Retrain(date(2026, 1, day), "m", promoted, "passed", 36.0, "why", gain)


PRICING = Pricing(
    cost_per_retrain=None, cost_per_hour=100.0, value_per_point_day=1.0, slo=0.8,
    higher_is_better=True, min_gain=0.002,
)  # fmt: skip


def test_costs_value_roi_and_waste_per_policy():
    never = _run("never", "never", [0.70] * 14, [])
    daily = _run("daily", "cadence", [0.85] * 14, [_retrain(d, gain=0.0) for d in range(1, 15)])
    smart = _run("smart", "drift", [0.85] * 14, [_retrain(3), _retrain(9, promoted=False)])

    rows = compare([summarise(r, PRICING) for r in (never, daily, smart)], current="daily")
    by = {r.name: r for r in rows}

    # then a retrain costs 36 s x 100/h = 1.0; two weeks of daily retrains cost 7 a week
    assert by["daily"].cost == pytest.approx(14.0)
    assert by["daily"].cost_per_week == pytest.approx(7.0)
    # and daily retrains that gain nothing are waste; a failed gate is waste too
    assert by["daily"].waste == 14
    assert by["smart"].waste == 1
    # and value counts metric points per day: 15 points more than never over 14 days
    assert by["smart"].value - by["never"].value == pytest.approx(15 * 14)
    assert by["smart"].roi_vs_never == pytest.approx((15 * 14 - 2.0) / 2.0)
    assert by["smart"].net_vs_current == pytest.approx(12.0)
    assert by["never"].days_beyond_slo == 14
    assert by["smart"].days_beyond_slo == 0


def test_the_recommendation_is_the_cheapest_policy_meeting_the_slo():
    runs = [
        _run("never", "never", [0.70] * 14, []),
        _run("daily", "cadence", [0.86] * 14, [_retrain(d) for d in range(1, 15)]),
        _run("smart", "drift", [0.85] * 14, [_retrain(3), _retrain(9)]),
        _run("oracle", "oracle", [0.86] * 14, [_retrain(3)]),
    ]
    rows = compare([summarise(r, PRICING) for r in runs], current="daily")

    pick = recommend(rows, PRICING, current="daily")

    # then smart meets the SLO of 0.8 at the least cost (the oracle knows the future)
    assert pick is not None
    assert pick.name == "smart"
    assert "saves 6.00 a week" in pick.vs_current
    assert "loses 1.00 metric point" in pick.vs_current
    assert [r.name for r in frontier(rows, True)] == ["never", "smart", "daily"]


def test_without_an_slo_the_target_is_half_a_point_of_the_best():
    runs = [
        _run("daily", "cadence", [0.86] * 14, [_retrain(d) for d in range(1, 15)]),
        _run("weekly", "cadence", [0.80] * 14, [_retrain(7)]),
        _run("smart", "drift", [0.857] * 14, [_retrain(3), _retrain(9)]),
    ]
    free = Pricing(None, 100.0, 0.0, None, True, 0.002)

    pick = recommend(compare([summarise(r, free) for r in runs]), free)

    assert pick is not None
    assert pick.name == "smart"
    assert pick.target == pytest.approx(0.855)
