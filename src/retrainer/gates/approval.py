"""Human approval of a gated version: who may decide what, and what a decision records.

Only a version whose gate waits for a person (``retrainer.gate = awaiting_approval``) can be
approved or rejected, and only by a named reviewer. An approval turns the gate ``passed``, a
rejection ``failed``; the decision is recorded on the version's tags and, when the gate logged
its document, in a rebuilt report whose ``human_approval`` check is decided. No IO here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from retrainer.gates.document import report_from_document
from retrainer.gates.report import GateReport, GateStatus, gate_status
from retrainer.registry.lineage import TAG_GATE
from retrainer.registry.models import TAG_PREFIX

AWAITING_APPROVAL: GateStatus = "awaiting_approval"
TAG_GATE_RUN_ID = f"{TAG_PREFIX}gate_run_id"
TAG_GATE_CHAMPION = f"{TAG_PREFIX}gate_champion"
TAG_GATE_FLOW_RUN_ID = f"{TAG_PREFIX}gate_flow_run_id"

Decision = Literal["approved", "rejected"]


class ApprovalError(Exception):
    """The version cannot be approved (unknown, not waiting for approval ...)."""


def require_reviewer(reviewer: str) -> None:
    """Check that a reviewer is named.

    Raises:
        ApprovalError: When the name is blank.
    """
    if not reviewer.strip():
        raise ApprovalError("--reviewer must name who decides")


def require_awaiting(model_name: str, version: str, tags: Mapping[str, str]) -> None:
    """Check that the version's gate waits for a person.

    Raises:
        ApprovalError: Naming the gate's state otherwise (``not run`` without a gate tag).
    """
    status = tags.get(TAG_GATE)
    if status != AWAITING_APPROVAL:
        raise ApprovalError(
            f"{model_name} v{version} is not waiting for approval (gate: {status or 'not run'})"
        )


def decision_word(approve: bool) -> Decision:
    """``approved`` or ``rejected``."""
    return "approved" if approve else "rejected"


def decided_status(approve: bool) -> GateStatus:
    """The gate status a decision leaves: approved → passed, rejected → failed."""
    return "passed" if approve else "failed"


def decision_tags(
    approve: bool, reviewer: str, comment: str, at: datetime
) -> dict[str, str | None]:
    """The version tags recording a decision (a None value removes the tag)."""
    return {
        TAG_GATE: decided_status(approve),
        f"{TAG_PREFIX}approval": decision_word(approve),
        f"{TAG_PREFIX}approved_by": reviewer,
        f"{TAG_PREFIX}approval_comment": comment or None,
        f"{TAG_PREFIX}approved_at": at.isoformat(timespec="seconds"),
    }


def decision_document(
    model_name: str,
    version: str,
    tags: Mapping[str, str],
    approve: bool,
    reviewer: str,
    comment: str,
) -> dict[str, Any]:
    """The gate document of a decision when the gate's own document cannot be read."""
    champion = tags.get(TAG_GATE_CHAMPION)
    return {
        "status": decided_status(approve),
        "summary": f"{decision_word(approve)} by {reviewer}" + (f": {comment}" if comment else ""),
        "model": model_name,
        "challenger_version": version,
        "champion_version": None if champion in (None, "none") else champion,
        "failed_checks": [],
        "metrics": {},
    }


def decided_report(
    logged: Mapping[str, Any],
    approve: bool,
    reviewer: str,
    comment: str,
    timeout_seconds: int,
) -> tuple[GateReport, dict[str, Any]]:
    """The logged gate document with its ``human_approval`` check decided.

    Args:
        logged: The document the gate logged (``gate/gate_report.json``).
        approve: The decision.
        reviewer: Who decided.
        comment: Their comment.
        timeout_seconds: ``gates.human_approval.timeout_seconds`` (shown in the threshold).

    Returns:
        The rebuilt report and the updated document (its status from the report).
    """
    report = report_from_document(logged).with_human_approval(
        decision_word(approve), reviewer=reviewer, comment=comment, timeout_seconds=timeout_seconds
    )
    return report, {**logged, **report.to_dict(), "status": gate_status(report)}
