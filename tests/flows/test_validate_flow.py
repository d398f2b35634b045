"""The validation flow on a simulated stream: quarantine, MLflow, events, release, training."""

import json
import os
from datetime import date
from pathlib import Path
from uuid import UUID

import pandas as pd
import pytest
import yaml
from support import read_event

REPO_ROOT = Path(__file__).resolve().parents[2]
UNIT_CHANGE = "2026-01-12"
DTYPE_BREAK = "2026-01-15"
WARNING_ONLY = "2026-01-17"  # an extra column: the column-set check only warns
REORDERED = "2026-01-18"  # the same columns in reverse order
DAYS = 24

pytestmark = [pytest.mark.slow, pytest.mark.long]


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
    _, catalog = _catalog(path)
    extra = catalog.features.read(dates=[WARNING_ONLY]).assign(campaign="spring")
    catalog.features.write_partition(WARNING_ONLY, extra)
    frame = catalog.features.read(dates=[REORDERED])
    catalog.features.write_partition(REORDERED, frame[list(reversed(frame.columns))])
    return path


def _catalog(config: Path):
    from retrainer.data import DataCatalog
    from retrainer.project import Project

    project = Project.load(config)
    return project, DataCatalog.for_project(project)


@pytest.fixture(autouse=True)
def _own_mlflow_store(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


@pytest.fixture(scope="module")
def validated(prefect_api, tmp_path_factory):
    """The project after one pending-mode validation run, and that run's result."""
    from retrainer.flows.validate import validate_data

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
    failed = {b["batch"]: b["failed"] for b in result["batches"] if b["verdict"] == "invalid"}
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


def test_one_mlflow_run_records_every_batch_as_a_step_and_the_flagged_ones_in_full(validated):
    import mlflow

    from retrainer.registry.tracking import configure_mlflow

    config, result = validated
    project, _ = _catalog(config)
    configure_mlflow(project)
    client = mlflow.MlflowClient()
    bad = next(b for b in result["batches"] if b["batch"] == UNIT_CHANGE)
    good = next(b for b in result["batches"] if b["batch"] == "2026-01-20")

    # then all batches of the command share one run ...
    assert {b["mlflow_run_id"] for b in result["batches"]} == {bad["mlflow_run_id"]}
    run = client.get_run(bad["mlflow_run_id"])
    assert run.data.tags["retrainer.kind"] == "validation"
    assert run.data.tags["retrainer.batch"] == f"2026-01-01..2026-01-{DAYS}"
    assert run.data.tags["retrainer.batches"] == str(DAYS)
    assert run.data.tags["retrainer.verdict"] == "invalid"
    assert run.data.tags["retrainer.invalid_batches"] == "2"
    assert run.data.tags["retrainer.suite_hash"] == result["suite"]["hash"]
    # ... with one metrics step per batch (timestamped at the partition date)
    errors = {m.step: m.value for m in client.get_metric_history(run.info.run_id, "errors")}
    assert len(errors) == DAYS
    assert errors[bad["mlflow_step"]] >= 1
    assert errors[good["mlflow_step"]] == 0
    ratio = client.get_metric_history(run.info.run_id, "success_ratio")
    assert {m.step: m.value for m in ratio}[good["mlflow_step"]] == 1.0
    rows = client.get_metric_history(run.info.run_id, "rows")
    assert {m.value for m in rows} == {300.0}
    # and batches with findings keep their GX result, findings and HTML report
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "validation")}
    assert f"validation/{UNIT_CHANGE}" in artifacts
    assert "validation/2026-01-20" not in artifacts
    assert "validation/batches.json" in artifacts
    flagged = {a.path for a in client.list_artifacts(run.info.run_id, f"validation/{UNIT_CHANGE}")}
    assert flagged == {
        f"validation/{UNIT_CHANGE}/gx_result.json",
        f"validation/{UNIT_CHANGE}/findings.json",
        f"validation/{UNIT_CHANGE}/report.html",
    }
    local = mlflow.artifacts.download_artifacts(
        run_id=run.info.run_id, artifact_path=f"validation/{UNIT_CHANGE}/gx_result.json"
    )
    gx_result = json.loads(Path(local).read_text())
    assert gx_result["success"] is False
    assert gx_result["statistics"]["unsuccessful_expectations"] >= 1


def test_events_carry_the_failed_expectations(validated):
    _, result = validated
    bad = next(b for b in result["batches"] if b["batch"] == UNIT_CHANGE)
    good = next(b for b in result["batches"] if b["batch"] == "2026-01-20")

    invalid = read_event(bad["event_id"])
    valid = read_event(good["event_id"])

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
    from retrainer.flows.validate import validate_data

    config, _ = validated

    again = validate_data(config=str(config))

    assert again["batches"] == []
    assert again["already_validated"] == DAYS - 2
    assert again["valid"] is True


def test_a_warning_only_batch_is_reported_but_kept_and_announced_as_validated(validated):
    config, result = validated
    _, catalog = _catalog(config)
    batch = next(b for b in result["batches"] if b["batch"] == WARNING_ONLY)

    # then the extra column is reported as a warning ...
    assert batch["verdict"] == "warning"
    assert [(f["column"], f["severity"]) for f in batch["failed"]] == [("campaign", "warning")]
    # ... the batch stays in the table, usable, and the event says it was validated
    assert batch["quarantine"] is None
    assert date.fromisoformat(WARNING_ONLY) in catalog.features.dates()
    assert not catalog.quarantine.is_quarantined("features", WARNING_ONLY)
    assert WARNING_ONLY not in result["invalid"]
    event = read_event(batch["event_id"])
    assert event.event == "retrainer.data.validated"
    assert event.payload["verdict"] == "warning"


def test_a_batch_with_reordered_columns_passes(validated):
    config, result = validated
    _, catalog = _catalog(config)
    batch = next(b for b in result["batches"] if b["batch"] == REORDERED)

    # (the partition really holds its columns in another order)
    names = catalog.features.schema(REORDERED).names
    assert names[0] != "loan_id"
    assert sorted(names) == sorted(catalog.features.schema("2026-01-20").names)
    # then the order-insensitive schema checks pass
    assert batch["verdict"] == "valid", batch["failed"]
    assert batch["expectations"]["failed"] == 0


def test_the_run_publishes_a_markdown_artifact_of_failed_expectations(validated):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    _, result = validated

    # when reading the artifacts of the validation flow run back from the Prefect API
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[UUID(result["flow_run_id"])])
            )
        )

    # then there is one markdown table, listing the failures with observed vs expected
    [artifact] = artifacts
    assert artifact.type == "markdown"
    assert artifact.key == "validation-credit-default"
    assert "2 invalid" in artifact.description
    table = artifact.data
    assert "| batch | severity | column | expectation | observed | expected |" in table
    rows = [line for line in table.splitlines() if line.startswith(f"| {UNIT_CHANGE} | error")]
    # the unit change breaks the range and, named as such, the scale check
    assert len(rows) == 2
    assert "| loan_amount | expect_column_values_to_be_between |" in rows[0]
    assert "| loan_amount | retrainer_column_scale_matches_reference |" in rows[1]
    assert f"| {DTYPE_BREAK} | error | credit_score |" in table
    assert f"| {WARNING_ONLY} | warning | campaign |" in table


@pytest.fixture(scope="module")
def trained(validated):
    """The validated project after training on everything known at the end of the stream."""
    from retrainer.flows.train import train

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
    # and the run's lineage says which partitions it left out, and why
    assert sorted(result["excluded_partitions"]) == [UNIT_CHANGE, DTYPE_BREAK]
    assert result["excluded_partitions"][UNIT_CHANGE].startswith("quarantined (validated ")
    tags = mlflow.MlflowClient().get_run(result["run_id"]).data.tags
    assert tags["retrainer.excluded_partitions"] == f"{UNIT_CHANGE},{DTYPE_BREAK}"


def test_the_suite_logged_with_the_champion_validates_later_batches(trained):
    import mlflow

    from retrainer.flows.validate import validate_data
    from retrainer.validation import ValidationSuite

    config, result = trained

    # then the train flow itself logged the suite with the training run (nothing logs it here)
    assert result["validation_suite"] == "validation/expectation_suite.json"
    names = {a.path for a in mlflow.MlflowClient().list_artifacts(result["run_id"], "validation")}
    assert names == {"validation/expectation_suite.json", "validation/excluded_partitions.json"}
    local = mlflow.artifacts.download_artifacts(
        run_id=result["run_id"], artifact_path="validation/expectation_suite.json"
    )
    logged = ValidationSuite.load(local)
    assert logged.source["kind"] == "training"
    assert logged.source["rows"] == int(
        mlflow.MlflowClient().get_run(result["run_id"]).data.params["train_rows"]
    )

    # and, the version being champion, that very suite validates the next batches
    assert result["promoted"] is True
    again = validate_data(config=str(config), date="2026-01-20")
    assert again["suite"]["kind"] == "champion"
    assert again["suite"]["hash"] == logged.hash
    assert "champion credit-default v1" in again["suite"]["source"]
    assert again["valid"] is True


def test_release_puts_the_batch_back_and_pending_runs_leave_it(validated):
    from retrainer.flows.validate import release_quarantined, validate_data

    config, _ = validated
    _, catalog = _catalog(config)

    # when a human releases the dtype-broken day after accepting it
    released = release_quarantined(config=str(config), date=DTYPE_BREAK, note="accepted", by="qa")

    # then it is back in the table, logged, announced, and not quarantined again
    assert date.fromisoformat(DTYPE_BREAK) in catalog.features.dates()
    assert not catalog.quarantine.is_quarantined("features", DTYPE_BREAK)
    assert catalog.quarantine.log()[-1]["action"] == "release"
    assert catalog.quarantine.log()[-1]["note"] == "accepted"
    assert read_event(released["event_id"]).event == "retrainer.data.released"
    assert validate_data(config=str(config))["batches"] == []

    # and validating that date on request still finds it broken
    again = validate_data(config=str(config), date=DTYPE_BREAK)
    assert again["invalid"] == [DTYPE_BREAK]


def test_a_partition_arriving_after_a_newer_one_was_accepted_is_rejected(validated):
    from retrainer.flows.validate import validate_data

    config, _ = validated
    _, catalog = _catalog(config)
    # given a clean batch for a day older than every accepted one, delivered only now
    late_day = date(2025, 12, 31)
    batch = catalog.features.read(dates=["2026-01-20"])
    batch = batch.assign(
        loan_id="late-" + batch["loan_id"].astype(str),
        event_time=batch["event_time"] - pd.Timedelta(days=20),
    )
    catalog.features.write_partition(late_day, batch)

    # when the pending partitions are validated
    result = validate_data(config=str(config))

    # then it is out of order: every event is older than the newest accepted partition
    [checked] = result["batches"]
    assert checked["batch"] == late_day.isoformat()
    assert result["invalid"] == [late_day.isoformat()]
    [finding] = [f for f in checked["failed"] if f["kind"] == "monotonic_dates"]
    assert finding["severity"] == "error"
    assert finding["message"].startswith(
        "event_time: expect_column_values_to_be_between failed: 300 of 300 event times (100%) "
        "are older than the newest partition accepted before this one arrived"
    )
    assert catalog.quarantine.is_quarantined("features", late_day)


# -- the train flow never trains on a bad batch (validation.quarantine: false) --------------
ARRIVALS = 20
VALIDATED_UNTIL = "2026-01-12"
INVALID_IN_PLACE = "2026-01-08"  # unit change, validated and marked invalid, left in place
NEVER_VALIDATED = "2026-01-14"  # null burst, arrives after the last validation run
ROWS = 300


@pytest.fixture(scope="module")
def screened(prefect_api, tmp_path_factory):
    """One project, trained under each ``validation.before_training`` option.

    The partitions up to 2026-01-12 were validated (the unit-change day is marked invalid
    and, with the quarantine off, stays in place); those after were never validated, the
    null-burst day among them. ``skip`` and ``allow`` leave the ledger as it is, so they run
    first; ``validate`` validates the pending days.
    """
    from retrainer.flows.train import train
    from retrainer.flows.validate import validate_data
    from retrainer.simulate import simulate, write_simulation

    root = tmp_path_factory.mktemp("screened")
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    data = yaml.safe_load((REPO_ROOT / "retrainer.yaml").read_text())
    data["data"]["source"] = "data"
    data["estimator"] = {
        "class_path": "sklearn.linear_model.LogisticRegression",
        "params": {"max_iter": 1000},
    }
    configs = {}
    for option in ("skip", "allow", "validate"):
        data["validation"] = {
            "reference": {"days": 5},
            "quarantine": False,
            "before_training": option,
        }
        configs[option] = root / f"{option}.yaml"
        configs[option].write_text(yaml.safe_dump(data, sort_keys=False))
    sim = simulate(
        "stable",
        days=ARRIVALS,
        seed=9,
        rows_per_day=ROWS,
        label_delay_days=2,
        incidents=[f"unit_change@{INVALID_IN_PLACE}", f"null_burst@{NEVER_VALIDATED}"],
    )
    write_simulation(sim, root / "data")
    checked = validate_data(
        config=str(configs["validate"]), start="2026-01-01", end=VALIDATED_UNTIL
    )
    assert checked["invalid"] == [INVALID_IN_PLACE]
    assert checked["quarantined"] == []
    as_of = f"2026-01-{ARRIVALS}"
    results = {
        option: train(config=str(configs[option]), as_of=as_of, reason=option, gate=False)
        for option in ("skip", "allow", "validate")
    }
    return configs, results


def _labelled_rows(config: Path, days: list[str]) -> int:
    """Feature rows of ``days`` whose label arrived by the end of the stream."""
    _, catalog = _catalog(config)
    labels = catalog.labels.read()
    known = set(labels.loc[labels["label_time"].dt.date <= date(2026, 1, ARRIVALS), "loan_id"])
    return int(catalog.features.read(dates=days)["loan_id"].isin(known).sum())


def _trained_rows(result: dict) -> int:
    import mlflow

    params = mlflow.MlflowClient().get_run(result["run_id"]).data.params
    return int(params["train_rows"]) + int(params["holdout_rows"])


def _days(first: str, last: str, *, leaving_out: tuple[str, ...] = ()) -> list[str]:
    span = pd.date_range(first, last, freq="D").date
    return [d.isoformat() for d in span if d.isoformat() not in leaving_out]


def test_skip_trains_only_on_validated_accepted_partitions(screened):
    configs, results = screened
    result = results["skip"]
    accepted = _days("2026-01-01", VALIDATED_UNTIL, leaving_out=(INVALID_IN_PLACE,))

    # then exactly the labelled rows of the accepted partitions were trained on (train +
    # holdout): not the invalid one left in place, not the never-validated ones
    assert _trained_rows(result) == _labelled_rows(configs["skip"], accepted)
    excluded = result["excluded_partitions"]
    assert sorted(excluded) == [INVALID_IN_PLACE, *_days("2026-01-13", f"2026-01-{ARRIVALS}")]
    assert excluded[INVALID_IN_PLACE].startswith("invalid (validated ")
    assert "loan_amount: expect_column_values_to_be_between failed" in excluded[INVALID_IN_PLACE]
    assert excluded[NEVER_VALIDATED] == "not validated (validation.before_training: skip)"


def test_allow_reads_never_validated_partitions_but_still_not_invalid_ones(screened):
    configs, results = screened
    result = results["allow"]
    read = _days("2026-01-01", f"2026-01-{ARRIVALS}", leaving_out=(INVALID_IN_PLACE,))

    assert _trained_rows(result) == _labelled_rows(configs["allow"], read)
    assert list(result["excluded_partitions"]) == [INVALID_IN_PLACE]


def test_validate_checks_pending_partitions_first_and_leaves_out_the_broken_one(screened):
    import mlflow

    from retrainer.validation.store import ledger_for

    configs, results = screened
    result = results["validate"]
    project, catalog = _catalog(configs["validate"])
    read = _days(
        "2026-01-01", f"2026-01-{ARRIVALS}", leaving_out=(INVALID_IN_PLACE, NEVER_VALIDATED)
    )

    # then the null-burst day was validated by the train flow, found invalid, left in place
    # (quarantine off) and not trained on, like the invalid day validated before
    assert _trained_rows(result) == _labelled_rows(configs["validate"], read)
    ledger = ledger_for(project, catalog)
    assert ledger.status(NEVER_VALIDATED) == "invalid"
    assert ledger.pending(catalog.features.dates()) == []
    assert catalog.features.exists(NEVER_VALIDATED)
    excluded = result["excluded_partitions"]
    assert sorted(excluded) == [INVALID_IN_PLACE, NEVER_VALIDATED]
    assert "income: expect_column_values_to_not_be_null failed" in excluded[NEVER_VALIDATED]
    # and the lineage of the training run names them, with the reasons as an artifact
    run = mlflow.MlflowClient().get_run(result["run_id"])
    assert run.data.tags["retrainer.excluded_partitions"] == f"{INVALID_IN_PLACE},{NEVER_VALIDATED}"
    local = mlflow.artifacts.download_artifacts(
        run_id=result["run_id"], artifact_path="validation/excluded_partitions.json"
    )
    assert json.loads(Path(local).read_text()) == excluded


def test_releasing_an_invalid_batch_left_in_place_lets_training_read_it(screened):
    from retrainer.flows.train import train
    from retrainer.flows.validate import release_quarantined

    configs, _ = screened
    config = configs["skip"]

    # when a human accepts the unit-change day where it lies
    released = release_quarantined(config=str(config), date=INVALID_IN_PLACE, note="ok", by="qa")
    result = train(config=str(config), as_of=f"2026-01-{ARRIVALS}", reason="after", gate=False)

    # then the next training reads it (everything is validated by now)
    assert released["in_place"] == [INVALID_IN_PLACE]
    assert released["batches"] == [INVALID_IN_PLACE]
    assert _trained_rows(result) == _labelled_rows(
        config, _days("2026-01-01", f"2026-01-{ARRIVALS}", leaving_out=(NEVER_VALIDATED,))
    )
    assert list(result["excluded_partitions"]) == [NEVER_VALIDATED]
