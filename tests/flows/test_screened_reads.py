"""Drift, scoring and monitoring skip batches validation blocked, exactly as training does.

One project, one stream (default start 2026-01-01, labels 7 days after the event): the champion
is trained as of 2026-01-21 and every partition is scored before validation runs. Then
validation marks the unit-change batch of 2026-01-28 invalid and leaves it in place
(``validation.quarantine: false``), quarantines the null-burst batch of 2026-01-30, which is
then delivered again at the same date (never validated since), and the day 2026-02-05 arrives
after validation ran (``validation.before_training: validate`` validates it first).
"""

from pathlib import Path

import pytest
import yaml
from support import forget_mlflow_store, read_event, write_demo_project

INVALID = "2026-01-28"  # unit change, left in place
QUARANTINED = "2026-01-30"  # null burst, quarantined, then delivered again
LATE = "2026-02-05"  # arrives after validation ran
WINDOW = "2026-01-25:2026-02-05"
BROKEN = {INVALID, QUARANTINED}

pytestmark = pytest.mark.slow


CHECKED = {"income", "loan_amount", "credit_score", "region"}
"""Columns the drift check looks at (the broken ones among them): fewer report figures."""


def _set_validation(config: Path, **rules) -> None:
    data = yaml.safe_load(config.read_text())
    data["validation"].update(rules)
    config.write_text(yaml.safe_dump(data, sort_keys=False))


def _check_only(config: Path, columns: set[str]) -> None:
    data = yaml.safe_load(config.read_text())
    features = data["columns"]["numeric"] + data["columns"]["categorical"]
    ignored = {c: {"ignore": True} for c in features if c not in columns}
    data.setdefault("drift", {})["columns"] = ignored
    config.write_text(yaml.safe_dump(data, sort_keys=False))


def _catalog(config: Path):
    from retrainer.data import DataCatalog
    from retrainer.project import Project

    return DataCatalog.for_project(Project.load(config))


@pytest.fixture(autouse=True)
def _own_mlflow_store():
    forget_mlflow_store()
    yield
    forget_mlflow_store()


@pytest.fixture(scope="module")
def validated(prefect_api, tmp_path_factory) -> Path:
    """The project after training, scoring everything, and validating as described above."""
    from retrainer.flows.score import score_batch
    from retrainer.flows.train import train
    from retrainer.flows.validate import validate_data
    from retrainer.simulate import simulate

    forget_mlflow_store()
    sim = simulate(
        "stable",
        days=36,
        seed=8,
        rows_per_day=200,
        incidents=[f"unit_change@{INVALID}", f"null_burst@{QUARANTINED}"],
    )
    config = write_demo_project(tmp_path_factory.mktemp("screened"), sim)
    _check_only(config, CHECKED)
    features = _catalog(config).features
    late = features.read(dates=[LATE])
    features.delete_partition(LATE)
    train(config=str(config), as_of="2026-01-21")
    score_batch(config=str(config))  # scored before validation saw the broken batches
    _set_validation(config, quarantine=False)
    validate_data(config=str(config), date=INVALID)
    _set_validation(config, quarantine=True, before_training="validate")
    redelivered = features.read(dates=[QUARANTINED])
    validate_data(config=str(config))
    features.write_partition(QUARANTINED, redelivered)
    features.write_partition(LATE, late)
    return config


def _drift_statistics(result: dict) -> dict:
    return {
        "rows": result["rows"],
        "columns": {c["column"]: (c["metric"], c["value"]) for c in result["columns"]},
        "daily": [(d["date"], d["rows"], d["scores"]) for d in result["daily"]],
    }


def _monitored_statistics(result: dict) -> dict:
    return {
        "rows": (result["rows"], result["labelled_rows"]),
        "checks": [(c["metric"], c["basis"], c["scope"], c["value"]) for c in result["checks"]],
        "daily": result["daily"],
    }


def test_blocked_batches_move_no_drift_statistic_no_score_and_no_monitored_metric(validated):
    from retrainer.flows.drift import check_drift
    from retrainer.flows.monitor import monitor_performance
    from retrainer.flows.score import score_batch

    catalog = _catalog(validated)
    scored_before = {
        day: catalog.predictions.read(dates=[day])["scored_at"].max() for day in sorted(BROKEN)
    }

    # when drift, scoring and monitoring run over a window holding both broken batches
    drift = check_drift(config=str(validated), current=WINDOW)
    score = score_batch(config=str(validated), start="2026-01-25", end=LATE, rescore=True)
    monitor = monitor_performance(config=str(validated), window=WINDOW)

    # then each flow names what it skipped and why, in its result and notes
    for result, verb in ((drift, "checked"), (score, "scored"), (monitor, "monitored")):
        excluded = result["partitions"]["excluded"]
        assert set(excluded) == BROKEN
        assert excluded[INVALID].startswith("invalid")
        assert "quarantined" in excluded[QUARANTINED]
        assert any(n.startswith(f"{INVALID} not {verb}: invalid") for n in result["notes"])
    # and the late day was validated before the first flow read it, then read by all three
    assert drift["partitions"]["validated"] == [LATE]
    assert LATE in {d["date"] for d in drift["daily"]}
    assert LATE in score["scored"]
    # and the drift event carries the exclusions
    event = read_event(drift["event_id"])
    assert set(event.payload["partitions"]["excluded"]) == BROKEN
    # and the broken batches were not scored again
    assert not BROKEN & set(score["scored"])
    for day, stamp in scored_before.items():
        assert catalog.predictions.read(dates=[day])["scored_at"].max() == stamp

    # when the same stream without those days is checked again
    for day in BROKEN:
        catalog.features.delete_partition(day)
        catalog.predictions.delete_partition(day)
    drift_without = check_drift(config=str(validated), current=WINDOW)
    monitor_without = monitor_performance(config=str(validated), window=WINDOW)

    # then every drift statistic and every monitored metric is the same
    assert {c["column"] for c in drift["columns"]} == {*CHECKED, "prediction_score"}
    assert _drift_statistics(drift) == _drift_statistics(drift_without)
    assert _monitored_statistics(monitor) == _monitored_statistics(monitor_without)
    assert monitor["rows"] == 10 * 200  # 12 days of the window less the two broken ones
