"""The ledger of validated partitions (kept in the operational store, SQLite here)."""

import json
from datetime import date

import pytest

from retrainer.store import Store
from retrainer.validation import ValidationLedger, screen_partitions
from retrainer.validation.ledger import import_file_ledger


@pytest.fixture
def store(tmp_path) -> Store:
    return Store.from_url(f"sqlite:///{tmp_path}/retrainer.db")


def test_pending_dates_and_the_last_accepted_partition(store):
    ledger = ValidationLedger(store, "s3://bucket/data", "features")
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


def test_entries_are_kept_per_data_source(store):
    ValidationLedger(store, "/data/a", "features").record("2026-01-01", "valid")

    other = ValidationLedger(store, "/data/b", "features")

    assert other.pending([date(2026, 1, 1)]) == [date(2026, 1, 1)]
    assert ValidationLedger(store, "/data/a", "features").status("2026-01-01") == "valid"


def test_a_partition_that_arrives_after_a_newer_one_was_accepted_is_compared_with_it(store):
    ledger = ValidationLedger(store, "/data", "features")
    days = [date(2026, 1, d) for d in range(1, 8)]

    # given days 1..5 in the table, seen and accepted by a validation run
    ledger.observe(days[:5])
    for day in days[:5]:
        ledger.record(day, "valid")
    # when day 7 arrives and is accepted, and day 6 shows up only afterwards
    ledger.observe([days[6]])
    ledger.record(days[6], "valid")
    ledger.observe([days[5]])

    # then day 6 must not be older than day 7, the newest partition accepted before it came
    assert ledger.monotonic_reference(days[5]) == days[6]
    # while day 7 (and a re-validated old day) are compared with the one before them
    assert ledger.monotonic_reference(days[6]) == days[4]
    assert ledger.monotonic_reference(days[2]) == days[1]


def test_a_backlog_seen_before_newer_partitions_were_accepted_is_not_out_of_order(store):
    ledger = ValidationLedger(store, "/data", "features")
    days = [date(2026, 1, d) for d in range(1, 13)]

    # given twelve partitions in the table, and a user who validated days 9 and 10 first
    ledger.observe(days)
    ledger.record(days[8], "valid")
    ledger.record(days[9], "released")

    # then the older ones, there all along, only compare with accepted partitions before them
    assert ledger.monotonic_reference(days[0]) is None
    assert ledger.monotonic_reference(days[10]) == days[9]
    # and a partition no validation run has seen counts as arriving now
    assert ledger.monotonic_reference(date(2025, 12, 31)) == days[9]


def test_the_first_verdict_time_is_kept_across_re_validations(store):
    ledger = ValidationLedger(store, "/data", "features")

    ledger.record("2026-01-01", "invalid", reason="broken")
    first = ledger.entries()[date(2026, 1, 1)]["first_at"]
    ledger.record("2026-01-01", "released", by="qa")

    entry = ledger.entries()[date(2026, 1, 1)]
    assert entry["first_at"] == first
    assert entry["status"] == "released"
    assert ledger.observe(["2026-01-01"]) == [date(2026, 1, 1)]
    assert ledger.observe(["2026-01-01"]) == []


@pytest.mark.parametrize("before_training", ["validate", "skip", "allow"])
def test_invalid_partitions_are_never_read_and_pending_ones_follow_the_option(
    store, before_training
):
    ledger = ValidationLedger(store, "/data", "features")
    days = [date(2026, 1, d) for d in range(1, 6)]
    # given day 1 valid, day 2 invalid left in place, day 3 released, days 4-5 never validated
    ledger.record(days[0], "valid")
    ledger.record(days[1], "invalid", reason="loan_amount: expect_column_values_to_be_between")
    ledger.record(days[2], "released")

    screen = screen_partitions(days, ledger.entries(), before_training)

    # then the invalid day is excluded with its reason, whatever the option ...
    assert "loan_amount" in screen.excluded[days[1]]
    assert screen.excluded[days[1]].startswith("invalid (validated ")
    assert screen.pending == days[3:]
    # ... and the never-validated ones are read only under `allow`
    if before_training == "allow":
        assert screen.read == [days[0], days[2], days[3], days[4]]
        assert set(screen.excluded) == {days[1]}
    else:
        assert screen.read == [days[0], days[2]]
        assert screen.excluded[days[3]] == (
            f"not validated (validation.before_training: {before_training})"
        )


def test_a_quarantined_date_that_holds_data_again_is_not_read_until_validated(store):
    ledger = ValidationLedger(store, "/data", "features")
    ledger.record("2026-01-02", "quarantined")

    screen = screen_partitions([date(2026, 1, 2)], ledger.entries(), "allow")

    assert screen.read == []
    assert "retrainer validate --date 2026-01-02" in screen.excluded[date(2026, 1, 2)]


def test_many_partitions_are_recorded_in_one_call_with_their_details(store):
    ledger = ValidationLedger(store, "/data", "features")
    days = [date(2026, 2, d) for d in range(1, 29)]

    # when a chunk of 28 verdicts is recorded at once, with details of every kind
    ledger.record_many(
        {d: {"status": "valid", "rows": 400, "suite": "abc", "extra": {"k": 1}} for d in days}
    )

    # then each comes back with its details, unknown keys included
    entries = ledger.entries()
    assert list(entries) == days
    assert entries[days[0]]["rows"] == 400
    assert entries[days[0]]["suite"] == "abc"
    assert entries[days[0]]["extra"] == {"k": 1}


def test_an_old_ledger_file_is_imported_once_and_left_as_it_is(store, tmp_path):
    # given a ledger.json written by an older retrainer
    path = tmp_path / "ledger.json"
    old = {
        "format": 1,
        "sources": {
            "/data": {
                "features": {
                    "2026-01-01": {
                        "status": "quarantined",
                        "at": "2026-01-02T08:00:00.000001+00:00",
                        "first_at": "2026-01-02T08:00:00.000001+00:00",
                        "reason": "null burst",
                        "rows": 24,
                    },
                    "2026-01-02": {"status": "valid", "at": "2026-01-03T08:00:00+00:00"},
                }
            }
        },
        "seen": {"/data": {"features": {"2026-01-01": "2026-01-01T23:00:00+00:00"}}},
    }
    path.write_text(json.dumps(old))
    text = path.read_text()

    # when it is imported
    imported = import_file_ledger(store, path)

    # then its entries and first sightings are in the store, times and details kept
    ledger = ValidationLedger(store, "/data", "features")
    assert imported == 2
    entry = ledger.entries()[date(2026, 1, 1)]
    assert entry["status"] == "quarantined"
    assert entry["reason"] == "null burst"
    assert entry["rows"] == 24
    assert entry["at"] == "2026-01-02T08:00:00.000001+00:00"
    assert ledger.status("2026-01-02") == "valid"
    assert ledger.seen() == {date(2026, 1, 1): "2026-01-01T23:00:00.000000+00:00"}
    # and a later verdict is not overwritten by importing the file again: it is read once
    ledger.record("2026-01-01", "released", by="qa")
    assert import_file_ledger(store, path) == 0
    assert ledger.status("2026-01-01") == "released"
    assert path.read_text() == text
