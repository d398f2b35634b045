"""`retrainer train`, `gate` and `approve` run as a user runs them (subprocesses)."""

import pytest

pytestmark = pytest.mark.slow


def test_gate_without_any_model_is_a_usage_error(make_project, run_cli):
    path, _ = make_project("stable", days=30)

    result = run_cli("gate", "-c", str(path))

    assert result.exit_code == 2
    assert "has no challenger" in result.stderr


def test_train_json_then_failed_gate_exits_1(make_project, run_cli):
    path, _ = make_project("stable", days=45)

    trained = run_cli("train", "-c", str(path), "--json")
    assert trained.exit_code == 0, trained.stderr[-2000:]
    document = trained.json()
    assert document["promoted"] is True
    assert document["champion_uri"] == "models:/credit-default@champion"

    # the same data again: equal skill cannot win on noise -> the gate fails (exit 1)
    again = run_cli("train", "-c", str(path), "--no-gate", "--json")
    assert again.exit_code == 0
    gate = run_cli("gate", "-c", str(path), "--json")
    assert gate.exit_code == 1
    assert gate.json()["status"] == "failed"
    assert gate.json()["challenger_version"] == again.json()["version"]


def test_local_gate_waiting_for_approval_is_approved_from_the_cli(make_project, run_cli):
    # given local runs on Prefect's ephemeral API (no server to pause on) and a policy that
    # lets an equally good challenger through the automatic checks
    path, _ = make_project(
        "stable",
        days=45,
        overrides={
            "gates": {"comparison": {"on_inconclusive": "accept"}},
            "promotion": {"auto_promote": True},
        },
    )
    from flows.train import train

    assert train(config=str(path))["promoted"]
    version = train(config=str(path), gate=False)["version"]
    local = {"PREFECT_API_URL": None}

    # when the gate requires a human
    waiting = run_cli(
        "gate", "-c", str(path), "--require-approval", "--version", version, "--json", **local
    )

    # then it reports that it waits (exit 1) and nothing is promoted yet
    assert waiting.exit_code == 1, waiting.stderr[-2000:]
    assert waiting.json()["status"] == "awaiting_approval"
    assert waiting.json()["promoted"] is False

    # and only that version can be approved
    refused = run_cli("approve", "1", "--reviewer", "bob", "-c", str(path), **local)
    assert refused.exit_code == 2
    assert "not waiting for approval" in refused.stderr

    approved = run_cli("approve", version, "--reviewer", "bob", "-c", str(path), "--json", **local)
    assert approved.exit_code == 0, approved.stderr[-2000:]
    assert approved.json()["decision"] == "approved"
    assert approved.json()["promoted"] is True  # promotion.auto_promote without stages
