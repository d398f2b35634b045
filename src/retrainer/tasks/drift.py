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

from retrainer.config.drift import TrainingBaseline, WindowBaseline
from retrainer.data import DataCatalog, DataReadError
from retrainer.drift import BaselineProfile, DriftDetector, ProfileError
from retrainer.drift.baseline import (
    BASELINE_ARTIFACT_DIR,
    BASELINE_ARTIFACT_PATH,
    BASELINE_FILENAME,
    baseline_info,
    build_baseline_profile,
    checked_columns,
    drop_prediction_columns,
    prediction_frame,
    require_feature_columns,
    window_baseline_notes,
)
from retrainer.drift.check import DriftCheck, DriftCheckError, check_window, drift_metrics
from retrainer.drift.html import render_html, render_markdown
from retrainer.drift.scores import prediction_lookup, split_predictions, with_predictions
from retrainer.monitoring.predictions import SCORE_COLUMN
from retrainer.monitoring.scoring import select_version
from retrainer.monitoring.screen import ReadScreen
from retrainer.monitoring.window import MonitoringWindow, resolve_window
from retrainer.project import Project
from retrainer.registry.champion import Champion, load_champion
from retrainer.tasks.artifacts import artifact_key, publish_markdown
from retrainer.tasks.monitoring import load_version, metric_rows, screen_reads, version_label
from retrainer.tasks.reporting import html_wanted, log_report_run, report_line, write_report_files

__all__ = ["DriftCheckError"]


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


def _feature_read_columns(project: Project) -> list[str]:
    cols = project.config.columns
    return list(dict.fromkeys([cols.id, *cols.features, *cols.embeddings]))


def _read_day(catalog: DataCatalog, columns: list[str], day: date) -> pd.DataFrame:
    frame = catalog.features.read(dates=[day], columns=columns)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DriftCheckError(
            f"{catalog.features.name}: column(s) {missing} are missing from the partition of "
            f"{day}; validate the batch (`retrainer validate --date {day}`)"
        )
    return frame


def _stream_day(
    catalog: DataCatalog, columns: list[str], day: date, batch_rows: int
) -> Iterator[pd.DataFrame]:
    """One day's rows in chunks of ``batch_rows`` (one row group in memory at a time)."""
    try:
        yield from catalog.features.iter_batches(
            columns=columns, batch_size=batch_rows, dates=[day]
        )
    except DataReadError as exc:
        if "missing column" not in str(exc):
            raise
        raise DriftCheckError(
            f"{exc} (the partition of {day}); validate the batch "
            f"(`retrainer validate --date {day}`)"
        ) from exc


def _logged_predictions(
    catalog: DataCatalog, day: date, version: str | None
) -> pd.DataFrame | None:
    """The version's own predictions of a day (rows without a version are scored instead)."""
    if version is None or not catalog.predictions.exists(day):
        return None
    frame = catalog.predictions.read(dates=[day])
    if SCORE_COLUMN not in frame.columns or catalog.columns.id not in frame.columns:
        return None
    return select_version(frame, version, catalog.columns.id, stand_in=False).frame


@dataclass
class _DayReader:
    """Reads the days of a span one at a time, with the checked version's predictions."""

    project: Project
    model: Any | None
    version: str | None
    logged: int = 0
    scored: int = 0

    def __call__(self, days: list[date]) -> Iterator[tuple[date, pd.DataFrame]]:
        catalog = DataCatalog.for_project(self.project)
        columns = _feature_read_columns(self.project)
        for day in days:
            frame = _read_day(catalog, columns, day)
            if self.model is not None and len(frame):
                frame = self._scored(frame, _logged_predictions(catalog, day, self.version))
            yield day, frame

    def batches(self, days: list[date]) -> Iterator[tuple[date, Iterator[pd.DataFrame]]]:
        """The days of a window, each as a stream of chunks (``compute.batch_rows`` rows).

        The checked version's logged predictions of a day (two columns) are read once for
        the day; its feature rows one chunk at a time.
        """
        catalog = DataCatalog.for_project(self.project)
        columns = _feature_read_columns(self.project)
        for day in days:
            yield day, self._day_batches(catalog, columns, day)

    def _day_batches(
        self, catalog: DataCatalog, columns: list[str], day: date
    ) -> Iterator[pd.DataFrame]:
        cfg = self.project.config
        lookup = None
        if self.model is not None:
            logged = _logged_predictions(catalog, day, self.version)
            lookup = prediction_lookup(logged, cfg.columns.id, cfg.model.task)
        for batch in _stream_day(catalog, columns, day, cfg.compute.batch_rows):
            if self.model is not None and len(batch):
                batch = self._scored(batch, None, lookup)
            yield batch

    def _scored(
        self, frame: pd.DataFrame, logged: pd.DataFrame | None, lookup: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        """``frame`` with the version's predictions: logged ones, else scored now."""
        cfg = self.project.config
        with_scores = with_predictions(
            frame,
            logged,
            self.model,
            id_column=cfg.columns.id,
            feature_columns=cfg.columns.features,
            task=cfg.model.task,
            lookup=lookup,
        )
        self.logged += with_scores.logged
        self.scored += with_scores.scored
        return with_scores.frame

    def note(self, span: str) -> str | None:
        """Where the checked predictions of a span came from."""
        if self.model is None or not self.logged + self.scored:
            return None
        return (
            f"predictions of version {self.version} on {span}: {self.logged} logged (the "
            f"predictions table), {self.scored} scored by the drift check (no logged "
            "prediction of the version)"
        )


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


def _read_span(
    project: Project, reader: _DayReader, start: date | str, end: date | str, what: str
) -> tuple[pd.DataFrame, list[str]]:
    """A screened span read whole (a baseline), and the notes on what it left out."""
    screen = screen_reads(project, start, end, verb=f"used as {what}")
    frames = [frame for _, frame in reader(screen.read)]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return frame, screen.notes(f"used as {what}", span=what)


def _rebuild_training_profile(
    project: Project, version: Champion, notes: list[str]
) -> BaselineProfile:
    """The baseline of a version trained before baselines were logged: from its window tags."""
    cfg = project.config
    tags = version.tags
    start, end = tags.get("retrainer.window_start"), tags.get("retrainer.window_end")
    if not start or not end:
        raise DriftCheckError(
            f"version {version.version} has neither a drift baseline artifact nor window "
            "tags; compare with a production window (--baseline START:END)"
        )
    features, left_out = _read_span(
        project, _DayReader(project, None, None), start, end, "the training baseline"
    )
    predictions = None
    h_start, h_end = tags.get("retrainer.holdout_start"), tags.get("retrainer.holdout_end")
    if h_start and h_end and cfg.drift.check_predictions:
        holdout, _ = _read_span(
            project, _DayReader(project, None, None), h_start, h_end, "the holdout"
        )
        if len(holdout):
            predictions = prediction_frame(
                version.model, holdout[cfg.columns.features], cfg.model.task
            )
    notes.append(
        f"version {version.version} has no logged drift baseline: rebuilt from its training "
        f"window {start}..{end}"
    )
    notes += left_out
    return build_baseline_profile(
        features,
        predictions=predictions,
        metadata={"kind": "training", "start": start, "end": end, "rebuilt": True},
        **_profile_inputs(project),
    )


def _training_profile(project: Project, version: Champion, notes: list[str]) -> BaselineProfile:
    section = project.config.drift
    profile = _download_profile(version.run_id) if version.run_id else None
    if profile is None:
        profile = _rebuild_training_profile(project, version, notes)
    cols = project.config.columns
    try:
        require_feature_columns(profile, list(cols.numeric), list(cols.categorical), section)
    except ProfileError as exc:
        raise DriftCheckError(str(exc)) from exc
    if not section.check_predictions:
        drop_prediction_columns(profile)
    return profile


def _window_profile(
    project: Project,
    baseline: WindowBaseline,
    window: MonitoringWindow,
    version: Champion | None,
    notes: list[str],
) -> tuple[BaselineProfile, int]:
    cfg = project.config
    model = version.model if version is not None and cfg.drift.check_predictions else None
    reader = _DayReader(project, model, version.version if version else None)
    frame, left_out = _read_span(project, reader, baseline.start, baseline.end, "the baseline")
    notes += left_out
    if frame.empty:
        raise DriftCheckError(
            f"the baseline window {baseline.start}..{baseline.end} has no feature rows"
            + (" that passed validation" if left_out else "")
        )
    notes += window_baseline_notes(baseline, window.start, window.end)
    notes += [n for n in [reader.note("the baseline window")] if n]
    features, predicted = split_predictions(frame)
    profile = build_baseline_profile(
        features,
        predictions=predicted,
        metadata={"kind": "window", "start": str(baseline.start), "end": str(baseline.end)},
        **_profile_inputs(project),
    )
    return profile, len(frame)


@task(name="load-drift-baseline", cache_policy=NO_CACHE)
def load_baseline(
    project: Project,
    baseline: TrainingBaseline | WindowBaseline,
    window: MonitoringWindow,
    version: str | None = None,
) -> Baseline:
    """The detector to compare with: a version's training profile or a production window.

    Args:
        project: The project.
        baseline: ``training`` or a production window.
        window: The current window (a production baseline overlapping it gets a note).
        version: The version whose baseline and predictions are checked; None: the
            champion (a production window works without one: features only).

    Raises:
        DriftCheckError: No champion (or no such version) for a training baseline, an empty
            baseline window, or a profile that does not cover the configured features.
    """
    notes: list[str] = []
    model = _checked_model(project, version, needed=isinstance(baseline, TrainingBaseline))
    if isinstance(baseline, TrainingBaseline):
        assert model is not None  # needed=True raises instead
        profile = _training_profile(project, model, notes)
        rows = profile.n_rows
    else:
        profile, rows = _window_profile(project, baseline, window, model, notes)
    info = baseline_info(profile, baseline, version_label(model), rows)
    checked = model.model if model is not None and checked_columns(profile)[1] else None
    get_run_logger().info("drift baseline: %s (%d rows)", info["description"], info["rows"])
    return Baseline(
        detector=DriftDetector.from_profile(profile, project.config.drift),
        info=info,
        model_version=model.version if model is not None else None,
        model=checked,
        notes=notes,
    )


def _checked_model(project: Project, version: str | None, *, needed: bool) -> Champion | None:
    """The version whose predictions a check reads: ``version``, else the champion."""
    if version is not None:
        return load_version(project, version, error=DriftCheckError)
    champion = load_champion(project)
    if champion is None and needed:
        raise DriftCheckError(
            f"model {project.model_name!r} has no champion, so there is no training "
            "baseline; run `retrainer train`, or compare with a production window "
            "(--baseline START:END)"
        )
    return champion


@task(name="check-drift-window", cache_policy=NO_CACHE)
def run_drift_check(
    project: Project, baseline: Baseline, window: MonitoringWindow, screen: ReadScreen
) -> DriftCheck:
    """Compare the window's screened days with the baseline, one chunk in memory at a time.

    Partitions the validation screen leaves out (invalid, quarantined, not validated) are
    never read; the check names them in its notes and its ``partitions`` entry.

    Raises:
        DriftCheckError: The window has no readable feature partitions or a day lacks a column.
    """
    if not screen.read:
        left_out = f" that passed validation ({len(screen.excluded)} left out)"
        raise DriftCheckError(
            f"no feature partitions between {window.start} and {window.end} in "
            f"{DataCatalog.for_project(project).features!r}{left_out if screen.excluded else ''}"
        )
    reader = _DayReader(project, baseline.model, baseline.model_version)
    try:
        report, daily = check_window(baseline.detector, reader.batches(screen.read))
    except ValueError as exc:
        raise DriftCheckError(str(exc)) from exc
    notes = [*baseline.notes, *screen.notes("checked")]
    notes += [n for n in [reader.note("the window")] if n]
    if report.baseline_empty_columns:
        notes.append(
            "the baseline has no values of " + ", ".join(report.baseline_empty_columns) + ": "
            "they cannot drift; rebuild the baseline from data that has them"
        )
    check = DriftCheck(
        model=project.model_name,
        model_version=baseline.model_version,
        window_start=window.start,
        window_end=window.end,
        baseline=baseline.info,
        report=report,
        daily=daily,
        prediction_columns=checked_columns(baseline.detector.profile_)[1],
        notes=notes,
        screen=screen,
    )
    _log_check(check)
    return check


def _log_check(check: DriftCheck) -> None:
    logger = get_run_logger()
    report = check.report
    logger.info(
        "drift %s: %d of %d columns drifted over %d rows (%s .. %s)",
        check.verdict,
        len(report.drifted_columns),
        len(report.columns),
        report.n_current,
        check.window_start,
        check.window_end,
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


# -- outputs --------------------------------------------------------------------------------


@task(name="write-drift-report", cache_policy=NO_CACHE)
def write_drift_report(
    project: Project, check: DriftCheck, html: str | None = None
) -> tuple[str, str]:
    """Write the HTML and JSON reports under ``<state_dir>/reports/drift`` (and ``html``).

    The HTML report follows ``drift.html_report``; ``html`` asks for it regardless.

    Returns:
        Paths of the HTML (None when not rendered) and JSON files in the state directory.
    """
    wanted = html_wanted(project.config.drift.html_report, check.drifted, html is not None)
    return write_report_files(
        project.reports_dir("drift"),
        f"drift-{check.window_start}-{check.window_end}",
        render_html(check) if wanted else None,
        check.to_dict(),
        html,
    )


@task(name="log-drift-run", cache_policy=NO_CACHE)
def log_drift_run(
    project: Project, check: DriftCheck, html_path: str | None, json_path: str
) -> str:
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
    metrics = metric_rows(drift_metrics(check))
    run_id = log_report_run(
        f"drift-{check.window_start}-{check.window_end}",
        tags,
        params,
        metrics,
        [p for p in (html_path, json_path) if p],
        "drift",
    )
    get_run_logger().info("logged drift run %s (%d metrics)", run_id, len(metrics))
    return run_id


@task(name="publish-drift-artifact", cache_policy=NO_CACHE)
def publish_drift_report(project: Project, check: DriftCheck, html_path: str | None) -> None:
    """The markdown summary as a Prefect artifact."""
    publish_markdown(
        artifact_key("drift", project.model_name),
        render_markdown(check) + report_line(html_path, "drift.html_report"),
        description=f"Drift of {project.model_name}: {check.verdict}",
    )
