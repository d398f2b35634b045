"""The train and gate flows end to end: real Prefect API, real MLflow store, simulated data."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from uuid import UUID

import mlflow
import pytest
import yaml
from support import read_event

from retrainer.flows.gate import evaluate_gates
from retrainer.flows.train import train
from retrainer.project import Project
from retrainer.registry.champion import registry_for
from retrainer.registry.models import CHALLENGER, CHAMPION
from retrainer.registry.tracking import configure_mlflow

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_api"), pytest.mark.long]


def _registry(path):
    project = Project.load(path)
    configure_mlflow(project)  # another test may have pointed MLflow elsewhere since
    return registry_for(project)


def _variant(path: Path, name: str, **sections: dict) -> Path:
    """A copy of the project config (same data and store) with some sections updated."""
    config = yaml.safe_load(path.read_text())
    for section, values in sections.items():
        config[section] = {**config.get(section, {}), **values}
    out = path.parent / name
    out.write_text(yaml.safe_dump(config, sort_keys=False))
    return out


def _run_log(flow_run_id: str, last_line_starts: str, timeout: float = 30.0) -> list[str]:
    """Messages of a flow run's log, once a line starting with ``last_line_starts`` arrived."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    deadline = time.monotonic() + timeout
    run_filter = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[UUID(flow_run_id)]))
    with get_client(sync_client=True) as client:
        while True:
            messages, page = [], None
            while page is None or len(page) == 200:  # every page of the run's log
                page = client.read_logs(run_filter, limit=200, offset=len(messages))
                messages += [log.message for log in page]
            if any(m.startswith(last_line_starts) for m in messages):
                return messages
            if time.monotonic() > deadline:
                raise AssertionError(f"no {last_line_starts!r} line in the run log: {messages}")
            time.sleep(0.5)


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

    # when rollout stages are configured, the passed challenger is handed to a staged rollout
    staged = _variant(path, "staged.yaml", promotion={"stages": [{"kind": "shadow"}]})
    handed = evaluate_gates(config=str(staged), version=result["version"])
    assert handed["status"] == "passed"
    assert handed["promoted"] is False
    assert handed["rollout"]["action"] == "start"
    from retrainer.store import open_store

    rollout = open_store(Project.load(staged)).rollouts.get(Project.load(staged).model_name)
    assert (rollout.challenger, rollout.champion) == (result["version"], champion_version)
    assert rollout.status == "running"
    assert _registry(path).aliases()[CHAMPION] == champion_version  # nothing promoted yet


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
    # given a challenger of the champion's skill but not its twin: the same distribution and
    # amount of data, another seed (HistGradientBoosting then holds out another random tenth
    # of the rows for early stopping, so it fits other rows and other trees)
    reseeded = _variant(path, "reseeded.yaml", training={"random_state": 1})
    result = train(config=str(reseeded), as_of="2026-02-25", reason="retry", gate=False)

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

    # then the paired test faces real noise (the predictions differ) ...
    for gate in (rejected, accepted):
        comparison = next(c for c in gate["checks"] if c["kind"] == "comparison")
        assert comparison["details"]["difference"] != 0
        assert comparison["details"]["details"]["se"] > 0
        # ... says "not significant" and the configured policy decides
        assert "not significant" in comparison["message"]
        assert comparison["details"]["significant"] is False
    assert "on_inconclusive: reject" in next(
        c["message"] for c in rejected["checks"] if c["kind"] == "comparison"
    )
    assert "on_inconclusive: accept" in next(
        c["message"] for c in accepted["checks"] if c["kind"] == "comparison"
    )
    assert rejected["status"] == "failed"
    assert accepted["status"] == "passed"
    assert _registry(path).aliases()[CHAMPION] == champion_version


def test_human_approval_pauses_the_gate_until_a_reviewer_answers(stale_champion):
    from retrainer.tasks.approval import approve_version

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


# -- where MLflow lives --------------------------------------------------------------------


def test_a_user_tracking_uri_holds_the_trained_and_gated_version(make_project, monkeypatch):
    # given a user whose MLFLOW_TRACKING_URI points at their own store (say, a remote server)
    path, _ = make_project("stable", days=45)
    user_store = f"sqlite:///{path.parent.parent / 'server' / 'mlflow.db'}"
    (path.parent.parent / "server").mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", user_store)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)

    # when the train flow trains and gates (the gate is a subflow in the same process)
    result = train(config=str(path), reason="remote")

    # then the version was registered, gated and promoted in the user's store
    assert result["gate"]["status"] == "passed", result["gate"]["summary"]
    client = mlflow.MlflowClient(tracking_uri=user_store, registry_uri=user_store)
    version = client.get_model_version("credit-default", result["version"])
    assert version.tags["retrainer.gate"] == "passed"
    champion = client.get_model_version_by_alias("credit-default", CHAMPION)
    assert str(champion.version) == result["version"]
    # and nothing went to the embedded store next to the project
    assert not (path.parent / ".retrainer" / "mlflow.db").exists()


# -- what a trained version carries ----------------------------------------------------------

DYNAMIC = {"kind": "dynamic", "candidates_days": [7, 14, 21], "validation_days": 5}


@pytest.fixture(scope="module")
def dynamic_version(prefect_api, tmp_path_factory) -> tuple[Path, dict]:
    """A HistGradientBoosting version trained with the dynamic window (not gated)."""
    from support import ProjectFactory

    make = ProjectFactory(tmp_path_factory.mktemp("dynamic"))
    # (the factory's default window is fixed:30; "days": None drops its length)
    window = {**DYNAMIC, "days": None}
    path, _ = make("stable", days=45, overrides={"training": {"window": window}})
    assert Project.load(path).config.estimator.class_path.endswith("HistGradientBoostingClassifier")
    return path, train(config=str(path), reason="dynamic", gate=False)


def test_the_dynamic_window_curve_reaches_mlflow(dynamic_version):
    path, result = dynamic_version
    configure_mlflow(Project.load(path))
    client = mlflow.MlflowClient()

    # when a user opens the training run in MLflow
    history = client.get_metric_history(result["run_id"], "window_curve_roc_auc")
    params = client.get_run(result["run_id"]).data.params

    # then the validation curve is there, one point per candidate length (step = days) ...
    assert sorted(m.step for m in history) == DYNAMIC["candidates_days"]
    assert all(0.5 < m.value <= 1.0 for m in history)
    # ... and the chosen length is one of them, its point the value it was chosen on
    assert params["window"] == "dynamic"
    chosen = int(params["window.days"])
    assert chosen in DYNAMIC["candidates_days"]
    point = next(m.value for m in history if m.step == chosen)
    assert point == pytest.approx(float(params["window.chosen_value"]))


def test_the_training_run_logs_what_a_reviewer_needs(dynamic_version):
    from retrainer.registry.lineage import pip_requirements

    path, result = dynamic_version
    project = Project.load(path)
    configure_mlflow(project)
    run = mlflow.MlflowClient().get_run(result["run_id"])

    # then the run records the estimator and its parameters ...
    params = run.data.params
    assert params["estimator"] == "sklearn.ensemble.HistGradientBoostingClassifier"
    for name, value in project.config.estimator.params.items():
        assert params[f"estimator.{name}"] == str(value)
    # ... the holdout metrics the flow returned ...
    for name, value in result["metrics"].items():
        if value is not None:
            assert run.data.metrics[f"holdout_{name}"] == pytest.approx(value)
    assert "holdout_roc_auc" in run.data.metrics
    # ... a signature with every feature column and an input example ...
    info = mlflow.models.get_model_info(result["model_uri"])
    assert {c.name for c in info.signature.inputs.inputs} == set(project.config.columns.features)
    assert info.saved_input_example_info is not None
    model_dir = Path(mlflow.artifacts.download_artifacts(result["model_uri"]))
    example = json.loads((model_dir / info.saved_input_example_info["artifact_path"]).read_text())
    assert set(example["columns"]) == set(project.config.columns.features)
    # ... exactly the pinned requirements, none inferred (MLflow adds only its own pin) ...
    lines = (model_dir / "requirements.txt").read_text().split()
    assert sorted(lines) == sorted([*pip_requirements(), f"mlflow=={mlflow.__version__}"])
    # ... and a skops file whose tree types are trusted explicitly, so it loads
    flavor = info.flavors["sklearn"]
    assert flavor["serialization_format"] == "skops"
    trusted = flavor.get("skops_trusted_types") or []
    assert any("hist_gradient_boosting" in t for t in trusted), trusted
    assert hasattr(mlflow.sklearn.load_model(result["model_uri"]), "predict_proba")


@pytest.fixture(scope="module")
def second_version(prefect_api, tmp_path_factory) -> tuple[Path, dict, dict, dict]:
    """A champion, then a second version triggered by an event and gated (not promoted)."""
    from support import ProjectFactory

    make = ProjectFactory(tmp_path_factory.mktemp("second"))
    path, _ = make("stable", days=45)
    first = train(config=str(path), as_of="2026-02-10", reason="initial")
    assert first["promoted"]
    second = train(
        config=str(path),
        reason="drift",
        event_id="6f1c1d4e-0000-4000-8000-000000000042",
        gate=False,
    )
    gate = evaluate_gates(config=str(path), version=second["version"], promote=False)
    return path, first, second, gate


def test_a_second_version_records_its_parent_and_trigger(second_version):
    path, first, second, _ = second_version

    # when a user audits the second version's tags
    tags = _registry(path).get_version(second["version"]).tags

    # then they name the champion it replaces and the event that triggered it
    assert tags["retrainer.parent_version"] == first["version"]
    assert tags["retrainer.trigger_event_id"] == "6f1c1d4e-0000-4000-8000-000000000042"
    assert tags["retrainer.trigger_reason"] == "drift"
    assert "retrainer.parent_version" not in _registry(path).get_version(first["version"]).tags


def test_the_training_window_ends_before_the_holdout_starts(second_version):
    path, first, second, _ = second_version
    registry = _registry(path)

    for version in (first["version"], second["version"]):
        tags = registry.get_version(version).tags
        # then no training day is a holdout day
        assert tags["retrainer.window_end"] < tags["retrainer.holdout_start"], tags
        assert tags["retrainer.holdout_start"] <= tags["retrainer.holdout_end"]


def test_the_gate_verdict_is_emitted_as_an_event(second_version):
    _, _, second, gate = second_version

    # when the gate's event is read back from the Prefect API
    event = read_event(gate["event_id"])

    # then it carries the verdict, the version and the failed checks
    assert gate["status"] in ("passed", "failed")
    assert event.event == f"retrainer.gate.{gate['status']}"
    assert event.resource.id == "retrainer.model.credit-default"
    assert event.resource["retrainer.version"] == second["version"]
    assert event.payload["version"] == second["version"]
    assert [c["name"] for c in event.payload["failed_checks"]] == gate["failed_checks"]


def test_every_gate_check_is_logged_with_observed_threshold_and_verdict(second_version):
    from retrainer.gates.report import format_value

    _, _, _, gate = second_version

    # when a user reads the gate run's log in Prefect
    log = _run_log(gate["flow_run_id"], "gate: ")

    # then each check has its line: name, observed value, threshold and verdict
    for check in gate["checks"]:
        line = next((m for m in log if m.startswith(f"check {check['name']}: ")), None)
        assert line is not None, (check["name"], log)
        assert f"observed {format_value(check['observed'])}" in line
        assert f"threshold {check['threshold'] or '—'}" in line
        assert f"verdict {check['verdict']}" in line


# -- fail closed on a holdout that may not be fresh ------------------------------------------


def test_a_version_without_recorded_holdout_fails_unless_the_fallback_is_allowed(make_project):
    # given a version whose holdout dates were not recorded (registered outside the flow)
    path, _ = make_project("stable", days=45)
    version = train(config=str(path), gate=False)["version"]
    client = _registry(path).client
    for key in ("retrainer.holdout_start", "retrainer.holdout_end"):
        client.delete_model_version_tag("credit-default", version, key)

    # when it is gated by default, and with the fallback explicitly allowed
    closed = evaluate_gates(config=str(path), version=version, promote=False)
    allowing = _variant(path, "allowing.yaml", gates={"holdout": {"allow_unrecorded": True}})
    allowed = evaluate_gates(config=str(allowing), version=version, promote=False)

    # then by default the holdout check fails and says why
    assert closed["status"] == "failed"
    assert closed["failed_checks"] == ["holdout"]
    holdout = next(c for c in closed["checks"] if c["name"] == "holdout")
    assert holdout["message"].startswith("no recorded holdout dates")
    # and only the explicit setting lets it through, with a note in the report
    assert allowed["status"] == "passed", allowed["summary"]
    assert any("has no recorded holdout" in note for note in allowed["holdout"]["notes"])


# -- a local gate, approved later --------------------------------------------------------------


def test_a_local_approval_records_the_verdict_on_the_gate_run_and_emits_it(
    make_project, monkeypatch
):
    from retrainer.tasks.approval import approve_version

    # given a first version whose gate ran where it could not pause (a local API): its
    # automatic checks passed and it waits for a person
    path, _ = make_project("stable", days=45)
    version = train(config=str(path), gate=False)["version"]
    with monkeypatch.context() as local:
        local.setattr("retrainer.flows.gate.prefect_api_is_shared", lambda: False)
        waiting = evaluate_gates(config=str(path), version=version, require_approval=True)
    assert waiting["status"] == "awaiting_approval"
    assert waiting["event_id"] is None

    # when a reviewer approves it (as `retrainer approve` does)
    project = Project.load(path)
    configure_mlflow(project)
    answer = approve_version(project, version, "alice", True, "looks good")

    # then the verdict event reaches Prefect with the reviewer ...
    event = read_event(answer["gate_event_id"])
    assert event.event == "retrainer.gate.passed"
    assert event.payload["version"] == version
    assert event.payload["human_approval"]["reviewer"] == "alice"
    # ... the gate run in MLflow no longer says "awaiting_approval" ...
    client = mlflow.MlflowClient()
    run = client.get_run(waiting["gate_run_id"])
    assert run.data.tags["retrainer.gate"] == "passed"
    assert run.data.tags["retrainer.approved_by"] == "alice"
    assert run.data.metrics["passed"] == 1.0
    # ... nor does its report ...
    report_dir = Path(client.download_artifacts(waiting["gate_run_id"], "gate"))
    document = json.loads((report_dir / "gate_report.json").read_text())
    assert document["status"] == "passed"
    approval = next(c for c in document["checks"] if c["kind"] == "human_approval")
    assert approval["verdict"] == "passed"
    assert approval["details"]["reviewer"] == "alice"
    assert "approved by alice" in (report_dir / "gate_report.md").read_text()
    # ... and the version is tagged and (the first one) promoted
    assert _registry(path).get_version(version).tags["retrainer.gate"] == "passed"
    assert answer["promoted"] is True
