"""Tasks of the drift flow, and the train flow's hook that logs a model's drift baseline.

The statistics live in :mod:`retrainer.drift`; these tasks read data and models and write
reports, MLflow runs and Prefect artifacts.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from retrainer.config.drift import DriftSection, TrainingBaseline, WindowBaseline
from retrainer.data import DataCatalog
from retrainer.drift import BaselineProfile, DriftDetector, ProfileError
from retrainer.drift.baseline import (
    BASELINE_ARTIFACT_DIR,
    BASELINE_ARTIFACT_PATH,
    BASELINE_FILENAME,
    build_baseline_profile,
    checked_columns,
    parse_baseline,
    prediction_frame,
    require_feature_columns,
)
from retrainer.drift.check import DriftCheck, check_window
from retrainer.drift.html import render_html, render_markdown
from retrainer.monitoring.window import MonitoringWindow, resolve_window
from retrainer.project import Project
from retrainer.registry.lineage import load_model
from retrainer.registry.models import CHAMPION
from retrainer.tasks.artifacts import artifact_key, publish_markdown
from retrainer.tasks.reporting import MetricLog, log_report_run, metric_key, write_report_files
from retrainer.tasks.training import registry_for


class DriftCheckError(Exception):
    """A drift check that cannot run (no champion, no data in the window, bad option ...)."""


# -- the baseline logged with every trained version -----------------------------------------


def _profile_inputs(project: Project) -> dict[str, Any]:
    cols = project.config.columns
    return {
        "numeric": list(cols.numeric),
        "categorical": list(cols.categorical),
        "embeddings": list(cols.embeddings),
        "task": project.config.model.task,
        "config": project.config.drift,
    }


@task(name="log-drift-baseline", cache_policy=NO_CACHE)
def log_drift_baseline(
    project: Project,
    model: Any,
    training_frame: pd.DataFrame,
    holdout_frame: pd.DataFrame,
    run_id: str,
    version: str | None = None,
) -> str:
    """Profile the training rows (and the model's holdout scores) and log it with the run.

    Args:
        project: The project.
        model: The fitted pipeline.
        training_frame: The rows the model was fitted on.
        holdout_frame: The fresh holdout (the prediction baseline); may be empty.
        run_id: The MLflow training run.
        version: The registered version (stored in the profile's metadata).

    Returns:
        The artifact path within the run.
    """
    import mlflow

    cfg = project.config
    predictions = (
        prediction_frame(model, holdout_frame[cfg.columns.features], cfg.model.task)
        if len(holdout_frame)
        else None
    )
    stamps = pd.to_datetime(training_frame[cfg.columns.timestamp], utc=True)
    profile = build_baseline_profile(
        training_frame,
        predictions=predictions,
        metadata={
            "model": project.model_name,
            "version": version,
            "kind": "training",
            "start": str(stamps.min().date()) if len(stamps) else None,
            "end": str(stamps.max().date()) if len(stamps) else None,
        },
        **_profile_inputs(project),
    )
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / BASELINE_FILENAME
        profile.save(local)
        mlflow.MlflowClient().log_artifact(run_id, str(local), artifact_path=BASELINE_ARTIFACT_DIR)
    get_run_logger().info(
        "logged drift baseline (%d columns, %d training rows, %d holdout scores) as %s",
        len(profile.columns),
        profile.n_rows,
        profile.metadata.get("prediction_rows", 0),
        BASELINE_ARTIFACT_PATH,
    )
    return BASELINE_ARTIFACT_PATH


# -- the drift check ------------------------------------------------------------------------


@dataclass
class Baseline:
    """What a drift check compares with, and the model whose predictions are checked."""

    detector: DriftDetector
    info: dict[str, Any]
    model_version: str | None
    model: Any | None
    notes: list[str] = field(default_factory=list)


def parse_baseline_option(
    text: str | None, section: DriftSection
) -> TrainingBaseline | WindowBaseline:
    """:func:`retrainer.drift.baseline.parse_baseline`, failing with :class:`DriftCheckError`."""
    try:
        return parse_baseline(text, section)
    except ValueError as exc:
        raise DriftCheckError(str(exc)) from None


@task(name="resolve-drift-window", cache_policy=NO_CACHE)
def drift_window(
    project: Project, current: str | None, days: int | None, as_of: str | None
) -> MonitoringWindow:
    """The current window: ``START:END``, or the last ``days`` (``drift.window_days``) days.

    Raises:
        DriftCheckError: Malformed or conflicting options, or no data.
    """
    catalog = DataCatalog.for_project(project)
    try:
        return resolve_window(
            catalog.latest_date(), project.config.drift.window_days, current, days, as_of
        )
    except ValueError as exc:
        raise DriftCheckError(str(exc)) from exc


def _read_features(
    catalog: DataCatalog,
    columns: list[str],
    start: date | None = None,
    end: date | None = None,
    dates: list[date] | None = None,
) -> pd.DataFrame:
    frame = catalog.features.read(start, end, columns=columns, dates=dates)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DriftCheckError(
            f"{catalog.features.name}: column(s) {missing} are missing from the data read "
            f"({start or dates}..{end or ''}); validate the batch (`retrainer validate`)"
        )
    return frame


def _champion(project: Project) -> tuple[Any | None, Any | None]:
    registry = registry_for(project)
    version = registry.version_by_alias(CHAMPION)
    if version is None:
        return None, None
    return version, load_model(registry.uri(str(version.version)))


def _download_profile(run_id: str) -> BaselineProfile | None:
    import mlflow
    from mlflow.exceptions import MlflowException

    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path=BASELINE_ARTIFACT_PATH, dst_path=tmp
            )
        except (MlflowException, OSError):
            return None
        return BaselineProfile.load(local)


def _rebuild_training_profile(
    project: Project, version: Any, model: Any, notes: list[str]
) -> BaselineProfile:
    """The baseline of a version trained before baselines were logged: from its window tags."""
    cfg = project.config
    tags = dict(version.tags or {})
    start, end = tags.get("retrainer.window_start"), tags.get("retrainer.window_end")
    if not start or not end:
        raise DriftCheckError(
            f"champion v{version.version} has neither a drift baseline artifact nor "
            "window tags; compare with a production window (--baseline START:END)"
        )
    catalog = DataCatalog.for_project(project)
    features = _read_features(catalog, _feature_read_columns(project), start, end)
    predictions = None
    h_start, h_end = tags.get("retrainer.holdout_start"), tags.get("retrainer.holdout_end")
    if h_start and h_end and cfg.drift.check_predictions:
        holdout = _read_features(catalog, _feature_read_columns(project), h_start, h_end)
        predictions = prediction_frame(model, holdout[cfg.columns.features], cfg.model.task)
    notes.append(
        f"champion v{version.version} has no logged drift baseline: rebuilt from its training "
        f"window {start}..{end} (quarantined or deleted partitions are missing from it)"
    )
    return build_baseline_profile(
        features,
        predictions=predictions,
        metadata={"kind": "training", "start": start, "end": end, "rebuilt": True},
        **_profile_inputs(project),
    )


def _feature_read_columns(project: Project) -> list[str]:
    cols = project.config.columns
    return list(dict.fromkeys([*cols.features, *cols.embeddings]))


@task(name="load-drift-baseline", cache_policy=NO_CACHE)
def load_baseline(
    project: Project, baseline: TrainingBaseline | WindowBaseline, window: MonitoringWindow
) -> Baseline:
    """The detector to compare with: the champion's training profile or a production window.

    Raises:
        DriftCheckError: No champion for a training baseline, an empty baseline window, or a
            profile that does not cover the configured features.
    """
    cfg = project.config
    logger = get_run_logger()
    notes: list[str] = []
    version, model = _champion(project)
    section = cfg.drift
    if isinstance(baseline, TrainingBaseline):
        if version is None:
            raise DriftCheckError(
                f"model {project.model_name!r} has no champion, so there is no training "
                "baseline; run `retrainer train`, or compare with a production window "
                "(--baseline START:END)"
            )
        profile = _download_profile(version.run_id) if version.run_id else None
        if profile is None:
            profile = _rebuild_training_profile(project, version, model, notes)
        try:
            require_feature_columns(
                profile, list(cfg.columns.numeric), list(cfg.columns.categorical), section
            )
        except ProfileError as exc:
            raise DriftCheckError(str(exc)) from exc
        if not section.check_predictions:
            predicted = checked_columns(profile)[1]
            for name in predicted:
                profile.columns.pop(name)
            profile.metadata["prediction_columns"] = []
        info = {
            "kind": "training",
            "start": profile.metadata.get("start"),
            "end": profile.metadata.get("end"),
            "rows": profile.n_rows,
            "description": f"champion v{version.version}'s training data "
            f"{profile.metadata.get('start')}..{profile.metadata.get('end')}",
        }
        detector = DriftDetector.from_profile(profile, section)
    else:
        catalog = DataCatalog.for_project(project)
        features = _read_features(
            catalog, _feature_read_columns(project), baseline.start, baseline.end
        )
        if features.empty:
            raise DriftCheckError(
                f"the baseline window {baseline.start}..{baseline.end} has no feature rows"
            )
        if baseline.end >= window.start and baseline.start <= window.end:
            notes.append(
                f"the baseline window {baseline.start}..{baseline.end} overlaps the current "
                f"window {window.start}..{window.end}: shared days dilute any drift"
            )
        predictions = None
        if model is not None and section.check_predictions:
            predictions = prediction_frame(model, features[cfg.columns.features], cfg.model.task)
            notes.append(
                f"prediction baseline: champion v{version.version}'s scores on the baseline window"
            )
        profile = build_baseline_profile(
            features,
            predictions=predictions,
            metadata={"kind": "window", "start": str(baseline.start), "end": str(baseline.end)},
            **_profile_inputs(project),
        )
        info = {
            "kind": "window",
            "start": str(baseline.start),
            "end": str(baseline.end),
            "rows": len(features),
            "description": f"production window {baseline.start}..{baseline.end}",
        }
        detector = DriftDetector.from_profile(profile, section)
    if model is None or not checked_columns(profile)[1]:
        model = None
    logger.info("drift baseline: %s (%d rows)", info["description"], info["rows"])
    return Baseline(
        detector=detector,
        info=info,
        model_version=str(version.version) if version is not None else None,
        model=model,
        notes=notes,
    )


def _window_days(
    project: Project, catalog: DataCatalog, baseline: Baseline, days: list[date]
) -> Iterator[tuple[date, pd.DataFrame]]:
    cfg = project.config
    columns = _feature_read_columns(project)
    for day in days:
        frame = _read_features(catalog, columns, dates=[day])
        if baseline.model is not None and len(frame):
            scored = prediction_frame(baseline.model, frame[cfg.columns.features], cfg.model.task)
            frame = pd.concat([frame, scored], axis=1)
        yield day, frame


@task(name="check-drift-window", cache_policy=NO_CACHE)
def run_drift_check(project: Project, baseline: Baseline, window: MonitoringWindow) -> DriftCheck:
    """Compare the window with the baseline, day by day (one day in memory at a time).

    Quarantined partitions are not in the features table any more, so they are never read;
    the check notes which days of the window had no partition.

    Raises:
        DriftCheckError: The window has no feature partitions or a day lacks a column.
    """
    catalog = DataCatalog.for_project(project)
    days = catalog.features.dates(window.start, window.end)
    if not days:
        raise DriftCheckError(
            f"no feature partitions between {window.start} and {window.end} in {catalog.features!r}"
        )
    notes = list(baseline.notes)
    expected = pd.date_range(window.start, window.end, freq="D").date
    absent = [d for d in expected if d not in set(days)]
    quarantined = [d for d in absent if catalog.quarantine.is_quarantined(catalog.features.name, d)]
    if quarantined:
        notes.append("quarantined, not checked: " + ", ".join(d.isoformat() for d in quarantined))
    if len(absent) > len(quarantined):
        notes.append(f"{len(absent) - len(quarantined)} day(s) of the window have no partition")
    try:
        report, daily = check_window(
            baseline.detector, _window_days(project, catalog, baseline, days)
        )
    except ValueError as exc:
        raise DriftCheckError(str(exc)) from exc
    if report.baseline_empty_columns:
        notes.append(
            "the baseline has no values of " + ", ".join(report.baseline_empty_columns) + ": "
            "they cannot drift; rebuild the baseline from data that has them"
        )
    _, prediction_cols = checked_columns(baseline.detector.profile_)
    check = DriftCheck(
        model=project.model_name,
        model_version=baseline.model_version,
        window_start=window.start,
        window_end=window.end,
        baseline=baseline.info,
        report=report,
        daily=daily,
        prediction_columns=prediction_cols,
        notes=notes,
    )
    logger = get_run_logger()
    logger.info(
        "drift %s: %d of %d columns drifted over %d rows (%s .. %s)",
        check.verdict,
        len(report.drifted_columns),
        len(report.columns),
        report.n_current,
        window.start,
        window.end,
    )
    for row in check.column_summary():
        if row["status"] != "ok":
            logger.warning(
                "%s %s: %s = %s (threshold %s)",
                row["column"],
                row["status"],
                row["metric"],
                row["value"],
                row["threshold"],
            )
    return check


# -- outputs --------------------------------------------------------------------------------


def drift_metrics(check: DriftCheck) -> list[tuple[str, float, int, int]]:
    """Every statistic of a check as MLflow metrics ``(key, value, step, timestamp_ms)``.

    Keys: ``<metric>.<column>`` (every metric of every column), ``p_value.<metric>.<column>``,
    ``drifted.<column>`` (0/1), ``drift_share``, ``drifted_columns``, ``rows``; per day
    ``daily.<metric>.<column>`` with step = day index in the window and that day's timestamp.
    """
    log = MetricLog()
    report = check.report
    log.add("drift_share", report.drift_share)
    log.add("drifted_columns", len(report.drifted_columns))
    log.add("rows", report.n_current)
    log.add("reference_rows", report.n_reference)
    for column in report.columns:
        log.add(metric_key("drifted", column.column), column.drifted)
        for name, metric in column.metrics.items():
            log.add(metric_key(name, column.column), metric.value)
            log.add(metric_key("p_value", name, column.column), metric.p_value)
    for day in check.daily:
        step = (day.day - check.window_start).days
        log.add("daily.rows", day.n_rows, step, day.day)
        log.add("daily.drifted", day.drifted, step, day.day)
        for column, score in day.scores.items():
            log.add(metric_key("daily", score.metric, column), score.value, step, day.day)
    return log.rows


@task(name="write-drift-report", cache_policy=NO_CACHE)
def write_drift_report(
    project: Project, check: DriftCheck, html: str | None = None
) -> tuple[str, str]:
    """Write the HTML and JSON reports under ``<state_dir>/reports/drift`` (and ``html``).

    Returns:
        Paths of the HTML and JSON files in the state directory.
    """
    return write_report_files(
        project.reports_dir("drift"),
        f"drift-{check.window_start}-{check.window_end}",
        render_html(check),
        check.to_dict(),
        html,
    )


@task(name="log-drift-run", cache_policy=NO_CACHE)
def log_drift_run(project: Project, check: DriftCheck, html_path: str, json_path: str) -> str:
    """Log every statistic to an MLflow run tagged ``retrainer.kind=drift``.

    Returns:
        The run id.
    """
    report = check.report
    tags = {
        "retrainer.kind": "drift",
        "retrainer.model": project.model_name,
        "retrainer.model_version": check.model_version or "none",
        "retrainer.window_start": check.window_start.isoformat(),
        "retrainer.window_end": check.window_end.isoformat(),
        "retrainer.baseline": check.baseline.get("kind", ""),
        "retrainer.verdict": check.verdict,
        "retrainer.drifted_columns": ",".join(report.drifted_columns)[:5000],
    }
    params = {
        "baseline": check.baseline.get("description", ""),
        "columns": str(len(report.columns)),
        "mode": report.mode,
        **{f"setting.{k}": str(v) for k, v in report.settings.items()},
    }
    metrics = drift_metrics(check)
    run_id = log_report_run(
        f"drift-{check.window_start}-{check.window_end}",
        tags,
        params,
        metrics,
        [html_path, json_path],
        "drift",
    )
    get_run_logger().info("logged drift run %s (%d metrics)", run_id, len(metrics))
    return run_id


@task(name="publish-drift-artifact", cache_policy=NO_CACHE)
def publish_drift_report(project: Project, check: DriftCheck, html_path: str) -> None:
    """The markdown summary as a Prefect artifact."""
    publish_markdown(
        artifact_key("drift", project.model_name),
        render_markdown(check) + f"\n\nHTML report: `{html_path}`\n",
        description=f"Drift of {project.model_name}: {check.verdict}",
    )
