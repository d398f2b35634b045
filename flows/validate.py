"""Validation flow: run the Great Expectations suite on new batches, quarantine failures.

Entrypoints for deployments: ``flows/validate.py:validate_data`` and
``flows/validate.py:release_quarantined``.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from tasks.project import configure_tracking, load_project
from tasks.validation import (
    publish_validation_summary,
    release_batch,
    resolve_validation_suite,
    select_partitions,
    validate_and_record,
)


@flow(name="validate-data", log_prints=True)
def validate_data(
    config: str = "retrainer.yaml",
    date: str | None = None,
    start: str | None = None,
    end: str | None = None,
    path: str | None = None,
) -> dict[str, Any]:
    """Validate feature batches before drift checks or training see them.

    Without ``date``, ``start``/``end`` or ``path``, every partition not validated yet is
    validated (pending mode, in date order). The suite is the champion's (logged with its
    training run) or, before a champion exists, one built from ``validation.reference``.

    Each batch gets an MLflow run (``retrainer.kind=validation``: counts, the GX result JSON
    and an HTML report) and an event: ``retrainer.data.validated`` or ``retrainer.data.invalid``
    with the failed expectations. A partition with an ``error`` finding is moved to the
    quarantine with its report; warnings are only reported; an ad-hoc ``path`` is never moved.
    A markdown artifact lists the failed expectations (observed vs expected). Monotonic
    partition dates compare each batch with the newest partition accepted before it showed up
    in the table: one that arrives after a newer one was accepted fails.

    Args:
        config: Path to ``retrainer.yaml``.
        date: Validate this partition (YYYY-MM-DD), even if validated before.
        start: Validate every partition from this date (with ``end``: a window).
        end: ... up to this date (inclusive).
        path: Validate a Parquet file or folder instead (reported only).

    Returns:
        ``valid`` (no batch blocked), ``mode``, ``suite`` (source and hash), ``batches`` (one
        summary each, with ``mlflow_run_id``, ``event`` and ``event_id``), ``invalid`` and
        ``quarantined`` (labels / locations), ``already_validated`` (pending mode),
        ``flow_run_id`` (the Prefect run holding the markdown artifact).
    """
    project = load_project(config)
    logger = get_run_logger()
    if not project.config.validation.enabled:
        logger.info("validation is disabled (validation.enabled: false)")
        return {
            "valid": True,
            "enabled": False,
            "mode": "disabled",
            "batches": [],
            "invalid": [],
            "quarantined": [],
            "suite": None,
        }
    configure_tracking(project)
    if path is not None:
        mode, days, skipped = "path", [None], []
    else:
        selection = select_partitions(project, date, start, end)
        mode, days, skipped = selection.mode, selection.dates, selection.skipped
    if not days:
        logger.info("nothing to validate: %d partition(s) validated before", len(skipped))
        return {
            "valid": True,
            "enabled": True,
            "mode": mode,
            "suite": None,
            "batches": [],
            "already_validated": len(skipped),
            "invalid": [],
            "quarantined": [],
        }
    suite = resolve_validation_suite(project)
    flow_run_id = flow_run.get_id()
    batches, records = validate_and_record(project, suite, days, path)
    publish_validation_summary(project, batches, suite)
    invalid = [b.label for b in batches if b.blocked]
    quarantined = [b.quarantine for b in batches if b.quarantine]
    logger.info(
        "%d batch(es) validated (%s mode, %d already validated): %d invalid, %d quarantined",
        len(batches),
        mode,
        len(skipped),
        len(invalid),
        len(quarantined),
    )
    return {
        "valid": not invalid,
        "enabled": True,
        "flow_run_id": str(flow_run_id) if flow_run_id else None,
        "mode": mode,
        "suite": {"hash": suite.hash, "source": suite.describe(), "kind": suite.source.get("kind")},
        "batches": records,
        "already_validated": len(skipped),
        "invalid": invalid,
        "quarantined": quarantined,
    }


@flow(name="release-quarantined", log_prints=True)
def release_quarantined(
    config: str = "retrainer.yaml", date: str = "", note: str = "", by: str | None = None
) -> dict[str, Any]:
    """Put a quarantined feature partition back after a human fixed or accepted it.

    Emits ``retrainer.data.released``. The partition is marked ``released`` in the ledger, so
    pending validation does not quarantine it again (``date=...`` re-validates it on request).

    Args:
        config: Path to ``retrainer.yaml``.
        date: The partition date (YYYY-MM-DD).
        note: Why it was released (kept in the quarantine log).
        by: Who released it; default: the current user.

    Returns:
        What was released, with the event id.
    """
    project = load_project(config)
    return release_batch(project, date, note, by)
