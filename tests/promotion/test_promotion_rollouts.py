"""Staged rollouts on the store and a real MLflow registry: start, tick, settle, crash.

The gateway's log is written straight into the store here (``Prediction`` rows routed by the
plan, labels arriving for them), so each rule of the reconciler can be driven step by step;
``tests/serving/test_gateway_server.py`` drives the same path through the real gateway.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from retrainer.config.promotion import PromotionSection
from retrainer.promotion import ModelTarget, history, promote
from retrainer.promotion.rollouts import begin, tick, transition_by_hand
from retrainer.registry.models import ModelRegistry
from retrainer.rollout import abort, pause, resume, traffic
from retrainer.serving.routing import route
from retrainer.store.labels import Label
from retrainer.store.predictions import Prediction

PLAN = PromotionSection.model_validate(
    {
        "stages": [
            {"kind": "shadow", "min_requests": 200, "min_labelled": 150, "min_duration_hours": 0},
            {
                "kind": "canary",
                "weights": [20, 50],
                "step_minutes": 0,
                "min_labelled_per_step": 60,
            },
        ]
    }
).stages
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
_names = itertools.count()
_requests = itertools.count()
pytestmark = [pytest.mark.slow, pytest.mark.long]


@pytest.fixture(scope="module")
def mlflow_uri(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow")
    return f"sqlite:///{root}/mlflow.db", root


@pytest.fixture
def target(store, mlflow_uri):
    """A model with v1 champion (promoted through the store) and v2, v3 registered."""
    from mlflow import MlflowClient

    uri, root = mlflow_uri
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    name = f"ro{next(_names)}-{store.dialect}"
    client.create_registered_model(name)
    for _ in range(3):
        client.create_model_version(name, source=str(root / "model"))
    t = ModelTarget(name, store, ModelRegistry(name, client=client))
    promote(t, "1", expected_champion=None, by="test")
    return t


def _serve(t, state, n, at, accuracy, rng, stages=PLAN):
    """Write ``n`` requests answered by the plan in force at ``at``, and their labels."""
    plan = traffic(stages, state)
    rows, labels = [], []
    for _ in range(n):
        rid = f"r{next(_requests)}"
        key = f"entity-{rid}"
        where = route(plan, key)
        truth = int(rng.integers(2))

        def said(version: str, truth: int = truth) -> int:
            return truth if rng.random() < accuracy[version] else 1 - truth

        version = state.challenger if where.variant == "challenger" else state.champion
        rows.append(
            Prediction(rid, t.name, version, where.variant, {}, said(version), 0.5, 4.0, key, at)
        )
        if where.shadow:
            shadow_id = f"{rid}:shadow"
            rows.append(
                Prediction(
                    shadow_id,
                    t.name,
                    state.challenger,
                    "shadow",
                    {},
                    said(state.challenger),
                    0.5,
                    4.0,
                    key,
                    at,
                )
            )
        labels.append(Label(truth, request_id=rid))
    t.store.predictions.insert_many(rows)
    t.store.labels.insert_many(labels)


def _run(t, challenger_accuracy, rounds=12, per_round=300):
    """Start a rollout of v2 and run the reconciler until it ends; the ticks in order."""
    rng = np.random.default_rng(7)
    accuracy = {"1": 0.80, "2": challenger_accuracy}
    began = begin(t, PLAN, "2", now=T0)
    ticks, now = [began], T0
    for _ in range(rounds):
        state = t.store.rollouts.get(t.name)
        if state.status != "running":
            break
        _serve(t, state, per_round, now + timedelta(seconds=30), accuracy, rng)
        now += timedelta(minutes=1)
        ticks.append(tick(t, PLAN, now=now))
    return ticks


def test_a_better_challenger_goes_shadow_then_canary_then_champion(target):
    ticks = _run(target, challenger_accuracy=0.92)

    assert [t.action for t in ticks if t.action != "wait"] == [
        "start",
        "advance",
        "advance",
        "promote",
    ]
    reasons = [t.reason for t in ticks if t.action == "advance"]
    assert "shadow passed" in reasons[0]
    assert "canary 20% passed" in reasons[1]
    # then the single promotion path made v2 the champion, in the store and in MLflow
    assert target.store.champions.get(target.name).champion == "2"
    assert target.registry.aliases()["champion"] == "2"
    [record] = [r for r in history(target) if r.action == "promote" and r.to_version == "2"]
    assert record.by == "rollout"
    assert ticks[-1].settled == ["promoted v2"]
    # and the reconciler after the end changes nothing
    again = tick(target, PLAN, now=T0 + timedelta(hours=1))
    assert (again.action, again.settled) == ("wait", [])


def test_a_worse_challenger_is_aborted_at_the_first_canary_analysis(target):
    ticks = _run(target, challenger_accuracy=0.55)

    assert ticks[-1].action == "abort"
    assert "v1 stays" in ticks[-1].reason
    assert target.store.champions.get(target.name).champion == "1"
    assert target.registry.aliases()["champion"] == "1"
    [record] = [r for r in history(target) if r.action == "abort"]
    assert record.to_version == "2"
    assert "metric_delta" in record.reason


def test_a_newer_challenger_restarts_the_plan_and_a_person_can_pause_resume_and_abort(target):
    begin(target, PLAN, "2", now=T0)
    restarted = begin(target, PLAN, "3", now=T0 + timedelta(minutes=5))
    assert restarted.action == "restart"
    assert (restarted.state.challenger, restarted.state.stage) == ("3", 0)

    paused = transition_by_hand(target, lambda s: pause(s, "alice"))
    assert paused.state.status == "paused"
    assert tick(target, PLAN, now=T0 + timedelta(hours=1)).action == "wait"
    resumed = transition_by_hand(target, lambda s: resume(s, T0 + timedelta(hours=1), "alice"))
    assert resumed.state.status == "running"
    aborted = transition_by_hand(target, lambda s: abort(s, "aborted by alice"))
    assert aborted.settled == ["abort recorded"]
    assert target.store.champions.get(target.name).champion == "1"


CRASH_SCRIPT = """
import sys
from datetime import datetime
from mlflow import MlflowClient
from retrainer.promotion import ModelTarget
from retrainer.promotion.rollouts import tick
from retrainer.registry.models import ModelRegistry
from retrainer.store import Store
import tests.promotion.test_promotion_rollouts as plans
url, uri, name, plan, now = sys.argv[1:6]
client = MlflowClient(tracking_uri=uri, registry_uri=uri)
target = ModelTarget(name, Store.from_url(url), ModelRegistry(name, client=client))
print(tick(target, getattr(plans, plan), now=datetime.fromisoformat(now)).action)
"""

CANARY_ONLY = PromotionSection.model_validate(
    {
        "stages": [
            {"kind": "canary", "weights": [50], "step_minutes": 0, "min_labelled_per_step": 60}
        ]
    }
).stages


@pytest.mark.parametrize(
    ("ending", "boundary"),
    [("promote", "rollout_state"), ("promote", "store_write"), ("abort", "rollout_state")],
)
def test_a_reconciler_killed_at_a_write_boundary_converges_on_the_next_run(
    target, store_url, mlflow_uri, ending, boundary
):
    # given a rollout one analysis away from its end (a promotion, or an abort)
    rng = np.random.default_rng(3)
    accuracy = {"1": 0.8, "2": 0.95 if ending == "promote" else 0.3}
    plan = PLAN if ending == "promote" else CANARY_ONLY
    begin(target, plan, "2", now=T0)
    now = T0
    while True:
        state = target.store.rollouts.get(target.name)
        _serve(target, state, 300, now + timedelta(seconds=30), accuracy, rng, plan)
        now += timedelta(minutes=1)
        if state.stage == len(plan) - 1 and state.step == len(plan[-1].weights) - 1:
            break
        assert tick(target, plan, now=now).action in ("advance", "wait")

    # when the reconciler that ends it is killed at the boundary
    plan_name = "PLAN" if ending == "promote" else "CANARY_ONLY"
    argv = [sys.executable, "-c", CRASH_SCRIPT, store_url, mlflow_uri[0], target.name, plan_name]
    argv.append(now.isoformat())
    env = {**os.environ, "RETRAINER_TEST_CRASH_AFTER": boundary}
    crashed = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert crashed.returncode == -9, crashed.stderr[-2000:]
    ended = "promoted" if ending == "promote" else "aborted"
    assert target.store.rollouts.get(target.name).status == ended
    assert target.registry.aliases()["champion"] == "1"  # the aliases lag behind

    # then the next run finishes the promotion or records the abort, exactly once
    later = (now + timedelta(minutes=1)).isoformat()
    rerun = subprocess.run([*argv[:-1], later], capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    champion = "2" if ending == "promote" else "1"
    assert target.store.champions.get(target.name).champion == champion
    assert target.registry.aliases()["champion"] == champion
    records = [r for r in history(target) if r.to_version == "2" and r.action == ending]
    assert len(records) == 1
    again = subprocess.run([*argv[:-1], later], capture_output=True, text=True, timeout=120)
    assert again.returncode == 0
    assert len([r for r in history(target) if r.to_version == "2" and r.action == ending]) == 1
