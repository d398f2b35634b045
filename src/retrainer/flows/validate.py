"""Validation flow: run the Great Expectations suite on new batches, quarantine failures.

Entrypoints for deployments: ``flows/validate.py:validate_data`` and
``flows/validate.py:release_quarantined``.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from prefect.utilities.annotations import quote

from retrainer.tasks.project import configure_tracking, load_project
from retrainer.tasks.validation import (
    publish_validation_summary,
    release,
    resolve_validation_suite,
    select_partitions,
    validate_and_record,
)
from retrainer.validation.diagnosis import diagnose


def _empty(mode: str, **extra: Any) -> dict[str, Any]:
    return {
        "valid": True,
        "enabled": True,
        "mode": mode,
        "suite": None,
        "batches": [],
        "invalid": [],
        "quarantined": [],
        "diagnosis": None,
        **extra,
    }


@flow(name="validate-data", log_prints=True)
def validate_data(
    config: str = "retrainer.yaml",
    date: str | None = None,
    start: str | None = None,
    end: str | None = None,
    path: str | None = None,
    dry_run: bool = False,
    rebuild_suite: bool = False,
) -> dict[str, Any]:
    """Validate feature batches before drift checks or training see them.

    Without ``date``, ``start``/``end`` or ``path``, every partition not validated yet is
    validated (pending mode, in date order). The suite is the champion's (logged with its
    training run) or, before a champion exists, one built from ``validation.reference``.

    The run is one MLflow run (``retrainer.kind=validation``) with one metrics step per batch
    and the GX result, findings and HTML report of each batch with findings; each batch gets an
    event: ``retrainer.data.validated`` or ``retrainer.data.invalid`` with the failed
    expectations. A partition with an ``error`` finding is moved to the quarantine with its
    report; warnings are only reported; an ad-hoc ``path`` is never moved. A markdown artifact
    lists the failed expectations (observed vs expected). Monotonic partition dates compare
    each batch with the newest partition accepted before it showed up in the table: one that
    arrives after a newer one was accepted fails.

    Args:
        config: Path to ``retrainer.yaml``.
        date: Validate this partition (YYYY-MM-DD), even if validated before.
        start: Validate every partition from this date (with ``end``: a window).
        end: ... up to this date (inclusive).
        path: Validate a Parquet file or folder instead (reported only).
        dry_run: Only report what the suite would quarantine across history (every partition
            of the window, the quarantined ones included); nothing is moved or recorded.
        rebuild_suite: Build the suite again from its reference data first (the champion's
            training window, or ``validation.reference``).

    Returns:
        ``valid`` (no batch blocked), ``mode``, ``suite`` (source and hash), ``batches`` (one
        summary each, with ``mlflow_run_id``, ``event`` and ``event_id``), ``invalid`` and
        ``quarantined`` (labels / locations), ``already_validated`` (pending mode),
        ``diagnosis`` (the most frequent causes and the config keys that change them),
        ``flow_run_id`` (the Prefect run holding the markdown artifact).
    """
    project = load_project(config)
    logger = get_run_logger()
    if not project.config.validation.enabled:
        logger.info("validation is disabled (validation.enabled: false)")
        return {**_empty("disabled"), "enabled": False}
    configure_tracking(project)
    if path is not None:
        mode, days, skipped = "path", [None], []
    else:
        selection = select_partitions(project, date, start, end, history=dry_run)
        mode, days, skipped = selection.mode, selection.dates, selection.skipped
    suite = resolve_validation_suite(project, rebuild=rebuild_suite)
    if not days:
        logger.info("nothing to validate: %d partition(s) validated before", len(skipped))
        return _empty(mode, already_validated=len(skipped), suite=_suite(suite))
    batches, records = validate_and_record(project, suite, days, path, dry_run=dry_run)
    if not dry_run:
        publish_validation_summary(project, quote(batches), quote(suite))
    invalid = [b.label for b in batches if b.blocked]
    quarantined = [b.quarantine for b in batches if b.quarantine]
    diagnosis = diagnose(batches)
    logger.info(
        "%d batch(es) validated (%s mode%s, %d already validated): %d invalid, %d quarantined",
        len(batches),
        mode,
        ", dry run" if dry_run else "",
        len(skipped),
        len(invalid),
        len(quarantined),
    )
    for line in diagnosis.lines():
        logger.warning(line)
    flow_run_id = flow_run.get_id()
    return {
        "valid": not invalid,
        "enabled": True,
        "dry_run": dry_run,
        "flow_run_id": str(flow_run_id) if flow_run_id else None,
        "mode": mode,
        "suite": _suite(suite),
        "batches": records,
        "already_validated": len(skipped),
        "invalid": invalid,
        "quarantined": quarantined,
        "diagnosis": diagnosis.to_dict(),
        "seconds": round(sum(b.seconds for b in batches), 3),
        "gx_seconds": round(sum(b.gx_seconds for b in batches), 3),
    }


def _suite(suite: Any) -> dict[str, Any]:
    return {
        "hash": suite.hash,
        "source": suite.describe(),
        "kind": suite.source.get("kind"),
        "notes": [n for n in suite.retrainer.get("notes", []) if "left out" in n],
    }


@flow(name="release-quarantined", log_prints=True)
def release_quarantined(
    config: str = "retrainer.yaml",
    date: str = "",
    note: str = "",
    by: str | None = None,
    start: str | None = None,
    end: str | None = None,
    everything: bool = False,
) -> dict[str, Any]:
    """Put quarantined feature partitions back after a human fixed or accepted them.

    One date (``date``), a range (``start``..``end``) or every held partition
    (``everything``), in one pass. Emits one ``retrainer.data.released`` listing the batches.
    The partitions are marked ``released`` in the ledger, so pending validation does not
    quarantine them again (``date=...`` re-validates one on request).

    Args:
        config: Path to ``retrainer.yaml``.
        date: One partition date (YYYY-MM-DD).
        note: Why they were released (kept in the ledger and the quarantine log).
        by: Who released them; default: the current user.
        start: First date of a range.
        end: Last date of a range.
        everything: Release every quarantined or invalid partition.

    Returns:
        What was released, with the event id.
    """
    project = load_project(config)
    return release(
        project,
        start=date or start,
        end=date or end,
        everything=everything,
        note=note,
        by=by,
    )
