"""Reconciler flow: advance the model's staged rollout by at most one step.

Entrypoint for deployments: ``flows/promote.py:reconcile_rollout`` (``prefect.yaml`` runs it
every few minutes). The logic is :func:`retrainer.promotion.rollouts.tick`: settle an ended
rollout whose promotion or abort record is missing (a crash), else judge the current step on
the evidence the gateway logged and write the one transition by compare-and-set. Each
transition emits its ``retrainer.rollout.*`` event; a run that changes nothing emits none.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger

from retrainer.promotion import ModelTarget
from retrainer.promotion.rollouts import tick
from retrainer.rollout.machine import stage_name
from retrainer.tasks.artifacts import publish_markdown
from retrainer.tasks.project import configure_tracking, load_project
from retrainer.tasks.promotion import rollout_emitter, write_rollout_report


def _markdown(model: str, summary: dict[str, Any], stages: list[Any]) -> str:
    state = summary["state"]
    lines = [f"# Rollout of {model}", "", f"**{summary['action']}**: {summary['reason']}", ""]
    if state:
        from retrainer.rollout import RolloutState

        where = stage_name(stages, RolloutState.from_dict(state))
        lines += [
            f"- challenger v{state['challenger']} against champion v{state['champion']}",
            f"- status {state['status']}, stage {where}, revision {state['revision']}",
        ]
    evidence = summary["evidence"]
    if evidence:
        lines += [
            f"- evidence: {evidence['requests']:,} requests, {evidence['labelled']:,} labelled",
            "",
            "| measurement | value |",
            "| --- | --- |",
            *(
                f"| {k} | {'—' if v is None else f'{v:.4g}'} |"
                for k, v in evidence["values"].items()
            ),
        ]
    if summary["settled"]:
        lines += ["", "Completed: " + "; ".join(summary["settled"])]
    return "\n".join(lines)


@flow(name="reconcile-rollout", log_prints=True)
def reconcile_rollout(config: str = "retrainer.yaml") -> dict[str, Any]:
    """Advance the staged rollout of the project's model by at most one transition.

    Args:
        config: Path to ``retrainer.yaml``.

    Returns:
        ``action`` (``none``, ``wait``, ``conflict`` or the transition), ``reason``, the
        ``state`` after the run, the ``evidence`` judged, what was ``settled`` (the
        promotion or the abort record), the ``events`` emitted and, after a transition, the
        side-by-side ``report`` (HTML and PNG paths, MLflow run id).
    """
    project = load_project(config)
    configure_tracking(project)
    stages = project.config.promotion.stages
    result = tick(
        ModelTarget.for_project(project),
        stages,
        now=datetime.now(UTC),
        emit=rollout_emitter(project.model_name),
    )
    summary = result.to_dict()
    extra = ""
    get_run_logger().info("%s: %s", result.action, result.reason)
    if result.action not in ("none", "wait", "conflict"):
        report = write_rollout_report(project)
        if report is not None:
            summary["report"] = report
            extra = (
                f"\n\nSide-by-side report: {report['html']} (MLflow run {report['mlflow_run_id']})"
            )
        publish_markdown(
            f"rollout-{project.model_name}",
            _markdown(project.model_name, summary, stages) + extra,
            f"rollout of {project.model_name}: {result.action}",
        )
    return summary
