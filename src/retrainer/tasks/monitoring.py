"""Tasks of the score and monitor flows: champion, predictions, labels, report, MLflow logging.

The statistics live in :mod:`retrainer.monitoring`; these tasks only read and write.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from retrainer.data import DataCatalog, as_date
from retrainer.monitoring import (
    MODEL_VERSION_COLUMN,
    SCORED_AT_COLUMN,
    PerformanceMonitor,
    PerformanceReport,
    check_predictions,
    join_labels,
    labels_known_as_of,
    score_features,
)
from retrainer.monitoring.html import render_html, render_markdown
from retrainer.monitoring.labels import ARRIVAL_COLUMN, LABELLED_COLUMN
from retrainer.monitoring.window import MonitoringWindow, resolve_window
from retrainer.progress import track
from retrainer.project import Project
from retrainer.registry.lineage import load_model
from retrainer.registry.models import CHAMPION
from retrainer.tasks.artifacts import artifact_key, publish_markdown
from retrainer.tasks.reporting import MetricLog, log_report_run, metric_key, write_report_files
from retrainer.tasks.training import registry_for


class MonitoringError(Exception):
    """Monitoring or scoring cannot run (no champion, no predictions, bad window ...)."""


@dataclass
class Champion:
    """The champion version, its fitted pipeline and what its training run recorded."""

    version: str
    model: Any
    run_id: str | None
    tags: dict[str, str] = field(default_factory=dict)
    recorded_metrics: dict[str, float] = field(default_factory=dict)


@task(name="load-champion-for-monitoring", cache_policy=NO_CACHE)
def load_champion_model(project: Project) -> Champion:
    """The champion's pipeline, version tags and ``holdout_<metric>`` values.

    Raises:
        MonitoringError: When the model has no champion.
    """
    registry = registry_for(project)
    version = registry.version_by_alias(CHAMPION)
    if version is None:
        raise MonitoringError(
            f"model {project.model_name!r} has no champion; run `retrainer train` first"
        )
    recorded: dict[str, float] = {}
    run_id = getattr(version, "run_id", None)
    if run_id:
        from mlflow.exceptions import MlflowException

        try:
            metrics = registry.client.get_run(run_id).data.metrics
        except MlflowException:
            metrics = {}
        recorded = {
            k.removeprefix("holdout_"): float(v)
            for k, v in metrics.items()
            if k.startswith("holdout_")
        }
    model = load_model(registry.uri(str(version.version)))
    get_run_logger().info(
        "champion %s version %s (recorded holdout metrics: %s)",
        project.model_name,
        version.version,
        ", ".join(f"{k}={v:.4f}" for k, v in recorded.items()) or "none",
    )
    return Champion(str(version.version), model, run_id, dict(version.tags or {}), recorded)


# -- scoring --------------------------------------------------------------------------------


def partitions_to_score(
    catalog: DataCatalog,
    day: str | None = None,
    start: str | None = None,
    end: str | None = None,
    rescore: bool = False,
) -> tuple[list[date], list[date]]:
    """Feature partitions to score and those skipped because they already have predictions.

    Args:
        catalog: The project's tables.
        day: One date.
        start: First date of a window (inclusive).
        end: Last date of a window (inclusive).
        rescore: Score partitions that already have predictions again (overwrite).

    Returns:
        ``(to_score, skipped)``.

    Raises:
        MonitoringError: On conflicting options or when the requested date has no features.
    """
    if day is not None and (start is not None or end is not None):
        raise MonitoringError("give either a date or a start/end window, not both")
    if day is not None:
        wanted = [as_date(day)]
        if not catalog.features.exists(wanted[0]):
            raise MonitoringError(f"{catalog.features.name} has no partition for {wanted[0]}")
    else:
        wanted = catalog.features.dates(start, end)
    scored = set(catalog.predictions.dates())
    to_score = [d for d in wanted if rescore or d not in scored]
    skipped = [d for d in wanted if d not in to_score]
    return to_score, skipped


@task(name="score-partitions", cache_policy=NO_CACHE)
def score_partitions(project: Project, champion: Champion, dates: list[date]) -> dict[str, int]:
    """Score feature partitions with the champion and write ``predictions`` partitions.

    Returns:
        Rows written per date (ISO text).
    """
    cfg = project.config
    cols = cfg.columns
    catalog = DataCatalog.for_project(project)
    logger = get_run_logger()
    written: dict[str, int] = {}
    read_cols = list(dict.fromkeys(cols.feature_table_columns))
    scored_at = datetime.now(UTC)
    for day in track(dates, "scoring partitions"):
        features = catalog.features.read(dates=[day], columns=read_cols)
        frame = score_features(
            champion.model,
            features,
            task=cfg.model.task,
            id_column=cols.id,
            timestamp_column=cols.timestamp,
            feature_columns=cols.features,
            segment_columns=cols.segments,
            model_version=champion.version,
            scored_at=scored_at,
        )
        catalog.predictions.write_partition(day, frame)
        written[day.isoformat()] = len(frame)
    logger.info(
        "scored %d partition(s), %d rows with version %s",
        len(written),
        sum(written.values()),
        champion.version,
    )
    return written


# -- monitoring inputs ----------------------------------------------------------------------


@task(name="resolve-monitoring-window", cache_policy=NO_CACHE)
def monitoring_window(
    project: Project,
    window: str | None = None,
    days: int | None = None,
    as_of: str | None = None,
) -> MonitoringWindow:
    """The window and ``as_of`` date of this run (the data clock by default).

    Raises:
        MonitoringError: On a malformed window or when there is no data.
    """
    catalog = DataCatalog.for_project(project)
    try:
        return resolve_window(
            catalog.latest_date(), project.config.monitoring.window_days, window, days, as_of
        )
    except ValueError as exc:
        raise MonitoringError(str(exc)) from exc


def _read_labels(catalog: DataCatalog, start: date, as_of: date) -> pd.DataFrame:
    cols = catalog.columns
    label_cols = [cols.id, cols.target] + ([cols.label_timestamp] if cols.label_timestamp else [])
    labels = catalog.labels.read(start, as_of, columns=label_cols, partition_column=ARRIVAL_COLUMN)
    return labels_known_as_of(labels, cols.id, cols.target, as_of, cols.label_timestamp)


def _dedupe_predictions(frame: pd.DataFrame, id_column: str) -> pd.DataFrame:
    """One prediction per id: the latest scored (a row may be logged twice)."""
    if SCORED_AT_COLUMN in frame.columns:
        frame = frame.sort_values(SCORED_AT_COLUMN, kind="stable")
    return frame.drop_duplicates(id_column, keep="last")


@task(name="load-predictions-with-labels", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def load_predictions_with_labels(
    project: Project, window: MonitoringWindow, version: str | None
) -> tuple[pd.DataFrame, list[str]]:
    """The window's predictions joined with the labels known on ``as_of``.

    Args:
        project: The project.
        window: Event dates and ``as_of``.
        version: Keep only this model version's predictions (None: every version).

    Returns:
        The joined frame and notes for the report.

    Raises:
        MonitoringError: When the window holds no predictions (of the version).
    """
    cfg = project.config
    cols = cfg.columns
    catalog = DataCatalog.for_project(project)
    predictions = catalog.predictions.read(window.start, window.end)
    notes: list[str] = []
    if predictions.empty:
        raise MonitoringError(
            f"no predictions between {window.start} and {window.end} in "
            f"{catalog.predictions!r}; run `retrainer score` first"
        )
    check_predictions(
        predictions, id_column=cols.id, timestamp_column=cols.timestamp, task=cfg.model.task
    )
    predictions = _dedupe_predictions(predictions, cols.id)
    if version is not None and MODEL_VERSION_COLUMN in predictions.columns:
        mine = predictions[MODEL_VERSION_COLUMN].astype(str) == str(version)
        excluded = int((~mine).sum())
        if excluded:
            others = sorted(predictions.loc[~mine, MODEL_VERSION_COLUMN].astype(str).unique())
            notes.append(
                f"{excluded} predictions of other versions ({', '.join(others)}) are not "
                f"monitored (monitoring.model_versions: champion)"
            )
        predictions = predictions[mine]
        if predictions.empty:
            raise MonitoringError(
                f"no predictions of champion version {version} between {window.start} and "
                f"{window.end}; run `retrainer score --rescore` or set "
                "monitoring.model_versions: all"
            )
    labels = _read_labels(catalog, window.start, window.as_of)
    joined = join_labels(predictions, labels, cols.id, cols.target)
    get_run_logger().info(
        "%d predictions from %s to %s, %d labelled as of %s",
        len(joined),
        window.start,
        window.end,
        int(joined[LABELLED_COLUMN].sum()),
        window.as_of,
    )
    return joined.reset_index(drop=True), notes


@task(name="load-reference", cache_policy=NO_CACHE)
def load_reference(
    project: Project, champion: Champion, window: MonitoringWindow
) -> tuple[pd.DataFrame | None, str]:
    """Labelled reference rows scored by the champion, for calibration and segment references.

    ``holdout``: the champion's holdout dates (version tags ``retrainer.holdout_start`` /
    ``holdout_end``), rescored, with the labels known on ``as_of``. ``before_window`` (and
    the fallback when the version has no holdout tags): the champion's labelled predictions in
    the ``reference_days`` before the window.

    Returns:
        The rows (None when there are none) and a description of where they come from.
    """
    cfg = project.config
    cols = cfg.columns
    settings = cfg.monitoring.estimation
    catalog = DataCatalog.for_project(project)
    logger = get_run_logger()
    start_tag = champion.tags.get("retrainer.holdout_start")
    end_tag = champion.tags.get("retrainer.holdout_end")
    if settings.reference == "holdout" and start_tag and end_tag:
        labelled = catalog.load_labelled(
            start_tag, end_tag, as_of=window.as_of, columns=cols.feature_table_columns
        )
        if not labelled.frame.empty:
            scored = score_features(
                champion.model,
                labelled.frame,
                task=cfg.model.task,
                id_column=cols.id,
                timestamp_column=cols.timestamp,
                feature_columns=cols.features,
                segment_columns=cols.segments,
                model_version=champion.version,
            )
            scored[cols.target] = labelled.frame[cols.target].to_numpy()
            source = f"champion holdout {start_tag}..{end_tag}"
            logger.info("reference: %d labelled rows of the %s", len(scored), source)
            return scored, source
    first = window.start - timedelta(days=settings.reference_days)
    last = window.start - timedelta(days=1)
    predictions = catalog.predictions.read(first, last)
    if predictions.empty:
        return None, "none"
    predictions = _dedupe_predictions(predictions, cols.id)
    if MODEL_VERSION_COLUMN in predictions.columns:
        predictions = predictions[predictions[MODEL_VERSION_COLUMN].astype(str) == champion.version]
    joined = join_labels(
        predictions, _read_labels(catalog, first, window.as_of), cols.id, cols.target
    )
    joined = joined[joined[LABELLED_COLUMN]].reset_index(drop=True)
    source = f"labelled champion predictions {first}..{last}"
    logger.info("reference: %d rows of %s", len(joined), source)
    return (joined if len(joined) else None), source


@task(name="compute-performance-report", cache_policy=NO_CACHE)
def compute_report(
    project: Project,
    frame: pd.DataFrame,
    reference: pd.DataFrame | None,
    reference_source: str,
    champion: Champion,
    window: MonitoringWindow,
    notes: list[str],
) -> PerformanceReport:
    """Realised and estimated performance, per segment and per day, with verdicts."""
    cfg = project.config
    settings = cfg.monitoring
    segment_columns = settings.segments.columns or cfg.columns.segments
    missing = [c for c in segment_columns if c not in frame.columns]
    if missing:
        raise MonitoringError(
            f"monitoring.segments.columns: {missing} are not in the predictions table; "
            "rescore (`retrainer score --rescore`) after adding them to columns.segments"
        )
    monitor = PerformanceMonitor(
        settings, cfg.model.task, cfg.columns.target, cfg.columns.timestamp, segment_columns
    ).fit(reference, champion.recorded_metrics, reference_source)
    version = champion.version if settings.model_versions == "champion" else None
    report = monitor.evaluate(
        frame,
        model_name=project.model_name,
        model_version=version,
        window_start=window.start,
        window_end=window.end,
        as_of=window.as_of,
        notes=notes,
    )
    logger = get_run_logger()
    logger.info(
        "performance %s: %d breach(es); labelled share %.2f",
        report.verdict,
        len(report.breaches),
        report.labelled_share or 0.0,
    )
    for breach in report.breaches:
        logger.warning(
            "breach: %s %s (%s): %s", breach.metric, breach.basis, breach.scope, breach.reason
        )
    return report


# -- outputs --------------------------------------------------------------------------------


def report_metrics(report: PerformanceReport) -> list[tuple[str, float, int, int]]:
    """Every statistic of a report as MLflow metrics ``(key, value, step, timestamp_ms)``.

    Keys: ``<basis>.<metric>`` (overall) and ``<basis>.<metric>.<column>.<value>`` (segments),
    ``reference.<metric>``, ``threshold.<metric>``, ``support.<basis>``, ``labelled_share``;
    per day ``daily.<metric>.<basis>`` and ``daily.labelled_share`` with step = day index in
    the window and the timestamp of that day.
    """
    log = MetricLog()
    log.add("rows", report.rows)
    log.add("labelled_rows", report.labelled_rows)
    log.add("labelled_share", report.labelled_share)
    log.add("breaches", len(report.breaches))
    for check in report.checks:
        parts = [check.basis, check.metric]
        if check.segment:
            column, _, value = check.segment.partition("=")
            parts += [column, value]
            log.add(metric_key("support", *parts), check.support)
        log.add(metric_key(*parts), check.value)
        if check.segment is None:
            log.add(metric_key("support", check.basis), check.support)
            log.add(metric_key("threshold", check.metric), check.threshold.value)
            log.add(metric_key("reference", check.metric), check.threshold.reference)
        if check.z is not None:
            log.add(metric_key("z", *parts), check.z)
    for metric, gap in report.expectation_gap.items():
        log.add(metric_key("expectation_gap", metric), gap)
    if report.window_start is not None and len(report.daily):
        for _, row in report.daily.iterrows():
            day = row["date"]
            step = (day - report.window_start).days
            log.add("daily.labelled_share", row["labelled_share"], step, day)
            log.add("daily.rows", row["rows"], step, day)
            for metric in report.metrics:
                for basis in ("realised", "estimated"):
                    column = f"{metric}_{basis}"
                    if column in row.index:
                        log.add(metric_key("daily", metric, basis), row[column], step, day)
    return log.rows


@task(name="write-monitoring-report", cache_policy=NO_CACHE)
def write_html_report(
    project: Project, report: PerformanceReport, html: str | None = None
) -> tuple[str, str]:
    """Write the HTML and JSON reports under ``<state_dir>/reports/monitoring`` (and ``html``).

    Returns:
        Paths of the HTML and JSON files in the state directory.
    """
    return write_report_files(
        project.reports_dir("monitoring"),
        f"performance-{report.as_of}",
        render_html(report),
        report.to_dict(),
        html,
    )


@task(name="log-monitoring-run", cache_policy=NO_CACHE)
def log_monitoring_run(
    project: Project, report: PerformanceReport, html_path: str, json_path: str
) -> str:
    """Log every statistic to an MLflow run tagged ``retrainer.kind=monitoring``.

    Returns:
        The run id.
    """
    tags = {
        "retrainer.kind": "monitoring",
        "retrainer.model": project.model_name,
        "retrainer.model_version": report.model_version or "all",
        "retrainer.window_start": str(report.window_start),
        "retrainer.window_end": str(report.window_end),
        "retrainer.as_of": str(report.as_of),
        "retrainer.verdict": report.verdict,
    }
    params = {
        "metrics": ",".join(report.metrics),
        "window_days": str((report.window_end - report.window_start).days + 1)
        if report.window_start and report.window_end
        else "",
        "min_support": str(project.config.monitoring.min_support),
        "segment_min_support": str(project.config.monitoring.segments.min_support),
        "significance": str(project.config.monitoring.significance),
        "estimation": str(report.estimation.available),
        "calibration": str(report.estimation.calibration),
    }
    metrics = report_metrics(report)
    run_id = log_report_run(
        f"monitor-{report.as_of}", tags, params, metrics, [html_path, json_path], "monitoring"
    )
    get_run_logger().info("logged monitoring run %s (%d metrics)", run_id, len(metrics))
    return run_id


@task(name="publish-monitoring-artifact", cache_policy=NO_CACHE)
def publish_report(project: Project, report: PerformanceReport, html_path: str) -> None:
    """The markdown summary as a Prefect artifact."""
    markdown = render_markdown(report) + f"\n\nHTML report: `{html_path}`\n"
    publish_markdown(
        artifact_key("performance", project.model_name),
        markdown,
        description=f"Performance of {project.model_name}: {report.verdict}",
    )
