"""prefect.yaml's deployments: every entrypoint loads, and the triggers fire on a real API.

Until the continuous-training flow's body lands its runs would fail, so the trigger tests
check that runs are CREATED with the right parameters (no worker picks them up).
"""

import inspect
import re
import time
import uuid
from pathlib import Path

import pytest
import yaml

from retrainer import events
from retrainer.deployments.definitions import (
    CT_DEPLOYMENT,
    TRAIN_CONCURRENCY_LIMIT,
    DeploymentSpecError,
    deployment_specs,
    runner_deployments,
)

PREFECT_YAML = Path(__file__).resolve().parents[2] / "prefect.yaml"
CT_TRIGGERS = {
    "continuous-training-on-drift": (events.DRIFT_DETECTED, "drift"),
    "continuous-training-on-performance": (events.PERFORMANCE_DEGRADED, "performance"),
    "continuous-training-on-alert": (events.ALERT_RECEIVED, "webhook"),
    "continuous-training-on-new-data": (events.DATA_VALIDATED, "new_data"),
}


def test_every_deployment_loads_with_parameters_its_flow_accepts():
    # given prefect.yaml as workers and `deployments/serve.py` read it
    specs = {spec["name"]: spec for spec in deployment_specs(PREFECT_YAML)}
    built = {d.name: d for d in runner_deployments(PREFECT_YAML)}

    # then every deployment's entrypoint loads, and every parameter (default or per
    # schedule or trigger) is one its flow takes
    assert (
        set(built)
        == set(specs)
        == {
            CT_DEPLOYMENT,
            "validate",
            "drift",
            "monitor",
            "score",
            "train",
            "gate",
            "reconcile-rollout",
        }
    )
    from prefect.flows import load_flow_from_entrypoint

    for name, deployment in built.items():
        flow = load_flow_from_entrypoint(specs[name]["entrypoint"])
        accepted = set(inspect.signature(flow.fn).parameters)
        assert set(deployment.parameters) <= accepted, name
        for schedule in specs[name].get("schedules", []):
            assert set(schedule.get("parameters", {})) <= accepted, name
        for trigger in specs[name].get("triggers", []):
            assert set(trigger.get("parameters", {})) <= accepted, name


def test_the_loop_runs_nightly_and_on_standalone_events_and_train_only_when_asked():
    built = {d.name: d for d in runner_deployments(PREFECT_YAML)}
    ct, train = built[CT_DEPLOYMENT], built["train"]

    # the continuous-training deployment: a nightly schedule, a trigger per event, and no
    # deployment concurrency limit (parallel runs serialise their decisions in the store)
    [nightly] = ct.schedules
    assert (nightly.schedule.cron, nightly.active, nightly.parameters) == (
        "0 3 * * *",
        True,
        {"reason": "schedule"},
    )
    assert ct.concurrency_limit is None
    assert ct.tags == ["retrainer", "continuous-training"]
    triggers = {t.name: t for t in ct.triggers}
    assert set(triggers) == set(CT_TRIGGERS)
    for name, (event, reason) in CT_TRIGGERS.items():
        trigger = triggers[name]
        assert trigger.expect == {event}, name
        assert trigger.match.model_dump() == {
            "prefect.resource.id": "retrainer.model.*",
            events.ORIGIN_LABEL: events.ORIGIN_STANDALONE,
        }
        assert trigger.parameters["reason"] == reason
        assert trigger.parameters["event_id"] == "{{ event.id | string }}"
        assert trigger.parameters["event"] == "{{ event.event }}"
    # train: no triggers any more, one run at a time, its weekly baseline optional (off)
    assert train.triggers == []
    assert train.concurrency_limit == 1
    assert [(s.schedule.cron, s.active) for s in train.schedules] == [("0 3 * * 0", False)]
    # the standalone checks are off (the nightly loop makes them); scoring stays daily
    for name in ("validate", "drift", "monitor"):
        assert [s.active for s in built[name].schedules] == [False], name
    assert [s.active for s in built["score"].schedules] == [True]
    # the rollout reconciler: every 5 minutes, one run at a time
    [every] = built["reconcile-rollout"].schedules
    assert (every.schedule.interval.total_seconds(), every.active) == (300, True)
    assert built["reconcile-rollout"].concurrency_limit == 1


def test_the_loop_trains_under_the_limit_retrainer_deploy_creates():
    from retrainer.flows import continuous_training

    assert continuous_training.TRAIN_CONCURRENCY == TRAIN_CONCURRENCY_LIMIT == "retrainer-train"


def test_every_payload_key_a_trigger_reads_has_a_default():
    # a payload key that is missing fails the whole action with InvalidJinja: no run
    for spec in deployment_specs(PREFECT_YAML):
        for trigger in spec.get("triggers", []):
            for name, value in (trigger.get("parameters") or {}).items():
                for expression in re.findall(r"{{(.*?)}}", str(value)):
                    if "event.payload" in expression:
                        assert "| default(" in expression, (trigger["name"], name)


def test_an_unknown_deployment_name_is_named():
    with pytest.raises(DeploymentSpecError, match="unknown deployment"):
        runner_deployments(PREFECT_YAML, names=["retrain-everything"])


def test_a_key_prefect_would_ignore_stops_serving_before_anything_runs(tmp_path):
    document = yaml.safe_load(PREFECT_YAML.read_text())
    document["deployments"][0]["trigger"] = document["deployments"][0].pop("triggers")
    path = tmp_path / "prefect.yaml"
    path.write_text(yaml.safe_dump(document))

    with pytest.raises(
        DeploymentSpecError, match=r"unknown key 'trigger'.*did you mean 'triggers'"
    ):
        runner_deployments(path)


# --- the triggers on a real Prefect API -------------------------------------------------------


@pytest.fixture(scope="module")
def ct_deployment(prefect_api):
    """The continuous-training deployment applied with its triggers (its own name)."""
    from prefect.client.orchestration import get_client

    (deployment,) = runner_deployments(PREFECT_YAML, names=[CT_DEPLOYMENT])
    deployment.name = f"ct-{uuid.uuid4().hex[:8]}"
    deployment_id = deployment.apply()
    try:
        yield deployment_id
    finally:
        with get_client(sync_client=True) as client:
            client.delete_deployment(deployment_id)
            client.delete_resource_owned_automations(f"prefect.deployment.{deployment_id}")


def _emit(event: str, model: str, origin: str, payload: dict | None = None) -> str:
    from prefect.events import emit_event

    emitted = emit_event(
        event, resource=events.model_resource(model, origin=origin), payload=payload or {}
    )
    return str(emitted.id)


def _runs_for(deployment_id, event_ids: set[str], deadline_s: float = 60) -> dict[str, list]:
    """Runs of the deployment per event id, polled until every id has one (or the deadline)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    deadline = time.monotonic() + deadline_s
    by_event: dict[str, list] = {}
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            runs = client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
            )
            by_event = {}
            for run in runs:
                by_event.setdefault(run.parameters.get("event_id"), []).append(run)
            if event_ids <= set(by_event):
                break
            time.sleep(0.5)
    return by_event


@pytest.mark.slow
def test_a_standalone_drift_event_starts_a_run_and_a_ct_runs_own_does_not(ct_deployment):
    model = f"credit-{uuid.uuid4().hex[:6]}"
    # given a drift event from inside a continuous-training run, then a standalone one
    own = _emit(events.DRIFT_DETECTED, model, events.ORIGIN_CT, {"drifted_columns": ["income"]})
    standalone = _emit(events.DRIFT_DETECTED, model, events.ORIGIN_STANDALONE)

    # when the triggers service has turned the standalone one into a run
    runs = _runs_for(ct_deployment, {standalone})

    # then one run carries reason=drift, the event's id and name; the CT run's event made none
    assert len(runs.get(standalone, [])) == 1, "the drift trigger did not create a CT run"
    [run] = runs[standalone]
    assert run.parameters["reason"] == "drift"
    assert run.parameters["event"] == events.DRIFT_DETECTED
    assert run.parameters["config"] == "retrainer.yaml"
    assert run.idempotency_key.startswith("automation ")  # one run per trigger firing
    assert own not in runs


@pytest.mark.slow
def test_an_alert_without_its_optional_keys_still_starts_a_run(ct_deployment):
    # given a monitoring tool's alert whose payload lacks source and reason
    model = f"credit-{uuid.uuid4().hex[:6]}"
    alert = _emit(events.ALERT_RECEIVED, model, events.ORIGIN_STANDALONE, {"alert_id": "a-17"})

    runs = _runs_for(ct_deployment, {alert})

    # then the run is created: the alert id from the payload, the missing keys as None
    assert len(runs.get(alert, [])) == 1, "the alert trigger did not create a CT run"
    parameters = runs[alert][0].parameters
    assert parameters["reason"] == "webhook"
    assert parameters["alert_id"] == "a-17"
    assert parameters["alert_source"] is None
    assert parameters["detail"] is None
