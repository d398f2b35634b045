"""S3 round trips against a real S3-compatible HTTP server (moto_server on 127.0.0.1)."""

import contextlib

import boto3
import pandas as pd
import pytest

from retrainer.data import PartitionedTable, S3Storage, StorageError, open_storage

pytestmark = pytest.mark.slow


@pytest.fixture
def bucket(s3_env):
    name = "retrainer-test"
    client = boto3.client("s3")
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket=name)
    yield name
    for obj in client.list_objects_v2(Bucket=name).get("Contents", []):
        client.delete_object(Bucket=name, Key=obj["Key"])


def test_partitioned_table_round_trip_through_s3(bucket):
    # given an S3 data source resolved through AWS_ENDPOINT_URL (the standard chain)
    storage = open_storage(f"s3://{bucket}/stream")
    assert isinstance(storage, S3Storage)
    table = PartitionedTable(storage, "features")
    frame = pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "ts": pd.to_datetime(
                ["2026-01-01 10:00", "2026-01-01 11:00", "2026-01-02 09:00"], utc=True
            ),
            "x": [1.5, 2.5, None],
            "cat": ["u", "v", None],
        }
    )

    # when written and read back
    table.write(frame, "ts")
    back = table.read().sort_values("id").reset_index(drop=True)

    # then the objects sit at the partitioned keys and the data is identical
    keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=bucket)["Contents"]]
    assert sorted(keys) == [
        "stream/features/date=2026-01-01/part-00000.parquet",
        "stream/features/date=2026-01-02/part-00000.parquet",
    ]
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)
    assert [d.isoformat() for d in table.dates()] == ["2026-01-01", "2026-01-02"]
    assert len(list(table.iter_batches(batch_size=1))) == 3


def test_move_prefix_keeps_every_object(bucket):
    storage = open_storage(f"s3://{bucket}/stream")
    storage.write_bytes("features/date=2026-01-01/part-00000.parquet", b"one")
    storage.write_bytes("features/date=2026-01-01/part-00001.parquet", b"two")

    moved = storage.move_prefix(
        "features/date=2026-01-01", "_quarantine/features/date=2026-01-01/data"
    )

    assert moved == 2
    assert storage.list_keys("features") == []
    assert (
        storage.read_bytes("_quarantine/features/date=2026-01-01/data/part-00001.parquet") == b"two"
    )


def test_missing_object_names_its_uri(bucket):
    storage = open_storage(f"s3://{bucket}/stream")
    with pytest.raises(StorageError, match=f"s3://{bucket}/stream/nope.parquet"):
        storage.read_bytes("nope.parquet")


def test_a_large_file_streams_from_s3_one_row_group_at_a_time(bucket):
    import io

    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from retrainer.data.storage import RangedObject

    # given a 800,000-row partition written as 20 row groups (~ 26 MB) on S3
    rng = np.random.default_rng(0)
    rows = 800_000
    frame = pd.DataFrame(
        {
            "id": np.arange(rows),
            "x": rng.normal(size=rows),
            "blob": rng.normal(size=rows),
            "y": rng.normal(size=rows),
        }
    )
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame), buffer, row_group_size=40_000, compression=None)
    size = buffer.getbuffer().nbytes
    storage = open_storage(f"s3://{bucket}/big")
    storage.write_bytes("features/date=2026-01-01/part-00000.parquet", buffer.getvalue())
    opened: list[RangedObject] = []
    original = storage.open

    def spy(key):
        reader = original(key)
        opened.append(reader.raw)
        return reader

    storage.open = spy  # to count the GETs the real reader makes

    # when two of its columns are streamed in chunks of 40,000 rows
    table = PartitionedTable(storage, "features")
    chunks = list(table.iter_batches(columns=["id", "x"], batch_size=40_000))

    # then every row arrives, in chunks, and the object was fetched by ranged GETs of at most
    # the reader's buffer (8 MiB), never whole: memory holds a buffer and a chunk, not the file
    assert sum(len(c) for c in chunks) == rows
    assert max(len(c) for c in chunks) == 40_000
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), frame[["id", "x"]])
    (raw,) = opened
    assert raw.largest <= RangedObject.CHUNK < size
    assert raw.gets >= size // RangedObject.CHUNK
    # and a missing column is named, with the file
    with pytest.raises(Exception, match=r"missing column\(s\) \['nope'\].*part-00000"):
        list(table.iter_batches(columns=["id", "nope"]))


def test_an_object_replaced_during_a_ranged_read_fails_naming_it(bucket):
    # given a reader opened on an object, which is then replaced
    storage = open_storage(f"s3://{bucket}/stream")
    storage.write_bytes("features/date=2026-01-01/part-00000.parquet", b"first version")
    reader = storage.open("features/date=2026-01-01/part-00000.parquet")
    storage.write_bytes("features/date=2026-01-01/part-00000.parquet", b"second version!")

    # when it reads, then it fails with an OSError naming the object (not a mix of both)
    with pytest.raises(OSError, match=r"stream/features/date=2026-01-01/part-00000.parquet"):
        reader.read()


def test_reading_the_rest_of_an_object_is_one_get(bucket):
    storage = open_storage(f"s3://{bucket}/stream")
    storage.write_bytes("blob", bytes(range(256)) * 4096)
    reader = storage.open("blob")
    reader.seek(1000)
    assert reader.read() == (bytes(range(256)) * 4096)[1000:]
    assert reader.raw.gets == 1
