import json
from pathlib import Path

import pytest
import typer
from support import forget_mlflow_store, write_demo_project
from typer.testing import CliRunner

from retrainer.cli import app, monitor_cmd, score_cmd

runner = CliRunner()

# `retrainer score` is wired into the main app by the lead; test it on its own app too
score_app = typer.Typer()
score_cmd.register(score_app)
monitor_cmd.register(score_app)

pytestmark = pytest.mark.slow


def _project(root: Path, scenario: str, days: int, rows_per_day: int) -> Path:
    from retrainer.simulate import simulate

    forget_mlflow_store()
    simulation = simulate(scenario, days=days, seed=11, rows_per_day=rows_per_day)
    path = write_demo_project(root, simulation)
    return path


@pytest.fixture(autouse=True)
def _own_mlflow_store():
    forget_mlflow_store()
    yield
    forget_mlflow_store()


@pytest.fixture(scope="module")
def scored(prefect_api, tmp_path_factory) -> Path:
    """concept_sudden (drift from 2026-03-02), champion trained as of 2026-02-20, scored."""
    from retrainer.flows.train import train

    config = _project(tmp_path_factory.mktemp("cli"), "concept_sudden", 75, 300)
    train(config=str(config), as_of="2026-02-20")
    forget_mlflow_store()
    result = runner.invoke(score_app, ["score", "-c", str(config), "--all", "--json"])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["scored"]) == 75
    return config


def test_degraded_performance_exits_1_with_json(scored, tmp_path):
    # given labels up to 2026-03-16 for a window that starts with the concept drift
    html = tmp_path / "monitor.html"
    result = runner.invoke(
        app,
        [
            "monitor",
            "-c",
            str(scored),
            "--window",
            "2026-03-02:2026-03-16",
            "--json",
            "--html",
            str(html),
        ],
    )

    # then the command exits 1, prints one JSON document naming the breach, writes the HTML
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    assert document["verdict"] == "degraded"
    assert any(b["metric"] == "roc_auc" and b["scope"] == "overall" for b in document["breaches"])
    assert 0 < document["labelled_share"] < 1
    assert html.read_text().startswith("<!doctype html>")


def test_healthy_window_exits_0_and_prints_a_summary(scored):
    # given a window before the drift, as of a date when part of it is still unlabelled
    result = runner.invoke(
        app, ["monitor", "-c", str(scored), "--days", "10", "--as-of", "2026-02-28"]
    )

    assert result.exit_code == 0, result.output
    assert "ok" in result.stdout.splitlines()[0]
    assert "labelled (share" in result.stdout
    assert "report:" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--window", "2026-03-02"], "START:END"),
        (["--window", "2026-03-02:2026-03-05", "--days", "3"], "not both"),
        (["--as-of", "yesterday"], "not a date"),
        (["--window", "2027-01-01:2027-01-05"], "no predictions"),
    ],
)
def test_bad_requests_exit_2(scored, args, message):
    result = runner.invoke(app, ["monitor", "-c", str(scored), *args])

    assert result.exit_code == 2
    assert message in result.output


def test_monitoring_without_a_champion_exits_2(prefect_api, tmp_path):
    config = _project(tmp_path, "stable", 3, 20)

    result = runner.invoke(app, ["monitor", "-c", str(config)])

    assert result.exit_code == 2
    assert "no champion" in result.output


def test_score_options_conflict_exit_2(scored):
    result = runner.invoke(score_app, ["score", "-c", str(scored), "--date", "2026-01-05", "--all"])

    assert result.exit_code == 2
    assert "one of --date" in result.output


def test_score_date_reports_skipped_partitions(scored):
    result = runner.invoke(score_app, ["score", "-c", str(scored), "--date", "2026-01-05"])

    assert result.exit_code == 0, result.output
    assert "nothing to score" in result.stdout
    assert "skipped 1 partition" in result.stdout
