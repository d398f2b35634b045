"""The ledger of validated partitions."""

from datetime import date

import pytest

from retrainer.validation import ValidationLedger, screen_partitions


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


def test_a_partition_that_arrives_after_a_newer_one_was_accepted_is_compared_with_it(tmp_path):
    ledger = ValidationLedger(tmp_path / "ledger.json", "/data", "features")
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


def test_a_backlog_seen_before_newer_partitions_were_accepted_is_not_out_of_order(tmp_path):
    ledger = ValidationLedger(tmp_path / "ledger.json", "/data", "features")
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


def test_the_first_verdict_time_is_kept_across_re_validations(tmp_path):
    ledger = ValidationLedger(tmp_path / "ledger.json", "/data", "features")

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
    tmp_path, before_training
):
    ledger = ValidationLedger(tmp_path / "ledger.json", "/data", "features")
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


def test_a_quarantined_date_that_holds_data_again_is_not_read_until_validated(tmp_path):
    ledger = ValidationLedger(tmp_path / "ledger.json", "/data", "features")
    ledger.record("2026-01-02", "quarantined")

    screen = screen_partitions([date(2026, 1, 2)], ledger.entries(), "allow")

    assert screen.read == []
    assert "retrainer validate --date 2026-01-02" in screen.excluded[date(2026, 1, 2)]
