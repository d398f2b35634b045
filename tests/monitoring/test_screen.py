"""The validation screen of the score, drift and monitor flows: what they read and skip."""

from datetime import date

import pytest

from retrainer.monitoring.screen import screen_span


def d(day: int) -> date:
    return date(2026, 3, day)


LEDGER = {
    d(1): {"status": "valid", "at": "2026-03-02T00:00:00"},
    d(2): {"status": "invalid", "at": "2026-03-03T00:00:00", "errors": 2},
    d(3): {"status": "quarantined", "at": "2026-03-04T00:00:00", "reason": "unit change"},
    d(4): {"status": "released", "at": "2026-03-05T00:00:00"},
    d(5): {"status": "quarantined", "at": "2026-03-06T00:00:00", "reason": "null burst"},
}


@pytest.mark.parametrize("policy", ["validate", "skip", "allow"])
def test_invalid_and_quarantined_partitions_are_never_read_whatever_the_policy(policy):
    # given days 1..4 in the table (day 3 is a new delivery at a quarantined date, day 5
    # was moved to the quarantine) and day 6, never validated
    present = [d(1), d(2), d(3), d(4), d(6)]

    screen = screen_span(present, LEDGER, policy, start=d(1), end=d(7))

    # then the invalid day, the redelivered and the moved quarantined day are left out,
    # each with its reason; day 6 follows the policy; day 7 has no partition at all
    assert set(screen.excluded) >= {d(2), d(3), d(5)}
    assert "invalid" in screen.excluded[d(2)]
    assert "was not validated since" in screen.excluded[d(3)]
    assert screen.excluded[d(5)].startswith("quarantined (validated 2026-03-06: null burst;")
    if policy == "allow":
        assert screen.read == [d(1), d(4), d(6)]
        assert screen.unvalidated_read == [d(6)]
    else:
        assert screen.read == [d(1), d(4)]
        assert "not validated" in screen.excluded[d(6)]
    assert screen.missing == [d(7)]


def test_the_notes_and_the_document_name_each_partition_left_out():
    screen = screen_span([d(1), d(2), d(6)], LEDGER, "allow", start=d(1), end=d(6))

    notes = screen.notes("checked")
    document = screen.to_dict()

    assert notes[0].startswith("2026-03-02 not checked: invalid")
    assert any(n.startswith("2026-03-05 not checked: quarantined") for n in notes)
    assert any(
        "never validated were checked (validation.before_training: allow)" in n for n in notes
    )
    assert document["before_training"] == "allow"
    assert set(document["excluded"]) == {"2026-03-02", "2026-03-03", "2026-03-05"}
    assert document["unvalidated_read"] == ["2026-03-06"]


def test_a_batch_in_the_quarantine_without_a_ledger_entry_is_named_too():
    # given day 2 moved to the quarantine by hand (no ledger entry) and the table without it
    screen = screen_span([d(1)], {}, "allow", start=d(1), end=d(2), quarantined=[d(2)])

    assert screen.read == [d(1)]
    assert "quarantined" in screen.excluded[d(2)]
    assert screen.missing == []


def test_blocked_dates_outside_the_span_are_not_listed():
    screen = screen_span([d(1)], LEDGER, "skip", start=d(1), end=d(1))

    assert screen.excluded == {}
    assert screen.read == [d(1)]


def test_with_validation_disabled_the_note_says_so():
    screen = screen_span([d(6)], {}, "allow", validation_enabled=False)

    assert screen.read == [d(6)]
    assert "(validation.enabled: false)" in screen.notes("scored")[0]
