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
from retrainer.gates.approval import AWAITING_APPROVAL, TAG_GATE_FLOW_RUN_ID, decision_word
from retrainer.gates.document import gate_event_payload, promotion_evidence
from retrainer.promotion import PromotionConflict, record_approval
from retrainer.promotion.rules import should_promote
from retrainer.registry.champion import registry_for
from retrainer.registry.lineage import TAG_GATE
from retrainer.tasks.events import emit, prefect_api_is_shared
from retrainer.tasks.gating import (
    collect_evidence,
    judge,
    load_holdout,
    record_gate,
    resolve_models,
)
from retrainer.tasks.project import configure_tracking, load_project
from retrainer.tasks.promotion import hand_over

APPROVAL_KEY_PREFIX = "gate-approval"
GATE_EVENTS = {"passed": events.GATE_PASSED, "failed": events.GATE_FAILED}


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
        {TAG_GATE: AWAITING_APPROVAL, TAG_GATE_FLOW_RUN_ID: flow_run.get_id()},
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


def _promote(project: Any, version: str, champion: Any, result: dict[str, Any]) -> bool:
    """Hand a passed challenger over: a staged rollout, or a promotion over the judged champion.

    A direct promotion only replaces the champion the gate judged against.
    """
    expected = champion.version if champion else None
    reason = "gate passed" if expected else "first version passed the gate"
    try:
        handed = hand_over(
            project,
            version,
            expected_champion=expected,
            by="gate",
            reason=reason,
            evidence=promotion_evidence(result),
        )
    except PromotionConflict as exc:
        result["promotion_conflict"] = str(exc)
        get_run_logger().warning(
            "v%s passed but was not promoted: %s; run the gate again against the new champion",
            version,
            exc,
        )
        return False
    result["rollout"] = handed["rollout"]
    if handed["rollout"]:
        get_run_logger().info("v%s: %s", version, handed["rollout"]["reason"])
    else:
        get_run_logger().info("promoted v%s to champion", version)
    return handed["promoted"]


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
            (:func:`retrainer.promotion.rules.should_promote`). A promotion is a
            compare-and-set against the champion the gate judged: when another version
            became champion meanwhile, nothing is promoted (``promotion_conflict``).
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
    decision = None
    if report.awaiting_approval and report.automatic_checks_passed and prefect_api_is_shared():
        decision = _wait_for_approval(project, challenger.version, timeout)
        if decision is None:
            report = report.with_human_approval("timed_out", timeout_seconds=timeout)
        else:
            report = report.with_human_approval(
                decision_word(decision.approve),
                reviewer=decision.reviewer,
                comment=decision.comment,
                timeout_seconds=timeout,
            )

    result = record_gate(project, report, challenger, champion, holdout, flow_run.get_id())
    status = result["status"]
    if decision is not None:
        record_approval(
            project,
            challenger.version,
            by=decision.reviewer,
            approved=decision.approve,
            reason=decision.comment,
            evidence=promotion_evidence(result),
        )
    event_id = None
    if status in GATE_EVENTS:
        event_id = emit(
            GATE_EVENTS[status],
            project.model_name,
            gate_event_payload(result),
            version=challenger.version,
        )
    else:
        get_run_logger().info(
            "v%s passed every automatic check and waits for approval: "
            "`retrainer approve %s --reviewer NAME`",
            challenger.version,
            challenger.version,
        )

    promoted = False
    if status == "passed" and should_promote(champion is None, promote, cfg.promotion):
        promoted = _promote(project, challenger.version, champion, result)
    result["promoted"] = promoted
    result.setdefault("rollout", None)
    result["champion_uri"] = f"models:/{project.model_name}@champion"
    result["event_id"] = event_id
    result["flow_run_id"] = flow_run.get_id()
    return result
