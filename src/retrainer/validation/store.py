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

import hashlib
import io
import logging
import tempfile
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow.parquet as pq

from retrainer.data.tables import DataReadError, as_date
from retrainer.validation.batch import BatchValidation
from retrainer.validation.ledger import ValidationLedger, import_file_ledger
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
"""The ledger file of older retrainers, imported into the operational store once."""


def validation_dir(project: Project) -> Path:
    """``<state_dir>/validation`` (created)."""
    path = project.state_dir / "validation"
    path.mkdir(parents=True, exist_ok=True)
    return path


def ledger_for(project: Project, catalog: DataCatalog) -> ValidationLedger:
    """The ledger of validated feature partitions of the project's data source.

    It lives in the project's operational store (:func:`retrainer.store.open_store`); an
    ``<state_dir>/validation/ledger.json`` of an older retrainer is imported on first use.
    """
    from retrainer.store import open_store

    store = catalog.store or open_store(project)
    legacy = project.resolve(project.config.state_dir) / "validation" / LEDGER_FILENAME
    import_file_ledger(store, legacy)
    return ValidationLedger(store, catalog.storage.uri, catalog.features.name)


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


def read_reference(catalog: DataCatalog, days: list[date]) -> tuple[pd.DataFrame, dict, str]:
    """The rows of reference partitions, without those whose schema differs from the rest.

    A partition with another set of columns or dtypes (a renamed column, numbers as text)
    is broken data, not reference: the most common schema wins.

    Returns:
        ``(frame, excluded, fingerprint)``: excluded is date (ISO) → why.

    Raises:
        SuiteError: When no partition can be read.
    """
    reads, excluded = {}, {}
    for day in days:
        try:
            reads[day] = catalog.features.read_window(dates=[day])
        except DataReadError as exc:
            excluded[day.isoformat()] = f"unreadable: {exc}"
    if not reads:
        raise SuiteError(f"no reference data could be read: {next(iter(excluded.values()))}")

    def schema(frame: pd.DataFrame) -> tuple:
        return tuple((str(c), str(t)) for c, t in frame.dtypes.items())

    counts = Counter(schema(r.frame) for r in reads.values() if not r.frame.empty)
    if not counts:
        raise SuiteError("the reference partitions hold no rows")
    common = dict(counts.most_common(1)[0][0])
    kept = []
    for day, read in reads.items():
        if read.frame.empty:
            continue
        other = dict(schema(read.frame))
        if other != common:
            changed = sorted({*other.items()} ^ {*common.items()}, key=lambda item: item[0])[:3]
            excluded[day.isoformat()] = (
                "schema differs from the other reference days: "
                + ", ".join(f"{name}: {dtype}" for name, dtype in changed)
            )
            continue
        kept.append(read)
    frame = pd.concat([r.frame for r in kept], ignore_index=True)
    digest = hashlib.sha256("".join(r.fingerprint for r in kept).encode()).hexdigest()[:16]
    return frame, dict(sorted(excluded.items())), digest


def _build_from_days(
    project: Project, catalog: DataCatalog, days: list[date], source: dict[str, Any]
) -> ValidationSuite:
    """Profile the given feature partitions and build the project's suite."""
    frame, excluded, fingerprint = read_reference(catalog, days)
    suite = build_suite_from_frame(project, frame, {**source, "fingerprint": fingerprint}, catalog)
    if excluded:
        suite.retrainer["profile"]["excluded_days"] = {
            **excluded,
            **suite.retrainer["profile"].get("excluded_days", {}),
        }
        suite.retrainer["notes"].append(
            f"{len(excluded)} reference partition(s) with another schema left out: "
            + "; ".join(f"{d}: {why}" for d, why in list(excluded.items())[:3])
        )
    return suite


def reference_suite(
    project: Project, catalog: DataCatalog, rebuild: bool = False
) -> ValidationSuite:
    """The reference-window suite from ``<state_dir>/validation``, built or rebuilt as needed.

    It is built from the data when missing, when the configured window changed, when it was
    written by an older retrainer or on request (``rebuild``), and rebuilt from its profile
    when only the rules or column roles changed.

    Raises:
        SuiteError: When there is no reference data.
    """
    cfg = project.config
    path = validation_dir(project) / REFERENCE_SUITE_FILENAME
    window = cfg.validation.reference.model_dump(mode="json")
    if path.exists() and not rebuild:
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
    source = {
        "kind": "reference_window",
        "description": f"reference window {days[0]}..{days[-1]} ({len(days)} days)",
        "start": days[0].isoformat(),
        "end": days[-1].isoformat(),
        "window": window,
        "data": catalog.storage.uri,
    }
    suite = _build_from_days(project, catalog, days, source)
    suite.save(path)
    return suite


# -- the champion's suite in MLflow ------------------------------------------------------------
def _champion(project: Project) -> Any | None:
    from retrainer.registry.champion import load_champion

    champion = load_champion(project, model=False)
    return champion.model_version if champion is not None and champion.run_id else None


def _describe_champion(project: Project, suite: ValidationSuite, version: Any) -> ValidationSuite:
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


def champion_training_suite(
    project: Project, catalog: DataCatalog, version: Any
) -> ValidationSuite | None:
    """Rebuild the champion's suite from the partitions of its training window, and log it.

    Used when the suite logged with the champion was written by an older retrainer (another
    suite or profile format), and by ``retrainer validate --rebuild-suite``. Only partitions
    still accepted in the table are read (quarantined ones are gone from it).

    Returns:
        The rebuilt suite, or None when the version has no training window in its lineage or
        none of its partitions is left.
    """
    tags = dict(version.tags or {})
    start, end = tags.get("retrainer.window_start"), tags.get("retrainer.window_end")
    if not start or not end:
        return None
    days = catalog.features.dates(start, end)
    if not days:
        return None
    source = {
        "kind": "training",
        "start": start,
        "end": end,
        "description": f"training data {start}..{end}, rebuilt from the data",
    }
    suite = _build_from_days(project, catalog, days, source)
    try:
        log_suite_artifact(suite, version.run_id)
    except Exception as exc:  # the store may be read-only for this user: keep the suite
        logger.warning("could not log the rebuilt suite to run %s: %s", version.run_id, exc)
    return suite


def champion_suite(
    project: Project, catalog: DataCatalog | None = None, rebuild: bool = False
) -> ValidationSuite | None:
    """The suite logged with the champion's training run (MLflow must be configured).

    A suite written by an older retrainer is rebuilt from the champion's training window
    (when ``catalog`` is given), as is any suite on request (``rebuild``).

    Returns:
        The suite, or None without a champion or when its run has no usable suite.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    version = _champion(project)
    if version is None:
        return None
    if rebuild and catalog is not None:
        rebuilt = champion_training_suite(project, catalog, version)
        return _describe_champion(project, rebuilt, version) if rebuilt else None
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
        try:
            suite = ValidationSuite.load(local)
        except SuiteError as exc:
            if catalog is None:
                raise
            logger.warning(
                "rebuilding champion v%s's suite from its data: %s", version.version, exc
            )
            suite = champion_training_suite(project, catalog, version)
            if suite is None:
                return None
    return _describe_champion(project, suite, version)


def resolve_suite(project: Project, catalog: DataCatalog, rebuild: bool = False) -> ValidationSuite:
    """The suite that validates new batches: the champion's, else the reference window's.

    With ``rebuild`` it is built again from its reference data (the champion's training
    window, or the reference window), e.g. after the data was fixed or released.

    Raises:
        SuiteError: Without a champion suite and without reference data.
    """
    cfg = project.config
    suite = champion_suite(project, catalog, rebuild=rebuild)
    if suite is None:
        return reference_suite(project, catalog, rebuild=rebuild)
    if not suite.is_current(cfg.columns, cfg.validation):
        suite = suite.rebuilt(cfg.columns, cfg.validation)
        suite.retrainer["source"]["description"] += ", rebuilt with the current validation rules"
    return suite


def batch_metrics(batch: BatchValidation) -> dict[str, float]:
    """The MLflow metrics of one validated batch (one step of the command's run).

    ``rows``, ``expectations_evaluated``, ``expectations_failed``, ``success_ratio``,
    ``errors``, ``warnings``, ``seconds`` and ``gx_seconds``.
    """
    stats = batch.statistics
    evaluated = int(stats.get("evaluated_expectations", 0))
    failed = int(stats.get("unsuccessful_expectations", 0))
    return {
        "rows": float(batch.rows),
        "expectations_evaluated": float(evaluated),
        "expectations_failed": float(failed),
        "success_ratio": (evaluated - failed) / evaluated if evaluated else 0.0,
        "errors": float(len(batch.errors)),
        "warnings": float(len(batch.warnings)),
        "seconds": float(batch.seconds),
        "gx_seconds": float(batch.gx_seconds),
    }


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
