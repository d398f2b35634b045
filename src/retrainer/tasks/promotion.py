"""Promote or roll back through the one path (:mod:`retrainer.promotion`) and announce it.

The gate flow (after a passed gate), ``retrainer approve`` (after an approval) and
``retrainer promote`` call :func:`promote_and_announce`; ``retrainer rollback`` calls
:func:`rollback_and_announce`. When a gated version is promoted without being told is
:func:`retrainer.promotion.rules.should_promote`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from retrainer import events

if TYPE_CHECKING:
    from retrainer.store.ledger import PromotionRecord


def _announce(event: str, record: PromotionRecord) -> str | None:
    from retrainer.tasks.events import emit

    return emit(
        event,
        record.model,
        {
            "version": record.to_version,
            "previous_version": record.from_version,
            "reason": record.reason,
            "by": record.by,
            "ledger_record": record.id,
        },
        version=str(record.to_version),
    )


def promote_and_announce(
    target: Any,
    version: str,
    *,
    expected_champion: str | None,
    by: str,
    reason: str,
    evidence: dict[str, Any] | None = None,
    emit_event: bool = True,
) -> tuple[PromotionRecord, str | None]:
    """Make ``version`` the champion if it is still ``expected_champion``; emit the event.

    Args:
        target: The project (MLflow configured) or a :class:`retrainer.promotion.ModelTarget`.
        version: The version to promote.
        expected_champion: The champion the decision was made against (None: none).
        by: Who decides (``gate``, the reviewer, a user).
        reason: Why (ledger and version tags).
        evidence: Gate summary, metrics, report links (ledger).
        emit_event: Emit ``retrainer.model.promoted`` (False: only the store and aliases).

    Returns:
        The ledger record and the event id (None when no event was emitted).

    Raises:
        retrainer.promotion.PromotionConflict: Another version is champion by now.
    """
    from retrainer.promotion import promote

    record = promote(
        target,
        version,
        expected_champion=expected_champion,
        by=by,
        reason=reason,
        evidence=evidence,
    )
    return record, _announce(events.MODEL_PROMOTED, record) if emit_event else None


def rollback_and_announce(
    target: Any,
    to: str | None = None,
    *,
    by: str,
    reason: str,
    emit_event: bool = True,
) -> tuple[PromotionRecord, str | None]:
    """Restore the previous champion (or ``to``); emit ``retrainer.model.rolled_back``.

    Raises:
        retrainer.promotion.PromotionError: Nothing to roll back to.
        retrainer.promotion.PromotionConflict: Another promotion changed the champion.
    """
    from retrainer.promotion import rollback

    record = rollback(target, to, by=by, reason=reason)
    return record, _announce(events.MODEL_ROLLED_BACK, record) if emit_event else None


def rollout_emitter(model_name: str) -> Any:
    """The ``emit(event, payload, event_id)`` the rollout module calls, through Prefect."""
    from retrainer.tasks.events import emit

    def send(event: str, payload: dict[str, Any], event_id: str) -> None:
        emit(event, model_name, payload, event_id=event_id, version=str(payload.get("version")))

    return send


def start_rollout(project: Any, version: str) -> Any:
    """Start (or restart with ``version``) the staged rollout of ``promotion.stages``.

    The A/B stage's sample size is computed from the champion's recorded holdout accuracy.

    Returns:
        The :class:`retrainer.promotion.rollouts.Tick` of the start.
    """
    from datetime import UTC, datetime

    from retrainer.promotion import ModelTarget
    from retrainer.promotion.rollouts import begin
    from retrainer.registry.champion import load_champion

    champion = load_champion(project, model=False)
    baseline = champion.recorded_metrics.get("accuracy") if champion else None
    return begin(
        ModelTarget.for_project(project),
        project.config.promotion.stages,
        str(version),
        now=datetime.now(UTC),
        baseline=baseline,
        emit=rollout_emitter(project.model_name),
    )


def hand_over(
    project: Any,
    version: str,
    *,
    expected_champion: str | None,
    by: str,
    reason: str,
    evidence: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The one call after a passed gate: a staged rollout, or a direct promotion.

    A rollout when ``promotion.stages`` is set and there is a champion to compare with.

    Returns:
        ``{"promoted": bool, "rollout": the start's summary or None}``.

    Raises:
        retrainer.promotion.PromotionConflict: (direct promotion) another version won.
    """
    if project.config.promotion.stages and expected_champion is not None:
        tick = start_rollout(project, version)
        return {"promoted": False, "rollout": tick.to_dict()}
    promote_and_announce(
        project,
        version,
        expected_champion=expected_champion,
        by=by,
        reason=reason,
        evidence=evidence,
    )
    return {"promoted": True, "rollout": None}


def write_rollout_report(project: Any, log_to_mlflow: bool = True) -> dict[str, Any] | None:
    """Write the side-by-side report of the model's rollout (HTML and PNG); log it to MLflow.

    Returns:
        ``html``, ``png`` (paths) and ``mlflow_run_id``, or None without a rollout.
    """
    from retrainer.promotion import ModelTarget
    from retrainer.promotion.rollouts import step_log, truth_for
    from retrainer.rollout import stage_name
    from retrainer.rollout.report import build_report

    target = ModelTarget.for_project(project)
    state = target.store.rollouts.get(target.name)
    if state is None:
        return None
    log = step_log(target.store, target.name, state, whole=True, inputs=True)
    report = build_report(
        log,
        truth_for(target.store, log),
        state,
        target.store.rollouts.history(target.name, 500),
        stage=stage_name(project.config.promotion.stages, state),
        segments=project.config.columns.segments,
    )
    folder = project.reports_dir("rollouts")
    stem = f"{target.name}-v{state.challenger}-r{state.revision}"
    html, png = folder / f"{stem}.html", folder / f"{stem}.png"
    html.write_text(report.html, encoding="utf-8")
    png.write_bytes(report.figure_png)
    run_id = None
    if log_to_mlflow:
        import mlflow

        tags = {"retrainer.kind": "rollout", "retrainer.version": state.challenger}
        with mlflow.start_run(run_name=f"rollout v{state.challenger}", tags=tags) as run:
            mlflow.log_artifact(str(html), artifact_path="rollout")
            mlflow.log_artifact(str(png), artifact_path="rollout")
            run_id = run.info.run_id
    return {"html": str(html), "png": str(png), "mlflow_run_id": run_id}
