"""Tasks of the validation flow, and the train flow's hook that logs a model's suite."""

from __future__ import annotations

import getpass
import json
import re
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.utilities.annotations import quote

from retrainer import events
from retrainer.data import DataCatalog, DataReadError, QuarantineError, as_date
from retrainer.progress import track
from retrainer.project import Project
from retrainer.registry.tracking import configure_mlflow, resolve_tracking
from retrainer.tasks.artifacts import artifact_key, publish_markdown
from retrainer.tasks.events import emit
from retrainer.validation import (
    BatchInput,
    BatchValidation,
    ValidationLedger,
    ValidationSuite,
    markdown_summary,
    render_html,
    screen_partitions,
    unreadable_batch,
    validate_batch,
    validate_batches,
)
from retrainer.validation.diagnosis import diagnose
from retrainer.validation.ledger import BLOCKED, monotonic_reference
from retrainer.validation.release import release_partitions
from retrainer.validation.store import (
    SUITE_ARTIFACT_DIR,
    batch_metrics,
    build_suite_from_frame,
    ledger_for,
    log_suite_artifact,
    partition_row_counts,
    resolve_suite,
)

_PARTITION_IN_PATH = re.compile(r"date=(\d{4}-\d{2}-\d{2})")
CHUNK_ROWS = 200_000
"""Rows read and validated at a time (memory stays bounded on long histories)."""
CHUNK_DAYS = 500


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
        publish_validation_summary(project, quote(batches), quote(suite))
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
def resolve_validation_suite(project: Project, rebuild: bool = False) -> ValidationSuite:
    """The champion's suite from MLflow, else the reference-window suite (state dir).

    With ``rebuild`` the suite is built again from its reference data first.
    """
    suite = resolve_suite(project, DataCatalog.for_project(project), rebuild=rebuild)
    for note in suite.retrainer.get("notes", []):
        if "left out" in note:
            get_run_logger().warning("suite: %s", note)
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
    history: bool = False,
) -> BatchSelection:
    """The feature partitions to validate: one date, a window, or every pending one.

    With ``history`` (dry runs) every partition of the window counts, the quarantined ones
    included.

    Raises:
        ValidationRequestError: When a requested date has no partition (naming whether it is
            quarantined).
    """
    catalog = DataCatalog.for_project(project)
    table = catalog.features
    if history:
        held = catalog.quarantine.dates(table.name)
        lo, hi = (as_date(v) if v else None for v in (start or day, end or day))
        days = sorted(
            d
            for d in {*table.dates(lo, hi), *held}
            if (lo is None or d >= lo) and (hi is None or d <= hi)
        )
        if not days:
            raise ValidationRequestError(f"{table.name} has no partitions to dry-run")
        return BatchSelection("history", days, [])
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


@dataclass
class _PartitionRead:
    """One partition read for validation (or why it could not be read)."""

    day: date
    location: str
    frame: pd.DataFrame | None = None
    fingerprint: str | None = None
    error: Exception | None = None


def _read_partitions(
    catalog: DataCatalog, days: list[date], quarantined: frozenset[date] = frozenset()
) -> list[_PartitionRead]:
    """Read partitions for validation; dates in ``quarantined`` where they sit (dry runs)."""
    table = catalog.features
    shadow = catalog.quarantine.table(table.name)
    found = {
        **table.read_each([d for d in days if d not in quarantined]),
        **shadow.read_each([d for d in days if d in quarantined]),
    }
    reads = []
    for day in days:
        location = catalog.storage.describe(table.partition_prefix(day))
        outcome = found[day]
        if isinstance(outcome, DataReadError):
            reads.append(_PartitionRead(day, location, error=outcome))
        else:
            reads.append(_PartitionRead(day, location, outcome.frame, outcome.fingerprint))
    return reads


def _chunks(catalog: DataCatalog, days: list[date]) -> list[list[date]]:
    """Days in date order, cut so that one chunk holds about ``CHUNK_ROWS`` rows."""
    chunks: list[list[date]] = [[]]
    filled = 0
    counts = partition_row_counts(catalog, days) if len(days) > CHUNK_DAYS else {}
    for day in days:
        rows = counts.get(day.isoformat(), 0)
        if chunks[-1] and (len(chunks[-1]) >= CHUNK_DAYS or filled + rows > CHUNK_ROWS):
            chunks.append([])
            filled = 0
        chunks[-1].append(day)
        filled += rows
    return [c for c in chunks if c]


class _Monotonic:
    """The monotonic-dates reference of each partition of a run.

    That is the ledger's (the newest partition accepted before this one showed up), or a newer
    partition accepted earlier in this run. Within one chunk, earlier partitions are assumed
    accepted; :meth:`corrections` lists those whose assumed reference was blocked after all.
    """

    def __init__(self, ledger: ValidationLedger, history: bool = False):
        self.entries = {} if history else ledger.entries()
        self.seen = {} if history else ledger.seen()
        self.accepted: list[date] = []

    def _newest_accepted_before(self, day: date) -> date | None:
        earlier = [d for d in self.accepted if d < day]
        return max(earlier) if earlier else None

    def assume(self, days: list[date]) -> dict[date, date | None]:
        out: dict[date, date | None] = {}
        for day in days:
            candidates = [
                monotonic_reference(day, self.entries, self.seen),
                self._newest_accepted_before(day),
                max((d for d in days if d < day), default=None),
            ]
            known = [c for c in candidates if c is not None]
            out[day] = max(known) if known else None
        return out

    def settle(self, batches: list[BatchValidation]) -> None:
        self.accepted += [b.dates[0] for b in batches if b.dates and not b.blocked]

    def corrections(
        self, assumed: dict[date, date | None], batches: list[BatchValidation]
    ) -> dict[date, date | None]:
        """Partitions whose reference must be recomputed (their assumed one was blocked)."""
        blocked = {b.dates[0] for b in batches if b.dates and b.blocked}
        fixed: dict[date, date | None] = {}
        for batch in batches:
            day = batch.dates[0]
            if assumed.get(day) in blocked:
                kept = [b.dates[0] for b in batches if b.dates[0] < day and not b.blocked]
                candidates = [
                    monotonic_reference(day, self.entries, self.seen),
                    self._newest_accepted_before(day),
                    max(kept, default=None),
                ]
                known = [c for c in candidates if c is not None]
                fixed[day] = max(known) if known else None
        return fixed


def _batch_inputs(
    reads: list[_PartitionRead], previous: dict[date, date | None], table: str
) -> list[BatchInput]:
    return [
        BatchInput(
            frame=read.frame,
            label=read.day.isoformat(),
            dates=[read.day],
            previous=previous.get(read.day),
            table=table,
            path=read.location,
            fingerprint=read.fingerprint,
        )
        for read in reads
        if read.frame is not None
    ]


@task(name="validate-partitions", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=2)
def validate_partitions(
    project: Project,
    suite: ValidationSuite,
    days: list[date],
    monotonic: _Monotonic,
    quarantined: frozenset[date] = frozenset(),
) -> list[BatchValidation]:
    """Read a chunk of feature partitions and validate them with one GX context.

    Small partitions are validated stacked (see :mod:`retrainer.validation.runner`); the
    monotonic-dates reference of each is the newest partition accepted before it arrived,
    including partitions this run accepted.
    """
    catalog = DataCatalog.for_project(project)
    table = catalog.features
    reads = _read_partitions(catalog, days, quarantined)
    assumed = monotonic.assume(days)
    batches = {
        b.label: b for b in validate_batches(_batch_inputs(reads, assumed, table.name), suite)
    }
    for read in reads:
        if read.error is not None:
            batches[read.day.isoformat()] = unreadable_batch(
                read.day.isoformat(),
                read.error,
                suite,
                dates=[read.day],
                table=table.name,
                path=read.location,
            )
    ordered = [batches[d.isoformat()] for d in days]
    fixes = monotonic.corrections(assumed, ordered)
    if fixes:
        redone = validate_batches(
            _batch_inputs([r for r in reads if r.day in fixes], fixes, table.name), suite
        )
        for batch in redone:
            batches[batch.label] = batch
        ordered = [batches[d.isoformat()] for d in days]
    monotonic.settle(ordered)
    logger = get_run_logger()
    for batch in ordered:
        if batch.findings:
            logger.info(
                "%s: %s, %d rows: %s", batch.label, batch.verdict, batch.rows, batch.reason()
            )
    return ordered


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
    project: Project,
    suite: ValidationSuite,
    days: list[date | None],
    path: str | None = None,
    *,
    dry_run: bool = False,
) -> tuple[list[BatchValidation], list[dict[str, Any]]]:
    """Validate batches in date order and record them (one MLflow run, ledger, events, moves).

    Partitions are read and validated in chunks of about ``CHUNK_ROWS`` rows, so memory stays
    bounded; each chunk is recorded before the next is read. With ``dry_run`` nothing is
    recorded or moved: quarantined partitions are validated where they sit, and every
    partition's monotonic reference is the previous partition the dry run accepted.

    Args:
        project: The project.
        suite: The suite to run.
        days: Partitions to validate; ``[None]`` stands for the file or folder ``path``.
        path: An ad-hoc Parquet file or folder (reported only, never moved).
        dry_run: Validate only (what would this suite quarantine?).

    Returns:
        The batches, and the records :func:`record_validations` returned (dry run: summaries).
    """
    if path is not None or days == [None]:
        batches = [validate_file(project, quote(suite), path)]
        run_id = _open_run(project, batches)
        records = record_validations(project, quote(batches), run_id)
        _close_run(project, run_id, batches, suite)
        return batches, records
    catalog = DataCatalog.for_project(project)
    ledger = ledger_for(project, catalog)
    quarantined = (
        frozenset(catalog.quarantine.dates(catalog.features.name)) if dry_run else frozenset()
    )
    monotonic = _Monotonic(ledger, history=dry_run)
    dated = [d for d in days if d is not None]
    batches: list[BatchValidation] = []
    records: list[dict[str, Any]] = []
    run_id = None
    for chunk in track(_chunks(catalog, dated), "validating", total=None):
        found = validate_partitions(project, quote(suite), chunk, quote(monotonic), quarantined)
        batches += found
        if dry_run:
            records += [b.summary() for b in found]
            continue
        run_id = run_id or _open_run(project, dated)
        records += record_validations(project, quote(found), run_id, offset=len(records))
    if run_id is not None:
        _close_run(project, run_id, batches, suite)
    return batches, records


def _open_run(project: Project, covered: list[Any]) -> str:
    """Start the MLflow run that records this validation command."""
    import mlflow

    labels = [str(getattr(c, "label", c)) for c in covered]
    tags = {
        "retrainer.kind": "validation",
        "retrainer.model": project.model_name,
        "retrainer.batch": labels[0] if len(labels) == 1 else f"{labels[0]}..{labels[-1]}",
        "retrainer.batches": str(len(labels)),
    }
    if flow_run.get_id():
        tags["retrainer.flow_run_id"] = str(flow_run.get_id())
    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name(resolve_tracking(project).experiment_name)
    if experiment is None:  # configure_mlflow was not called: make the store and experiment
        configure_mlflow(project)
        experiment = client.get_experiment_by_name(resolve_tracking(project).experiment_name)
    name = f"validate-{tags['retrainer.batch']}"[:250]
    return client.create_run(experiment.experiment_id, run_name=name, tags=tags).info.run_id


def _close_run(
    project: Project, run_id: str, batches: list[BatchValidation], suite: ValidationSuite
) -> None:
    import mlflow

    client = mlflow.MlflowClient()
    blocked = [b for b in batches if b.blocked]
    tags = {
        "retrainer.verdict": "invalid"
        if blocked
        else ("warning" if any(b.findings for b in batches) else "valid"),
        "retrainer.suite_hash": suite.hash,
        "retrainer.suite_source": suite.describe()[:500],
        "retrainer.invalid_batches": str(len(blocked)),
    }
    for key, value in tags.items():
        client.set_tag(run_id, key, value)
    summary = {
        "suite": {"hash": suite.hash, "source": suite.describe()},
        "diagnosis": diagnose(batches).to_dict(),
        "batches": [b.summary(max_findings=50) for b in batches],
    }
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / "batches.json"
        local.write_text(json.dumps(summary, indent=1, default=str), encoding="utf-8")
        client.log_artifact(run_id, str(local), artifact_path=SUITE_ARTIFACT_DIR)
    client.set_terminated(run_id)


@task(name="record-validations", cache_policy=NO_CACHE)
def record_validations(
    project: Project, batches: list[BatchValidation], run_id: str, offset: int = 0
) -> list[dict[str, Any]]:
    """Act on validated batches: quarantine on errors, ledger, MLflow metrics, events.

    A partition with an ``error`` finding is moved to the quarantine with its report (when
    ``validation.quarantine`` is on); warnings are only reported. Ad-hoc files are reported,
    never moved. Metrics go to the command's MLflow run, one step per batch; batches with
    findings also get their GX result, findings and HTML report as artifacts
    (``validation/<batch>/``). The ledger is written once for the chunk.

    Returns:
        Per batch: its summary plus ``mlflow_run_id``, ``mlflow_step``, ``event``, ``event_id``.
    """
    catalog = DataCatalog.for_project(project)
    moved = _quarantine(project, catalog, batches, run_id)
    _log_metrics(run_id, batches, offset)
    _log_finding_artifacts(project, run_id, batches)
    ledger_for(project, catalog).record_many(
        {b.dates[0]: _ledger_entry(b, run_id) for b in batches if b.table and len(b.dates) == 1}
    )
    records = []
    for step, batch in enumerate(batches, start=offset):
        payload = {**batch.summary(), "mlflow_run_id": run_id, "mlflow_step": step}
        event = events.DATA_INVALID if batch.blocked else events.DATA_VALIDATED
        event_id = emit(event, project.model_name, payload, batch=batch.label)
        records.append({**payload, "event": event, "event_id": event_id})
    if moved:
        get_run_logger().warning("quarantined %d batch(es): %s", len(moved), ", ".join(moved))
    return records


def _ledger_entry(batch: BatchValidation, run_id: str) -> dict[str, Any]:
    status = "quarantined" if batch.quarantine else ("invalid" if batch.blocked else batch.verdict)
    return {
        "status": status,
        "suite": batch.suite_hash,
        "rows": batch.rows,
        "errors": len(batch.errors),
        "warnings": len(batch.warnings),
        "fingerprint": batch.fingerprint,
        "mlflow_run_id": run_id,
        "reason": batch.reason()[:500] if batch.findings else None,
    }


def _quarantine(
    project: Project, catalog: DataCatalog, batches: list[BatchValidation], run_id: str
) -> list[str]:
    """Move the blocked partitions to the quarantine with their reports."""
    if not project.config.validation.quarantine:
        return []
    moved = []
    for batch in batches:
        if not (batch.blocked and batch.table is not None and len(batch.dates) == 1):
            continue
        report = {**batch.summary(max_findings=1000), "mlflow_run_id": run_id}
        try:
            record = catalog.quarantine.quarantine(
                catalog.features,
                batch.dates[0],
                reason=batch.reason(),
                report=report,
                report_html=render_html(batch, project.model_name),
            )
        except QuarantineError as exc:
            batch.notes.append(f"not quarantined: {exc}")
            get_run_logger().warning("%s: not quarantined: %s", batch.label, exc)
        else:
            batch.quarantine = record.location
            moved.append(batch.label)
    return moved


def _log_metrics(run_id: str, batches: list[BatchValidation], offset: int) -> None:
    import mlflow
    from mlflow.entities import Metric

    metrics = []
    for step, batch in enumerate(batches, start=offset):
        stamp = (
            int(datetime.combine(batch.dates[0], datetime.min.time(), UTC).timestamp() * 1000)
            if batch.dates
            else int(time.time() * 1000)
        )
        for key, value in batch_metrics(batch).items():
            metrics.append(Metric(key, value, stamp, step))
    client = mlflow.MlflowClient()
    for start in range(0, len(metrics), 1000):
        client.log_batch(run_id, metrics=metrics[start : start + 1000])


def _log_finding_artifacts(project: Project, run_id: str, batches: list[BatchValidation]) -> None:
    """GX result, findings and HTML report of each batch with findings."""
    import mlflow

    flagged = [b for b in batches if b.findings]
    if not flagged:
        return
    with tempfile.TemporaryDirectory() as tmp:
        for batch in flagged:
            folder = Path(tmp) / re.sub(r"[^A-Za-z0-9_.=-]+", "_", batch.label)[-120:]
            folder.mkdir(parents=True, exist_ok=True)
            files = {
                "gx_result.json": json.dumps(batch.result, indent=1, default=str),
                "findings.json": json.dumps(batch.summary(max_findings=1000), indent=1),
                "report.html": render_html(batch, project.model_name),
            }
            for name, text in files.items():
                (folder / name).write_text(text, encoding="utf-8")
        mlflow.MlflowClient().log_artifacts(run_id, tmp, artifact_path=SUITE_ARTIFACT_DIR)


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


@task(name="release-quarantined", cache_policy=NO_CACHE)
def release(
    project: Project,
    start: str | None = None,
    end: str | None = None,
    everything: bool = False,
    note: str = "",
    by: str | None = None,
) -> dict[str, Any]:
    """Put quarantined (or invalid, in place) partitions back: one date, a range, or all.

    The ledger marks them ``released`` so pending validation runs leave them and the train
    flow reads them; ``retrainer validate --date`` still re-validates one on request. One
    ``retrainer.data.released`` event lists every released batch.

    Raises:
        QuarantineError: When nothing in the range is held (nothing moves then).
    """
    result = release_held(project, start, end, everything, note, by)
    event_id = emit(events.DATA_RELEASED, project.model_name, result, batch=result["batch"])
    get_run_logger().info("released %s by %s", result["batch"], result["by"])
    return {**result, "event": events.DATA_RELEASED, "event_id": event_id}


def release_held(
    project: Project,
    start: str | None = None,
    end: str | None = None,
    everything: bool = False,
    note: str = "",
    by: str | None = None,
) -> dict[str, Any]:
    """:func:`retrainer.validation.release.release_partitions` for a project (no event).

    Returns:
        The ``retrainer.data.released`` payload.
    """
    catalog = DataCatalog.for_project(project)
    done = release_partitions(
        catalog,
        ledger_for(project, catalog),
        start=as_date(start) if start else None,
        end=as_date(end) if end else None,
        everything=everything,
        by=by or getpass.getuser(),
        note=note,
    )
    return done.payload(catalog.storage.describe(catalog.features.name))
