"""``retrainer backtest``, run as a user would: the table, the files, MLflow, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from support import write_demo_project

pytestmark = pytest.mark.slow

POLICIES = {
    "policies": [
        {"name": "weekly", "policy": {"triggers": [{"kind": "schedule", "cron": "0 0 * * 0"}]}},
        {
            "name": "drift-short",
            "description": "drift on a shorter window",
            "policy": {"triggers": [{"kind": "drift"}], "cooldown_hours": 48},
            "window": {"kind": "fixed", "days": 10},
        },
    ]
}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    from retrainer.simulate import simulate

    root = tmp_path_factory.mktemp("backtest")
    config = write_demo_project(root, simulate("concept_sudden", days=64, seed=2, rows_per_day=300))
    data = yaml.safe_load(config.read_text())
    data["training"] = {"window": {"kind": "fixed", "days": 14}}
    data["gates"] = {"holdout": {"days": 3}}
    data["policy"] = {
        "triggers": [{"kind": "performance", "max_drop": 0.02}],
        "labels": {"min_rows": 300, "min_per_class": 20},
    }
    data["backtest"] = {"warmup_days": 28, "cost_per_retrain": 12.5, "n_jobs": 2}
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    (root / "policies.yaml").write_text(yaml.safe_dump(POLICIES))
    return config


@pytest.fixture(scope="module")
def replayed(project) -> dict:
    # the backtest needs no Prefect API: run it as a user would, once for the module
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    args = ["backtest", "-c", str(project), "--policies", str(project.parent / "policies.yaml")]
    result = subprocess.run(
        [sys.executable, "-m", "retrainer", *args, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_json_result_prices_every_policy_and_names_the_shared_fits(replayed):
    names = [p["name"] for p in replayed["policies"]]

    # then never and the configured policy are compared with the file's policies
    assert names == ["never", "current", "weekly", "drift-short"]
    weekly = next(p for p in replayed["policies"] if p["name"] == "weekly")
    assert weekly["retrains"] >= 4
    assert weekly["cost"] == pytest.approx(12.5 * weekly["retrains"])
    fits = replayed["fits"]
    assert fits["requested"] == fits["run"] + fits["shared"]
    assert replayed["recommendation"]["snippet"].startswith("policy:")


def test_the_report_figures_and_the_mlflow_run_are_written(replayed, project):
    import mlflow

    from retrainer.project import Project
    from retrainer.registry.tracking import configure_mlflow

    files = replayed["files"]
    html = Path(files["html"]).read_text()
    assert "Retraining-policy backtest" in html
    assert html.count("data:image/png;base64,") == 2
    for name in ("metric_over_time", "cost_vs_metric"):
        assert Path(files[name]).read_bytes().startswith(b"\x89PNG")
    configure_mlflow(Project.load(project))
    run = mlflow.get_run(replayed["mlflow_run_id"])
    assert run.data.tags["retrainer.kind"] == "backtest"
    assert run.data.metrics["weekly.retrains"] >= 4
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id, "backtest")}
    assert "backtest/backtest.html" in artifacts


def test_text_output_is_a_short_story_with_the_recommendation(project, run_cli):
    result = run_cli("backtest", "-c", str(project), "--no-mlflow", "--start", "2026-02-10")

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("replayed 2026-02-10 .. 2026-03-05 (24 days) through ")
    assert any(line.startswith("recommended: ") for line in lines)
    assert lines[-1].startswith("report: ")


def test_a_start_before_any_history_is_a_usage_error(project, run_cli):
    result = run_cli("backtest", "-c", str(project), "--start", "2025-06-01", "--no-mlflow")

    assert result.exit_code == 2
    assert "--start 2025-06-01: the first model needs history before it" in result.stderr


def test_partitions_never_validated_are_named_with_the_command_to_validate_them(
    project, run_cli, tmp_path
):
    data = yaml.safe_load(project.read_text())
    data["validation"] = {"before_training": "validate"}
    data["data"]["source"] = str(project.parent / "data")
    data["state_dir"] = str(tmp_path / "state")
    other = tmp_path / "retrainer.yaml"
    other.write_text(yaml.safe_dump(data, sort_keys=False))

    result = run_cli("backtest", "-c", str(other), "--no-mlflow")

    assert result.exit_code == 2
    assert "64 feature partition(s) were never validated" in result.stderr
    assert "retrainer validate --start 2026-01-01 --end 2026-03-05" in result.stderr
    assert "--unvalidated allow" in result.stderr


def test_a_project_with_segment_drift_is_told_the_replay_judges_whole_windows(project, replayed):
    from retrainer.cli.backtest_cmd import _notes
    from retrainer.project import Project

    # given the same project with drift within regions
    data = yaml.safe_load(project.read_text())
    data.setdefault("drift", {})["segments"] = {"columns": ["region"]}
    variant = project.with_name("segments.yaml")
    variant.write_text(yaml.safe_dump(data, sort_keys=False))

    # then its backtest notes that segments are not replayed; the plain project has no note
    (note,) = _notes(Project.load(variant))
    assert "drift.segments (region) is not replayed" in note
    assert replayed["notes"] == []
