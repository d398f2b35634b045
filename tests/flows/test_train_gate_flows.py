"""The train and gate flows end to end: real Prefect API, real MLflow store, simulated data."""

from __future__ import annotations

import threading
import time

import mlflow
import pytest

from flows.gate import evaluate_gates
from flows.train import train
from retrainer.project import Project
from retrainer.registry.models import CHALLENGER, CHAMPION, ModelRegistry

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_api")]


def _registry(path) -> ModelRegistry:
    project = Project.load(path)
    return ModelRegistry(project.model_name, lock_dir=project.state_dir / "locks")


def test_first_model_is_gated_on_absolute_bounds_and_becomes_champion(make_project):
    # given a fresh project with no model yet
    path, _ = make_project("stable", days=45)

    # when the train flow runs
    result = train(config=str(path), reason="first")

    # then the version was judged without a comparison and became champion
    assert result["promoted"] is True
    assert result["gate"]["status"] == "passed"
    assert "no champion" in result["gate"]["summary"]
    registry = _registry(path)
    assert registry.aliases()[CHAMPION] == result["version"]
    # and every lineage tag a user audits is on the version
    tags = registry.get_version(result["version"]).tags
    for key in (
        "window_start",
        "window_end",
        "as_of",
        "rows",
        "data_fingerprint",
        "code_version",
        "config_hash",
        "trigger_reason",
        "training_seconds",
        "cost_estimate",
        "window_strategy",
        "holdout_start",
        "holdout_end",
        "gate",
    ):
        assert f"retrainer.{key}" in tags, key
    assert tags["retrainer.trigger_reason"] == "first"
    assert tags["retrainer.gate"] == "passed"
    # and mlflow.db sits in the state dir, not the working directory
    assert (path.parent / ".retrainer" / "mlflow.db").is_file()


def test_first_model_below_an_absolute_floor_does_not_become_champion(make_project):
    path, _ = make_project(
        "stable", days=45, overrides={"gates": {"absolute": {"roc_auc": {"min": 0.99}}}}
    )

    result = train(config=str(path))

    assert result["promoted"] is False
    assert result["gate"]["status"] == "failed"
    assert "absolute[roc_auc]" in result["gate"]["summary"]
    registry = _registry(path)
    assert CHAMPION not in registry.aliases()
    assert registry.aliases()[CHALLENGER] == result["version"]


@pytest.fixture
def stale_champion(make_project):
    """A project whose champion was trained before a sudden concept drift (day 60)."""
    path, _sim = make_project("concept_sudden", days=90)
    first = train(config=str(path), as_of="2026-02-25", reason="initial")
    assert first["promoted"]
    return path, first["version"]


def test_challenger_trained_after_drift_passes_against_stale_champion(stale_champion):
    path, champion_version = stale_champion

    # when a challenger is trained on post-drift data only
    result = train(config=str(path), as_of="2026-03-31", window="fixed:14", reason="drift")

    # then the paired test on the same fresh holdout says it is better
    gate = evaluate_gates(config=str(path), version=result["version"], promote=False)
    comparison = next(c for c in gate["checks"] if c["kind"] == "comparison")
    assert gate["status"] == "passed", gate["summary"]
    assert comparison["verdict"] == "passed"
    assert comparison["details"]["ci_low"] > 0
    assert gate["champion_version"] == champion_version
    assert gate["holdout"]["start"] >= "2026-03-02"  # the holdout is post-drift, unseen by both


def test_challenger_trained_on_a_sliver_of_data_fails_and_the_report_names_the_checks(
    stale_champion,
):
    path, champion_version = stale_champion
    # given a challenger trained (pre-drift, like the champion) on 40 rows only
    project = Project.load(path)
    tiny = path.parent / "tiny.yaml"
    tiny.write_text(path.read_text().replace("training:\n", "training:\n  max_rows: 40\n", 1))
    assert Project.load(tiny).config.training.max_rows == 40
    result = train(config=str(tiny), as_of="2026-02-25", reason="tiny", gate=False)

    # when gated
    gate = evaluate_gates(config=str(path), version=result["version"])

    # then it fails, the failed checks are named, and the champion stays
    assert gate["status"] == "failed"
    assert "comparison[roc_auc]" in gate["failed_checks"]
    assert "comparison[roc_auc]" in gate["summary"]
    html = (project.state_dir / "reports" / "gates" / f"gate-v{result['version']}.html").read_text()
    assert "comparison[roc_auc]" in html
    assert _registry(path).aliases()[CHAMPION] == champion_version
    assert _registry(path).get_version(result["version"]).tags["retrainer.gate"] == "failed"
    # and the gate run in MLflow holds the report and the metrics
    run = mlflow.get_run(gate["gate_run_id"])
    assert run.data.tags["retrainer.kind"] == "gate"
    assert run.data.metrics["passed"] == 0.0


def test_equal_models_do_not_win_on_noise(stale_champion):
    path, champion_version = stale_champion
    # given a challenger trained exactly like the champion (same data, same seed)
    result = train(config=str(path), as_of="2026-02-25", reason="retry", gate=False)

    # when gated with the default policy (superiority, reject when inconclusive)
    rejected = evaluate_gates(config=str(path), version=result["version"])
    # and with a policy that accepts an inconclusive comparison
    lenient = path.parent / "lenient.yaml"
    lenient.write_text(
        path.read_text().replace(
            "gates:\n", "gates:\n  comparison:\n    on_inconclusive: accept\n", 1
        )
    )
    accepted = evaluate_gates(config=str(lenient), version=result["version"], promote=False)

    # then the comparison is not significant and the configured policy decides
    for gate in (rejected, accepted):
        comparison = next(c for c in gate["checks"] if c["kind"] == "comparison")
        assert "not significant" in comparison["message"]
    assert rejected["status"] == "failed"
    assert accepted["status"] == "passed"
    assert _registry(path).aliases()[CHAMPION] == champion_version


def test_human_approval_pauses_the_gate_until_a_reviewer_answers(stale_champion):
    from tasks.approval import approve_version

    path, _ = stale_champion
    result = train(config=str(path), as_of="2026-03-31", window="fixed:14", gate=False)
    version = result["version"]
    outcome: dict = {}

    def run_gate() -> None:
        outcome.update(
            evaluate_gates(config=str(path), version=version, require_approval=True, promote=True)
        )

    # when the gate runs and waits for a person
    thread = threading.Thread(target=run_gate, daemon=True)
    thread.start()
    registry = _registry(path)
    deadline = time.monotonic() + 120
    while registry.get_version(version).tags.get("retrainer.gate") != "awaiting_approval":
        assert time.monotonic() < deadline, "the gate never asked for approval"
        assert thread.is_alive(), outcome
        time.sleep(0.5)
    time.sleep(1.0)  # let the run reach the Paused state

    # and a reviewer approves it (as `retrainer approve` does)
    answer = approve_version(Project.load(path), version, "alice", True, "looks good")
    thread.join(timeout=120)

    # then the paused run resumed, recorded the reviewer and promoted the version
    assert answer["resumed_flow_run"]
    assert outcome["status"] == "passed"
    approval = next(c for c in outcome["checks"] if c["kind"] == "human_approval")
    assert approval["details"]["reviewer"] == "alice"
    assert registry.aliases()[CHAMPION] == version
