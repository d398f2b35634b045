"""``import_data``: raw CSV/Parquet rows into the daily features and labels tables."""

from __future__ import annotations

import contextlib
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from retrainer.data import PartitionedTable, open_storage
from retrainer.data.importer import ImportDataError, ImportOptions, import_data
from retrainer.data.sources import list_inputs, open_reader

START = datetime(2026, 1, 1, 8, 0)


def _write_csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def _events(count: int, days: int, shuffle: bool = False) -> list[str]:
    """``id,event_time,x,label`` rows spread evenly over ``days`` days."""
    stamps = [START + timedelta(days=i * days // count, minutes=i % 600) for i in range(count)]
    rows = [f"e{i:04d},{stamp.isoformat()},{i},{i % 2}" for i, stamp in enumerate(stamps)]
    if shuffle:
        random.Random(0).shuffle(rows)
    return rows


def _table(root: Path, name: str) -> PartitionedTable:
    return PartitionedTable(open_storage(str(root)), name)


def _schemas(table: PartitionedTable) -> list[pa.Schema]:
    return [
        pq.read_schema(table.storage.local_path(key))
        for day in table.dates()
        for key in table.files(day)
    ]


def test_a_column_with_ints_first_and_floats_or_empties_later_has_one_type_in_every_partition(
    tmp_path,
):
    # given a CSV whose 'amount' is int in the first rows, empty in the middle, float at the
    # end, and whose 'code' is empty in the first rows and int later
    rows = []
    for i in range(300):
        amount = str(i) if i < 100 else ("" if i < 200 else f"{i}.5")
        code = "" if i < 150 else str(i)
        stamp = (START + timedelta(days=i // 30)).isoformat()
        rows.append(f"{stamp},{amount},{code},{i % 2}")
    source = _write_csv(tmp_path / "data.csv", "event_time,amount,code,label", rows)
    assert open_reader(list_inputs(source), block_size=512).batch_count > 5  # many chunks

    # when it is imported in small chunks
    options = ImportOptions(timestamp="event_time", target="label", block_size=512)
    summary = import_data(source, tmp_path / "out", options)

    # then every partition stores the same types
    schemas = _schemas(_table(tmp_path / "out", "features"))
    assert len(schemas) == 10
    assert {s.field("amount").type for s in schemas} == {pa.float64()}
    assert {s.field("code").type for s in schemas} == {pa.int64()}
    assert {s.field("event_time").type for s in schemas} == {pa.timestamp("us", tz="UTC")}
    assert summary["columns"]["amount"] == "double"
    back = _table(tmp_path / "out", "features").read()
    assert back["amount"].isna().sum() == 100
    assert back.loc[back["code"].notna(), "code"].min() == 150


def test_unsorted_input_with_a_small_buffer_keeps_every_row_in_its_date(tmp_path):
    # given 1000 rows over 10 days in random order
    source = _write_csv(tmp_path / "data.csv", "id,event_time,x,label", _events(1000, 10, True))

    # when imported in chunks of ~1 KB with a buffer of 50 rows
    options = ImportOptions(
        timestamp="event_time", target="label", id="id", block_size=1024, buffer_rows=50
    )
    summary = import_data(source, tmp_path / "out", options)

    # then each date holds exactly its rows (in several part files), and labels match
    features = _table(tmp_path / "out", "features")
    frame = features.read(partition_column="day")
    assert len(frame) == 1000
    assert (frame["event_time"].dt.date == frame["day"]).all()
    assert frame["id"].is_unique
    assert summary["tables"]["features"]["files"] > summary["tables"]["features"]["partitions"]
    assert [len(features.files(d)) > 1 for d in features.dates()].count(True) >= 5
    labels = _table(tmp_path / "out", "labels").read()
    assert sorted(labels["id"]) == sorted(frame["id"])


def test_input_sorted_by_time_gives_one_file_per_date(tmp_path):
    source = _write_csv(tmp_path / "data.csv", "id,event_time,x,label", _events(1000, 10))

    options = ImportOptions(timestamp="event_time", target="label", id="id", block_size=1024)
    summary = import_data(source, tmp_path / "out", options)

    features = summary["tables"]["features"]
    assert features["partitions"] == features["files"] == 10
    assert (features["first_date"], features["last_date"]) == ("2026-01-01", "2026-01-10")


def test_labels_arrive_after_the_delay_in_their_arrival_partition(tmp_path):
    # given events on two days
    source = _write_csv(tmp_path / "data.csv", "id,event_time,x,label", _events(20, 2))

    # when imported with a 3-day label delay
    options = ImportOptions(timestamp="event_time", target="label", id="id", label_delay_days=3)
    summary = import_data(source, tmp_path / "out", options)

    # then labels sit in the partitions 3 days later, with id, label_time and the target only
    labels = _table(tmp_path / "out", "labels")
    assert [d.isoformat() for d in labels.dates()] == ["2026-01-04", "2026-01-05"]
    frame = labels.read()
    assert list(frame.columns) == ["id", "label_time", "label"]
    features = _table(tmp_path / "out", "features").read()
    joined = features.merge(frame, on="id")
    assert (joined["label_time"] - joined["event_time"] == pd.Timedelta(days=3)).all()
    assert "label" not in features.columns
    assert summary["label_time"] == {"source": "delay", "delay_days": 3, "default": False}


def test_a_label_time_column_partitions_the_labels_and_leaves_the_features(tmp_path):
    # given a label-time column in another zone, one of them unreadable
    rows = [
        "a,2026-01-01T10:00:00Z,1,0,2026-01-05T23:30:00-02:00",
        "b,2026-01-01T11:00:00Z,2,1,2026-01-03T09:00:00+00:00",
        "c,2026-01-02T11:00:00Z,3,1,not yet",
    ]
    source = _write_csv(tmp_path / "data.csv", "id,event_time,x,label,arrived", rows)

    # when imported with --label-time
    options = ImportOptions(timestamp="event_time", target="label", id="id", label_time="arrived")
    summary = import_data(source, tmp_path / "out", options)

    # then each label lands on its arrival date (UTC), the unreadable one is counted
    labels = _table(tmp_path / "out", "labels")
    assert [d.isoformat() for d in labels.dates()] == ["2026-01-03", "2026-01-06"]
    assert sorted(labels.read()["id"]) == ["a", "b"]
    assert "arrived" not in _table(tmp_path / "out", "features").read().columns
    assert summary["rows_written"] == 3
    assert summary["label_time"]["unreadable"] == 1
    assert summary["label_time"]["examples"] == ["not yet"]


def test_without_an_id_row_ids_follow_the_row_order_across_files(tmp_path):
    # given a folder of two CSV files (read in name order)
    folder = tmp_path / "in"
    folder.mkdir()
    _write_csv(folder / "b.csv", "event_time,x,label", ["2026-01-02T10:00:00,3,1"])
    _write_csv(
        folder / "a.csv",
        "event_time,x,label",
        ["2026-01-01T10:00:00,1,0", "2026-01-02T09:00:00,2,1"],
    )

    # when imported without --id
    summary = import_data(folder, tmp_path / "out", ImportOptions("event_time", "label"))

    # then row_id numbers the rows in file order, and joins the labels
    features = _table(tmp_path / "out", "features").read().sort_values("row_id")
    assert features["row_id"].tolist() == ["r000000000", "r000000001", "r000000002"]
    assert features["x"].tolist() == [1, 2, 3]
    assert features.columns[0] == "row_id"
    labels = _table(tmp_path / "out", "labels").read()
    assert sorted(labels["row_id"]) == features["row_id"].tolist()
    assert summary["id"] == {"column": "row_id", "generated": True}
    assert summary["input"] == f"{folder} (2 files)"


def test_naive_timestamps_are_read_in_the_given_time_zone(tmp_path):
    # given naive local times in New York, one late in the evening
    rows = ["2026-03-01 23:30:00,1,0", "2026-03-01 08:00:00,2,1"]
    source = _write_csv(tmp_path / "data.csv", "when,x,label", rows)

    # when imported with --timezone America/New_York
    options = ImportOptions(timestamp="when", target="label", timezone="America/New_York")
    summary = import_data(source, tmp_path / "out", options)

    # then they are stored as UTC: the late one falls on the next UTC day
    features = _table(tmp_path / "out", "features")
    assert [d.isoformat() for d in features.dates()] == ["2026-03-01", "2026-03-02"]
    stamps = features.read().sort_values("x")["when"].tolist()
    assert stamps[0] == pd.Timestamp("2026-03-02 04:30", tz="UTC")
    assert "naive times in America/New_York" in summary["timestamp"]["read_as"]


def test_rows_without_a_readable_timestamp_are_skipped_and_counted(tmp_path):
    rows = ["2026/01/01,1,0", ",2,1", "someday,3,1", "2026/01/02,4,0"]
    source = _write_csv(tmp_path / "data.csv", "date,x,label", rows)

    summary = import_data(source, tmp_path / "out", ImportOptions("date", "label"))

    assert summary["rows_read"] == 4
    assert summary["rows_written"] == 2
    assert summary["skipped_rows"] == 2
    assert summary["timestamp"] | {"read_as": None} == {
        "column": "date",
        "read_as": None,
        "missing": 1,
        "unreadable": 1,
        "examples": ["someday"],
    }
    assert summary["tables"]["labels"]["rows"] == 2


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (
            ImportOptions("event_time", "label"),
            "--timestamp event_time: no such column in {csv} (columns: id, when, x, label)",
        ),
        (ImportOptions("when", "y"), "--target y: no such column in {csv}"),
        (ImportOptions("x", "label"), "--timestamp x: cannot read '1' as a date/time in {csv}"),
        (ImportOptions("when", "label", id="when"), "--id when: the same column as --timestamp"),
        (ImportOptions("when", "label", timezone="Mars/Base"), "--timezone Mars/Base: unknown"),
        (
            ImportOptions("when", "label", label_delay_days=1, label_time="when"),
            "--label-time when: the same column as --timestamp",
        ),
    ],
    ids=["no-timestamp", "no-target", "numbers-as-time", "two-roles", "timezone", "label-time"],
)
def test_bad_options_name_the_option_column_and_file(tmp_path, options, expected):
    source = _write_csv(tmp_path / "data.csv", "id,when,x,label", ["a,2026-01-01,1,0"])

    with pytest.raises(ImportDataError) as caught:
        import_data(source, tmp_path / "out", options)

    assert expected.format(csv=source) in str(caught.value)
    assert not (tmp_path / "out" / "features").exists()


def test_an_existing_row_id_column_is_refused_without_id(tmp_path):
    source = _write_csv(tmp_path / "data.csv", "row_id,when,label", ["7,2026-01-01,0"])

    with pytest.raises(ImportDataError, match=r"already has a column 'row_id'.*--id row_id"):
        import_data(source, tmp_path / "out", ImportOptions("when", "label"))


def test_existing_partitions_are_refused_unless_forced(tmp_path):
    # given data imported once
    source = _write_csv(tmp_path / "data.csv", "id,event_time,x,label", _events(20, 2))
    options = ImportOptions(timestamp="event_time", target="label", id="id")
    import_data(source, tmp_path / "out", options)

    # when imported again: refused, naming the table; with force: replaced
    with pytest.raises(ImportDataError, match=r"features already holds 2 partitions .*--force"):
        import_data(source, tmp_path / "out", options)
    smaller = _write_csv(tmp_path / "small.csv", "id,event_time,x,label", _events(5, 1))
    forced = ImportOptions(timestamp="event_time", target="label", id="id", force=True)
    summary = import_data(smaller, tmp_path / "out", forced)

    # then only the new rows are there
    assert summary["replaced"] is True
    assert len(_table(tmp_path / "out", "features").read()) == 5
    assert len(_table(tmp_path / "out", "labels").dates()) == 1


def test_parquet_files_of_a_folder_are_unified(tmp_path):
    # given two Parquet files: ints in one, floats and a categorical in the other, plus an index
    folder = tmp_path / "in"
    folder.mkdir()
    first = pd.DataFrame(
        {
            "ts": pd.to_datetime(["2026-01-01 10:00", "2026-01-02 10:00"], utc=True),
            "x": [1, 2],
            "kind": pd.Categorical(["a", "b"]),
            "y": [0, 1],
        },
        index=[10, 11],
    )
    second = first.assign(x=[1.5, 2.5], ts=first["ts"] + pd.Timedelta(days=2))
    first.to_parquet(folder / "part-1.parquet")
    second.to_parquet(folder / "part-2.parquet")

    # when the folder is imported in batches of one row
    summary = import_data(folder, tmp_path / "out", ImportOptions("ts", "y", batch_rows=1))

    # then every partition has the same schema: x float, kind text, no pandas index column
    schemas = _schemas(_table(tmp_path / "out", "features"))
    assert len(schemas) == 4
    assert len({s.remove_metadata() for s in schemas}) == 1
    assert schemas[0].names == ["row_id", "ts", "x", "kind"]
    assert schemas[0].field("x").type == pa.float64()
    assert schemas[0].field("kind").type == pa.string()
    assert summary["format"] == "parquet"


@pytest.fixture
def bucket(s3_env):
    name = "retrainer-import"
    client = boto3.client("s3")
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket=name)
    yield name
    for obj in client.list_objects_v2(Bucket=name).get("Contents", []):
        client.delete_object(Bucket=name, Key=obj["Key"])


@pytest.mark.slow
def test_a_csv_on_s3_is_imported_into_tables_on_s3(bucket):
    # given a CSV object on S3 (AWS_ENDPOINT_URL points at the loopback moto server)
    body = "\n".join(["id,event_time,x,label", *_events(60, 3)]) + "\n"
    boto3.client("s3").put_object(Bucket=bucket, Key="raw/data.csv", Body=body.encode())

    # when it is imported with the tables on S3 too, in small chunks
    options = ImportOptions(timestamp="event_time", target="label", id="id", block_size=256)
    summary = import_data(f"s3://{bucket}/raw/data.csv", f"s3://{bucket}/stream", options)

    # then the partitions sit at the layout's keys
    keys = {o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=bucket)["Contents"]}
    assert "stream/features/date=2026-01-01/part-00000.parquet" in keys
    assert "stream/labels/date=2026-01-03/part-00000.parquet" in keys
    assert summary["input"] == f"s3://{bucket}/raw/data.csv"
    assert summary["out"] == f"s3://{bucket}/stream"
    features = PartitionedTable(open_storage(f"s3://{bucket}/stream"), "features").read()
    assert len(features) == 60
    assert str(features["event_time"].dtype) == "datetime64[us, UTC]"


def test_the_same_moment_in_two_offsets_lands_in_one_utc_day(tmp_path):
    moment = datetime(2026, 1, 1, 23, 30, tzinfo=UTC)
    rows = [f"a,{moment.isoformat()},1,0", "b,2026-01-02T01:30:00+02:00,2,1"]
    source = _write_csv(tmp_path / "data.csv", "id,event_time,x,label", rows)

    import_data(source, tmp_path / "out", ImportOptions("event_time", "label", id="id"))

    features = _table(tmp_path / "out", "features")
    assert [d.isoformat() for d in features.dates()] == ["2026-01-01"]
