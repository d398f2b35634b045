"""Monitor flow: live performance of the champion (or another version) under label delay.

Entrypoint for deployments: ``flows/monitor.py:monitor_performance``.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from retrainer import events
from retrainer.monitoring.scoring import parse_version_option
from retrainer.tasks.events import emit
from retrainer.tasks.monitoring import (
    compute_report,
    load_monitored_model,
    load_predictions_with_labels,
    load_reference,
    log_monitoring_run,
    monitoring_window,
    publish_report,
    screen_predictions,
    write_html_report,
)
from retrainer.tasks.project import configure_tracking, load_project


@flow(name="monitor-performance", log_prints=True)
def monitor_performance(
    config: str = "retrainer.yaml",
    window: str | None = None,
    days: int | None = None,
    as_of: str | None = None,
    html: str | None = None,
    version: str | None = None,
) -> dict[str, Any]:
    """Judge a version's logged predictions with the labels known on ``as_of``.

    The version is the champion unless ``version`` names another (with
    ``monitoring.model_versions: all`` and no ``version``, every version's predictions count,
    the latest scored per row). Realised metrics use the labelled predictions of the window,
    estimated metrics (CBPE, binary only) the predictions whose labels have not arrived; both
    overall and per segment. Predictions of partitions that failed validation are never read,
    and those never validated follow ``validation.before_training`` (validate first, skip, or
    allow), as for training; the result's ``partitions`` and ``notes`` name what was left
    out. Every statistic is logged to an MLflow run tagged ``retrainer.kind=monitoring``, the
    HTML report is written under ``<state_dir>/reports/monitoring``, a markdown artifact is
    published, and ``retrainer.performance.degraded`` (a breach) or
    ``retrainer.performance.checked`` (none) is emitted with a stable id per model, version,
    window, basis and verdict.

    Args:
        config: Path to ``retrainer.yaml``.
        window: ``START:END`` event dates (inclusive); default: the last
            ``monitoring.window_days`` days up to ``as_of``.
        days: Window length in days (instead of ``window``).
        as_of: Use the labels known on this date (YYYY-MM-DD); default: the window's end, or
            the newest feature partition.
        html: Also write the HTML report to this file.
        version: The model version whose predictions are judged; default: the champion.

    Returns:
        The report as a dict plus ``run_id``, ``html_report``, ``json_report``, ``event`` and
        ``event_id``.
    """
    version = parse_version_option(version)
    project = load_project(config)
    configure_tracking(project)
    span = monitoring_window(project, window, days, as_of)
    model = load_monitored_model(project, version)
    every = version is None and project.config.monitoring.model_versions == "all"
    monitored = None if every else model.version
    screen = screen_predictions(project, span)
    frame, notes = load_predictions_with_labels(
        project, span, monitored, screen, requested=version is not None
    )
    reference = load_reference(project, model, span)
    report = compute_report(project, frame, reference, model, span, notes, monitored, screen)
    html_path, json_path = write_html_report(project, report, html)
    run_id = log_monitoring_run(project, report, html_path, json_path)
    publish_report(project, report, html_path)
    payload = report.event_payload()
    payload["report"] = html_path
    payload["mlflow_run_id"] = run_id
    event = events.PERFORMANCE_DEGRADED if report.degraded else events.PERFORMANCE_CHECKED
    event_id = emit(
        event,
        project.model_name,
        payload,
        event_id=report.incident_id(event),
        version=model.version,
    )
    get_run_logger().info("%s: %s (report %s)", event, report.verdict, html_path)
    result = report.to_dict()
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
