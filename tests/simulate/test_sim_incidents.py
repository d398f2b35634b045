"""Each incident breaks its day's feature partition as described, and nothing else."""

from datetime import date, timedelta

import pandas as pd
import pytest

from retrainer.data import PartitionedTable, open_storage
from retrainer.simulate import INCIDENT_KINDS, Schedule, make_incident, simulate, write_simulation

DAY = date(2026, 1, 4)
ROWS = 400


def _check_null_burst(batch, clean, incident):
    share = batch[incident.column].isna().mean()
    assert 0.3 < share < 0.5
    assert clean[incident.column].isna().mean() < 0.02


def _check_schema_break(batch, clean, incident):
    assert incident.column not in batch.columns
    assert incident.params["renamed_to"] in batch.columns
    pd.testing.assert_series_equal(
        batch[incident.params["renamed_to"]], clean[incident.column], check_names=False
    )


def _check_unit_change(batch, clean, incident):
    ratio = batch[incident.column] / clean[incident.column]
    assert ratio.round(6).eq(1000).all()


def _check_new_category(batch, clean, incident):
    value = incident.params["value"]
    assert value not in set(clean[incident.column])
    assert 0.25 < (batch[incident.column] == value).mean() < 0.45


def _check_dtype_break(batch, clean, incident):
    assert not pd.api.types.is_numeric_dtype(batch[incident.column])
    assert (batch[incident.column] == "n/a").any()
    parsed = pd.to_numeric(batch[incident.column], errors="coerce")
    same = parsed.notna()
    assert same.mean() > 0.9
    assert parsed[same].equals(clean[incident.column][same])


def _check_duplicate_ids(batch, clean, incident):
    assert not batch["loan_id"].is_unique
    assert set(batch["loan_id"]) == set(clean["loan_id"])
    assert 0.03 < batch["loan_id"].duplicated().mean() < 0.07
    assert batch.drop_duplicates().reset_index(drop=True).equals(clean)


def _check_empty_batch(batch, clean, incident):
    assert len(batch) == 0
    assert list(batch.columns) == list(clean.columns)


def _check_stale_dates(batch, clean, incident):
    age = (DAY - batch["event_time"].dt.date).apply(lambda d: d.days)
    assert (age >= 300).all()
    assert batch.drop(columns="event_time").equals(clean.drop(columns="event_time"))


CHECKS = {
    "null_burst": _check_null_burst,
    "schema_break": _check_schema_break,
    "unit_change": _check_unit_change,
    "new_category": _check_new_category,
    "dtype_break": _check_dtype_break,
    "duplicate_ids": _check_duplicate_ids,
    "empty_batch": _check_empty_batch,
    "stale_dates": _check_stale_dates,
}


def test_every_incident_kind_has_a_check():
    assert set(CHECKS) == set(INCIDENT_KINDS)


@pytest.mark.parametrize("kind", INCIDENT_KINDS)
def test_incident_breaks_its_day_only_and_never_the_labels(kind, tmp_path):
    # given a clean stream and the same stream with one incident on DAY
    clean = simulate("stable", days=6, rows_per_day=ROWS)
    sim = simulate("stable", days=6, rows_per_day=ROWS, incidents=[f"{kind}@{DAY}"])
    [incident] = sim.schedule.incidents

    # when the simulation is written and read back
    write_simulation(sim, tmp_path)
    table = PartitionedTable(open_storage(str(tmp_path)), "features")

    # then the day's batch (in memory and on disk) shows the described defect
    assert incident.date == DAY
    assert incident.table == "features"
    assert incident.description
    batch = sim.feature_batch(DAY)
    CHECKS[kind](batch, clean.feature_batch(DAY), incident)
    on_disk = table.read(dates=[DAY])
    assert list(on_disk.columns) == list(batch.columns)
    assert len(on_disk) == len(batch)
    # and every other day is untouched, the labels are identical, the schedule records it
    for day in sim.schedule.dates():
        if day != DAY:
            pd.testing.assert_frame_equal(sim.feature_batch(day), clean.feature_batch(day))
    pd.testing.assert_frame_equal(sim.labels, clean.labels)
    pd.testing.assert_frame_equal(sim.features, clean.features)
    assert Schedule.load(tmp_path).incident_days() == {DAY}


def test_incident_column_and_kind_specific_parameters():
    # given incidents with explicit columns and parameters
    drop = make_incident(DAY, "schema_break", "income", {"mode": "drop"})
    burst = make_incident(DAY, "null_burst", "region", {"share": 0.8})
    sim = simulate("stable", days=6, rows_per_day=ROWS, incidents=[drop, burst])

    # then the column is dropped and the categorical burst has the requested share
    batch = sim.feature_batch(DAY)
    assert "income" not in batch.columns
    assert 0.7 < batch["region"].isna().mean() < 0.9
    assert "missing" in drop.description
    assert "80%" in burst.description


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("unit_change@2026-01-03:region", "not numeric"),
        ("new_category@2026-01-03:income", "not categorical"),
        ("null_burst@2026-01-03:colour", "unknown column 'colour'"),
        ("null_burst2026-01-03", "expected KIND@YYYY-MM-DD"),
        ("null_burst@03/01/2026", "bad date '03/01/2026'"),
    ],
)
def test_bad_incident_specs_name_the_problem(spec, message):
    from retrainer.simulate import SimulationError

    with pytest.raises(SimulationError, match=message):
        simulate("stable", days=6, rows_per_day=10, incidents=[spec])


def test_scenario_incidents_land_on_their_day():
    # given the demo scenario's schedule (unit change on day 80)
    sim = simulate("demo", rows_per_day=50)
    [incident] = sim.schedule.incidents

    # then the batch of that day is the broken one
    assert incident.date == date(2026, 1, 1) + timedelta(days=80)
    assert incident.kind == "unit_change"
    assert incident.column == "loan_amount"
    assert sim.feature_batch(incident.date)["loan_amount"].min() >= 1_000_000


# -- incidents on small days (24 rows) -----------------------------------------------------


def _small_null_burst(batch, clean, incident, schedule):
    assert batch[incident.column].isna().any()
    assert not clean[incident.column].isna().any()


def _small_new_category(batch, clean, incident, schedule):
    value = incident.params["value"]
    assert value not in schedule.valid_categories(incident.column)
    assert (batch[incident.column] == value).any()


def _small_dtype_break(batch, clean, incident, schedule):
    assert not pd.api.types.is_numeric_dtype(batch[incident.column])
    assert (batch[incident.column] == incident.params["token"]).any()


def _small_duplicate_ids(batch, clean, incident, schedule):
    assert len(batch) == len(clean) + 1  # 5% of 24 rows, at least one
    assert batch["loan_id"].duplicated().sum() == 1
    assert batch.drop_duplicates().reset_index(drop=True).equals(clean)


def _small_stale_dates(batch, clean, incident, schedule):
    age = (incident.date - batch["event_time"].dt.date).apply(lambda d: d.days)
    assert (age >= 300).all()


def _as_small(check):
    """A check of the 400-row batches that holds for any batch size."""
    return lambda batch, clean, incident, schedule: check(batch, clean, incident)


SMALL_CHECKS = {
    "null_burst": _small_null_burst,
    "schema_break": _as_small(_check_schema_break),
    "unit_change": _as_small(_check_unit_change),
    "new_category": _small_new_category,
    "dtype_break": _small_dtype_break,
    "duplicate_ids": _small_duplicate_ids,
    "empty_batch": _as_small(_check_empty_batch),
    "stale_dates": _small_stale_dates,
}
SMALL_DAYS = [date(2026, 1, 3) + timedelta(days=7 * i) for i in range(8)]


def test_every_incident_kind_has_a_small_day_check():
    assert set(SMALL_CHECKS) == set(INCIDENT_KINDS)


@pytest.mark.parametrize("kind", INCIDENT_KINDS)
def test_incidents_break_24_row_days_too(kind):
    # given the small-days stream (24 rows a day) with one incident of a kind on 8 days
    clean = simulate("small_days", days=60)
    sim = simulate("small_days", days=60, incidents=[f"{kind}@{day}" for day in SMALL_DAYS])
    assert sim.schedule.rows_per_day == 24

    # then every one of those batches shows the defect, however few rows the share gives
    for incident in sim.schedule.incidents:
        batch, original = sim.feature_batch(incident.date), clean.feature_batch(incident.date)
        SMALL_CHECKS[kind](batch, original, incident, sim.schedule)
    # and the clean rows, the labels and the valid outliers are untouched
    pd.testing.assert_frame_equal(sim.features, clean.features)
    pd.testing.assert_frame_equal(sim.labels, clean.labels)
    assert sim.schedule.outliers == clean.schedule.outliers
    assert sim.schedule.incident_days() == set(SMALL_DAYS)
