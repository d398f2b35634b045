"""Trigger policies: what fires, what holds a fired policy back, and what the state remembers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from retrainer.config.policy import PolicySection
from retrainer.policy import (
    Alert,
    DriftObservation,
    Observations,
    PerformanceObservation,
    PolicyState,
    SegmentPerformance,
    decide,
)

T0 = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)  # a Monday
LABELS = {"labelled_rows": 20_000, "labelled_per_class": {"0": 18_000, "1": 2_000}}


def _policy(**values) -> PolicySection:
    return PolicySection.model_validate(values)


def _seen(now: datetime = T0, **values) -> Observations:
    return Observations(now=now, **{**LABELS, **values})


def _drift(event: str | None = None, columns=("income",)) -> DriftObservation:
    return DriftObservation(drifted=bool(columns), drifted_columns=tuple(columns), event_id=event)


def _perf(realised=0.80, estimated=0.80, reference=0.80, **values) -> PerformanceObservation:
    return PerformanceObservation(
        metric="roc_auc",
        realised=realised,
        estimated=estimated,
        reference=reference,
        support=5_000,
        **values,
    )


def test_a_schedule_fires_once_its_occurrence_has_passed_since_the_last_retrain():
    policy = _policy(triggers=[{"kind": "schedule", "cron": "0 3 * * 0"}])  # Sundays 03:00
    trained = datetime(2026, 2, 27, tzinfo=UTC)  # a Friday

    before = decide(
        policy, PolicyState(), _seen(T0 - timedelta(days=2), champion_trained_at=trained)
    )
    after = decide(policy, PolicyState(), _seen(T0, champion_trained_at=trained))

    assert before.status == "no_trigger"
    assert after.retrain
    assert after.reasons == ("schedule: 0 3 * * 0 (UTC) was due 2026-03-01 03:00 UTC",)
    assert after.next_state.last_retrain == T0


def test_drift_fires_after_the_configured_consecutive_checks_and_counts_an_event_once():
    policy = _policy(triggers=[{"kind": "drift", "consecutive": 2}], cooldown_hours=0)

    first = decide(policy, PolicyState(), _seen(drift=_drift("e1")))
    again = decide(policy, first.next_state, _seen(drift=_drift("e1")))  # the same check
    second = decide(policy, again.next_state, _seen(drift=_drift("e2")))

    assert (first.status, first.consecutive) == ("no_trigger", {"drift": 1})
    assert again.consecutive == {"drift": 1}
    assert second.retrain
    assert second.reasons == ("drift: income (2 checks in a row)",)
    assert second.next_state.consecutive == {"drift": 0}
    # a clean check in between starts the count again
    clean = decide(policy, first.next_state, _seen(drift=_drift("e3", columns=())))
    assert clean.consecutive == {"drift": 0}


def test_a_storm_of_alerts_makes_one_retrain_and_the_rest_is_suppressed_with_the_reason():
    policy = _policy(triggers=[{"kind": "webhook"}], cooldown_hours=6)
    state, decisions = PolicyState(), []

    # when 20 alerts arrive within a minute, each delivered to its own decision
    for i in range(20):
        alert = Alert("grafana", f"alert-{i}", "p95 latency")
        decision = decide(policy, state, _seen(T0 + timedelta(seconds=3 * i), alerts=(alert,)))
        decisions.append(decision)
        state = decision.next_state

    # then exactly one retrain, the 19 others held back by the cooldown, every id remembered
    assert [d.status for d in decisions].count("retrain") == 1
    assert decisions[0].reasons == ("webhook: grafana alert alert-0: p95 latency",)
    assert {d.suppressed_by for d in decisions[1:]} == {"cooldown"}
    assert decisions[5].detail.startswith("cooldown until 2026-03-02 10:00 UTC")
    assert len(state.processed_events) == 20
    # and a redelivered alert is not a new one
    redelivered = decide(
        policy, state, _seen(T0 + timedelta(days=1), alerts=(Alert("grafana", "alert-3"),))
    )
    assert redelivered.status == "no_trigger"


def test_require_degradation_suppresses_drift_while_performance_holds():
    plain = _policy(triggers=[{"kind": "drift"}])
    aware = _policy(triggers=[{"kind": "drift"}], require_degradation=True)
    holding, degraded = _perf(0.80, 0.79), _perf(0.80, 0.74)

    waste = decide(aware, PolicyState(), _seen(drift=_drift(), performance=holding))
    needed = decide(aware, PolicyState(), _seen(drift=_drift(), performance=degraded))
    drift_only = decide(plain, PolicyState(), _seen(drift=_drift(), performance=holding))
    unknown = decide(aware, PolicyState(), _seen(drift=_drift(), performance=None))

    assert (waste.status, waste.suppressed_by) == ("suppressed", "require_degradation")
    assert "a retrain now is waste" in waste.detail
    assert needed.retrain
    assert drift_only.retrain
    assert unknown.retrain  # nothing says performance holds


def test_performance_fires_on_a_segment_with_enough_support_or_on_estimates():
    policy = _policy(
        triggers=[{"kind": "performance", "max_drop": 0.05, "min_support": 300}],
        cooldown_hours=0,
    )
    thin = SegmentPerformance("region=south", realised=0.60, support=120)
    solid = SegmentPerformance("region=south", realised=0.60, support=900)

    ignored = decide(policy, PolicyState(), _seen(performance=_perf(segments=(thin,))))
    fired = decide(policy, PolicyState(), _seen(performance=_perf(segments=(solid,))))
    estimated = decide(
        policy, PolicyState(), _seen(performance=_perf(realised=None, estimated=0.70))
    )

    assert ignored.status == "no_trigger"
    assert fired.reasons == (
        "performance: roc_auc realised in region=south (900 labelled rows) 0.6 < 0.75 "
        "(the champion's 0.8 - 0.05)",
    )
    assert estimated.retrain
    assert "estimated overall 0.7" in estimated.reasons[0]


def test_a_segment_is_judged_against_its_own_reference_not_the_overall_one():
    # given a segment that was always weaker than the whole (its own holdout value 0.70)
    policy = _policy(triggers=[{"kind": "performance", "max_drop": 0.05}], cooldown_hours=0)
    steady = SegmentPerformance("region=south", realised=0.69, support=900, reference=0.70)
    fallen = SegmentPerformance("region=south", realised=0.62, support=900, reference=0.70)

    # when it holds its own level, and when it falls below it
    held = decide(policy, PolicyState(), _seen(performance=_perf(segments=(steady,))))
    fired = decide(policy, PolicyState(), _seen(performance=_perf(segments=(fallen,))))

    # then only the fall counts, measured from the segment's own value
    assert held.status == "no_trigger", held.reasons
    assert fired.reasons == (
        "performance: roc_auc realised in region=south (900 labelled rows) 0.62 < 0.65 "
        "(the champion's 0.7 - 0.05)",
    )


def test_too_few_labels_waits_with_the_counts():
    policy = _policy(
        triggers=[{"kind": "on_demand"}], labels={"min_rows": 5_000, "min_per_class": 100}
    )

    few = decide(policy, PolicyState(), _seen(on_demand="analyst", labelled_rows=800))
    rare = decide(
        policy,
        PolicyState(),
        _seen(on_demand="analyst", labelled_rows=9_000, labelled_per_class={"0": 8_960, "1": 40}),
    )

    assert (few.status, few.suppressed_by) == ("waiting_for_labels", "labels")
    assert few.detail == "waiting for labels: 800 labelled rows, 5,000 needed"
    assert few.labels["rows"] == 800
    assert (
        rare.detail == "waiting for labels: too few labelled rows of class 1: 40 (100 each needed)"
    )
    assert not few.next_state.last_retrain


def test_a_cooldown_and_a_daily_cap_hold_back_but_a_person_may_bypass_them():
    policy = _policy(
        triggers=[{"kind": "data_volume", "min_new_rows": 1000}, {"kind": "on_demand"}],
        cooldown_hours=72,
        max_per_day=1,
    )
    state = decide(policy, PolicyState(), _seen(new_labelled_rows=5000)).next_state

    day_two = decide(policy, state, _seen(T0 + timedelta(days=2), new_labelled_rows=5000))
    asked = decide(policy, state, _seen(T0 + timedelta(hours=1), on_demand="fix deployed"))
    day_four = decide(policy, state, _seen(T0 + timedelta(days=3, hours=1), new_labelled_rows=5000))

    assert day_two.suppressed_by == "cooldown"
    assert asked.retrain
    assert asked.reasons == ("on_demand: fix deployed",)
    assert day_four.retrain


def test_a_running_rollout_holds_a_retrain_back_until_it_ends_but_a_person_may_bypass_it():
    # given a performance policy and a champion that stays degraded while v5 rolls out
    policy = _policy(
        triggers=[{"kind": "performance", "max_drop": 0.03}, {"kind": "on_demand"}],
        cooldown_hours=0,
    )
    degraded = _perf(realised=0.70, estimated=0.70, reference=0.80)

    # when the nightly check decides during the rollout, after it, and on a person's request
    during = decide(policy, PolicyState(), _seen(performance=degraded, rollout="v5 (shadow)"))
    after = decide(policy, PolicyState(), _seen(performance=degraded))
    asked = decide(policy, PolicyState(), _seen(on_demand="fix deployed", rollout="v5 (shadow)"))
    unguarded = decide(
        _policy(triggers=[{"kind": "performance", "max_drop": 0.03}], hold_during_rollout=False),
        PolicyState(),
        _seen(performance=degraded, rollout="v5 (shadow)"),
    )

    # then the rollout decides first, and only then does the policy retrain
    assert (during.status, during.suppressed_by) == ("suppressed", "rollout")
    assert during.detail == "v5 (shadow) is under rollout: the rollout decides first"
    assert after.retrain
    assert asked.retrain
    assert unguarded.retrain


def test_the_daily_cap_counts_retrains_of_the_same_utc_day():
    policy = _policy(
        triggers=[{"kind": "on_demand", "bypass_cooldown": False}], cooldown_hours=0, max_per_day=2
    )
    state = PolicyState()
    outcomes = []
    for hour in range(3):
        decision = decide(policy, state, _seen(T0 + timedelta(hours=hour), on_demand="again"))
        outcomes.append(decision.status)
        state = decision.next_state

    assert outcomes == ["retrain", "retrain", "suppressed"]


def test_code_change_and_hybrid_combinations():
    policy = _policy(
        triggers=[
            {
                "kind": "hybrid",
                "mode": "at_least",
                "k": 2,
                "triggers": [
                    {"kind": "drift"},
                    {"kind": "code_change"},
                    {"kind": "data_volume", "min_new_rows": 10},
                ],
            }
        ]
    )
    changed = {"config_hash": "b", "champion_config_hash": "a"}

    one = decide(policy, PolicyState(), _seen(**changed))
    two = decide(policy, PolicyState(), _seen(drift=_drift(), **changed))

    assert one.status == "no_trigger"
    assert two.retrain
    assert two.reasons == ("drift: income; code_change: config a -> b",)


def test_a_model_without_champion_bootstraps_when_labels_allow():
    decision = decide(_policy(), PolicyState(), _seen(has_champion=False))

    assert decision.retrain
    assert decision.reasons == ("bootstrap: the model has no champion yet",)


def test_the_state_survives_a_json_round_trip():
    policy = _policy(triggers=[{"kind": "drift", "consecutive": 3}, {"kind": "webhook"}])
    state = decide(
        policy, PolicyState(), _seen(drift=_drift("e"), alerts=(Alert("x", "a1"),))
    ).next_state

    assert PolicyState.from_dict(state.to_dict()) == state
    assert PolicyState.from_dict(None) == PolicyState()


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"triggers": [{"kind": "performance"}]}, "set threshold"),
        ({"triggers": [{"kind": "schedule", "cron": "every day"}]}, "not a cron expression"),
        ({"mode": "at_least"}, "mode at_least needs k"),
        (
            {"triggers": [{"kind": "drift", "name": "x"}, {"kind": "webhook", "name": "x"}]},
            "unique",
        ),
    ],
)
def test_a_bad_policy_fails_naming_the_problem(section, message):
    with pytest.raises(ValidationError, match=message):
        _policy(**section)
