"""The rollout state machine, tick by tick, on simulated evidence (no servers).

Each test plays the reconciler: it asks :func:`advance` what to do with the evidence a
gateway would have logged since the step began, and applies the transition.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from pydantic import ValidationError

from retrainer.config.promotion import PromotionSection
from retrainer.rollout import (
    Evidence,
    RolloutState,
    abort,
    advance,
    analyse,
    compare_rates,
    promote_now,
    required_per_arm,
    resume,
    stage_name,
    start,
    traffic,
)

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
GOOD = {"metric_delta": 0.01, "error_rate": 0.0}
BAD = {"metric_delta": 0.0, "error_rate": 0.08}


def plan(*stages: dict) -> list:
    return PromotionSection.model_validate({"stages": list(stages)}).stages


SHADOW = {"kind": "shadow", "min_requests": 1000, "min_labelled": 200, "min_duration_hours": 1}
CANARY = {
    "kind": "canary",
    "weights": [5, 25, 50],
    "step_minutes": 30,
    "min_labelled_per_step": 100,
}


def play(stages, state, evidence, hours=2.0, ticks=20):
    """Tick every ``hours`` with the same evidence until the rollout stops running."""
    now, seen = state.step_started_at, []
    for _ in range(ticks):
        now += timedelta(hours=hours)
        step = advance(stages, state, evidence, now)
        seen.append(step)
        state = step.state
        if state.status != "running":
            break
    return state, seen


def test_a_better_challenger_goes_shadow_then_canary_steps_then_promote():
    stages = plan(SHADOW, CANARY)
    # given a rollout of v7 against the champion v6
    opened = start(stages, "credit", "7", "6", T0)
    assert opened.event == "retrainer.rollout.started"
    assert traffic(stages, opened.state).shadow_fraction == 1.0
    assert "shadow → canary 5/25/50%" in opened.reason

    # when every step's evidence is good
    final, seen = play(stages, opened.state, Evidence("7", 5000, 800, GOOD))

    # then it moved shadow → 5% → 25% → 50% → promoted, one step per tick
    assert [t.action for t in seen] == ["advance", "advance", "advance", "promote"]
    assert [t.event for t in seen][-1] == "retrainer.rollout.promoted"
    assert "on to canary 5%" in seen[0].reason
    assert "on to canary 50%" in seen[2].reason
    assert final.status == "promoted"
    assert traffic(stages, final).challenger == 100
    assert final.revision == 4


def test_a_worse_challenger_is_aborted_at_the_first_canary_analysis():
    stages = plan(SHADOW, CANARY)
    opened = start(stages, "credit", "7", "6", T0)
    shadowed, _ = play(stages, opened.state, Evidence("7", 5000, 800, GOOD), ticks=1)
    assert stage_name(stages, shadowed) == "canary 5%"
    assert traffic(stages, shadowed).challenger == 5

    # when the challenger fails 8% of its predictions at 5%
    final, seen = play(stages, shadowed, Evidence("7", 400, 150, BAD))

    # then the first analysis aborts: no traffic to it, the champion stays, and why
    assert [t.action for t in seen] == ["abort"]
    assert final.status == "aborted"
    assert traffic(stages, final).challenger == 0
    assert "error_rate 0.08 in failure [0.01, inf]" in final.reason
    assert "v6 stays" in final.reason
    assert seen[0].analysis.verdict == "failed"


def test_nothing_is_decided_before_the_stage_has_its_evidence():
    stages = plan(SHADOW)
    opened = start(stages, "credit", "7", "6", T0)

    # when 40 minutes in, only 300 requests, 50 of them labelled, were shadowed
    step = advance(stages, opened.state, Evidence("7", 300, 50, GOOD), T0 + timedelta(minutes=40))

    # then it waits and says what is missing; nothing is written
    assert step.action == "wait"
    assert not step.changed
    assert "300/1,000 requests" in step.reason
    assert "50/200 labelled" in step.reason
    # and still short after max_duration_hours, it pauses for a human
    late = advance(stages, opened.state, Evidence("7", 300, 50, GOOD), T0 + timedelta(hours=73))
    assert late.action == "pause"
    assert "shadow still short after 72 h" in late.reason


def test_inconclusive_analyses_pause_and_a_human_resumes_or_aborts():
    stages = plan({**CANARY, "inconclusive_limit": 1})
    opened = start(stages, "credit", "7", "6", T0)
    unsure = Evidence("7", 400, 150, {"metric_delta": -0.01, "error_rate": 0.0})

    # when the metric delta stays between success (>= -0.005) and failure (<= -0.02)
    final, seen = play(stages, opened.state, unsure, hours=1)

    # then one inconclusive analysis measures again, the second pauses (weights held)
    assert [t.action for t in seen] == ["retry", "pause"]
    assert "measuring again" in seen[0].reason
    assert seen[0].changed  # the count and the step's start are written
    assert final.status == "paused"
    assert traffic(stages, final).challenger == 5
    assert advance(stages, final, unsure, T0 + timedelta(hours=9)).action == "wait"
    # and a human resumes (the step starts over) or aborts
    resumed = resume(final, T0 + timedelta(hours=10), by="ana")
    assert (resumed.state.status, resumed.state.inconclusive) == ("running", 0)
    assert resumed.reason == "resumed by ana"
    stopped = abort(resumed.state, "not worth the risk")
    assert stopped.state.status == "aborted"
    with pytest.raises(ValueError, match="already aborted"):
        abort(stopped.state, "again")


def test_a_failure_within_the_limit_measures_the_step_again():
    stages = plan({**CANARY, "failure_limit": 1})
    opened = start(stages, "credit", "7", "6", T0)

    first = advance(stages, opened.state, Evidence("7", 400, 150, BAD), T0 + timedelta(hours=1))
    assert first.action == "retry"
    assert first.event is None
    assert "(1/1 allowed)" in first.reason
    second = advance(stages, first.state, Evidence("7", 400, 150, BAD), T0 + timedelta(hours=2))
    assert second.action == "abort"


def test_a_newer_challenger_mid_rollout_restarts_the_plan_with_it():
    stages = plan(SHADOW, CANARY)
    opened = start(stages, "credit", "7", "6", T0)
    at_canary, _ = play(stages, opened.state, Evidence("7", 5000, 800, GOOD), ticks=2)
    assert stage_name(stages, at_canary) == "canary 25%"

    # when the evidence is about v8
    now = T0 + timedelta(hours=9)
    step = advance(stages, at_canary, Evidence("8", 10, 0, {}), now)

    # then the plan starts over with v8, from shadow
    assert step.action == "restart"
    assert (step.state.challenger, step.state.stage, step.state.step) == ("8", 0, 0)
    assert step.state.step_started_at == now
    assert step.event == "retrainer.rollout.started"


def _arms(rng, rate_a, rate_b, n):
    return int(rng.binomial(n, rate_a)), int(rng.binomial(n, rate_b))


def test_an_ab_test_between_equal_models_ends_inconclusive_and_promotes_nothing():
    stages = plan({"kind": "ab", "min_detectable_effect": 0.03, "horizon_days": 7})
    opened = start(stages, "credit", "7", "6", T0, baseline=0.85)
    needed = required_per_arm(0.85, 0.03, 0.05, 0.8)
    assert f"A/B needs {needed:,} labelled requests per arm" in opened.reason

    # when both arms are right 85% of the time and each reaches the sample size
    a, b = _arms(np.random.default_rng(3), 0.85, 0.85, needed)
    evidence = Evidence("7", 2 * needed, needed, GOOD, compare_rates(a, needed, b, needed, 0.05))
    step = advance(stages, opened.state, evidence, T0 + timedelta(days=2))

    # then the test ends at its horizon, inconclusive: the champion keeps all traffic
    assert step.state.status == "inconclusive"
    assert "ab inconclusive" in step.reason
    assert "nothing promoted" in step.reason
    assert traffic(stages, step.state).champion == 100


def test_an_ab_test_promotes_a_clearly_better_challenger_and_waits_before_its_horizon():
    stages = plan({"kind": "ab", "min_detectable_effect": 0.03, "horizon_days": 7})
    opened = start(stages, "credit", "7", "6", T0, baseline=0.80)
    needed = required_per_arm(0.80, 0.03, 0.05, 0.8)
    rng = np.random.default_rng(5)

    half = needed // 2
    a, b = _arms(rng, 0.80, 0.86, half)
    early = Evidence("7", 2 * half, half, GOOD, compare_rates(a, half, b, half, 0.05))
    waiting = advance(stages, opened.state, early, T0 + timedelta(days=1))
    assert waiting.action == "wait"
    assert f"{half:,}/{needed:,} labelled per arm" in waiting.reason

    a, b = _arms(rng, 0.80, 0.86, needed)
    full = Evidence("7", 2 * needed, needed, GOOD, compare_rates(a, needed, b, needed, 0.05))
    done = advance(stages, opened.state, full, T0 + timedelta(days=3))
    assert done.action == "promote"
    assert "challenger better" in done.reason


def test_an_ab_guardrail_failure_aborts_before_the_horizon():
    stages = plan({"kind": "ab"})
    opened = start(stages, "credit", "7", "6", T0, baseline=0.8)
    step = advance(stages, opened.state, Evidence("7", 500, 200, BAD), T0 + timedelta(hours=3))
    assert step.action == "abort"
    assert step.reason.startswith("ab guardrail failed: error_rate")


def test_the_sample_size_reaches_the_power_it_promises():
    # a slow reference: the z-test's power by simulation at the computed sample size
    rng = np.random.default_rng(11)
    n = required_per_arm(0.80, 0.03, 0.05, 0.8)
    trials = 4000
    a = rng.binomial(n, 0.80, trials)
    b = rng.binomial(n, 0.83, trials)
    significant = [
        compare_rates(x, n, y, n, 0.05).p_value < 0.05 for x, y in zip(a, b, strict=True)
    ]
    assert np.mean(significant) == pytest.approx(0.8, abs=0.03)
    # and the test holds its level when the arms are equal
    b0 = rng.binomial(n, 0.80, trials)
    false = [compare_rates(x, n, y, n, 0.05).p_value < 0.05 for x, y in zip(a, b0, strict=True)]
    assert np.mean(false) == pytest.approx(0.05, abs=0.015)


def test_a_measurement_is_judged_like_an_argo_metric():
    section = PromotionSection.model_validate(
        {
            "stages": [
                {
                    "kind": "canary",
                    "analysis": [
                        {"name": "metric_delta", "success": {"min": 0}, "failure": {"max": -0.02}},
                        {"name": "error_rate", "failure": {"min": 0.01}},
                        {"name": "agreement", "success": {"min": 0.9}},
                    ],
                }
            ]
        }
    )
    metrics = section.stages[0].analysis

    def verdicts(**values):
        return [m.verdict for m in analyse(metrics, values).measurements]

    # failure wins, a value in neither interval is inconclusive, one condition decides alone
    assert verdicts(metric_delta=0.01, error_rate=0.0, agreement=0.95) == ["successful"] * 3
    assert verdicts(metric_delta=-0.01, error_rate=0.02, agreement=0.5) == [
        "inconclusive",
        "failed",
        "failed",
    ]
    assert analyse(metrics, {"metric_delta": -0.03, "error_rate": 0.0}).verdict == "failed"
    # and a value that cannot be measured is an error, worse than inconclusive
    result = analyse(metrics, {"metric_delta": -0.01, "error_rate": float("nan"), "agreement": 1})
    assert result.verdict == "error"
    assert "error_rate could not be measured" in result.summary()


def test_an_analysis_metric_without_a_condition_is_a_config_error():
    with pytest.raises(ValidationError, match="needs a success or failure condition"):
        PromotionSection.model_validate(
            {"stages": [{"kind": "shadow", "analysis": [{"name": "agreement"}]}]}
        )
    with pytest.raises(ValidationError, match=r"min 0\.5 is above max 0\.1"):
        PromotionSection.model_validate(
            {
                "stages": [
                    {
                        "kind": "shadow",
                        "analysis": [{"name": "agreement", "success": {"min": 0.5, "max": 0.1}}],
                    }
                ]
            }
        )


def test_the_state_round_trips_through_its_stored_form_and_a_human_can_promote():
    stages = plan(SHADOW, CANARY)
    state = start(stages, "credit", "7", "6", T0, baseline=0.8).state
    assert RolloutState.from_dict(state.to_dict()) == state
    promoted = promote_now(state, by="ana")
    assert promoted.state.status == "promoted"
    assert "the remaining stages skipped" in promoted.reason
    assert advance(stages, promoted.state, Evidence("7"), T0 + timedelta(days=1)).action == "wait"
    with pytest.raises(ValueError, match="empty"):
        start([], "credit", "7", "6", T0)
