"""prefect.yaml's deployments: every entrypoint loads, and the triggers fire on a real API."""

import inspect
import time
import uuid
from pathlib import Path

import pytest

from retrainer.deployments.definitions import (
    DeploymentSpecError,
    deployment_specs,
    runner_deployments,
)

PREFECT_YAML = Path(__file__).resolve().parents[2] / "prefect.yaml"


def test_every_deployment_loads_with_parameters_its_flow_accepts():
    # given prefect.yaml as workers and `deployments/serve.py` read it
    specs = {spec["name"]: spec for spec in deployment_specs(PREFECT_YAML)}
    built = {d.name: d for d in runner_deployments(PREFECT_YAML)}

    # then every deployment's entrypoint loads, and every parameter (default or per
    # schedule) is one its flow takes
    assert set(built) == set(specs) >= {"validate", "drift", "monitor", "score", "train", "gate"}
    for name, deployment in built.items():
        from prefect.flows import load_flow_from_entrypoint

        flow = load_flow_from_entrypoint(specs[name]["entrypoint"])
        accepted = set(inspect.signature(flow.fn).parameters)
        assert set(deployment.parameters) <= accepted, name
        for schedule in specs[name].get("schedules", []):
            assert set(schedule.get("parameters", {})) <= accepted, name
        for trigger in specs[name].get("triggers", []):
            assert set(trigger.get("parameters", {})) <= accepted, name
    # and the retrain deployment keeps one run at a time and listens to drift and performance
    train = built["train"]
    assert train.concurrency_limit == 1
    assert {t.name for t in train.triggers} == {"retrain-on-drift", "retrain-on-performance"}


def test_an_unknown_deployment_name_is_named():
    with pytest.raises(DeploymentSpecError, match="unknown deployment"):
        runner_deployments(PREFECT_YAML, names=["retrain-everything"])


@pytest.mark.slow
def test_a_drift_event_creates_a_train_run_with_reason_and_event_id(prefect_api):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
    from prefect.events import emit_event

    # given the train deployment applied with its triggers to a real Prefect API
    (deployment,) = runner_deployments(PREFECT_YAML, names=["train"])
    deployment.name = f"train-{uuid.uuid4().hex[:8]}"
    deployment_id = deployment.apply()
    try:
        # when the drift flow's event arrives for a model
        event = emit_event(
            "retrainer.drift.detected",
            resource={
                "prefect.resource.id": "retrainer.model.credit-default",
                "retrainer.model.name": "credit-default",
            },
            payload={"drifted_columns": ["income"]},
        )

        # then one train run is created with reason=drift and the event id as lineage
        deadline = time.monotonic() + 60
        runs = []
        with get_client(sync_client=True) as client:
            while not runs and time.monotonic() < deadline:
                runs = client.read_flow_runs(
                    deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
                )
                runs = [r for r in runs if r.parameters.get("reason") == "drift"]
                time.sleep(0.5)
            assert len(runs) == 1, "the drift trigger did not create a train run"
            assert runs[0].parameters["event_id"] == str(event.id)
            assert runs[0].parameters["config"] == "retrainer.yaml"
    finally:
        with get_client(sync_client=True) as client:
            client.delete_deployment(deployment_id)
            client.delete_resource_owned_automations(f"prefect.deployment.{deployment_id}")
