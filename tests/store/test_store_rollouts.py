"""Rollout state in the store: compare-and-set writes and the history, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from retrainer.config.promotion import PromotionSection
from retrainer.rollout import Evidence, abort, advance, start

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
PLAN = PromotionSection.model_validate(
    {"stages": [{"kind": "canary", "weights": [10, 50], "min_labelled_per_step": 10}]}
).stages
GOOD = Evidence("7", 100, 50, {"metric_delta": 0.01, "error_rate": 0.0})


def test_a_rollout_advances_only_from_the_revision_it_was_read_at(store):
    model = "cas-model"
    # given a rollout started and stored
    opened = start(PLAN, model, "7", "6", T0)
    stored = store.rollouts.write(opened, expected=None)
    assert stored == store.rollouts.get(model)

    # when two reconcilers read it and both decide to advance
    first = advance(PLAN, stored, GOOD, T0 + timedelta(hours=1))
    second = advance(PLAN, stored, GOOD, T0 + timedelta(hours=1, minutes=5))

    # then only the first write lands; the second must read again
    assert store.rollouts.write(first, expected=stored.revision) == first.state
    assert store.rollouts.write(second, expected=stored.revision) is None
    assert store.rollouts.get(model).step == 1
    # and a second rollout cannot start over a running one
    assert store.rollouts.write(start(PLAN, model, "8", "6", T0), expected=None) is None


def test_a_new_rollout_replaces_an_ended_one_and_its_revisions_continue(store):
    model = "replace-model"
    old = store.rollouts.write(start(PLAN, model, "7", "6", T0), expected=None)
    ended = store.rollouts.write(abort(old, "worse error rate"), expected=old.revision)
    assert ended.status == "aborted"

    # when the next challenger's rollout starts
    fresh = store.rollouts.write(start(PLAN, model, "8", "6", T0), expected=None)

    # then it replaces the ended one with a higher revision (a stale writer cannot match)
    assert (fresh.challenger, fresh.status) == ("8", "running")
    assert fresh.revision > ended.revision
    assert store.rollouts.write(abort(fresh, "stale"), expected=old.revision) is None


def test_every_transition_is_in_the_history_with_its_reason_and_analysis(store):
    model = "history-model"
    state = store.rollouts.write(start(PLAN, model, "7", "6", T0), expected=None)
    now = T0
    for _ in range(3):
        now += timedelta(hours=1)
        step = advance(PLAN, state, GOOD, now)
        state = store.rollouts.write(step, expected=state.revision)
    assert state.status == "promoted"

    history = store.rollouts.history(model)
    assert [h["action"] for h in history] == ["promote", "advance", "start"]
    assert history[0]["analysis"]["verdict"] == "successful"
    assert "promote v7" in history[0]["reason"]
    assert [h["revision"] for h in history] == [2, 1, 0]
    # and a wait writes nothing
    waiting = advance(PLAN, state, GOOD, now + timedelta(hours=1))
    assert store.rollouts.write(waiting, expected=state.revision) == state
    assert len(store.rollouts.history(model)) == 3
