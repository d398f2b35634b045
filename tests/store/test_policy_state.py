"""Trigger-policy state, check leases and decisions in the store (SQLite and PostgreSQL)."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

_models = itertools.count()


@pytest.fixture
def model(store) -> str:
    return f"m{next(_models)}-{store.dialect}"


def test_concurrent_decisions_are_taken_one_after_the_other(store, model):
    # given 4 runs that each read the state, think, and write it back incremented
    def decide_once():
        with store.write() as conn:
            state = store.policy_states.lock(conn, model)
            time.sleep(0.05)  # the decision takes a moment
            store.policy_states.save(conn, model, {"decisions": state.get("decisions", 0) + 1})

    # when they run at the same moment
    threads = [threading.Thread(target=decide_once) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then none read a state another was about to replace
    assert store.policy_states.get(model) == {"decisions": 4}


def test_the_state_keeps_readable_columns_next_to_the_json(store, model):
    from retrainer.store.schema import trigger_state

    last = datetime(2026, 3, 1, 12, tzinfo=UTC)
    state = {
        "last_retrain": last.isoformat(),
        "consecutive": {"drift": 2, "performance": 0},
        "processed_events": ["a", "b"],
    }
    with store.write() as conn:
        store.policy_states.lock(conn, model)
        store.policy_states.save(conn, model, state)

    with store.read() as conn:
        row = conn.execute(trigger_state.select().where(trigger_state.c.model == model)).one()
    assert (row.trigger, row.last_retrain_at, row.consecutive_breaches) == ("policy", last, 2)
    assert row.processed_event_ids == ["a", "b"]
    assert store.policy_states.get(model) == state


def test_a_run_finding_the_check_lease_held_hands_its_request_over(store, model):
    until = datetime.now(UTC) + timedelta(minutes=5)

    # given run A checks the model
    assert store.check_leases.claim(model, "run-a", until, {"alert_id": "x"}) is None

    # when run B and run C arrive with their alerts
    assert store.check_leases.claim(model, "run-b", until, {"alert_id": "y"}) == "run-a"
    assert store.check_leases.claim(model, "run-c", until, {"alert_id": "z"}) == "run-a"

    # then A, deciding, takes both requests and gives the lease back
    with store.write() as conn:
        handed = store.check_leases.take(conn, model, "run-a")
    assert [r["alert_id"] for r in handed] == ["y", "z"]
    assert store.check_leases.claim(model, "run-d", until) is None


def test_an_expired_lease_is_taken_over_and_only_its_holder_can_give_it_back(store, model):
    past = datetime.now(UTC) - timedelta(seconds=1)
    store.check_leases.claim(model, "crashed", past)

    assert store.check_leases.claim(model, "next", datetime.now(UTC) + timedelta(minutes=5)) is None
    store.check_leases.release(model, "crashed")  # not the holder any more: nothing happens
    assert store.check_leases.claim(model, "third", datetime.now(UTC)) == "next"


def test_decisions_are_kept_newest_first_with_their_outcome(store, model):
    retrain = {"status": "retrain", "retrain": True, "detail": "retrain: drift: income"}
    held = {
        "status": "suppressed",
        "retrain": False,
        "suppressed_by": "cooldown",
        "detail": "cooldown until 2026-03-11 00:00 UTC",
    }
    with store.write() as conn:
        first = store.decisions.record(
            conn, model, retrain, reason="drift", event_id="e1", flow_run_id="r1"
        )
        store.decisions.record(conn, model, held, reason="webhook", event_id=None, flow_run_id="r2")
    store.decisions.set_outcome(first, "promoted", version="2", detail="PASSED")

    newest, oldest = store.decisions.latest(model)
    assert (newest.status, newest.suppressed_by, newest.outcome) == ("suppressed", "cooldown", None)
    assert (oldest.id, oldest.outcome, oldest.version, oldest.event_id) == (
        first,
        "promoted",
        "2",
        "e1",
    )
    assert store.decisions.count(model, "suppressed") == 1
    with pytest.raises(ValueError, match="unknown outcome"):
        store.decisions.set_outcome(first, "won")
