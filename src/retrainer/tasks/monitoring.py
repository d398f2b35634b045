"""Tasks of the score and monitor flows: the model, screened reads, predictions, outputs.

The statistics and the data-side rules live in the core: partition selection and versions
side by side in :mod:`retrainer.monitoring.scoring`, the validation screen in
:mod:`retrainer.monitoring.screen`, metric flattening in :mod:`retrainer.monitoring.report`.
These tasks read and write.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import cast

import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote

from retrainer.data import DataCatalog, as_date
from retrainer.monitoring import (
    PerformanceMonitor,
    PerformanceReport,
    check_predictions,
    join_labels,
    labels_known_as_of,
    score_features,
)
from retrainer.monitoring.errors import MonitoringError
from retrainer.monitoring.html import render_html, render_markdown
from retrainer.monitoring.labels import ARRIVAL_COLUMN, LABELLED_COLUMN
from retrainer.monitoring.report import MetricPoint, report_metrics
from retrainer.monitoring.scoring import merge_predictions, select_version
from retrainer.monitoring.screen import ReadScreen, screen_span
from retrainer.monitoring.window import MonitoringWindow, resolve_window
from retrainer.progress import track
from retrainer.project import Project
from retrainer.registry.champion import (
    Champion,
    NoChampionError,
    _recorded_metrics,
    load_champion,
    registry_for,
)
from retrainer.registry.lineage import load_model
from retrainer.registry.models import CHAMPION, RegistryError
from retrainer.tasks.artifacts import artifact_key, publish_markdown
from retrainer.tasks.reporting import (
    MetricLog,
    html_wanted,
    log_report_run,
    metric_key,
    report_line,
    write_report_files,
)
from retrainer.tasks.validation import (
    publish_validation_summary,
    resolve_validation_suite,
    validate_and_record,
)
from retrainer.validation.store import ledger_for

__all__ = ["MonitoringError"]

MAX_LOGGED_EXCLUSIONS = 20


# -- the model ------------------------------------------------------------------------------


def load_version(
    project: Project, version: str | None = None, *, error: type[Exception] = MonitoringError
) -> Champion:
    """A registered version with its pipeline, tags and recorded holdout metrics.

    Args:
        project: The project (MLflow configured).
        version: The version number; None: the champion.
        error: The exception raised when there is no such version (or no champion).

    Raises:
        Exception: ``error``, naming the model and the version.
    """
    if version is None:
        try:
            return cast(Champion, load_champion(project, required=True))
        except NoChampionError as exc:
            raise error(str(exc)) from None
    registry = registry_for(project)
    try:
        found = registry.get_version(version)
    except RegistryError as exc:
        raise error(f"--version {version}: {exc}") from None
    run_id = getattr(found, "run_id", None)
    return Champion(
        version=str(found.version),
        model=load_model(registry.uri(str(found.version))),
        run_id=run_id,
        tags=dict(found.tags or {}),
        recorded_metrics=_recorded_metrics(registry, run_id),
        model_version=found,
    )


@task(name="load-model-version", cache_policy=NO_CACHE)
def load_monitored_model(project: Project, version: str | None = None) -> Champion:
    """The version a scoring or monitoring run uses: ``version``, or the champion.

    Raises:
        MonitoringError: When the model has no champion or no such version.
    """
    model = load_version(project, version)
    get_run_logger().info(
        "%s version %s%s (recorded holdout metrics: %s)",
        project.model_name,
        model.version,
        "" if version is not None else " (champion)",
        ", ".join(f"{k}={v:.4f}" for k, v in model.recorded_metrics.items()) or "none",
    )
    return model


# -- the validation screen ------------------------------------------------------------------


def screen_reads(
    project: Project,
    start: date | str | None,
    end: date | str | None,
    *,
    present: Iterable[date] | None = None,
    verb: str = "read",
) -> ReadScreen:
    """Which partitions of ``start..end`` a run may read, as the train flow decides it.

    Partitions the validation ledger marks invalid or quarantined are never read. Those
    never validated follow ``validation.before_training``: ``validate`` validates them first
    (the champion's suite, else the reference one; failures are quarantined or marked
    invalid, and left out), ``skip`` leaves them out, ``allow`` reads them (also with
    ``validation.enabled: false``).

    Args:
        project: The project (MLflow configured, for ``validate``).
        start: First date (None: open).
        end: Last date (None: open).
        present: The partitions the run would read (default: the feature partitions of the
            span); e.g. prediction partitions, whose feature partition decides.
        verb: What the run does with a partition, for the log lines.

    Returns:
        The screen (``validated`` lists what this call validated).
    """
    rules = project.config.validation
    policy = rules.before_training if rules.enabled else "allow"
    lo = as_date(start) if start is not None else None
    hi = as_date(end) if end is not None else None
    catalog = DataCatalog.for_project(project)
    ledger = ledger_for(project, catalog)
    features = catalog.features.dates(lo, hi)
    ledger.observe(features)
    days = sorted(set(features if present is None else present))
    validated = []
    if policy == "validate":
        validated = [d for d in ledger.pending(days) if d in set(features)]
        if validated:
            _validate_first(project, validated)
            if present is None:
                days = catalog.features.dates(lo, hi)
    screen = screen_span(
        days,
        ledger.entries(),
        policy,
        start=lo,
        end=hi,
        quarantined=catalog.quarantine.dates(catalog.features.name),
        validation_enabled=rules.enabled,
    )
    screen.validated = validated
    _log_screen(screen, verb)
    return screen


def _validate_first(project: Project, days: list[date]) -> None:
    get_run_logger().info(
        "validating %d partition(s) never validated (%s .. %s; validation.before_training: "
        "validate)",
        len(days),
        days[0],
        days[-1],
    )
    suite = resolve_validation_suite(project)
    batches, _ = validate_and_record(project, suite, list(days))
    publish_validation_summary(project, quote(batches), quote(suite))


def _log_screen(screen: ReadScreen, verb: str) -> None:
    logger = get_run_logger()
    shown = list(screen.excluded.items())[:MAX_LOGGED_EXCLUSIONS]
    for day, why in shown:
        logger.warning("not %s %s: %s", verb, day, why)
    if len(screen.excluded) > len(shown):
        logger.warning("... and %d more partitions not %s", len(screen.excluded) - len(shown), verb)
    if screen.unvalidated_read:
        logger.warning(
            "%d partition(s) never validated are %s (%s)",
            len(screen.unvalidated_read),
            verb,
            "validation.before_training: allow"
            if screen.validation_enabled
            else "validation is disabled",
        )


# -- scoring --------------------------------------------------------------------------------


@task(name="score-partitions", cache_policy=NO_CACHE)
def score_partitions(project: Project, model: Champion, dates: list[date]) -> dict[str, int]:
    """Score feature partitions with a version and write its rows into ``predictions``.

    The partition keeps the other versions' predictions; this version's rows are replaced
    (:func:`retrainer.monitoring.scoring.merge_predictions`).

    Returns:
        Rows written per date (ISO text).
    """
    cfg = project.config
    cols = cfg.columns
    catalog = DataCatalog.for_project(project)
    written: dict[str, int] = {}
    read_cols = list(dict.fromkeys(cols.feature_table_columns))
    scored_at = datetime.now(UTC)
    for day in track(dates, "scoring partitions"):
        features = catalog.features.read(dates=[day], columns=read_cols)
        frame = score_features(
            model.model,
            features,
            task=cfg.model.task,
            id_column=cols.id,
            timestamp_column=cols.timestamp,
            feature_columns=cols.features,
            segment_columns=cols.segments,
            model_version=model.version,
            scored_at=scored_at,
        )
        existing = (
            catalog.predictions.read(dates=[day]) if catalog.predictions.exists(day) else None
        )
        catalog.predictions.write_partition(day, merge_predictions(existing, frame, model.version))
        written[day.isoformat()] = len(frame)
    get_run_logger().info(
        "scored %d partition(s), %d rows with version %s",
        len(written),
        sum(written.values()),
        model.version,
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


def screen_predictions(project: Project, window: MonitoringWindow) -> ReadScreen:
    """The validation screen of the window's prediction partitions (see :func:`screen_reads`).

    A prediction partition is read only when its feature partition passed validation: a batch
    scored before validation marked it invalid or quarantined is not monitored.
    """
    catalog = DataCatalog.for_project(project)
    present = catalog.predictions.dates(window.start, window.end)
    return screen_reads(project, window.start, window.end, present=present, verb="monitored")


def _version_chosen_by(project: Project, version: str | None, requested: bool) -> str:
    if requested:
        return f"--version {version}"
    return f"monitoring.model_versions: {project.config.monitoring.model_versions}"


@task(name="load-predictions-with-labels", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def load_predictions_with_labels(
    project: Project,
    window: MonitoringWindow,
    version: str | None,
    screen: ReadScreen,
    requested: bool = False,
) -> tuple[pd.DataFrame, list[str]]:
    """The window's screened predictions of one version joined with the labels known on ``as_of``.

    Args:
        project: The project.
        window: Event dates and ``as_of``.
        version: Keep only this model version's predictions (None: every version).
        screen: The validation screen of the window (:func:`screen_predictions`).
        requested: Whether the version was asked for (``--version``), for the notes.

    Returns:
        The joined frame and notes for the report.

    Raises:
        MonitoringError: When the window holds no readable predictions (of the version).
    """
    cfg = project.config
    cols = cfg.columns
    catalog = DataCatalog.for_project(project)
    predictions = catalog.predictions.read(dates=screen.read) if screen.read else pd.DataFrame()
    if predictions.empty:
        left_out = f" ({len(screen.excluded)} partition(s) left out: see the log)"
        raise MonitoringError(
            f"no predictions between {window.start} and {window.end} in "
            f"{catalog.predictions!r}{left_out if screen.excluded else ''}; run `retrainer "
            "score` first"
        )
    check_predictions(
        predictions, id_column=cols.id, timestamp_column=cols.timestamp, task=cfg.model.task
    )
    selected = select_version(predictions, version, cols.id)
    notes = [
        *screen.notes("monitored"),
        *selected.notes(_version_chosen_by(project, version, requested)),
    ]
    if selected.frame.empty:
        hint = (
            f"--rescore --version {version}`"
            if requested
            else "--rescore` or set monitoring.model_versions: all"
        )
        raise MonitoringError(
            f"no predictions of version {version} between {window.start} and {window.end}; "
            f"run `retrainer score {hint}"
        )
    labels = _read_labels(catalog, window.start, window.as_of)
    joined = join_labels(selected.frame, labels, cols.id, cols.target)
    get_run_logger().info(
        "%d predictions from %s to %s, %d labelled as of %s",
        len(joined),
        window.start,
        window.end,
        int(joined[LABELLED_COLUMN].sum()),
        window.as_of,
    )
    return joined.reset_index(drop=True), notes


def is_champion(model: Champion) -> bool:
    """Whether the loaded version carries the ``champion`` alias."""
    return CHAMPION in (getattr(model.model_version, "aliases", None) or [])


def version_label(model: Champion | None) -> str | None:
    """``champion v3`` for the champion, else ``v3`` (None without a model)."""
    if model is None:
        return None
    return f"champion v{model.version}" if is_champion(model) else f"v{model.version}"


def _role(model: Champion) -> str:
    return "champion" if is_champion(model) else f"version {model.version}"


def _score_holdout(
    project: Project, model: Champion, window: MonitoringWindow
) -> tuple[pd.DataFrame | None, str]:
    """The version's holdout rows (tags ``retrainer.holdout_start/end``) scored and labelled."""
    cfg = project.config
    cols = cfg.columns
    start, end = model.tags.get("retrainer.holdout_start"), model.tags.get("retrainer.holdout_end")
    if not start or not end:
        return None, "none"
    screen = screen_reads(project, start, end, verb="used as reference")
    labelled = DataCatalog.for_project(project).load_labelled(
        start,
        end,
        as_of=window.as_of,
        columns=cols.feature_table_columns,
        exclude=screen.excluded,
    )
    if labelled.frame.empty:
        return None, "none"
    scored = score_features(
        model.model,
        labelled.frame,
        task=cfg.model.task,
        id_column=cols.id,
        timestamp_column=cols.timestamp,
        feature_columns=cols.features,
        segment_columns=cols.segments,
        model_version=model.version,
    )
    scored[cols.target] = labelled.frame[cols.target].to_numpy()
    return scored, f"{_role(model)} holdout {start}..{end}"


@task(name="load-reference", cache_policy=NO_CACHE)
def load_reference(
    project: Project, model: Champion, window: MonitoringWindow
) -> tuple[pd.DataFrame | None, str]:
    """Labelled reference rows scored by the version, for calibration and segment references.

    ``holdout``: the version's holdout dates (version tags ``retrainer.holdout_start`` /
    ``holdout_end``), rescored, with the labels known on ``as_of``. ``before_window`` (and
    the fallback when the version has no holdout tags): the version's labelled predictions in
    the ``reference_days`` before the window. Either way, partitions that failed validation
    are not read (:func:`screen_reads`).

    Returns:
        The rows (None when there are none) and a description of where they come from.
    """
    cols = project.config.columns
    settings = project.config.monitoring.estimation
    logger = get_run_logger()
    if settings.reference == "holdout":
        scored, source = _score_holdout(project, model, window)
        if scored is not None:
            logger.info("reference: %d labelled rows of the %s", len(scored), source)
            return scored, source
    first = window.start - timedelta(days=settings.reference_days)
    last = window.start - timedelta(days=1)
    catalog = DataCatalog.for_project(project)
    present = catalog.predictions.dates(first, last)
    screen = screen_reads(project, first, last, present=present, verb="used as reference")
    predictions = catalog.predictions.read(dates=screen.read) if screen.read else pd.DataFrame()
    if predictions.empty:
        return None, "none"
    mine = select_version(predictions, model.version, cols.id).frame
    joined = join_labels(mine, _read_labels(catalog, first, window.as_of), cols.id, cols.target)
    joined = joined[joined[LABELLED_COLUMN]].reset_index(drop=True)
    source = f"labelled {_role(model)} predictions {first}..{last}"
    logger.info("reference: %d rows of %s", len(joined), source)
    return (joined if len(joined) else None), source


@task(name="compute-performance-report", cache_policy=NO_CACHE)
def compute_report(
    project: Project,
    frame: pd.DataFrame,
    reference: tuple[pd.DataFrame | None, str],
    model: Champion,
    window: MonitoringWindow,
    notes: list[str],
    monitored_version: str | None,
    screen: ReadScreen | None = None,
) -> PerformanceReport:
    """Realised and estimated performance, per segment and per day, with verdicts.

    Args:
        project: The project.
        frame: The monitored predictions joined with the labels known on ``as_of``.
        reference: The reference rows (or None) and where they come from.
        model: The version whose recorded holdout metrics are the reference performance.
        window: The window.
        notes: Lines for the report.
        monitored_version: The version the predictions are of (None: every version).
        screen: The validation screen of the window, reported with the result.
    """
    cfg = project.config
    settings = cfg.monitoring
    segment_columns = settings.segments.columns or cfg.columns.segments
    missing = [c for c in segment_columns if c not in frame.columns]
    if missing:
        raise MonitoringError(
            f"monitoring.segments.columns: {missing} are not in the predictions table; "
            "rescore (`retrainer score --rescore`) after adding them to columns.segments"
        )
    rows, source = reference
    monitor = PerformanceMonitor(
        settings, cfg.model.task, cfg.columns.target, cfg.columns.timestamp, segment_columns
    ).fit(rows, model.recorded_metrics, source)
    report = monitor.evaluate(
        frame,
        model_name=project.model_name,
        model_version=monitored_version,
        window_start=window.start,
        window_end=window.end,
        as_of=window.as_of,
        notes=notes,
    )
    report.screen = screen
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


def metric_rows(points: Iterable[MetricPoint]) -> list[tuple[str, float, int, int]]:
    """Core metric points as MLflow rows ``(key, value, step, timestamp_ms)`` (None/NaN dropped)."""
    log = MetricLog()
    for key, value, step, day in points:
        log.add(metric_key(key), value, step, day)
    return log.rows


@task(name="write-monitoring-report", cache_policy=NO_CACHE)
def write_html_report(
    project: Project, report: PerformanceReport, html: str | None = None
) -> tuple[str, str]:
    """Write the HTML and JSON reports under ``<state_dir>/reports/monitoring`` (and ``html``).

    The HTML report follows ``monitoring.html_report``; ``html`` asks for it regardless.

    Returns:
        Paths of the HTML (None when not rendered) and JSON files in the state directory.
    """
    setting = project.config.monitoring.html_report
    wanted = html_wanted(setting, report.degraded, html is not None)
    return write_report_files(
        project.reports_dir("monitoring"),
        f"performance-{report.as_of}",
        render_html(report) if wanted else None,
        report.to_dict(),
        html,
    )


@task(name="log-monitoring-run", cache_policy=NO_CACHE)
def log_monitoring_run(
    project: Project, report: PerformanceReport, html_path: str | None, json_path: str
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
    metrics = metric_rows(report_metrics(report))
    run_id = log_report_run(
        f"monitor-{report.as_of}",
        tags,
        params,
        metrics,
        [p for p in (html_path, json_path) if p],
        "monitoring",
    )
    get_run_logger().info("logged monitoring run %s (%d metrics)", run_id, len(metrics))
    return run_id


@task(name="publish-monitoring-artifact", cache_policy=NO_CACHE)
def publish_report(project: Project, report: PerformanceReport, html_path: str | None) -> None:
    """The markdown summary as a Prefect artifact."""
    markdown = render_markdown(report) + report_line(html_path, "monitoring.html_report")
    publish_markdown(
        artifact_key("performance", project.model_name),
        markdown,
        description=f"Performance of {project.model_name}: {report.verdict}",
    )
