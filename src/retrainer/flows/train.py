"""Train flow: the batch training code as a parametrized Prefect flow.

Entrypoint for deployments: ``flows/train.py:train``.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from retrainer import events
from retrainer.tasks.drift import log_drift_baseline
from retrainer.tasks.events import emit
from retrainer.tasks.project import configure_tracking, load_project
from retrainer.tasks.training import (
    evaluate_holdout,
    fetch_champion,
    fit,
    load_labelled_data,
    prepare_training_set,
    register_model,
)
from retrainer.tasks.validation import log_validation_suite, screen_training_partitions
from retrainer.training.windows import parse_window_option


@flow(name="train", log_prints=True)
def train(
    config: str = "retrainer.yaml",
    window: str | None = None,
    as_of: str | None = None,
    reason: str = "manual",
    event_id: str | None = None,
    gate: bool = True,
    promote: bool | None = None,
    detail: str | None = None,
) -> dict[str, Any]:
    """Train the configured estimator on a window of labelled data and register it in MLflow.

    Args:
        config: Path to ``retrainer.yaml`` (relative to the working directory).
        window: Override of ``training.window``, e.g. ``fixed:30`` or ``dynamic``.
        as_of: Use only what was known on this date (YYYY-MM-DD); default: the latest data.
        reason: Why this run happens (manual, schedule, drift, performance, webhook ...).
        event_id: Id of the triggering event, recorded as lineage.
        gate: Run the gate flow on the new version right away (the first version of a model
            becomes champion when it passes its absolute bounds and sanity checks).
        promote: Promote when the gate passes (default: see
            ``retrainer.flows.gate.evaluate_gates``).
        detail: What triggered it, in words (the policy's reasons, an alert's text),
            recorded as lineage (``retrainer.trigger_detail``).

    Returns:
        The registered version, its URIs, holdout metrics and lineage.
    """
    project = load_project(config)
    configure_tracking(project)
    strategy = parse_window_option(window) if window else project.config.training.window
    champion = fetch_champion(project)
    # a bad batch is never trained on: invalid partitions are left out, pending ones are
    # validated first, skipped or allowed (validation.before_training)
    screen = screen_training_partitions(project, as_of)
    labelled = load_labelled_data(project, as_of, screen.excluded)
    prepared = prepare_training_set(
        project, labelled, strategy, champion.model if champion else None
    )
    fitted = fit(project, prepared.training)
    metrics = evaluate_holdout(project, fitted.pipeline, prepared.holdout)
    result = register_model(
        project,
        fitted,
        prepared,
        metrics,
        reason=reason,
        event_id=event_id,
        parent_version=champion.version if champion else None,
        flow_run_id=flow_run.get_id(),
        detail=detail,
    )
    # the artefacts that travel with the version: the data-validation suite built from the
    # training rows (validates every batch while this version is champion) and the drift
    # baseline (training features, and the model's scores on its fresh holdout)
    result["validation_suite"] = log_validation_suite(
        project, prepared.training.frame, run_id=result["run_id"], excluded=labelled.excluded
    )
    result["excluded_partitions"] = labelled.excluded
    result["drift_baseline"] = log_drift_baseline(
        project,
        fitted.pipeline,
        prepared.training.frame,
        prepared.holdout,
        run_id=result["run_id"],
        version=result["version"],
    )
    emit(
        events.MODEL_TRAINED,
        project.model_name,
        {
            "version": result["version"],
            "reason": reason,
            "trigger_event_id": event_id,
            "trigger_detail": detail,
            "metrics": metrics,
            "window": prepared.training.strategy,
            "rows": fitted.train_rows,
        },
        version=result["version"],
    )
    if gate:
        from retrainer.flows.gate import evaluate_gates

        gate_result = evaluate_gates(
            config=config, version=result["version"], as_of=as_of, promote=promote
        )
        result["gate"] = {
            "status": gate_result["status"],
            "summary": gate_result["summary"],
            "failed_checks": gate_result["failed_checks"],
            "report_html": gate_result["report_html"],
            "rollout": gate_result.get("rollout"),
        }
        result["promoted"] = gate_result["promoted"]
    else:
        result["gate"] = {"status": "pending"}
        result["promoted"] = False
    get_run_logger().info(
        "v%s: gate %s%s",
        result["version"],
        result["gate"]["status"],
        ", promoted to champion" if result["promoted"] else "",
    )
    return result
