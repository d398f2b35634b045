"""Human approval of a gated version: resume the paused gate run, or record the decision.

IO only: who may decide what, and what a decision records, is :mod:`retrainer.gates.approval`;
when an approved version is promoted is :func:`retrainer.promotion.rules.should_promote`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from retrainer import events
from retrainer.gates.approval import (
    TAG_GATE_CHAMPION,
    TAG_GATE_FLOW_RUN_ID,
    ApprovalError,
    decision_tags,
    decision_word,
    require_awaiting,
    require_reviewer,
)
from retrainer.gates.document import gate_event_payload, promotion_evidence
from retrainer.project import Project
from retrainer.promotion import PromotionConflict, record_approval
from retrainer.promotion.rules import should_promote
from retrainer.registry.champion import load_champion, registry_for
from retrainer.registry.models import RegistryError
from retrainer.tasks.events import prefect_api_is_shared
from retrainer.tasks.gating import record_human_decision
from retrainer.tasks.promotion import promote_and_announce


def _paused_run(flow_run_id: str) -> Any | None:
    """The paused gate run, if the shared Prefect API knows it and it is still paused."""
    from prefect import get_client

    from retrainer.tasks.events import prefect_api_is_shared

    if not prefect_api_is_shared():
        return None
    with get_client(sync_client=True) as client:
        try:
            run = client.read_flow_run(UUID(flow_run_id))
        except Exception:
            return None
    return run if run.state is not None and run.state.is_paused() else None


def approve_version(
    project: Project, version: str, reviewer: str, approve: bool, comment: str = ""
) -> dict[str, Any]:
    """Approve or reject a version whose gate waits for a human.

    With a paused gate run on a shared Prefect API, the run is resumed with the decision and
    records everything itself. Otherwise (the gate ran on a local ephemeral API and could not
    wait) the decision is recorded here as the gate would have done: on the version, on the
    gate's MLflow run and report, as a ``retrainer.gate.passed|failed`` event, and an approved
    version is promoted as the gate would have promoted it.

    Raises:
        ApprovalError: When the version does not exist or is not waiting for approval.
    """
    from prefect.flow_runs import resume_flow_run

    require_reviewer(reviewer)
    registry = registry_for(project)
    try:
        model_version = registry.get_version(version)
    except RegistryError as exc:
        raise ApprovalError(str(exc)) from None
    tags = dict(model_version.tags or {})
    require_awaiting(project.model_name, version, tags)
    verb = decision_word(approve)
    run_id = tags.get(TAG_GATE_FLOW_RUN_ID)
    if run_id and _paused_run(run_id) is not None:
        resume_flow_run(
            UUID(run_id), run_input={"approve": approve, "reviewer": reviewer, "comment": comment}
        )
        return {
            "version": version,
            "decision": verb,
            "resumed_flow_run": run_id,
            "message": f"{verb} v{version}: resumed gate run {run_id}",
        }
    registry.set_tags(version, decision_tags(approve, reviewer, comment, datetime.now(UTC)))
    # the gate run and its report leave "awaiting_approval"; the verdict event follows
    gate = record_human_decision(project, version, tags, approve, reviewer, comment)
    gate_event_id = _emit_gate_decision(project, gate, reviewer, comment)
    record_approval(
        project,
        version,
        by=reviewer,
        approved=approve,
        reason=comment,
        evidence=promotion_evidence(gate),
    )
    promoted = False
    event_id = None
    conflict = None
    expected = _judged_champion(project, tags)
    if approve and should_promote(expected is None, None, project.config.promotion):
        try:
            _, event_id = promote_and_announce(
                project,
                version,
                expected_champion=expected,
                by=reviewer,
                reason=f"approved by {reviewer}" + (f": {comment}" if comment else ""),
                evidence={**promotion_evidence(gate), "approved_by": reviewer},
                emit_event=prefect_api_is_shared(),
            )
            promoted = True
        except PromotionConflict as exc:
            conflict = str(exc)
    message = f"{verb} v{version} (recorded on the version)"
    if promoted:
        message += f"; promoted to champion: models:/{project.model_name}@champion"
    if conflict:
        message += f"; not promoted: {conflict}; run the gate again against the new champion"
    return {
        "version": version,
        "decision": verb,
        "promoted": promoted,
        "promoted_event_id": event_id,
        "promotion_conflict": conflict,
        "gate_status": gate["status"],
        "gate_event_id": gate_event_id,
        "message": message,
    }


def _judged_champion(project: Project, tags: dict[str, str]) -> str | None:
    """The champion the gate judged the version against (None: it judged a first version).

    A version gated before the gate recorded it is judged against today's champion.
    """
    judged = tags.get(TAG_GATE_CHAMPION)
    if judged is None:
        champion = load_champion(project, model=False)
        return champion.version if champion else None
    return None if judged == "none" else judged


def _emit_gate_decision(
    project: Project, gate: dict[str, Any], reviewer: str, comment: str
) -> str | None:
    """``retrainer.gate.passed`` / ``retrainer.gate.failed`` after a reviewer's decision.

    The payload is the gate flow's, plus the reviewer. Like ``retrainer.model.promoted`` from
    here, only through a shared Prefect API.
    """
    from retrainer.tasks.events import emit, prefect_api_is_shared

    if not prefect_api_is_shared():
        return None
    passed = gate["status"] == "passed"
    payload = {
        **gate_event_payload(gate),
        "human_approval": {
            "decision": decision_word(passed),
            "reviewer": reviewer,
            "comment": comment,
        },
    }
    event = events.GATE_PASSED if passed else events.GATE_FAILED
    return emit(event, project.model_name, payload, version=str(gate["challenger_version"]))
