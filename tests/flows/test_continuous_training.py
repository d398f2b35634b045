"""The continuous-training flow on a covariate-drift stream: what each policy retrains, and why.

Two copies of one stream (covariate drift, flat performance) run the same checks under a
plain policy and a performance-aware one (see ``ct_streams``); the concept-drift stream is in
``test_continuous_training_concept.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ct_streams import (
    AFTER_DRIFT,
    AWARE,
    BOOTSTRAP,
    PLAIN,
    assert_same_decision,
    ct,
    ct_project,
    decisions,
    replayed,
)
from support import forget_mlflow_store, read_event

pytestmark = [pytest.mark.slow, pytest.mark.long]


@pytest.fixture(scope="module")
def covariate(prefect_api, tmp_path_factory) -> dict[str, Path]:
    """Both policies on the covariate-drift stream, each bootstrapped and checked once."""
    projects = {}
    for name, policy in (("plain", PLAIN), ("aware", AWARE)):
        config = ct_project(tmp_path_factory.mktemp(f"cov-{name}"), "sudden", policy)
        ct(config, BOOTSTRAP)
        ct(config, AFTER_DRIFT, reason="drift", event_id="drift-check-of-day-66")
        projects[name] = config
    yield projects
    forget_mlflow_store()


def test_the_first_run_trains_the_first_model_and_records_why(covariate):
    # given a project without a model, run once by the schedule (fixture)
    first = decisions(covariate["plain"])[0]

    # then the decision was a bootstrap retrain, promoted, recorded with its reasons
    assert (first.status, first.reason, first.outcome) == ("retrain", "schedule", "promoted")
    assert first.decision["fired"] == ["bootstrap"]
    assert first.version == "1"
    assert first.decision["labels"]["rows"] >= 500


def test_covariate_drift_retrains_the_plain_policy_but_not_the_performance_aware_one(covariate):
    plain = decisions(covariate["plain"])[-1]
    aware = decisions(covariate["aware"])[-1]

    # then both saw the drift; the plain policy retrained on it
    assert plain.status == "retrain", plain.detail
    assert "drift" in plain.decision["fired"]
    assert plain.outcome in ("promoted", "not_promoted", "gate_failed")
    # and the performance-aware one held back: performance holds, so a retrain is waste
    assert (aware.status, aware.suppressed_by) == ("suppressed", "require_degradation"), aware
    assert "drift without degradation" in aware.detail


def test_the_new_version_carries_the_trigger_in_its_lineage(covariate):
    from retrainer.project import Project
    from retrainer.registry.champion import registry_for
    from retrainer.registry.tracking import configure_mlflow

    plain = decisions(covariate["plain"])[-1]
    project = Project.load(covariate["plain"])
    forget_mlflow_store()
    configure_mlflow(project)
    tags = registry_for(project).get_version(plain.version).tags

    assert tags["retrainer.trigger_reason"] == "drift"
    assert tags["retrainer.trigger_event_id"] == "drift-check-of-day-66"
    assert tags["retrainer.trigger_detail"].startswith("drift: ")


def test_a_cooldown_of_three_days_caps_retrains_and_says_until_when(covariate):
    config = covariate["plain"]

    # when alerts arrive one and two days after the drift retrain, and then four days after
    held = [
        ct(config, day, reason="webhook", alert_id=f"alert-{day}", alert_source="generic")
        for day in ("2026-03-09", "2026-03-10")
    ]
    later = ct(
        config, "2026-03-12", reason="webhook", alert_id="alert-late", alert_source="generic"
    )

    # then the first two were decided at once, without checks, and held back by the cooldown
    for result in held:
        assert result["fast_path"] == "cooldown"
        assert result["steps"] == {}
        decision = result["decision"]
        assert (decision["status"], decision["suppressed_by"]) == ("suppressed", "cooldown")
        assert "cooldown until 2026-03-11" in decision["detail"]
    # and the one after the cooldown retrained on its alert
    assert later["decision"]["status"] == "retrain", later["decision"]
    assert "webhook: generic alert alert-late" in later["decision"]["reasons"]
    # and every decision, taken or held back, is in the store
    statuses = [d.status for d in decisions(config)]
    assert statuses == ["retrain", "retrain", "suppressed", "suppressed", "retrain"]


def test_the_checks_a_run_makes_do_not_start_another_run(covariate):
    # given the drift check the CT run made itself (fixture)
    plain = decisions(covariate["plain"])[1]
    event_id = plain.decision["event_ids"][0]

    # then its event says where it came from: deployment triggers only match standalone ones
    event = read_event(event_id)
    assert event.event == "retrainer.drift.detected"
    assert event.resource["retrainer.origin"] == "continuous-training"


def test_a_run_finding_another_checking_hands_its_alert_over(covariate):
    from datetime import UTC, datetime, timedelta

    from retrainer.project import Project
    from retrainer.store import open_store
    from retrainer.tasks.triggering import Request, base_observations, decide_and_record

    config = covariate["aware"]
    project = Project.load(config)
    store = open_store(project)
    until = datetime.now(UTC) + timedelta(minutes=10)
    # given another run is checking the model right now
    assert store.check_leases.claim(project.model_name, "checking-run", until) is None

    # when an alert arrives
    result = ct(config, "2026-03-09", reason="webhook", alert_id="storm-2", detail="p99 up")

    # then this run ran no check, and left the alert to the checking run
    assert result["handed_over_to"] == "checking-run"
    assert result["steps"] == {}
    decision = result["decision"]
    assert (decision["status"], decision["suppressed_by"]) == ("suppressed", "in_progress")
    assert decision["reasons"] == ["webhook storm-2: p99 up"]
    # and the checking run's decision takes the alert into account
    now = datetime(2026, 3, 9, 23, 59, 59, tzinfo=UTC)
    observed = base_observations(Request("schedule"), now, None, "x", "y")
    taken, _ = decide_and_record(
        project, observed, Request("schedule"), "checking-run", announce=False
    )
    assert any("alert storm-2: p99 up" in r for r in taken.reasons), taken.reasons


def test_the_backtest_decides_as_the_live_flow_did_on_the_same_days(covariate):
    # given the live continuous-training runs of the fixture (first model on BOOTSTRAP)
    for config in covariate.values():
        live = decisions(config)[1]  # the drift-day run after the bootstrap
        # when the backtest replays the same policy on the same day from the same first model
        (again,) = replayed(config, [AFTER_DRIFT])
        # then it decided the same way, for the same reasons, on the same label counts
        assert_same_decision(live.decision, again)
