"""Writing through retrainer.data: partitions, label delay, the schedule, overwriting."""

import json
from datetime import date, timedelta

import pandas as pd
import pytest

from retrainer.data import DataCatalog, LocalStorage, PartitionedTable, open_storage
from retrainer.simulate import (
    SCHEDULE_KEY,
    Schedule,
    SimulationError,
    build_schedule,
    simulate,
    write_simulation,
)


def _tables(root):
    storage = open_storage(str(root))
    return PartitionedTable(storage, "features"), PartitionedTable(storage, "labels")


def test_tables_round_trip_through_partitioned_table(tmp_path):
    # given a small simulation with a drift (day 30) and an incident (day 45)
    sim = simulate("showcase", days=50, rows_per_day=40)
    assert sim.schedule.drifts
    assert sim.broken_batches

    # when it is written to a local folder
    summary = write_simulation(sim, tmp_path)

    # then each day is one partition that reads back exactly, labels included
    features, labels = _tables(tmp_path)
    assert features.dates() == sim.schedule.dates()
    assert (tmp_path / "features" / "date=2026-01-01" / "part-00000.parquet").is_file()
    clean_days = [d for d in sim.schedule.dates() if d not in sim.broken_batches]
    back = features.read(dates=clean_days)
    expected = pd.concat([sim.feature_batch(d) for d in clean_days], ignore_index=True)
    pd.testing.assert_frame_equal(back, expected)
    pd.testing.assert_frame_equal(labels.read(), sim.arrived_labels())
    assert summary["tables"]["features"]["rows"] == 50 * 40
    assert summary["tables"]["labels"]["rows"] == len(sim.arrived_labels())


def test_labels_land_label_delay_days_after_the_features_and_never_after_the_end(tmp_path):
    # given a 20-day simulation with a 5-day label delay
    sim = simulate("stable", days=20, rows_per_day=30, label_delay_days=5)

    # when it is written
    summary = write_simulation(sim, tmp_path)

    # then each label partition holds the labels of the rows from 5 days earlier
    features, labels = _tables(tmp_path)
    label_days = labels.dates()
    assert label_days == [date(2026, 1, 6) + timedelta(days=i) for i in range(15)]
    for day in label_days:
        ids = set(labels.read(dates=[day])["loan_id"])
        assert ids == set(features.read(dates=[day - timedelta(days=5)])["loan_id"])
    # and labels that would arrive after the last day are kept in memory but not written
    assert max(label_days) <= sim.schedule.end
    assert len(sim.labels) == 20 * 30
    assert summary["tables"]["labels"]["rows"] == 15 * 30
    assert summary["tables"]["labels"]["not_yet_arrived"] == 5 * 30


def test_label_jitter_delays_some_labels_further_but_never_past_the_end(tmp_path):
    # given a label delay of 3 days plus up to 2 days of jitter
    sim = simulate("stable", days=15, rows_per_day=200, label_delay_days=3, label_jitter_days=2)

    # when written
    write_simulation(sim, tmp_path)

    # then every label arrives 3..5 days after its event, all three delays occur
    features, labels = _tables(tmp_path)
    written = labels.read(partition_column="arrival")
    joined = written.merge(features.read(columns=["loan_id", "event_time"]), on="loan_id")
    delay = (joined["arrival"] - joined["event_time"].dt.date).apply(lambda d: d.days)
    assert set(delay) == {3, 4, 5}
    assert (joined["label_time"].dt.date == joined["arrival"]).all()
    assert max(labels.dates()) <= sim.schedule.end


def test_the_catalog_joins_only_labels_known_as_of_a_date(tmp_path):
    # given the demo's first 40 days written where a project would read them
    sim = simulate("demo", days=40, rows_per_day=25)
    write_simulation(sim, tmp_path)
    from retrainer.config.core import ColumnsSection, DataSection

    catalog = DataCatalog(
        LocalStorage(tmp_path),
        DataSection(source=str(tmp_path)),
        ColumnsSection(
            id="loan_id",
            timestamp="event_time",
            target="defaulted",
            label_timestamp="label_time",
            numeric=["income", "credit_score"],
            categorical=["region"],
        ),
    )

    # when a labelled window is read as of day 20
    window = catalog.load_labelled(as_of="2026-01-20")

    # then rows of days 1..13 have labels (7-day delay), the last 7 days do not yet
    assert window.frame["event_time"].dt.date.max() == date(2026, 1, 13)
    assert window.unlabelled_rows == 7 * 25


def test_schedule_round_trips_through_json(tmp_path):
    # given the showcase schedule (segments, periods, targets, concepts) plus an incident
    schedule = build_schedule("showcase", incidents=["empty_batch@2026-02-01"])

    # when saved under a data root and loaded back (from the root, the file, a storage)
    location = schedule.save(tmp_path)
    document = json.loads((tmp_path / SCHEDULE_KEY).read_text())

    # then the schedule is the same object and the JSON holds the documented fields
    assert location == str(tmp_path / SCHEDULE_KEY)
    assert Schedule.load(tmp_path) == schedule
    assert Schedule.load(tmp_path / SCHEDULE_KEY) == schedule
    assert Schedule.load(LocalStorage(tmp_path)) == schedule
    assert Schedule.from_dict(json.loads(schedule.to_json())) == schedule
    assert {"scenario", "seed", "start", "days", "rows_per_day", "label_delay"} <= set(document)
    drift = document["drifts"][0]
    assert {"id", "kind", "pattern", "start", "end", "columns", "segment", "magnitude"} <= set(
        drift
    )
    assert {"date", "kind", "column", "table", "description"} <= set(document["incidents"][0])


def test_rewriting_replaces_a_previous_simulation_without_stale_partitions(tmp_path):
    # given a 30-day simulation on disk
    write_simulation(simulate("stable", days=30, rows_per_day=5), tmp_path)

    # when a 10-day one is written over it
    write_simulation(simulate("stable", days=10, rows_per_day=5), tmp_path)

    # then only the 10 days remain and the schedule says 10 days
    features, labels = _tables(tmp_path)
    assert len(features.dates()) == 10
    assert max(labels.dates()) <= date(2026, 1, 10)
    assert Schedule.load(tmp_path).days == 10


def test_refuses_to_replace_data_that_was_not_simulated_or_when_told_not_to(tmp_path):
    # given a folder with a features table that no simulation wrote
    real = tmp_path / "real"
    PartitionedTable(LocalStorage(real), "features").write_partition(
        "2026-01-01", pd.DataFrame({"loan_id": ["x"]})
    )
    sim = simulate("stable", days=3, rows_per_day=5)

    # then writing there fails and leaves it alone
    with pytest.raises(SimulationError, match="not simulated"):
        write_simulation(sim, real)
    assert (real / "features" / "date=2026-01-01" / "part-00000.parquet").is_file()

    # and with overwrite off an existing simulation is kept
    write_simulation(sim, tmp_path / "sim")
    with pytest.raises(SimulationError, match="overwrite is off"):
        write_simulation(sim, tmp_path / "sim", overwrite=False)


@pytest.mark.slow
def test_writes_to_s3(s3_env):
    # given a bucket on the moto server
    import boto3

    boto3.client("s3").create_bucket(Bucket="retrainer-sim")
    sim = simulate("demo", days=12, rows_per_day=20)

    # when the simulation is written to an s3:// prefix
    summary = write_simulation(sim, "s3://retrainer-sim/stream")

    # then the tables and the schedule read back through the data layer
    storage = open_storage("s3://retrainer-sim/stream")
    assert summary["out"] == "s3://retrainer-sim/stream"
    assert PartitionedTable(storage, "features").dates() == sim.schedule.dates()
    assert len(PartitionedTable(storage, "labels").read()) == 5 * 20
    assert Schedule.load("s3://retrainer-sim/stream") == sim.schedule
