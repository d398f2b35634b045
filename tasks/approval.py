"""Human approval of a gated version: resume the paused gate run, or record the decision."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from retrainer.project import Project
from retrainer.registry.lineage import TAG_GATE
from retrainer.registry.models import CHAMPION, TAG_PREFIX, RegistryError
from tasks.gating import registry_for


class ApprovalError(Exception):
    """The version cannot be approved (unknown, not waiting for approval ...)."""


def _paused_run(flow_run_id: str) -> Any | None:
    """The paused gate run, if the shared Prefect API knows it and it is still paused."""
    from prefect import get_client

    from flows.gate import prefect_api_is_shared

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
    wait) the decision is recorded on the version here, and an approved first version
    becomes champion, as the gate would have done.

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
    promoted = False
    if approve:
        cfg = project.config
        first_version = registry.version_by_alias(CHAMPION) is None
        if first_version or (cfg.promotion.auto_promote and not cfg.promotion.stages):
            registry.promote(version, reason=f"approved by {reviewer}", actor=reviewer)
            promoted = True
    verb = "approved" if approve else "rejected"
    message = f"{verb} v{version} (recorded on the version)"
    if promoted:
        message += f"; promoted to champion: models:/{project.model_name}@champion"
    return {"version": version, "decision": verb, "promoted": promoted, "message": message}
