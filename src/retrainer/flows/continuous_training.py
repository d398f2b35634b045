"""The continuous-training loop: validate → score → drift → monitor → decide → train → gate.

A thin flow: each step is a deployable flow of its own, run here as a subflow; the decision
is :func:`retrainer.policy.decide` (pure), taken by :mod:`retrainer.tasks.triggering` under
the store's lock and recorded, taken or not. An alert storm makes one retrain:

* a run started by an event while the cooldown (or daily cap) holds any retrain back decides
  at once, without checks;
* otherwise the first run takes the model's check lease; runs that find it held hand their
  request (alert, on-demand request) to it and stop, and it decides on all of them;
* a retrain is train → gate → the gate's one promotion call (staged rollouts plug in there).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from prefect import flow, get_run_logger, tags
from prefect.runtime import flow_run

from retrainer.policy.observe import EVENT_REASONS, drift_observation, performance_observation
from retrainer.tasks.artifacts import publish_markdown
from retrainer.tasks.events import CT_TAG
from retrainer.tasks.project import configure_tracking, load_project
from retrainer.tasks.triggering import (
    Request,
    base_observations,
    claim_checks,
    decide_and_record,
    decision_markdown,
    decision_time,
    held_back,
    label_counts,
    record_handed_over,
    record_outcome,
    release_checks,
    request_observations,
    running_rollout,
)

TRAIN_CONCURRENCY = "retrainer-train"
"""The global concurrency limit around training (created by ``retrainer deploy``)."""

REASONS = ("schedule", "drift", "performance", "new_data", "webhook", "on_demand", "code_change")
"""What started a run (the ``reason`` parameter; deployment triggers template it)."""


@flow(name="continuous-training", log_prints=True)
def continuous_training(
    config: str = "retrainer.yaml",
    reason: str = "schedule",
    event_id: str | None = None,
    event: str | None = None,
    alert_id: str | None = None,
    alert_source: str | None = None,
    detail: str | None = None,
    requested_by: str | None = None,
    as_of: str | None = None,
) -> dict[str, Any]:
    """Check the model and retrain it when the ``policy`` says so.

    Args:
        config: Path to ``retrainer.yaml``.
        reason: What started the run: one of :data:`REASONS`.
        event_id: Id of the triggering Prefect event (lineage; a repeated id is decided once).
        event: Name of the triggering event (``retrainer.drift.detected`` ...).
        alert_id: A monitoring tool's alert id (webhook alerts; decided once per id).
        alert_source: The tool that sent the alert (``generic``, ``grafana``, ``monitor``).
        detail: What the trigger said (an alert's text, a person's reason).
        requested_by: Who asked (on-demand runs).
        as_of: Data known on this date (default: the newest data).

    Returns:
        The decision (status, reasons, what held it back), the steps that ran, and for a
        retrain the new version, its gate and whether it was promoted.
    """
    if reason not in REASONS:
        raise ValueError(f"reason: {reason!r} is not one of {', '.join(REASONS)}")
    project = load_project(config)
    request = Request(reason, event_id, event, alert_id, alert_source, detail, requested_by)
    now = decision_time(as_of)
    run_id = flow_run.get_id()
    held = held_back(project, request, now) if reason in EVENT_REASONS else None
    holder = None
    steps: dict[str, Any] = {}
    if held is not None:  # a storm during the cooldown: the store only, no MLflow, no check
        get_run_logger().info("%s holds any retrain back: deciding without checks", held)
        observed = request_observations(request, now)
        decision, record_id = decide_and_record(project, observed, request, run_id)
    else:
        decision, record_id, holder, steps = _check_and_decide(project, request, now, run_id, as_of)
    publish_markdown(
        f"decision-{project.model_name}",
        decision_markdown(project.model_name, decision, request, record_id),
        description=decision.detail[:500],
    )
    get_run_logger().info("decision #%s: %s", record_id, decision.detail)
    result: dict[str, Any] = {
        "model": project.model_name,
        "decision": decision.to_dict(),
        "decision_id": record_id,
        "reason": reason,
        "event_id": event_id,
        "fast_path": held,
        "handed_over_to": holder,
        "steps": {name: _summary(step) for name, step in steps.items()},
    }
    if decision.retrain:
        result["retrain"] = _retrain(project, config, as_of, request, decision, record_id, now)
    return result


def _check_and_decide(
    project: Any, request: Request, now: Any, run_id: str | None, as_of: str | None
) -> tuple:
    """The checks and the decision, under the model's check lease (or hand the request over)."""
    from retrainer.registry.champion import load_champion
    from retrainer.registry.lineage import code_version

    holder = claim_checks(project, request, run_id)
    if holder is not None:
        get_run_logger().info("run %s is checking the model: handed this request over", holder)
        decision, record_id = record_handed_over(project, request, holder, run_id, now)
        return decision, record_id, holder, {}
    try:
        configure_tracking(project)
        champion = load_champion(project, model=False)
        observed = base_observations(
            request, now, champion, project.config.fingerprint(), code_version(project.root),
            running_rollout(project),
        )  # fmt: skip
        steps = _run_checks(str(project.config_path), as_of, has_champion=champion is not None)
        observed = _with_checks(project, observed, steps, as_of, champion)
        decision, record_id = decide_and_record(project, observed, request, run_id)
    finally:
        release_checks(project, run_id)  # no-op once the decision took it back
    return decision, record_id, None, steps


def _run_checks(config: str, as_of: str | None, *, has_champion: bool) -> dict[str, Any]:
    """Validate, score, check drift and monitor (each a subflow; a failed one is noted)."""
    from retrainer.flows.drift import check_drift
    from retrainer.flows.monitor import monitor_performance
    from retrainer.flows.score import score_batch
    from retrainer.flows.validate import validate_data

    runs = {"validate": lambda: validate_data(config=config, end=as_of)}
    if has_champion:
        runs["score"] = lambda: score_batch(config=config, end=as_of)
        runs["drift"] = lambda: check_drift(config=config, as_of=as_of)
        runs["monitor"] = lambda: monitor_performance(config=config, as_of=as_of)
    steps: dict[str, Any] = {}
    with tags(CT_TAG):  # their events carry retrainer.origin=continuous-training
        for name, run in runs.items():
            try:
                steps[name] = run()
            except Exception as exc:  # one broken check does not stop the decision
                get_run_logger().warning("%s failed: %s", name, exc)
                steps[name] = {"failed": f"{type(exc).__name__}: {exc}"[:1000]}
    return steps


def _with_checks(
    project: Any, observed: Any, steps: dict[str, Any], as_of: str | None, champion: Any
) -> Any:
    """The observations with the checks' results and the labelled-row counts."""
    from retrainer.tasks.validation import screen_training_partitions

    screen = screen_training_partitions(project, as_of)
    since = champion.tags.get("retrainer.window_end") if champion else None
    counts = label_counts(project, as_of, screen.excluded, since)
    ok = {k: v for k, v in steps.items() if "failed" not in v}
    return replace(
        observed,
        drift=drift_observation(ok.get("drift")),
        performance=performance_observation(ok.get("monitor")),
        labelled_rows=counts["rows"],
        labelled_per_class=counts["per_class"],
        new_labelled_rows=counts["new"],
    )


def _summary(step: dict[str, Any]) -> dict[str, Any]:
    """A step's headline (the full results are in MLflow and the steps' artifacts)."""
    keys = (
        "failed", "verdict", "valid", "invalid", "quarantined", "scored", "rows",
        "drifted_features", "prediction_drift", "event_id", "model_version",
    )  # fmt: skip
    summary = {k: step[k] for k in keys if k in step}
    if isinstance(summary.get("scored"), dict):
        summary["scored"] = len(summary["scored"])
    return summary


def _retrain(
    project: Any,
    config: str,
    as_of: str | None,
    request: Request,
    decision: Any,
    record_id: int,
    decided_at: Any,
) -> dict[str, Any]:
    """Train → gate → promote (the gate flow's one promotion call); record the outcome."""
    from prefect.concurrency.sync import concurrency

    from retrainer.flows.train import train

    try:
        with concurrency(TRAIN_CONCURRENCY, occupy=1, strict=False), tags(CT_TAG):
            trained = train(
                config=config,
                as_of=as_of,
                reason=request.reason,
                event_id=request.event_id,
                detail=decision.reason,
            )
    except Exception as exc:
        record_outcome(project, record_id, "failed", detail=str(exc)[:1000], decided_at=decided_at)
        raise
    status = trained["gate"]["status"]
    outcome = {
        "failed": "gate_failed",
        "awaiting_approval": "awaiting_approval",
    }.get(status, "promoted" if trained["promoted"] else "not_promoted")
    if outcome == "not_promoted" and trained["gate"].get("rollout"):
        outcome = "rollout_started"
    record_outcome(
        project,
        record_id,
        outcome,
        version=str(trained["version"]),
        detail=trained["gate"].get("summary") or "",
    )
    return {
        "version": trained["version"],
        "gate": status,
        "promoted": trained["promoted"],
        "outcome": outcome,
    }
