"""Monitor flow: live performance of the champion under label delay.

Entrypoint for deployments: ``flows/monitor.py:monitor_performance``.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from retrainer import events
from retrainer.tasks.events import emit
from retrainer.tasks.monitoring import (
    compute_report,
    load_champion_model,
    load_predictions_with_labels,
    load_reference,
    log_monitoring_run,
    monitoring_window,
    publish_report,
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
) -> dict[str, Any]:
    """Judge the champion's logged predictions with the labels known on ``as_of``.

    Realised metrics use the labelled predictions of the window, estimated metrics (CBPE,
    binary only) the predictions whose labels have not arrived; both overall and per segment.
    Every statistic is logged to an MLflow run tagged ``retrainer.kind=monitoring``, the HTML
    report is written under ``<state_dir>/reports/monitoring``, a markdown artifact is
    published, and ``retrainer.performance.degraded`` (a breach) or
    ``retrainer.performance.checked`` (none) is emitted.

    Args:
        config: Path to ``retrainer.yaml``.
        window: ``START:END`` event dates (inclusive); default: the last
            ``monitoring.window_days`` days up to ``as_of``.
        days: Window length in days (instead of ``window``).
        as_of: Use the labels known on this date (YYYY-MM-DD); default: the window's end, or
            the newest feature partition.
        html: Also write the HTML report to this file.

    Returns:
        The report as a dict plus ``run_id``, ``html_report``, ``json_report`` and
        ``event_id``.
    """
    project = load_project(config)
    configure_tracking(project)
    span = monitoring_window(project, window, days, as_of)
    champion = load_champion_model(project)
    version = champion.version if project.config.monitoring.model_versions == "champion" else None
    frame, notes = load_predictions_with_labels(project, span, version)
    reference, source = load_reference(project, champion, span)
    report = compute_report(project, frame, reference, source, champion, span, notes)
    html_path, json_path = write_html_report(project, report, html)
    run_id = log_monitoring_run(project, report, html_path, json_path)
    publish_report(project, report, html_path)
    payload = report.event_payload()
    payload["report"] = html_path
    payload["mlflow_run_id"] = run_id
    event = events.PERFORMANCE_DEGRADED if report.degraded else events.PERFORMANCE_CHECKED
    event_id = emit(event, project.model_name, payload, version=champion.version)
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
