"""Who may decide on a gate that waits for a person, and what the decision records."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from retrainer.gates import CheckResult, GateReport, human_approval_check
from retrainer.gates.approval import (
    ApprovalError,
    decided_report,
    decision_document,
    decision_tags,
    require_awaiting,
    require_reviewer,
)

WAITING = {"retrainer.gate": "awaiting_approval", "retrainer.gate_champion": "2"}


def _logged() -> dict:
    checks = (
        CheckResult("holdout", "holdout", "passed", "fresh"),
        human_approval_check("pending", timeout_seconds=60),
    )
    document = GateReport("binary", checks, has_champion=True).to_dict()
    return {**document, "status": "awaiting_approval", "challenger_version": "3", "extra": 1}


@pytest.mark.parametrize("reviewer", ["", "   "])
def test_a_decision_needs_a_named_reviewer(reviewer):
    with pytest.raises(ApprovalError, match="--reviewer must name who decides"):
        require_reviewer(reviewer)


@pytest.mark.parametrize(
    ("tags", "state"), [({}, "not run"), ({"retrainer.gate": "passed"}, "passed")]
)
def test_only_a_version_waiting_for_approval_can_be_decided(tags, state):
    require_awaiting("credit", "3", WAITING)  # waiting: accepted
    with pytest.raises(ApprovalError) as error:
        require_awaiting("credit", "3", tags)
    assert str(error.value) == f"credit v3 is not waiting for approval (gate: {state})"


@pytest.mark.parametrize(
    ("approve", "status", "word"), [(True, "passed", "approved"), (False, "failed", "rejected")]
)
def test_the_version_tags_record_who_decided_what_and_when(approve, status, word):
    at = datetime(2026, 3, 20, 9, 30, tzinfo=UTC)
    tags = decision_tags(approve, "alice", "", at)
    assert tags == {
        "retrainer.gate": status,
        "retrainer.approval": word,
        "retrainer.approved_by": "alice",
        "retrainer.approval_comment": None,  # no comment: the tag is removed
        "retrainer.approved_at": "2026-03-20T09:30:00+00:00",
    }


def test_an_approval_passes_the_logged_gate_and_keeps_its_other_fields():
    # when alice approves the gate whose document was logged while waiting
    report, document = decided_report(_logged(), True, "alice", "looks good", 60)
    # then its human_approval check passed with her name and the gate passed
    check = report.check("human_approval")
    assert (check.verdict, check.details["reviewer"]) == ("passed", "alice")
    assert check.message == "approved by alice: looks good"
    assert document["status"] == "passed"
    assert document["failed_checks"] == []
    assert (document["challenger_version"], document["extra"]) == ("3", 1)


def test_a_rejection_fails_the_logged_gate():
    report, document = decided_report(_logged(), False, "bob", "", 60)
    assert document["status"] == "failed"
    assert document["failed_checks"] == ["human_approval"]
    assert report.check("human_approval").message == "rejected by bob"


def test_without_a_logged_gate_the_decision_alone_is_the_document():
    document = decision_document("credit", "3", WAITING, False, "bob", "too risky")
    assert document["status"] == "failed"
    assert document["summary"] == "rejected by bob: too risky"
    assert document["champion_version"] == "2"
    none = decision_document("credit", "3", {"retrainer.gate_champion": "none"}, True, "a", "")
    assert none["champion_version"] is None
