"""The validation flow on a simulated stream: quarantine, MLflow, events, release, training."""

import json
import os
import time
from datetime import date
from pathlib import Path
from uuid import UUID

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
UNIT_CHANGE = "2026-01-12"
DTYPE_BREAK = "2026-01-15"
DAYS = 24

pytestmark = pytest.mark.slow


def _project(root: Path) -> Path:
    """A tmp project from the demo config on 24 simulated days with two broken batches."""
    from retrainer.simulate import simulate, write_simulation

    os.environ.pop("MLFLOW_TRACKING_URI", None)
    data = yaml.safe_load((REPO_ROOT / "retrainer.yaml").read_text())
    data["data"]["source"] = "data"
    data["estimator"] = {
        "class_path": "sklearn.linear_model.LogisticRegression",
        "params": {"max_iter": 1000},
    }
    data["validation"] = {"reference": {"days": 7}}
    path = root / "retrainer.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    sim = simulate(
        "stable",
        days=DAYS,
        seed=4,
        rows_per_day=300,
        incidents=[f"unit_change@{UNIT_CHANGE}", f"dtype_break@{DTYPE_BREAK}"],
    )
    write_simulation(sim, root / "data")
    return path


def _catalog(config: Path):
    from retrainer.data import DataCatalog
    from retrainer.project import Project

    project = Project.load(config)
    return project, DataCatalog.for_project(project)


def _read_event(event_id: str, timeout: float = 30.0):
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventIDFilter

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            page = client.read_events(EventFilter(id=EventIDFilter(id=[UUID(event_id)])), limit=10)
            if page.events:
                return page.events[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"event {event_id} never reached the Prefect API")
            time.sleep(0.5)


@pytest.fixture(autouse=True)
def _own_mlflow_store(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


@pytest.fixture(scope="module")
def validated(prefect_api, tmp_path_factory):
    """The project after one pending-mode validation run, and that run's result."""
    from flows.validate import validate_data

    config = _project(tmp_path_factory.mktemp("validate"))
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    return config, validate_data(config=str(config))


def test_pending_run_quarantines_exactly_the_broken_batches(validated):
    config, result = validated
    _, catalog = _catalog(config)

    # then every partition was validated with the reference-window suite ...
    assert result["mode"] == "pending"
    assert len(result["batches"]) == DAYS
    assert result["suite"]["kind"] == "reference_window"
    # ... and only the two broken ones are invalid, named by column and expectation
    assert result["invalid"] == [UNIT_CHANGE, DTYPE_BREAK]
    failed = {b["batch"]: b["failed"] for b in result["batches"] if b["failed"]}
    assert set(failed) == {UNIT_CHANGE, DTYPE_BREAK}
    assert failed[UNIT_CHANGE][0]["column"] == "loan_amount"
    assert failed[UNIT_CHANGE][0]["expectation"] == "expect_column_values_to_be_between"
    assert failed[DTYPE_BREAK][0]["column"] == "credit_score"

    # and they were moved (not deleted) to the quarantine with their reports
    days = {d.isoformat() for d in catalog.features.dates()}
    assert UNIT_CHANGE not in days
    assert DTYPE_BREAK not in days
    assert len(days) == DAYS - 2
    records = {r.date: r for r in catalog.quarantine.records("features")}
    assert set(records) == {UNIT_CHANGE, DTYPE_BREAK}
    assert records[UNIT_CHANGE].reason.startswith(
        "loan_amount: expect_column_values_to_be_between failed"
    )
    assert catalog.storage.list_keys(f"_quarantine/features/date={UNIT_CHANGE}/data")
    report = catalog.quarantine.report("features", UNIT_CHANGE)["report"]
    assert report["verdict"] == "invalid"
    assert report["mlflow_run_id"]
    html = catalog.storage.read_bytes(f"_quarantine/features/date={UNIT_CHANGE}/report.html")
    assert b"expect_column_values_to_be_between" in html
    assert result["quarantined"] == [records[UNIT_CHANGE].location, records[DTYPE_BREAK].location]


def test_each_batch_has_an_mlflow_run_with_counts_the_gx_result_and_a_report(validated):
    import mlflow

    from retrainer.registry.tracking import configure_mlflow

    config, result = validated
    project, _ = _catalog(config)
    configure_mlflow(project)
    client = mlflow.MlflowClient()
    bad = next(b for b in result["batches"] if b["batch"] == UNIT_CHANGE)
    good = next(b for b in result["batches"] if b["batch"] == "2026-01-20")

    run = client.get_run(bad["mlflow_run_id"])

    assert run.data.tags["retrainer.kind"] == "validation"
    assert run.data.tags["retrainer.batch_date"] == UNIT_CHANGE
    assert run.data.tags["retrainer.verdict"] == "invalid"
    assert run.data.tags["retrainer.suite_hash"] == result["suite"]["hash"]
    assert run.data.tags["retrainer.quarantine"].endswith(f"date={UNIT_CHANGE}/data")
    assert run.data.metrics["errors"] == 1
    assert run.data.metrics["rows"] == 300
    assert 0 < run.data.metrics["success_ratio"] < 1
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "validation")}
    assert artifacts == {
        "validation/gx_result.json",
        "validation/findings.json",
        "validation/report.html",
    }
    local = mlflow.artifacts.download_artifacts(
        run_id=run.info.run_id, artifact_path="validation/gx_result.json"
    )
    gx_result = json.loads(Path(local).read_text())
    assert gx_result["success"] is False
    assert gx_result["statistics"]["unsuccessful_expectations"] == 1
    assert client.get_run(good["mlflow_run_id"]).data.metrics["success_ratio"] == 1.0


def test_events_carry_the_failed_expectations(validated):
    _, result = validated
    bad = next(b for b in result["batches"] if b["batch"] == UNIT_CHANGE)
    good = next(b for b in result["batches"] if b["batch"] == "2026-01-20")

    invalid = _read_event(bad["event_id"])
    valid = _read_event(good["event_id"])

    assert invalid.event == "retrainer.data.invalid"
    assert invalid.resource.id == "retrainer.model.credit-default"
    assert invalid.payload["batch"] == UNIT_CHANGE
    assert invalid.payload["rows"] == 300
    assert invalid.payload["quarantine"].endswith(f"date={UNIT_CHANGE}/data")
    failed = invalid.payload["failed"][0]
    assert (failed["column"], failed["expectation"], failed["severity"]) == (
        "loan_amount",
        "expect_column_values_to_be_between",
        "error",
    )
    assert failed["observed"]
    assert failed["expected"]
    assert valid.event == "retrainer.data.validated"
    assert valid.payload["failed"] == []


def test_a_second_pending_run_has_nothing_to_validate(validated):
    from flows.validate import validate_data

    config, _ = validated

    again = validate_data(config=str(config))

    assert again["batches"] == []
    assert again["already_validated"] == DAYS - 2
    assert again["valid"] is True


@pytest.fixture(scope="module")
def trained(validated):
    """The validated project after training on everything known at the end of the stream."""
    from flows.train import train

    config, _ = validated
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    return config, train(config=str(config), as_of=f"2026-01-{DAYS}", reason="test")


def test_a_quarantined_batch_is_never_read_by_the_train_flow(trained):
    import mlflow

    from retrainer.simulate import Schedule

    config, result = trained
    _, catalog = _catalog(config)
    as_of = date(2026, 1, DAYS)
    labels = catalog.labels.read()
    labelled = set(labels.loc[labels["label_time"].dt.date <= as_of, "loan_id"])
    schedule = Schedule.load(catalog.storage)
    clean_days = [d for d in schedule.dates() if d.isoformat() not in (UNIT_CHANGE, DTYPE_BREAK)]
    clean_labelled = catalog.features.read(dates=clean_days)["loan_id"].isin(labelled).sum()

    # when the model was trained on everything known at the end of the stream (fixture)

    # then the model saw (train + holdout) exactly the labelled rows of the partitions that
    # were not quarantined: 600 fewer than the stream's labelled rows, the two broken days
    params = mlflow.MlflowClient().get_run(result["run_id"]).data.params
    assert int(params["train_rows"]) + int(params["holdout_rows"]) == clean_labelled
    assert len(labelled) - clean_labelled == 2 * 300
    # (the broken batches still exist, in the quarantine)
    assert catalog.quarantine.is_quarantined("features", UNIT_CHANGE)
    assert catalog.quarantine.is_quarantined("features", DTYPE_BREAK)


def test_the_suite_logged_with_the_champion_validates_later_batches(trained):
    import mlflow

    from flows.validate import validate_data
    from tasks.validation import log_validation_suite

    config, result = trained
    project, catalog = _catalog(config)
    frame = catalog.load_labelled(as_of=f"2026-01-{DAYS}").frame

    # when the train flow's hook logs the suite of the champion's training frame
    path = log_validation_suite(project, frame, run_id=result["run_id"])

    # then it is an artifact of the training run, and it validates the next batches
    assert path == "validation/expectation_suite.json"
    names = {a.path for a in mlflow.MlflowClient().list_artifacts(result["run_id"], "validation")}
    assert names == {path}
    again = validate_data(config=str(config), date="2026-01-20")
    assert again["suite"]["kind"] == "champion"
    assert "champion credit-default v1" in again["suite"]["source"]
    assert again["valid"] is True


def test_release_puts_the_batch_back_and_pending_runs_leave_it(validated):
    from flows.validate import release_quarantined, validate_data

    config, _ = validated
    _, catalog = _catalog(config)

    # when a human releases the dtype-broken day after accepting it
    released = release_quarantined(config=str(config), date=DTYPE_BREAK, note="accepted", by="qa")

    # then it is back in the table, logged, announced, and not quarantined again
    assert date.fromisoformat(DTYPE_BREAK) in catalog.features.dates()
    assert not catalog.quarantine.is_quarantined("features", DTYPE_BREAK)
    assert catalog.quarantine.log()[-1]["action"] == "release"
    assert catalog.quarantine.log()[-1]["note"] == "accepted"
    assert _read_event(released["event_id"]).event == "retrainer.data.released"
    assert validate_data(config=str(config))["batches"] == []

    # and validating that date on request still finds it broken
    again = validate_data(config=str(config), date=DTYPE_BREAK)
    assert again["invalid"] == [DTYPE_BREAK]
