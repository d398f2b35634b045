"""Drift flow: feature and prediction drift of a window against a baseline.

Entrypoint for deployments: ``flows/drift.py:check_drift``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow, get_run_logger

from retrainer import events
from retrainer.drift.check import DriftCheck, DriftCheckError, parse_baseline_option
from retrainer.drift.segments import SegmentSummary
from retrainer.monitoring.scoring import parse_version_option
from retrainer.project import Project
from retrainer.tasks.compute import (
    ComputeSetupError,
    runner_label,
    task_runner,
    workers_on_this_api,
)
from retrainer.tasks.drift import (
    drift_window,
    load_baseline,
    log_drift_run,
    publish_drift_report,
    run_drift_check,
    write_drift_report,
)
from retrainer.tasks.events import emit
from retrainer.tasks.monitoring import screen_reads
from retrainer.tasks.project import configure_tracking, load_project
from retrainer.tasks.segments import plan_segment_shards, segment_drift_shard


@flow(name="check-drift", log_prints=True)
def check_drift(
    config: str = "retrainer.yaml",
    current: str | None = None,
    days: int | None = None,
    baseline: str | None = None,
    as_of: str | None = None,
    html: str | None = None,
    version: str | None = None,
) -> dict[str, Any]:
    """Compare a window of feature data (and a version's predictions on it) with a baseline.

    The baseline is the version's training profile (logged with the version by the train
    flow; its prediction part is the version's scores on its fresh holdout) or a production
    window. The version is the champion unless ``version`` names another; its predictions
    are the ones it logged in the predictions table, and rows it has no logged prediction
    for are scored with it. Partitions that failed validation are never read, and those
    never validated follow ``validation.before_training`` (validate first, skip, or allow),
    as for training; the result's ``partitions`` and ``notes`` name what was left out.
    Every statistic is logged to an MLflow run tagged ``retrainer.kind=drift``, the HTML
    report (distributions and per-day drift scores) is written under
    ``<state_dir>/reports/drift``, a markdown artifact is published, and
    ``retrainer.drift.detected`` (drift) or ``retrainer.drift.checked`` (none) is emitted.

    Args:
        config: Path to ``retrainer.yaml``.
        current: ``START:END`` event dates (inclusive); default: the last
            ``drift.window_days`` days up to ``as_of``.
        days: Window length in days (instead of ``current``).
        baseline: ``training`` or ``START:END`` (a production window); default:
            ``drift.baseline``.
        as_of: The data clock (YYYY-MM-DD): nothing after it is read; default: the newest
            feature partition.
        html: Also write the HTML report to this file.
        version: The model version to check (its baseline and predictions); default: the
            champion.

    Returns:
        The check as a dict plus ``run_id``, ``html_report``, ``json_report``, ``event`` and
        ``event_id``.
    """
    version = parse_version_option(version)
    project = load_project(config)
    runner = _segment_runner(project)  # before any work: a runner that cannot be built fails
    configure_tracking(project)
    span = drift_window(project, current, days, as_of)
    screen = screen_reads(project, span.start, span.end, verb="checked")
    option = parse_baseline_option(baseline, project.config.drift)
    reference = load_baseline(project, option, span, version)
    check = run_drift_check(project, reference, span, screen)
    if runner is not None:
        check.segments = _within_segments(project, check, screen.read, runner)
    html_path, json_path = write_drift_report(project, check, html)
    run_id = log_drift_run(project, check, html_path, json_path)
    publish_drift_report(project, check, html_path)
    event = events.DRIFT_DETECTED if check.drifted else events.DRIFT_CHECKED
    payload = check.event_payload()
    payload["report"] = html_path
    payload["mlflow_run_id"] = run_id
    labels = {"version": check.model_version} if check.model_version else {}
    event_id = emit(event, project.model_name, payload, event_id=check.incident_id(event), **labels)
    get_run_logger().info("%s: %s (report %s)", event, check.verdict, html_path)
    result = check.to_dict()
    result.update(
        {
            "run_id": run_id,
            "html_report": html_path,
            "json_report": json_path,
            "event": event,
            "event_id": event_id,
        }
    )
    return result


@flow(name="check-segment-drift", log_prints=True)
def check_segment_drift(
    config: str, baseline_start: str, baseline_end: str, days: list[date]
) -> SegmentSummary:
    """Drift within each segment of ``drift.segments.columns``, one task per shard.

    The tasks run on ``compute.task_runner`` (threads here, or a Dask cluster); each streams
    the screened baseline days and the window's ``days`` for its shard of segments.

    Args:
        config: Path to ``retrainer.yaml``.
        baseline_start: First day of the baseline data (the training window's, or the
            production baseline's).
        baseline_end: Its last day.
        days: The window's days to read (already screened by the caller).

    Returns:
        Every segment's comparison.
    """
    project = load_project(config)
    screen = screen_reads(project, baseline_start, baseline_end, verb="used as segment baseline")
    reference = list(screen.read)
    shards = plan_segment_shards(project, reference, days)
    futures = [segment_drift_shard.submit(project, s, reference, days) for s in shards]
    results = [result for future in futures for result in future.result()]
    section = project.config.drift.segments
    summary = SegmentSummary(
        columns=list(section.columns),
        results=results,
        decides=section.decides,
        shards=len(shards),
        runner=runner_label(project.config.compute),
    )
    get_run_logger().info(
        "segments of %s: %d checked in %d shard(s) on %s; %s",
        ", ".join(section.columns),
        len(results),
        len(shards),
        summary.runner,
        summary.headline(),
    )
    return summary


def _segment_runner(project: Project) -> Any:
    """The task runner of the segment check (None without ``drift.segments.columns``).

    Raises:
        DriftCheckError: The runner cannot be built here (prefect-dask missing).
    """
    if not project.config.drift.segments.columns:
        return None
    try:
        return task_runner(project.config.compute)
    except ComputeSetupError as exc:
        raise DriftCheckError(str(exc)) from None


def _within_segments(
    project: Project, check: DriftCheck, days: list[date], runner: Any
) -> SegmentSummary:
    """The segment check of a window, as a subflow on ``runner``."""
    start, end = check.baseline.get("start"), check.baseline.get("end")
    if not start or not end:
        raise DriftCheckError(
            "drift.segments needs the baseline's days, and this baseline has none (a version "
            "trained before baselines recorded their window): retrain, or use a window baseline"
        )
    segment_flow = check_segment_drift.with_options(task_runner=runner)
    with workers_on_this_api(project.config.compute):
        return segment_flow(
            config=str(project.config_path),
            baseline_start=str(start),
            baseline_end=str(end),
            days=days,
        )
