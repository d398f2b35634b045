from datetime import date

import pandas as pd
import pytest

from retrainer.data import DataReadError, LocalStorage, PartitionedTable


def _rows(day: str, n: int, start_id: int = 0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [f"r{start_id + i}" for i in range(n)],
            "ts": pd.date_range(f"{day} 01:00", periods=n, freq="h", tz="UTC"),
            "x": [float(i) for i in range(n)],
            "c": ["a", "b"] * (n // 2) + ["a"] * (n % 2),
        }
    )


def test_write_splits_rows_into_daily_partitions_and_reads_a_window(tmp_path):
    # given rows over three days
    table = PartitionedTable(LocalStorage(tmp_path), "features")
    frame = pd.concat(
        [_rows("2026-01-01", 4), _rows("2026-01-02", 3, 10), _rows("2026-01-03", 2, 20)]
    )

    # when written by timestamp
    written = table.write(frame, "ts")

    # then one partition per UTC day, laid out as <table>/date=YYYY-MM-DD
    assert written == [date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 3)]
    assert (tmp_path / "features" / "date=2026-01-02" / "part-00000.parquet").is_file()
    assert table.dates() == written
    window = table.read_window("2026-01-02", "2026-01-03")
    assert sorted(window.frame["id"]) == sorted([*(f"r{i}" for i in range(10, 13)), "r20", "r21"])
    assert window.dates == [date(2026, 1, 2), date(2026, 1, 3)]
    assert len(window.files) == 2


def test_fingerprint_changes_when_a_partition_changes(tmp_path):
    # given a table and the fingerprint of a read
    table = PartitionedTable(LocalStorage(tmp_path), "features")
    table.write(_rows("2026-01-01", 4), "ts")
    before = table.read_window().fingerprint

    # when the same data is read again, then the fingerprint is stable
    assert table.read_window().fingerprint == before

    # when the partition content changes, then so does the fingerprint
    table.write_partition("2026-01-01", _rows("2026-01-01", 5))
    assert table.read_window().fingerprint != before


def test_read_of_a_missing_column_names_the_column_and_file(tmp_path):
    table = PartitionedTable(LocalStorage(tmp_path), "features")
    table.write(_rows("2026-01-01", 2), "ts")

    with pytest.raises(DataReadError, match=r"missing column\(s\) \['nope'\].*date=2026-01-01"):
        table.read(columns=["id", "nope"])


def test_streaming_batches_cover_the_window_with_bounded_batch_size(tmp_path):
    table = PartitionedTable(LocalStorage(tmp_path), "features")
    table.write(pd.concat([_rows("2026-01-01", 10), _rows("2026-01-02", 7, 100)]), "ts")

    batches = list(table.iter_batches(columns=["id", "x"], batch_size=4))

    assert max(len(b) for b in batches) <= 4
    assert sum(len(b) for b in batches) == 17
    assert list(batches[0].columns) == ["id", "x"]


def test_empty_window_returns_empty_frame_with_requested_columns(tmp_path):
    table = PartitionedTable(LocalStorage(tmp_path), "features")

    frame = table.read(columns=["id", "x"])

    assert frame.empty
    assert list(frame.columns) == ["id", "x"]
