"""``retrainer drift``: exit codes 0 / 1 / 2, one JSON document under --json, clear errors."""

import json
from pathlib import Path

import pytest
import yaml
from support import forget_mlflow_store, write_demo_project
from typer.testing import CliRunner

from retrainer.cli import app

runner = CliRunner()

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _own_mlflow_store():
    forget_mlflow_store()
    yield
    forget_mlflow_store()


@pytest.fixture(scope="module")
def trained(prefect_api, tmp_path_factory) -> Path:
    """The ``sudden`` stream (incomes drop on 2026-03-02), champion trained as of 2026-02-20."""
    from retrainer.flows.train import train
    from retrainer.simulate import simulate

    forget_mlflow_store()
    root = tmp_path_factory.mktemp("drift-cli")
    path = write_demo_project(root, simulate("sudden", days=68, seed=2, rows_per_day=300))
    train(config=str(path), as_of="2026-02-20")
    return path


def test_drift_exits_1_with_one_json_document_naming_the_column(trained):
    # when the days after the income drop are checked (the default window: the last 7 days)
    result = runner.invoke(app, ["drift", "-c", str(trained), "--json"])

    # then exit 1 (a finding) and stdout is one JSON document naming income
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    assert document["verdict"] == "drift"
    assert document["window_start"] == "2026-03-03"
    assert document["window_end"] == "2026-03-09"
    assert "income" in document["drifted_features"]
    assert document["event"] == "retrainer.drift.detected"


def test_a_clean_window_exits_0_and_prints_the_report_path(trained, tmp_path):
    html = tmp_path / "clean.html"
    result = runner.invoke(
        app,
        ["drift", "-c", str(trained), "--current", "2026-02-21:2026-02-27", "--html", str(html)],
    )

    assert result.exit_code == 0, result.output
    assert "no drift" in result.stdout
    assert f"report: {html}" in result.stdout
    assert html.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--baseline", "last-week"], "--baseline: expected 'training' or START:END"),
        (["--current", "2026-03-09:2026-03-01"], "before start"),
        (["--current", "2026-03-01:2026-03-07", "--days", "3"], "either --current or --days"),
        (["--current", "2025-01-01:2025-01-07"], "no feature partitions"),
    ],
)
def test_bad_requests_exit_2_and_name_the_problem(trained, args, message):
    result = runner.invoke(app, ["drift", "-c", str(trained), *args])

    assert result.exit_code == 2, result.output
    assert message in result.stderr


def test_under_json_an_error_is_one_json_document_too(trained):
    result = runner.invoke(app, ["drift", "-c", str(trained), "--baseline", "x", "--json"])

    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert document["ok"] is False
    assert "--baseline" in document["error"]


def test_a_training_baseline_without_a_champion_is_a_usage_error(trained, tmp_path):
    # given the same data under a model name that has no champion
    config = yaml.safe_load(trained.read_text())
    config["model"]["name"] = "never-trained"
    config["data"]["source"] = str(trained.parent / "data")
    path = tmp_path / "retrainer.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))

    result = runner.invoke(app, ["drift", "-c", str(path)])

    # then exit 2, and the message says what to do
    assert result.exit_code == 2, result.output
    assert "has no champion" in result.stderr
    assert "--baseline START:END" in result.stderr


def test_a_feature_without_values_is_printed_as_no_data(trained, tmp_path):
    import shutil

    from retrainer.data import DataCatalog
    from retrainer.project import Project

    # given a copy of the project where employment_years has no values on 2026-02-25
    project_dir = tmp_path / "blank"
    shutil.copytree(trained.parent, project_dir)
    config = project_dir / "retrainer.yaml"
    features = DataCatalog.for_project(Project.load(config)).features
    day = features.read(dates=["2026-02-25"])
    features.write_partition("2026-02-25", day.assign(employment_years=float("nan")))

    # when that day is checked
    result = runner.invoke(app, ["drift", "-c", str(config), "--current", "2026-02-25:2026-02-25"])

    # then exit 1 and the column is listed as no_data, saying it had no values
    assert result.exit_code == 1, result.output
    line = next(x for x in result.stdout.splitlines() if "employment_years" in x)
    assert line.split()[0] == "no_data"
    assert "no values in the current window (counted as drift; drift.no_data: drift)" in line
