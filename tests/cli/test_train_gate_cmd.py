"""`retrainer train`, `gate` and `approve` run as a user runs them (subprocesses)."""

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.long]


def test_gate_without_any_model_is_a_usage_error(make_project, run_cli):
    path, _ = make_project("stable", days=30)

    result = run_cli("gate", "-c", str(path), "--json")

    # a usage error: one line on stderr, and under --json still one document on stdout
    assert result.exit_code == 2
    assert "has no challenger" in result.stderr
    document = result.json()
    assert document["ok"] is False
    assert "has no challenger" in document["error"]


def test_train_exits_1_when_the_gate_it_runs_fails(make_project, run_cli):
    path, _ = make_project("stable", days=45)

    # given a first version, which the gate makes champion (exit 0)
    trained = run_cli("train", "-c", str(path), "--json")
    assert trained.exit_code == 0, trained.stderr[-2000:]
    document = trained.json()
    assert document["promoted"] is True
    assert document["champion_uri"] == "models:/credit-default@champion"

    # when a model of equal skill trains: the same distribution and amount of data, another
    # seed (HistGradientBoosting holds out another random tenth for early stopping, so it
    # fits other rows and other trees)
    import yaml

    config = yaml.safe_load(path.read_text())
    config["training"]["random_state"] = 1
    reseeded = path.parent / "reseeded.yaml"
    reseeded.write_text(yaml.safe_dump(config, sort_keys=False))
    again = run_cli("train", "-c", str(reseeded), "--json")

    # then it cannot win on noise: the failed gate is a finding (exit 1), nothing is promoted
    assert again.exit_code == 1, again.stderr[-2000:]
    assert again.json()["gate"]["status"] == "failed"
    assert again.json()["promoted"] is False
    # and `retrainer gate` on that challenger agrees
    gate = run_cli("gate", "-c", str(path), "--json")
    assert gate.exit_code == 1
    assert gate.json()["status"] == "failed"
    assert gate.json()["challenger_version"] == again.json()["version"]
    # because the paired test faced real noise (the predictions differ), said "not
    # significant", and the configured policy (reject when inconclusive) decided
    comparison = next(c for c in gate.json()["checks"] if c["kind"] == "comparison")
    assert comparison["details"]["details"]["se"] > 0
    assert "not significant" in comparison["message"]
    assert "on_inconclusive: reject" in comparison["message"]


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
    from retrainer.flows.train import train

    assert train(config=str(path))["promoted"]
    # a version trained without its gate is no finding (exit 0): the gate is still pending
    pending = run_cli("train", "-c", str(path), "--no-gate", "--json")
    assert pending.exit_code == 0, pending.stderr[-2000:]
    assert pending.json()["gate"] == {"status": "pending"}
    version = pending.json()["version"]
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
