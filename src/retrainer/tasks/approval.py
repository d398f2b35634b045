"""Human approval of a gated version: resume the paused gate run, or record the decision."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from retrainer import events
from retrainer.project import Project
from retrainer.registry.lineage import TAG_GATE
from retrainer.registry.models import CHAMPION, TAG_PREFIX, RegistryError
from retrainer.tasks.gating import record_human_decision, registry_for


class ApprovalError(Exception):
    """The version cannot be approved (unknown, not waiting for approval ...)."""


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
    first version becomes champion.

    Raises:
        ApprovalError: When the version does not exist or is not waiting for approval.
    """
    from prefect.flow_runs import resume_flow_run

    if not reviewer.strip():
        raise ApprovalError("--reviewer must name who decides")
    registry = registry_for(project)
    try:
        model_version = registry.get_version(version)
    except RegistryError as exc:
        raise ApprovalError(str(exc)) from None
    tags = dict(model_version.tags or {})
    status = tags.get(TAG_GATE)
    if status != "awaiting_approval":
        state = status or "not run"
        raise ApprovalError(
            f"{project.model_name} v{version} is not waiting for approval (gate: {state})"
        )
    decision = {"approve": approve, "reviewer": reviewer, "comment": comment}
    run_id = tags.get(f"{TAG_PREFIX}gate_flow_run_id")
    if run_id and _paused_run(run_id) is not None:
        resume_flow_run(UUID(run_id), run_input=decision)
        verb = "approved" if approve else "rejected"
        return {
            "version": version,
            "decision": verb,
            "resumed_flow_run": run_id,
            "message": f"{verb} v{version}: resumed gate run {run_id}",
        }
    now = datetime.now(UTC).isoformat(timespec="seconds")
    registry.set_tags(
        version,
        {
            TAG_GATE: "passed" if approve else "failed",
            f"{TAG_PREFIX}approval": "approved" if approve else "rejected",
            f"{TAG_PREFIX}approved_by": reviewer,
            f"{TAG_PREFIX}approval_comment": comment or None,
            f"{TAG_PREFIX}approved_at": now,
        },
    )
    # the gate run and its report leave "awaiting_approval"; the verdict event follows
    gate = record_human_decision(project, version, tags, approve, reviewer, comment)
    gate_event_id = _emit_gate_decision(project, version, gate, reviewer, comment)
    promoted = False
    event_id = None
    if approve:
        cfg = project.config
        first_version = registry.version_by_alias(CHAMPION) is None
        if first_version or (cfg.promotion.auto_promote and not cfg.promotion.stages):
            previous = registry.promote(version, reason=f"approved by {reviewer}", actor=reviewer)
            promoted = True
            event_id = _emit_promoted(project, version, previous, reviewer)
    verb = "approved" if approve else "rejected"
    message = f"{verb} v{version} (recorded on the version)"
    if promoted:
        message += f"; promoted to champion: models:/{project.model_name}@champion"
    return {
        "version": version,
        "decision": verb,
        "promoted": promoted,
        "promoted_event_id": event_id,
        "gate_status": gate["status"],
        "gate_event_id": gate_event_id,
        "message": message,
    }


def _emit_gate_decision(
    project: Project, version: str, gate: dict[str, Any], reviewer: str, comment: str
) -> str | None:
    """``retrainer.gate.passed`` / ``retrainer.gate.failed`` after a reviewer's decision.

    The payload is the gate flow's, plus the reviewer. Like ``_emit_promoted``, only through
    a shared Prefect API.
    """
    from retrainer.tasks.events import emit, prefect_api_is_shared

    if not prefect_api_is_shared():
        return None
    event = events.GATE_PASSED if gate["status"] == "passed" else events.GATE_FAILED
    checks = {c.get("name"): c for c in gate.get("checks", [])}
    return emit(
        event,
        project.model_name,
        {
            "version": version,
            "champion_version": gate.get("champion_version"),
            "summary": gate.get("summary"),
            "failed_checks": [checks.get(name, {"name": name}) for name in gate["failed_checks"]],
            "metrics": gate.get("metrics"),
            "holdout": gate.get("holdout"),
            "human_approval": {
                "decision": "approved" if gate["status"] == "passed" else "rejected",
                "reviewer": reviewer,
                "comment": comment,
            },
        },
        version=version,
    )


def _emit_promoted(
    project: Project, version: str, previous: str | None, reviewer: str
) -> str | None:
    """``retrainer.model.promoted``, as the gate emits it when it promotes.

    Only through a shared Prefect API: automations live there, and emitting to the ephemeral
    API of a local run would start a server that nobody listens to.
    """
    from retrainer.tasks.events import emit, prefect_api_is_shared

    if not prefect_api_is_shared():
        return None
    return emit(
        events.MODEL_PROMOTED,
        project.model_name,
        {
            "version": version,
            "previous_version": previous,
            "reason": f"approved by {reviewer}",
            "by": reviewer,
        },
        version=version,
    )
