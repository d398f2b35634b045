"""The drift flow end to end on a simulated stream (train -> drift), with a real Prefect API
and a real MLflow store.

Timeline (default start 2026-01-01): the champion is trained as of day 50 (2026-02-20) on
the ``sudden`` stream, whose incomes drop on day 60 (2026-03-02).
"""

import gzip
import json
import time
from pathlib import Path

import pytest
import yaml
from support import forget_mlflow_store, read_events, write_demo_project

TRAIN_AS_OF = "2026-02-20"  # day 50
BEFORE = "2026-02-21:2026-02-27"  # days 51..57: no drift
AFTER = "2026-03-02:2026-03-08"  # days 60..66: incomes dropped

pytestmark = [pytest.mark.slow, pytest.mark.long]


def _write_project(root: Path, model_name: str = "credit-default") -> Path:
    from retrainer.simulate import simulate

    simulation = simulate("sudden", days=70, seed=5, rows_per_day=400)
    return write_demo_project(root, simulation, model_name=model_name)


@pytest.fixture(autouse=True)
def _own_mlflow_store():
    forget_mlflow_store()
    yield
    forget_mlflow_store()


@pytest.fixture(scope="module")
def trained(prefect_api, tmp_path_factory) -> Path:
    from retrainer.flows.train import train

    forget_mlflow_store()
    path = _write_project(tmp_path_factory.mktemp("drift"))
    train(config=str(path), as_of=TRAIN_AS_OF)
    return path


def _champion_run_artifacts(config: Path) -> Path:
    from retrainer.project import Project
    from retrainer.registry.tracking import configure_mlflow
    from retrainer.tasks.training import registry_for

    project = Project.load(config)
    configure_mlflow(project)
    version = registry_for(project).version_by_alias("champion")
    import mlflow

    return Path(mlflow.get_run(version.run_id).info.artifact_uri.removeprefix("file://"))


def test_the_train_flow_logs_the_drift_baseline_with_the_version(trained):
    # given the champion's training run
    artifacts = _champion_run_artifacts(trained)

    # then its drift baseline holds every feature, profiled on the training rows, and the
    # model's scores on the 7-day fresh holdout (not on the rows it was trained on)
    profile = json.loads(
        gzip.decompress((artifacts / "drift/baseline_profile.json.gz").read_bytes())
    )
    config = yaml.safe_load(trained.read_text())
    features = config["columns"]["numeric"] + config["columns"]["categorical"]
    assert set(profile["columns"]) == {*features, "prediction_score"}
    assert profile["metadata"]["prediction_rows"] == 7 * 400
    assert profile["columns"]["income"]["n_rows"] == profile["n_rows"] > 7 * 400
    assert profile["metadata"]["end"] < "2026-02-14"  # the holdout starts after the window


def test_no_drift_before_and_income_drift_after_with_event_mlflow_run_and_report(trained):
    import mlflow

    from retrainer.flows.drift import check_drift

    # given a week before the income drop and a week after it
    before = check_drift(config=str(trained), current=BEFORE)
    html = trained.parent / "out" / "drift.html"
    after = check_drift(config=str(trained), current=AFTER, html=str(html))

    # then the week before is clean and says so with retrainer.drift.checked
    assert before["verdict"] == "no drift"
    assert before["event"] == "retrainer.drift.checked"
    assert before["drifted_columns"] == []
    # and the week after names income, with its metric, value and threshold, in the event
    # that Prefect received
    assert after["verdict"] == "drift"
    assert after["drifted_features"] == ["income"]
    assert after["rows"] == 7 * 400
    (event,) = read_events(after["event_id"])
    assert event.event == "retrainer.drift.detected"
    assert event.resource.id == "retrainer.model.credit-default"
    flagged = {c["column"]: c for c in event.payload["columns"]}
    assert flagged["income"]["status"] == "drift"
    assert flagged["income"]["metric"] == "wasserstein_norm"
    assert flagged["income"]["value"] > flagged["income"]["threshold"] == 0.1
    assert event.payload["window_start"] == "2026-03-02"
    assert event.payload["baseline"]["kind"] == "training"
    # and every statistic went to an MLflow run tagged as a drift check, with the report
    run = mlflow.get_run(after["run_id"])
    assert run.data.tags["retrainer.kind"] == "drift"
    assert run.data.tags["retrainer.verdict"] == "drift"
    assert run.data.metrics["wasserstein_norm.income"] > 0.1
    assert run.data.metrics["drifted.income"] == 1.0
    assert run.data.metrics["drifted.credit_score"] == 0.0
    history = mlflow.MlflowClient().get_metric_history(
        after["run_id"], "daily.wasserstein_norm.income"
    )
    assert sorted(m.step for m in history) == list(range(7))
    # and the HTML report shows distributions and the drift scores per day
    page = html.read_text()
    assert "Drift scores over time" in page
    assert page.count("data:image/png") >= 2 * len(after["columns"]) - 1
    assert Path(after["html_report"]).exists()
    assert len(after["daily"]) == 7


def test_a_repeated_check_of_the_same_window_emits_the_same_event_id(trained):
    from retrainer.flows.drift import check_drift

    first = check_drift(config=str(trained), current=AFTER)
    second = check_drift(config=str(trained), current=AFTER)

    # then Prefect sees one incident, not two (a re-run does not trigger a second retrain)
    assert first["event_id"] == second["event_id"]
    read_events(first["event_id"])
    time.sleep(3)  # leave time for a second copy to arrive, if it were stored
    assert len(read_events(first["event_id"])) == 1


def test_a_quarantined_day_is_not_read_and_the_report_says_so(trained, tmp_path):
    import shutil

    from retrainer.data import DataCatalog
    from retrainer.flows.drift import check_drift
    from retrainer.project import Project

    # given a copy of the project whose 2026-03-04 batch is quarantined
    project_dir = tmp_path / "copy"
    shutil.copytree(trained.parent, project_dir, ignore=shutil.ignore_patterns("out"))
    config = project_dir / "retrainer.yaml"
    catalog = DataCatalog.for_project(Project.load(config))
    catalog.quarantine.quarantine(catalog.features, "2026-03-04", reason="test")

    # when the week after the drop is checked
    result = check_drift(config=str(config), current=AFTER)

    # then six days are read, the quarantined one is named, and the drift is still found
    assert result["rows"] == 6 * 400
    assert "2026-03-04" not in {d["date"] for d in result["daily"]}
    assert any("quarantined" in n and "2026-03-04" in n for n in result["notes"])
    assert result["drifted_features"] == ["income"]


def test_a_version_without_a_logged_baseline_gets_one_rebuilt_from_its_window(trained, tmp_path):
    from retrainer.flows.drift import check_drift

    # given a champion whose run has no baseline artifact (a version trained before
    # baselines were logged)
    logged = _champion_run_artifacts(trained) / "drift" / "baseline_profile.json.gz"
    kept = tmp_path / logged.name
    logged.rename(kept)
    try:
        # when drift is checked
        result = check_drift(config=str(trained), current=AFTER)
    finally:
        kept.rename(logged)

    # then the baseline is rebuilt from the version's training window and the report says so
    assert result["drifted_features"] == ["income"]
    assert any("rebuilt" in note for note in result["notes"])
    assert result["baseline"]["end"] < "2026-02-14"


def test_a_production_window_baseline_works_without_a_champion(prefect_api, tmp_path):
    from retrainer.flows.drift import check_drift

    # given a project with data but no model yet
    config = _write_project(tmp_path / "fresh", model_name="not-trained-yet")

    # when the week after the drop is compared with the month before it
    result = check_drift(config=str(config), current=AFTER, baseline="2026-01-20:2026-02-19")

    # then the drift is found on the features alone (no model, no prediction columns)
    assert result["verdict"] == "drift"
    assert result["drifted_features"] == ["income"]
    assert result["prediction_columns"] == []
    assert result["baseline"]["kind"] == "window"
    assert result["model_version"] is None


def _blank_column(project_dir: Path, column: str, window: str) -> None:
    """Set ``column`` to null in every feature partition of ``window`` (START:END)."""
    from retrainer.data import DataCatalog
    from retrainer.monitoring.window import parse_window
    from retrainer.project import Project

    features = DataCatalog.for_project(Project.load(project_dir / "retrainer.yaml")).features
    start, end = parse_window(window)
    for day in features.dates(start, end):
        frame = features.read(dates=[day])
        features.write_partition(day, frame.assign(**{column: float("nan")}))


def test_a_feature_without_values_in_the_window_is_a_no_data_finding(trained, tmp_path):
    import shutil

    from retrainer.flows.drift import check_drift

    # given a copy of the project where employment_years has no values in the clean week
    project_dir = tmp_path / "blank"
    shutil.copytree(trained.parent, project_dir, ignore=shutil.ignore_patterns("out"))
    _blank_column(project_dir, "employment_years", BEFORE)

    # when that week is checked
    result = check_drift(config=str(project_dir / "retrainer.yaml"), current=BEFORE)

    # then the column is a drift finding with status no_data, in the result and the event
    assert result["verdict"] == "drift"
    assert result["drifted_features"] == ["employment_years"]
    (event,) = read_events(result["event_id"])
    flagged = {c["column"]: c for c in event.payload["columns"]}
    assert flagged["employment_years"]["status"] == "no_data"
    assert "employment_years" in event.payload["drifted_columns"]
    assert all(d["scores"]["employment_years"]["status"] == "no_data" for d in result["daily"])
    page = Path(result["html_report"]).read_text()
    assert "No values in the current window: employment_years" in page
