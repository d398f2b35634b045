"""Gate flow: may the challenger replace the champion?

Entrypoint for deployments: ``flows/gate.py:evaluate_gates``. Fail-closed: every check is
logged with observed value, threshold and verdict; a missing metric fails.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.input import RunInput
from prefect.runtime import flow_run

from retrainer import events
from retrainer.registry.models import TAG_PREFIX
from retrainer.tasks.events import emit, prefect_api_is_shared
from retrainer.tasks.gating import (
    collect_evidence,
    gate_status,
    judge,
    load_holdout,
    record_gate,
    registry_for,
    resolve_models,
)
from retrainer.tasks.project import configure_tracking, load_project

APPROVAL_KEY_PREFIX = "gate-approval"


class GateApproval(RunInput):
    """What a reviewer types to resume a gate that waits for human approval."""

    approve: bool
    reviewer: str
    comment: str = ""


def _wait_for_approval(project: Any, version: str, timeout_seconds: int) -> GateApproval | None:
    from prefect.flow_runs import pause_flow_run

    registry = registry_for(project)
    registry.set_tags(
        version,
        {
            f"{TAG_PREFIX}gate": "awaiting_approval",
            f"{TAG_PREFIX}gate_flow_run_id": flow_run.get_id(),
        },
    )
    get_run_logger().info(
        "waiting up to %ss for approval of v%s: resume in the Prefect UI or run "
        "`retrainer approve %s --reviewer NAME`",
        timeout_seconds,
        version,
        version,
    )
    try:
        return pause_flow_run(
            wait_for_input=GateApproval,
            timeout=timeout_seconds,
            poll_interval=2,
            key=f"{APPROVAL_KEY_PREFIX}-v{version}",
        )
    except Exception as exc:
        get_run_logger().warning("no approval for v%s: %s", version, exc)
        return None


@flow(name="evaluate-gates", log_prints=True)
def evaluate_gates(
    config: str = "retrainer.yaml",
    version: str | None = None,
    as_of: str | None = None,
    promote: bool | None = None,
    require_approval: bool | None = None,
) -> dict[str, Any]:
    """Judge a challenger against the champion on the same fresh holdout.

    Args:
        config: Path to ``retrainer.yaml``.
        version: The version to judge; defaults to the ``challenger`` alias.
        as_of: Labels known on this date (default: the newest data).
        promote: Promote on pass. Default: the first version of a model always becomes
            champion when it passes; later versions follow ``promotion.auto_promote``
            (only without rollout stages: staged rollouts promote through their stages).
        require_approval: Override ``gates.human_approval.required``.

    Returns:
        The gate document: verdict, checks, metrics, holdout, MLflow run id, report path,
        whether the version was promoted, the id of the ``retrainer.gate.*`` event (None
        while waiting for approval) and this flow run's id.
    """
    project = load_project(config)
    configure_tracking(project)
    cfg = project.config
    challenger, champion = resolve_models(project, version)
    holdout = load_holdout(project, challenger, champion, as_of)
    challenger_evidence = collect_evidence(project, challenger, holdout)
    champion_evidence = collect_evidence(project, champion, holdout) if champion else None

    gates_config = cfg.gates
    if require_approval is not None:
        gates_config = gates_config.model_copy(
            update={
                "human_approval": gates_config.human_approval.model_copy(
                    update={"required": require_approval}
                )
            }
        )
        project = project.__class__(
            project.root, project.config_path, cfg.model_copy(update={"gates": gates_config})
        )
    report = judge(project, holdout, challenger_evidence, champion_evidence)

    timeout = gates_config.human_approval.timeout_seconds
    if report.awaiting_approval and report.automatic_checks_passed and prefect_api_is_shared():
        decision = _wait_for_approval(project, challenger.version, timeout)
        if decision is None:
            report = report.with_human_approval("timed_out", timeout_seconds=timeout)
        else:
            report = report.with_human_approval(
                "approved" if decision.approve else "rejected",
                reviewer=decision.reviewer,
                comment=decision.comment,
                timeout_seconds=timeout,
            )

    result = record_gate(project, report, challenger, champion, holdout, flow_run.get_id())
    status = gate_status(report)
    payload = {
        "version": challenger.version,
        "champion_version": champion.version if champion else None,
        "summary": report.summary,
        "failed_checks": [c.to_dict() for c in report.failed_checks],
        "metrics": report.metrics,
        "holdout": result["holdout"],
    }
    event_id = None
    if status == "passed":
        event_id = emit(events.GATE_PASSED, project.model_name, payload, version=challenger.version)
    elif status == "failed":
        event_id = emit(events.GATE_FAILED, project.model_name, payload, version=challenger.version)
    else:
        get_run_logger().info(
            "v%s passed every automatic check and waits for approval: "
            "`retrainer approve %s --reviewer NAME`",
            challenger.version,
            challenger.version,
        )

    promoted = False
    if status == "passed":
        first_version = champion is None
        wanted = promote
        if wanted is None:
            wanted = first_version or (cfg.promotion.auto_promote and not cfg.promotion.stages)
        if wanted:
            previous = registry_for(project).promote(
                challenger.version,
                reason="first version passed the gate" if first_version else "gate passed",
                actor="gate",
            )
            promoted = True
            emit(
                events.MODEL_PROMOTED,
                project.model_name,
                {
                    "version": challenger.version,
                    "previous_version": previous,
                    "reason": "gate passed",
                    "by": "gate",
                },
                version=challenger.version,
            )
            get_run_logger().info("promoted v%s to champion", challenger.version)
    result["promoted"] = promoted
    result["champion_uri"] = f"models:/{project.model_name}@champion"
    result["event_id"] = event_id
    result["flow_run_id"] = flow_run.get_id()
    return result
