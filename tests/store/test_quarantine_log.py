"""The quarantine log lives in the store; the batches and their reports stay with the data."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from retrainer.data import LocalStorage, PartitionedTable, Quarantine, QuarantineError


def _table(root) -> PartitionedTable:
    table = PartitionedTable(LocalStorage(root), "features")
    for day in ("2026-01-01", "2026-01-02"):
        frame = pd.DataFrame({"id": [day], "ts": pd.Timestamp(f"{day} 12:00", tz="UTC")})
        table.write(frame, "ts")
    return table


def test_quarantines_and_releases_are_logged_in_the_store(store, tmp_path):
    table = _table(tmp_path)
    quarantine = Quarantine(table.storage, store=store)

    # when a batch is quarantined with its report, then released by a person
    quarantine.quarantine(table, "2026-01-02", reason="null burst", report_html="<p>why</p>")
    quarantine.release(table, "2026-01-02", by="alice", note="accepted")

    # then the report sat next to the data while it was held, and both actions are logged
    log = quarantine.log()
    assert [(e["action"], e["date"]) for e in log] == [
        ("quarantine", "2026-01-02"),
        ("release", "2026-01-02"),
    ]
    assert log[0]["reason"] == "null burst"
    assert log[0]["location"].endswith("_quarantine/features/date=2026-01-02/data")
    assert (log[1]["by"], log[1]["note"]) == ("alice", "accepted")
    # and nothing is written to a log file in the data any more
    assert not (tmp_path / "_quarantine" / "log.jsonl").exists()


def test_an_old_log_file_is_imported_once_and_left_as_it_is(store, tmp_path):
    # given a log.jsonl written by an older retrainer
    table = _table(tmp_path)
    old = tmp_path / "_quarantine" / "log.jsonl"
    old.parent.mkdir(parents=True)
    lines = [
        {"action": "quarantine", "table": "features", "date": "2025-12-30", "reason": "dupes",
         "quarantined_at": "2025-12-31T08:00:00+00:00", "location": "x", "report_key": "k"},
        {"action": "release", "table": "features", "date": "2025-12-30", "by": "bob",
         "note": "ok", "released_at": "2026-01-01T09:00:00+00:00"},
    ]  # fmt: skip
    old.write_text("".join(json.dumps(line) + "\n" for line in lines))
    text = old.read_text()

    # when the quarantine is used, twice
    quarantine = Quarantine(table.storage, store=store)
    quarantine.quarantine(table, "2026-01-01", reason="broken")
    log = Quarantine(table.storage, store=store).log()

    # then the old entries come first, once, with their times; the file is unchanged
    assert [(e["action"], e["date"]) for e in log] == [
        ("quarantine", "2025-12-30"),
        ("release", "2025-12-30"),
        ("quarantine", "2026-01-01"),
    ]
    assert log[0]["at"] == "2025-12-31T08:00:00+00:00"
    assert log[0]["report_key"] == "k"
    assert old.read_text() == text


def test_without_the_store_nothing_is_moved(tmp_path):
    table = _table(tmp_path)

    with pytest.raises(QuarantineError, match="lives in the operational store"):
        Quarantine(table.storage).quarantine(table, "2026-01-02", reason="x")

    assert table.exists("2026-01-02")
