"""Tasks of the validation flow, and the train flow's hook that logs a model's suite."""

from __future__ import annotations

import getpass
import json
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from retrainer import events
from retrainer.data import DataCatalog, DataReadError, QuarantineError, as_date
from retrainer.project import Project
from retrainer.validation import (
    BatchValidation,
    ValidationSuite,
    markdown_summary,
    render_html,
    screen_partitions,
    unreadable_batch,
    validate_batch,
)
from retrainer.validation.ledger import BLOCKED
from retrainer.validation.store import (
    SUITE_ARTIFACT_DIR,
    build_suite_from_frame,
    ledger_for,
    log_batch_result,
    log_suite_artifact,
    resolve_suite,
)
from tasks.artifacts import artifact_key, publish_markdown
from tasks.events import emit

_PARTITION_IN_PATH = re.compile(r"date=(\d{4}-\d{2}-\d{2})")


class ValidationRequestError(ValueError):
    """A validation request that cannot be served (unknown date, quarantined batch ...)."""


@dataclass
class BatchSelection:
    """The partitions a validation run covers and why."""

    mode: str  # date | window | pending
    dates: list[date]
    skipped: list[str]


@dataclass
class TrainingScreen:
    """What the train flow may read, after validating pending partitions when configured.

    Attributes:
        before_training: The policy applied (``validation.before_training``; ``allow`` when
            validation is disabled).
        excluded: ISO date → why the partition is not read (invalid, quarantined, not
            validated).
        validated: Partitions this train run validated first (``validate``).
        unvalidated_read: Partitions read although never validated (``allow``).
    """

    before_training: str
    excluded: dict[str, str] = field(default_factory=dict)
    validated: list[str] = field(default_factory=list)
    unvalidated_read: list[str] = field(default_factory=list)


EXCLUDED_ARTIFACT = f"{SUITE_ARTIFACT_DIR}/excluded_partitions.json"


@task(name="log-validation-suite", cache_policy=NO_CACHE)
def log_validation_suite(
    project: Project,
    reference_frame: pd.DataFrame,
    run_id: str | None = None,
    excluded: Mapping[str, str] | None = None,
) -> str:
    """Build the suite from a model's training frame and log it with the training run.

    The train flow calls this with the frame the model was fitted on; while that version is
    the champion, its suite validates every new batch (``flows/validate.py``). The partitions
    the run left out of its data (and why) are logged with it, as lineage: the tag
    ``retrainer.excluded_partitions`` (dates) and ``validation/excluded_partitions.json``.

    Args:
        project: The project.
        reference_frame: The training rows (the target column is ignored).
        run_id: The MLflow training run; default: the active run.
        excluded: ISO date → why, for the feature partitions the training run did not read.

    Returns:
        The artifact path within the run (``validation/expectation_suite.json``).
    """
    cfg = project.config
    catalog = DataCatalog.for_project(project)
    stamps = reference_frame.get(cfg.columns.timestamp)
    dates = (
        pd.to_datetime(stamps, utc=True).dt.date.dropna()
        if stamps is not None
        else pd.Series([], dtype=object)
    )
    source = {
        "kind": "training",
        "start": str(dates.min()) if len(dates) else None,
        "end": str(dates.max()) if len(dates) else None,
        "rows": len(reference_frame),
        "description": f"training data {dates.min()}..{dates.max()}"
        if len(dates)
        else "training data",
    }
    suite = build_suite_from_frame(project, reference_frame, source, catalog)
    path = log_suite_artifact(suite, run_id)
    get_run_logger().info(
        "logged validation suite %s (%d expectations) as %s",
        suite.hash,
        len(suite.expectations),
        path,
    )
    _log_exclusions(dict(excluded or {}), run_id)
    return path


def _log_exclusions(excluded: dict[str, str], run_id: str | None) -> None:
    import mlflow

    client = mlflow.MlflowClient()
    run = run_id or mlflow.active_run().info.run_id  # type: ignore[union-attr]
    dates = ",".join(sorted(excluded)) or "none"
    client.set_tag(run, "retrainer.excluded_partitions", dates[:5000])
    if not excluded:
        return
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / Path(EXCLUDED_ARTIFACT).name
        local.write_text(json.dumps(dict(sorted(excluded.items())), indent=1), encoding="utf-8")
        client.log_artifact(run, str(local), artifact_path=SUITE_ARTIFACT_DIR)


def screen_training_partitions(project: Project, as_of: str | None = None) -> TrainingScreen:
    """Decide which feature partitions up to ``as_of`` the train flow may read.

    Runs inside the train flow, before the data is loaded. Partitions the validation ledger
    marks invalid or quarantined are never read. Partitions never validated are handled per
    ``validation.before_training``: ``validate`` runs the validation flow's tasks on them first
    (with the champion's suite, else the reference one; failures are quarantined or marked
    invalid, and left out), ``skip`` leaves them out, ``allow`` reads them. With validation
    disabled (``validation.enabled: false``) they are read.

    Args:
        project: The project (MLflow must be configured for ``validate``).
        as_of: The train flow's ``as_of`` (default: the latest partition).

    Returns:
        The exclusions (with reasons), what was validated and what was read unvalidated.
    """
    logger = get_run_logger()
    rules = project.config.validation
    catalog = DataCatalog.for_project(project)
    table = catalog.features
    ledger = ledger_for(project, catalog)
    everything = table.dates()
    ledger.observe(everything)
    end = as_date(as_of) if as_of is not None else (everything[-1] if everything else None)
    policy = rules.before_training if rules.enabled else "allow"
    screen = TrainingScreen(before_training=policy)
    window = [d for d in everything if end is None or d <= end]
    pending = ledger.pending(window)
    if policy == "validate" and pending:
        logger.info(
            "validating %d partition(s) never validated before training (%s .. %s; "
            "validation.before_training: validate)",
            len(pending),
            pending[0],
            pending[-1],
        )
        suite = resolve_validation_suite(project)
        batches, _ = validate_and_record(project, suite, pending)
        publish_validation_summary(project, batches, suite)
        screen.validated = [d.isoformat() for d in pending]
        window = [d for d in table.dates() if end is None or d <= end]
    entries = ledger.entries()
    partitions = screen_partitions(window, entries, policy)
    screen.unvalidated_read = [d.isoformat() for d in partitions.pending if policy == "allow"]
    # batches moved to the quarantine are not in the table any more: listed for the lineage
    moved = {
        day: f"quarantined (validated {str(entry.get('at', ''))[:10]}: "
        f"{entry.get('reason') or 'see the quarantine report'})"
        for day, entry in entries.items()
        if entry.get("status") in BLOCKED
        and day not in partitions.excluded
        and day not in window
        and (end is None or day <= end)
    }
    excluded = {**partitions.excluded, **moved}
    screen.excluded = {day.isoformat(): why for day, why in sorted(excluded.items())}
    for day, why in list(screen.excluded.items())[:20]:
        logger.warning("not training on %s: %s", day, why)
    if len(screen.excluded) > 20:
        logger.warning("... and %d more partitions left out", len(screen.excluded) - 20)
    if screen.unvalidated_read:
        logger.warning(
            "reading %d partition(s) never validated (%s): %s",
            len(screen.unvalidated_read),
            "validation is disabled" if not rules.enabled else "validation.before_training: allow",
            ", ".join(screen.unvalidated_read[:10])
            + (" ..." if len(screen.unvalidated_read) > 10 else ""),
        )
    return screen


@task(name="resolve-validation-suite", cache_policy=NO_CACHE)
def resolve_validation_suite(project: Project) -> ValidationSuite:
    """The champion's suite from MLflow, else the reference-window suite (state dir)."""
    suite = resolve_suite(project, DataCatalog.for_project(project))
    get_run_logger().info(
        "validating with %s: %d expectations", suite.describe(), len(suite.expectations)
    )
    return suite


@task(name="select-partitions", cache_policy=NO_CACHE)
def select_partitions(
    project: Project,
    day: str | None = None,
    start: str | None = None,
    end: str | None = None,
) -> BatchSelection:
    """The feature partitions to validate: one date, a window, or every pending one.

    Raises:
        ValidationRequestError: When a requested date has no partition (naming whether it is
            quarantined).
    """
    catalog = DataCatalog.for_project(project)
    table = catalog.features
    ledger = ledger_for(project, catalog)
    ledger.observe(table.dates())  # first sightings: tells a backlog from a late arrival
    if day is not None:
        requested = as_date(day)
        if not table.exists(requested):
            if catalog.quarantine.is_quarantined(table.name, requested):
                raise ValidationRequestError(
                    f"{requested} is quarantined; release it with `retrainer validate --release "
                    f"{requested}` to put it back"
                )
            raise ValidationRequestError(
                f"{table.name} has no partition for {requested} in {catalog.storage.uri}"
            )
        return BatchSelection("date", [requested], [])
    if start is not None or end is not None:
        days = table.dates(start, end)
        if not days:
            raise ValidationRequestError(
                f"{table.name} has no partitions between {start or 'the start'} and "
                f"{end or 'the end'} in {catalog.storage.uri}"
            )
        return BatchSelection("window", days, [])
    days = table.dates()
    pending = ledger.pending(days)
    return BatchSelection(
        "pending", pending, [d.isoformat() for d in days if d not in set(pending)]
    )


@task(name="validate-partition", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=2)
def validate_partition(project: Project, suite: ValidationSuite, day: date) -> BatchValidation:
    """Read one feature partition and run the suite on it.

    Monotonic partition dates: the batch's events are compared with the newest partition
    accepted before this one first showed up in the table (see
    :meth:`retrainer.validation.ValidationLedger.monotonic_reference`), so a partition that
    arrives after a newer one was accepted fails.
    """
    catalog = DataCatalog.for_project(project)
    table = catalog.features
    previous = ledger_for(project, catalog).monotonic_reference(day)
    location = catalog.storage.describe(table.partition_prefix(day))
    try:
        read = table.read_window(dates=[day])
    except DataReadError as exc:
        return unreadable_batch(
            day.isoformat(), exc, suite, dates=[day], table=table.name, path=location
        )
    batch = validate_batch(
        read.frame,
        suite,
        label=day.isoformat(),
        dates=[day],
        previous=previous,
        table=table.name,
        path=location,
        fingerprint=read.fingerprint,
    )
    get_run_logger().info(
        "%s: %s, %d rows, %d/%d expectations failed in %.2f s%s",
        batch.label,
        batch.verdict,
        batch.rows,
        batch.statistics.get("unsuccessful_expectations", 0),
        batch.statistics.get("evaluated_expectations", 0),
        batch.seconds,
        "" if not batch.findings else f": {batch.reason()}",
    )
    return batch


@task(name="validate-file", cache_policy=NO_CACHE)
def validate_file(project: Project, suite: ValidationSuite, path: str) -> BatchValidation:
    """Run the suite on an ad-hoc Parquet file or folder (reported, never quarantined).

    A ``date=YYYY-MM-DD`` segment in the path gives the partition date for the time checks.

    Raises:
        ValidationRequestError: When the path does not exist.
    """
    file = project.resolve(path) if not Path(path).is_absolute() else Path(path)
    if not file.exists():
        raise ValidationRequestError(f"--path {path}: no such file or folder")
    found = _PARTITION_IN_PATH.findall(str(file))
    dates = [as_date(found[-1])] if found else None
    try:
        frame = pd.read_parquet(file)
    except Exception as exc:  # pyarrow raises many types for a broken file
        return unreadable_batch(str(file), exc, suite, dates=dates, path=str(file))
    batch = validate_batch(frame, suite, label=str(file), dates=dates, path=str(file))
    get_run_logger().info("%s: %s (%s)", file, batch.verdict, batch.reason())
    return batch


def validate_and_record(
    project: Project, suite: ValidationSuite, days: list[date | None], path: str | None = None
) -> tuple[list[BatchValidation], list[dict[str, Any]]]:
    """Validate batches in date order and record each (MLflow run, ledger, event, quarantine).

    Date order matters: each batch is "the last validated partition" of the next one.

    Args:
        project: The project.
        suite: The suite to run.
        days: Partitions to validate; ``None`` stands for the file or folder ``path``.
        path: An ad-hoc Parquet file or folder (reported only, never moved).

    Returns:
        The batches and the records :func:`record_validation` returned for them.
    """
    run_id = flow_run.get_id()
    batches, records = [], []
    for day in days:
        batch = (
            validate_file(project, suite, path)
            if day is None
            else validate_partition(project, suite, day)
        )
        record = record_validation(project, batch, run_id)
        batch.quarantine = record["quarantine"]
        batches.append(batch)
        records.append(record)
    return batches, records


@task(name="record-validation", cache_policy=NO_CACHE)
def record_validation(
    project: Project, batch: BatchValidation, flow_run_id: str | None = None
) -> dict[str, Any]:
    """Act on a validated batch: MLflow run, quarantine on errors, ledger, event.

    A partition with an ``error`` finding is moved to the quarantine with its report (when
    ``validation.quarantine`` is on); warnings are only reported. Ad-hoc files are reported,
    never moved.

    Returns:
        The batch summary plus ``mlflow_run_id``, ``event`` and ``event_id``.
    """
    import mlflow

    cfg = project.config
    logger = get_run_logger()
    catalog = DataCatalog.for_project(project)
    is_partition = batch.table is not None and len(batch.dates) == 1
    html = render_html(batch, project.model_name)
    tags = {
        "retrainer.kind": "validation",
        "retrainer.model": project.model_name,
        "retrainer.batch": batch.label,
        "retrainer.verdict": batch.verdict,
        "retrainer.suite_hash": batch.suite_hash,
        "retrainer.suite_source": batch.suite_source[:500],
    }
    if batch.dates:
        tags["retrainer.batch_date"] = batch.dates[0].isoformat()
    if batch.table:
        tags["retrainer.table"] = batch.table
    if batch.fingerprint:
        tags["retrainer.data_fingerprint"] = batch.fingerprint
    if flow_run_id:
        tags["retrainer.flow_run_id"] = str(flow_run_id)
    with mlflow.start_run(run_name=f"validate-{batch.label}"[:250], tags=tags) as run:
        run_id = run.info.run_id
        if batch.blocked and is_partition and cfg.validation.quarantine:
            day = batch.dates[0]
            report = {**batch.summary(max_findings=1000), "mlflow_run_id": run_id}
            try:
                record = catalog.quarantine.quarantine(
                    catalog.features,
                    day,
                    reason=batch.reason(),
                    report=report,
                    report_html=html,
                )
            except QuarantineError as exc:
                batch.notes.append(f"not quarantined: {exc}")
                logger.warning("%s: not quarantined: %s", batch.label, exc)
            else:
                batch.quarantine = record.location
                mlflow.set_tag("retrainer.quarantine", record.location)
                logger.warning("%s quarantined to %s", batch.label, record.location)
        log_batch_result(batch, html)

    if is_partition:
        status = (
            "quarantined" if batch.quarantine else ("invalid" if batch.blocked else batch.verdict)
        )
        ledger_for(project, catalog).record(
            batch.dates[0],
            status,
            suite=batch.suite_hash,
            rows=batch.rows,
            errors=len(batch.errors),
            warnings=len(batch.warnings),
            fingerprint=batch.fingerprint,
            mlflow_run_id=run_id,
            reason=batch.reason()[:500] if batch.findings else None,
        )
    payload = batch.summary()
    payload["mlflow_run_id"] = run_id
    event = events.DATA_INVALID if batch.blocked else events.DATA_VALIDATED
    event_id = emit(event, project.model_name, payload, batch=batch.label)
    return {**payload, "mlflow_run_id": run_id, "event": event, "event_id": event_id}


@task(name="publish-validation-artifact", cache_policy=NO_CACHE)
def publish_validation_summary(
    project: Project, batches: list[BatchValidation], suite: ValidationSuite
) -> None:
    """The markdown table of failed expectations (observed vs expected) as a Prefect artifact."""
    invalid = sum(b.blocked for b in batches)
    publish_markdown(
        artifact_key("validation", project.model_name),
        markdown_summary(batches, suite.describe()),
        description=f"Data validation of {project.model_name}: {len(batches)} batch(es), "
        f"{invalid} invalid",
    )


@task(name="release-quarantined-batch", cache_policy=NO_CACHE)
def release_batch(project: Project, day: str, note: str = "", by: str | None = None) -> dict:
    """Put a quarantined partition back after a human fixed or accepted it.

    The ledger marks it ``released`` so pending validation runs do not quarantine it again
    and the train flow reads it; ``retrainer validate --date`` still re-validates it on
    request. A batch marked invalid but left in place (``validation.quarantine: false``, or a
    move that failed) is released in place: only the ledger changes.

    Raises:
        QuarantineError: When the batch is neither quarantined nor marked invalid in place
            (or its date is taken).
    """
    catalog = DataCatalog.for_project(project)
    requested = as_date(day)
    who = by or getpass.getuser()
    ledger = ledger_for(project, catalog)
    in_place = (
        not catalog.quarantine.is_quarantined(catalog.features.name, requested)
        and ledger.status(requested) == "invalid"
        and catalog.features.exists(requested)
    )
    if in_place:
        files = len(catalog.features.files(requested))
    else:
        files = catalog.quarantine.release(catalog.features, requested, by=who, note=note)
    ledger.record(requested, "released", by=who, note=note, in_place=in_place)
    payload = {
        "batch": requested.isoformat(),
        "table": catalog.features.name,
        "files": files,
        "by": who,
        "note": note,
        "in_place": in_place,
        "location": catalog.storage.describe(catalog.features.partition_prefix(requested)),
    }
    event_id = emit(events.DATA_RELEASED, project.model_name, payload, batch=payload["batch"])
    get_run_logger().info("released %s (%d files) by %s", requested, files, who)
    return {**payload, "event": events.DATA_RELEASED, "event_id": event_id}
