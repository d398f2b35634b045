"""``retrainer trigger REASON`` and ``retrainer policy explain``, run as a user would."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from support import REPO_ROOT, write_demo_project

pytestmark = [pytest.mark.slow, pytest.mark.long]

POLICY = {
    "triggers": [{"kind": "schedule", "cron": "0 3 * * 0"}, {"kind": "on_demand"}],
    "cooldown_hours": 48,
    "labels": {"min_rows": 500, "min_per_class": 20},
}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    from retrainer.simulate import simulate

    config = write_demo_project(
        tmp_path_factory.mktemp("policy"), simulate("stable", days=30, seed=5, rows_per_day=120)
    )
    data = yaml.safe_load(config.read_text())
    data["policy"] = POLICY
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    return config


def test_a_request_needs_an_on_demand_trigger_in_the_policy(run_cli, tmp_path, project):
    data = yaml.safe_load(project.read_text())
    data["policy"] = {"triggers": [{"kind": "schedule"}]}
    other = tmp_path / "retrainer.yaml"
    other.write_text(yaml.safe_dump({**data, "data": {**data["data"], "source": "x"}}))

    result = run_cli("trigger", "new features", "-c", str(other))

    assert result.exit_code == 2
    assert "policy.triggers has no on_demand trigger" in result.stderr
    assert "- kind: on_demand" in result.stderr


def test_a_local_request_goes_through_the_policy_and_explain_shows_why(run_cli, project):
    # when a person asks for a retrain of a model that has none yet, here
    first = run_cli("trigger", "new features", "--by", "ana", "--local", "-c", str(project))

    # then it trained the first model, and says so in a line or two
    assert first.exit_code == 0, first.stderr[-3000:]
    assert "decision #1: retrain: " in first.stdout
    assert "v1: gate passed, promoted to champion" in first.stdout

    # when the user asks why
    explained = run_cli("policy", "explain", "-c", str(project))
    document = run_cli("policy", "explain", "--json", "-c", str(project)).json()

    # then the policy, its memory and the decision are listed
    assert explained.exit_code == 0, explained.stderr
    lines = explained.stdout.splitlines()
    assert lines[0].startswith("credit-default: policy any of schedule, on_demand; cooldown 48 h")
    assert lines[1].startswith("last retrain ")
    assert lines[2].startswith("#1 ")
    assert "on_demand" in lines[2]
    assert "v1 promoted" in lines[2]
    (decision,) = document["decisions"]
    assert (decision["status"], decision["outcome"]) == ("retrain", "promoted")
    assert "on_demand: new features (ana)" in decision["decision"]["reasons"]
    assert document["state"]["last_retrain"] is not None


def test_with_a_server_a_request_becomes_a_run_of_the_ct_deployment(run_cli, project):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    from retrainer.deployments.definitions import runner_deployments

    # given the continuous-training deployment is applied on the Prefect API
    (deployment,) = runner_deployments(REPO_ROOT / "prefect.yaml", names=["continuous-training"])
    deployment_id = deployment.apply()
    try:
        # when a person asks for a retrain
        result = run_cli("trigger", "a hotfix", "--by", "ana", "-c", str(project))

        # then a run of the deployment waits for a worker, carrying the request
        assert result.exit_code == 0, result.stderr[-3000:]
        assert "requested: flow run " in result.stdout
        with get_client(sync_client=True) as client:
            runs = client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
            )
        # (other tests' standalone events may start runs of it too: find this request's)
        (run,) = [r for r in runs if r.parameters.get("detail") == "a hotfix"]
        assert run.parameters["reason"] == "on_demand"
        assert run.parameters["detail"] == "a hotfix"
        assert run.parameters["requested_by"] == "ana"
        assert run.parameters["config"] == "retrainer.yaml"
    finally:
        with get_client(sync_client=True) as client:
            client.delete_deployment(deployment_id)
            client.delete_resource_owned_automations(f"prefect.deployment.{deployment_id}")
