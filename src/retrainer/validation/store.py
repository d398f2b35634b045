"""Where suites come from: the champion's training run in MLflow, or a reference window.

* Once a model is trained, its suite (built from its training frame) is logged as the MLflow
  artifact ``validation/expectation_suite.json`` of the training run. While that version is the
  champion, its suite validates every new batch.
* Before any champion exists (or when the champion was logged without a suite), the suite is
  built from the configured reference window (``validation.reference``: the first N days by
  default) and kept in ``<state_dir>/validation/reference_suite.json``.

Either way, when the column roles or the ``validation`` rules changed since the suite was built,
it is rebuilt from the reference profile it carries (same reference data, current rules).
"""

from __future__ import annotations

import io
import json
import logging
import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow.parquet as pq

from retrainer.data.tables import as_date
from retrainer.validation.batch import BatchValidation
from retrainer.validation.ledger import ValidationLedger
from retrainer.validation.profile import profile_reference
from retrainer.validation.suite import SuiteError, ValidationSuite, build_suite

if TYPE_CHECKING:
    from retrainer.data import DataCatalog
    from retrainer.project import Project

logger = logging.getLogger(__name__)

SUITE_ARTIFACT_DIR = "validation"
SUITE_FILENAME = "expectation_suite.json"
SUITE_ARTIFACT_PATH = f"{SUITE_ARTIFACT_DIR}/{SUITE_FILENAME}"
REFERENCE_SUITE_FILENAME = "reference_suite.json"
LEDGER_FILENAME = "ledger.json"


def validation_dir(project: Project) -> Path:
    """``<state_dir>/validation`` (created)."""
    path = project.state_dir / "validation"
    path.mkdir(parents=True, exist_ok=True)
    return path


def ledger_for(project: Project, catalog: DataCatalog) -> ValidationLedger:
    """The ledger of validated feature partitions of the project's data source."""
    return ValidationLedger(
        validation_dir(project) / LEDGER_FILENAME, catalog.storage.uri, catalog.features.name
    )


def suite_name(project: Project) -> str:
    """The suite's name: ``<model>.<features table>``."""
    return f"{project.model_name}.{project.config.data.tables.features}"


def partition_row_counts(catalog: DataCatalog, days: list[date]) -> dict[str, int]:
    """Rows per feature partition, from the Parquet footers (the data is not read)."""
    table = catalog.features
    counts: dict[str, int] = {}
    for day in days:
        total = 0
        for key in table.files(day):
            local = table.storage.local_path(key)
            source = str(local) if local is not None else io.BytesIO(table.storage.read_bytes(key))
            total += pq.read_metadata(source).num_rows
        counts[as_date(day).isoformat()] = total
    return counts


def _excluded_columns(project: Project, frame: pd.DataFrame) -> list[str]:
    cols = project.config.columns
    excluded = [cols.target]
    if cols.label_timestamp:
        excluded.append(cols.label_timestamp)
    excluded += [c for c in frame.columns if str(c).startswith("_")]
    return excluded


def build_suite_from_frame(
    project: Project,
    frame: pd.DataFrame,
    source: dict[str, Any],
    catalog: DataCatalog | None = None,
) -> ValidationSuite:
    """Profile a reference frame and build the project's suite from it.

    Args:
        project: The project (column roles and ``validation`` rules).
        frame: Reference rows, e.g. a training frame (the target column is ignored).
        source: Where the rows came from (kept in the suite and reported).
        catalog: When given, daily row counts come from the partition files of the frame's
            dates: a training frame may be sampled or lack unlabelled rows.

    Returns:
        The suite.

    Raises:
        SuiteError: When the frame is empty or an override does not fit.
    """
    cfg = project.config
    cols = cfg.columns
    daily_rows = None
    if catalog is not None and cols.timestamp in frame.columns and not frame.empty:
        stamps = pd.to_datetime(frame[cols.timestamp], utc=True).dropna()
        days = sorted(set(stamps.dt.date))
        if days:
            present = set(catalog.features.dates(days[0], days[-1]))
            daily_rows = partition_row_counts(catalog, [d for d in days if d in present]) or None
    try:
        profile = profile_reference(
            frame,
            id_column=cols.id,
            timestamp_column=cols.timestamp,
            numeric_columns=cols.numeric,
            categorical_columns=[*cols.categorical, *cols.segments],
            exclude=_excluded_columns(project, frame),
            daily_rows=daily_rows,
        )
    except ValueError as exc:
        raise SuiteError(str(exc)) from exc
    return build_suite(profile, cols, cfg.validation, name=suite_name(project), source=source)


# -- reference window (before a champion exists) ---------------------------------------------
def reference_dates(project: Project, catalog: DataCatalog) -> list[date]:
    """The feature partitions of the configured reference window.

    Raises:
        SuiteError: When the window holds no partition.
    """
    rules = project.config.validation.reference
    if rules.start is not None:
        end = rules.end or rules.start + timedelta(days=rules.days - 1)
        days = catalog.features.dates(rules.start, end)
        where = f"validation.reference {rules.start}..{end}"
    else:
        days = catalog.features.dates()[: rules.days]
        where = f"the first {rules.days} days (validation.reference.days)"
    if not days:
        raise SuiteError(
            f"no reference data: {catalog.storage.describe(catalog.features.name)} has no "
            f"partitions in {where}"
        )
    return days


def reference_suite(project: Project, catalog: DataCatalog) -> ValidationSuite:
    """The reference-window suite from ``<state_dir>/validation``, built or rebuilt as needed.

    It is built from the data when missing or when the configured window changed, and rebuilt
    from its profile when only the rules or column roles changed.

    Raises:
        SuiteError: When there is no reference data.
    """
    cfg = project.config
    path = validation_dir(project) / REFERENCE_SUITE_FILENAME
    window = cfg.validation.reference.model_dump(mode="json")
    if path.exists():
        try:
            suite = ValidationSuite.load(path)
        except SuiteError as exc:
            logger.warning("rebuilding the reference suite: %s", exc)
        else:
            if suite.source.get("window") == window and suite.source.get("data") == (
                catalog.storage.uri
            ):
                if not suite.is_current(cfg.columns, cfg.validation):
                    suite = suite.rebuilt(cfg.columns, cfg.validation)
                    suite.save(path)
                return suite
    days = reference_dates(project, catalog)
    read = catalog.features.read_window(dates=days)
    source = {
        "kind": "reference_window",
        "description": f"reference window {days[0]}..{days[-1]} ({len(read.frame):,} rows)",
        "start": days[0].isoformat(),
        "end": days[-1].isoformat(),
        "window": window,
        "data": catalog.storage.uri,
        "fingerprint": read.fingerprint,
    }
    suite = build_suite_from_frame(project, read.frame, source, catalog)
    suite.save(path)
    return suite


# -- the champion's suite in MLflow ------------------------------------------------------------
def champion_suite(project: Project) -> ValidationSuite | None:
    """The suite logged with the champion's training run (MLflow must be configured).

    Returns:
        The suite, or None without a champion or when its run has no suite artifact.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    from retrainer.registry.models import CHAMPION, ModelRegistry

    registry = ModelRegistry(project.model_name, lock_dir=project.state_dir / "locks")
    version = registry.version_by_alias(CHAMPION)
    if version is None or not version.run_id:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = mlflow.artifacts.download_artifacts(
                run_id=version.run_id, artifact_path=SUITE_ARTIFACT_PATH, dst_path=tmp
            )
        except (MlflowException, OSError) as exc:
            logger.warning(
                "champion %s v%s has no %s artifact (%s); using the reference window",
                project.model_name,
                version.version,
                SUITE_ARTIFACT_PATH,
                exc,
            )
            return None
        suite = ValidationSuite.load(local)
    source = suite.retrainer.setdefault("source", {})
    source.update(
        {
            "kind": "champion",
            "version": str(version.version),
            "run_id": version.run_id,
            "description": f"champion {project.model_name} v{version.version} "
            f"(training data {source.get('start')}..{source.get('end')})",
        }
    )
    return suite


def resolve_suite(project: Project, catalog: DataCatalog) -> ValidationSuite:
    """The suite that validates new batches: the champion's, else the reference window's.

    Raises:
        SuiteError: Without a champion suite and without reference data.
    """
    cfg = project.config
    suite = champion_suite(project)
    if suite is None:
        return reference_suite(project, catalog)
    if not suite.is_current(cfg.columns, cfg.validation):
        suite = suite.rebuilt(cfg.columns, cfg.validation)
        suite.retrainer["source"]["description"] += ", rebuilt with the current validation rules"
    return suite


def log_batch_result(batch: BatchValidation, report_html: str) -> None:
    """Log a validated batch to the active MLflow run: counts, the GX result, findings, report.

    Metrics: ``rows``, ``expectations_evaluated``, ``expectations_failed``, ``success_ratio``,
    ``errors``, ``warnings``, ``gx_seconds``. Artifacts under ``validation/``:
    ``gx_result.json``, ``findings.json`` and ``report.html``.
    """
    import mlflow

    stats = batch.statistics
    evaluated = int(stats.get("evaluated_expectations", 0))
    failed = int(stats.get("unsuccessful_expectations", 0))
    mlflow.log_metrics(
        {
            "rows": float(batch.rows),
            "expectations_evaluated": float(evaluated),
            "expectations_failed": float(failed),
            "success_ratio": (evaluated - failed) / evaluated if evaluated else 0.0,
            "errors": float(len(batch.errors)),
            "warnings": float(len(batch.warnings)),
            "gx_seconds": float(batch.seconds),
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        files = {
            "gx_result.json": json.dumps(batch.result, indent=1, default=str),
            "findings.json": json.dumps(batch.summary(max_findings=1000), indent=1),
            "report.html": report_html,
        }
        for name, text in files.items():
            (directory / name).write_text(text, encoding="utf-8")
        mlflow.log_artifacts(str(directory), artifact_path=SUITE_ARTIFACT_DIR)


def log_suite_artifact(suite: ValidationSuite, run_id: str | None = None) -> str:
    """Log the suite JSON as ``validation/expectation_suite.json`` of an MLflow run.

    Args:
        suite: The suite.
        run_id: The run; default: the active run.

    Returns:
        The artifact path within the run.

    Raises:
        SuiteError: Without ``run_id`` and without an active run.
    """
    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        local = suite.save(Path(tmp) / SUITE_FILENAME)
        active = mlflow.active_run()
        if run_id is None and active is None:
            raise SuiteError("no MLflow run to log the validation suite to (pass run_id)")
        if active is not None and (run_id is None or run_id == active.info.run_id):
            mlflow.log_artifact(str(local), artifact_path=SUITE_ARTIFACT_DIR)
        else:
            mlflow.MlflowClient().log_artifact(run_id, str(local), artifact_path=SUITE_ARTIFACT_DIR)
    return SUITE_ARTIFACT_PATH
