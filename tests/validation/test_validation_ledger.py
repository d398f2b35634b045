"""The ledger of validated partitions."""

from datetime import date

from retrainer.validation import ValidationLedger


def test_pending_dates_and_the_last_accepted_partition(tmp_path):
    ledger = ValidationLedger(tmp_path / "ledger.json", "s3://bucket/data", "features")
    days = [date(2026, 1, d) for d in range(1, 6)]

    # given days 1..3 validated: 1 valid, 2 quarantined, 3 with warnings
    ledger.record(days[0], "valid", rows=10)
    ledger.record(days[1], "quarantined", rows=10)
    ledger.record(days[2], "warning", rows=10)

    # then 4 and 5 are pending, and the last usable partition before 3 is 1 (2 is quarantined)
    assert ledger.pending(days) == days[3:]
    assert ledger.last_accepted_before(days[2]) == days[0]
    assert ledger.last_accepted_before(days[4]) == days[2]
    assert ledger.last_accepted_before(days[0]) is None

    # when a human releases day 2 it counts as accepted
    ledger.record(days[1], "released", by="alice")
    assert ledger.status(days[1]) == "released"
    assert ledger.last_accepted_before(days[2]) == days[1]


def test_entries_are_kept_per_data_source(tmp_path):
    path = tmp_path / "ledger.json"
    ValidationLedger(path, "/data/a", "features").record("2026-01-01", "valid")

    other = ValidationLedger(path, "/data/b", "features")

    assert other.pending([date(2026, 1, 1)]) == [date(2026, 1, 1)]
    assert ValidationLedger(path, "/data/a", "features").status("2026-01-01") == "valid"
