"""Validate one batch (a partition, a window or a file) and describe the outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd

from retrainer.events import json_safe
from retrainer.validation.findings import Finding, Verdict, findings_from_result, verdict_of
from retrainer.validation.suite import ValidationSuite


@dataclass
class BatchValidation:
    """The outcome of validating one batch.

    Attributes:
        label: The batch: its partition date (``YYYY-MM-DD``) or file path.
        rows: Rows in the batch.
        dates: Partition dates the batch covers (empty for a file without one).
        table: The table the batch belongs to (None for an ad-hoc file).
        path: The file validated (ad-hoc mode) or the partition location.
        suite_hash: Hash of the suite that validated it.
        suite_source: Where that suite came from, in words.
        findings: Failed expectations, errors first.
        notes: What was not evaluated and why.
        statistics: GX's counts (evaluated, successful, unsuccessful, success percent).
        result: The GX result as JSON.
        parameters: Suite parameter values used (JSON-able).
        seconds: Wall time of the validation (a stacked run's time shared among its batches).
        gx_seconds: The part of it spent inside Great Expectations.
        fingerprint: Hash of the files read (lineage).
        quarantine: Where the batch was moved, when it was quarantined.
    """

    label: str
    rows: int
    dates: list[date] = field(default_factory=list)
    table: str | None = None
    path: str | None = None
    suite_hash: str = ""
    suite_source: str = ""
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    statistics: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    gx_seconds: float = 0.0
    fingerprint: str | None = None
    quarantine: str | None = None

    @property
    def verdict(self) -> Verdict:
        """``invalid`` (an error), ``warning`` (warnings only) or ``valid``."""
        return verdict_of(self.findings)

    @property
    def errors(self) -> list[Finding]:
        """Findings that block the batch."""
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        """Findings that are only reported."""
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def blocked(self) -> bool:
        """Whether an error-severity expectation failed (the batch must not be used)."""
        return bool(self.errors)

    def reason(self) -> str:
        """One line: why the batch is blocked (or that it is not)."""
        if not self.findings:
            return "all expectations passed"
        first = (self.errors or self.warnings)[0]
        more = len(self.findings) - 1
        return first.message + (f" (+{more} more)" if more else "")

    def summary(self, max_findings: int = 50) -> dict[str, Any]:
        """A JSON-able overview (event payloads, ``--json`` output, quarantine report)."""
        stats = self.statistics
        return json_safe(
            {
                "batch": self.label,
                "table": self.table,
                "dates": [d.isoformat() for d in self.dates],
                "path": self.path,
                "verdict": self.verdict,
                "rows": self.rows,
                "expectations": {
                    "evaluated": stats.get("evaluated_expectations", 0),
                    "failed": stats.get("unsuccessful_expectations", 0),
                    "errors": len(self.errors),
                    "warnings": len(self.warnings),
                },
                "failed": [f.to_dict() for f in self.findings[:max_findings]],
                "failed_truncated": max(0, len(self.findings) - max_findings),
                "notes": self.notes,
                "suite": {"hash": self.suite_hash, "source": self.suite_source},
                "fingerprint": self.fingerprint,
                "quarantine": self.quarantine,
                "seconds": round(self.seconds, 4),
            }
        )


@dataclass
class BatchInput:
    """A batch to validate and what is known about it.

    Attributes:
        frame: The rows.
        label: Name of the batch in reports (its date or path).
        dates: Partition dates the batch covers; None for a file without a date (the
            time-window expectations are then not evaluated).
        previous: The last validated partition before the batch (monotonic dates).
        table: The table the batch belongs to.
        path: Where the batch was read from.
        fingerprint: Hash of the files read.
    """

    frame: pd.DataFrame
    label: str
    dates: list[date] | None = None
    previous: date | None = None
    table: str | None = None
    path: str | None = None
    fingerprint: str | None = None


STACK_MAX_ROWS = 200_000
"""Rows of one stacked GX run; batches larger than ``STACK_MAX_BATCH_ROWS`` run alone."""
STACK_MAX_BATCH_ROWS = 50_000


def _outcome(
    item: BatchInput,
    suite: ValidationSuite,
    run: Any,
    parameters: dict,
    identity: tuple[str, str] | None = None,
) -> BatchValidation:
    findings, notes = findings_from_result(run.result, run.skipped, item.frame)
    suite_hash, suite_source = identity or (suite.hash, suite.describe())
    return BatchValidation(
        label=item.label,
        rows=len(item.frame),
        dates=list(item.dates or []),
        table=item.table,
        path=item.path,
        suite_hash=suite_hash,
        suite_source=suite_source,
        findings=findings,
        notes=notes,
        statistics=run.statistics,
        result=run.result,
        parameters=json_safe(parameters),
        seconds=run.seconds,
        gx_seconds=run.gx_seconds,
        fingerprint=item.fingerprint,
    )


def _schema_key(frame: pd.DataFrame) -> tuple[tuple[str, str], ...]:
    return tuple((str(c), str(t)) for c, t in frame.dtypes.items())


def _stacks(
    items: list[BatchInput], suite: ValidationSuite, stackable: Any
) -> tuple[list[list[int]], list[int]]:
    """Indices grouped into stacked runs (one schema, bounded rows) and those run alone."""
    alone: list[int] = []
    groups: dict[tuple, list[list[int]]] = {}
    filled: dict[tuple, int] = {}
    fits: dict[tuple, bool] = {}
    for index, item in enumerate(items):
        rows = len(item.frame)
        key = _schema_key(item.frame)
        if key not in fits:
            fits[key] = stackable(suite, tuple(item.frame.dtypes.items()))
        if rows == 0 or rows > STACK_MAX_BATCH_ROWS or not fits[key]:
            alone.append(index)
            continue
        chunks = groups.setdefault(key, [[]])
        if chunks[-1] and filled.get(key, 0) + rows > STACK_MAX_ROWS:
            chunks.append([])
            filled[key] = 0
        chunks[-1].append(index)
        filled[key] = filled.get(key, 0) + rows
    return [chunk for chunks in groups.values() for chunk in chunks if chunk], alone


def validate_batches(items: list[BatchInput], suite: ValidationSuite) -> list[BatchValidation]:
    """Validate many batches with one GX context; small ones stacked into shared GX runs.

    Each batch's outcome is what validating it alone gives (see
    :mod:`retrainer.validation.runner`); batches that are empty, large or whose schema does
    not fit the suite are validated alone.

    Args:
        items: The batches, each with its dates and monotonic reference.
        suite: The suite.

    Returns:
        One outcome per batch, in the order given.
    """
    from retrainer.validation.runner import StackItem, run_stacked, run_suite, stackable

    parameters = [suite.parameters_for(item.dates, item.previous) for item in items]
    identity = (suite.hash, suite.describe())
    outcomes: list[BatchValidation | None] = [None] * len(items)
    stacks, alone = _stacks(items, suite, stackable)
    for chunk in stacks:
        runs = run_stacked([StackItem(items[i].frame, parameters[i]) for i in chunk], suite)
        for index, run in zip(chunk, runs, strict=True):
            outcomes[index] = _outcome(items[index], suite, run, parameters[index], identity)
    for index in alone:
        run = run_suite(items[index].frame, suite, parameters[index])
        outcomes[index] = _outcome(items[index], suite, run, parameters[index], identity)
    return [o for o in outcomes if o is not None]


def validate_batch(
    frame: pd.DataFrame,
    suite: ValidationSuite,
    *,
    label: str,
    dates: list[date] | None = None,
    previous: date | None = None,
    table: str | None = None,
    path: str | None = None,
    fingerprint: str | None = None,
) -> BatchValidation:
    """Run ``suite`` on one batch alone with GX and turn the result into findings.

    Args:
        frame: The batch.
        suite: The suite.
        label: Name of the batch in reports (its date or path).
        dates: Partition dates the batch covers; None for a file without a date (the
            time-window expectations are then not evaluated).
        previous: The last validated partition before the batch (monotonic dates).
        table: The table the batch belongs to.
        path: Where the batch was read from.
        fingerprint: Hash of the files read.

    Returns:
        The outcome.
    """
    from retrainer.validation.runner import run_suite  # imports GX (slow)

    item = BatchInput(frame, label, dates, previous, table, path, fingerprint)
    parameters = suite.parameters_for(dates, previous)
    return _outcome(item, suite, run_suite(frame, suite, parameters), parameters)


def unreadable_batch(
    label: str,
    error: Exception | str,
    suite: ValidationSuite,
    *,
    dates: list[date] | None = None,
    table: str | None = None,
    path: str | None = None,
) -> BatchValidation:
    """The outcome for a batch that could not be read at all (always an error)."""
    finding = Finding(
        column=None,
        expectation="read_parquet",
        kind="columns",
        severity="error",
        observed="unreadable",
        expected="readable Parquet",
        message=f"(table): read_parquet failed: {error}",
    )
    return BatchValidation(
        label=label,
        rows=0,
        dates=list(dates or []),
        table=table,
        path=path,
        suite_hash=suite.hash,
        suite_source=suite.describe(),
        findings=[finding],
        statistics={"evaluated_expectations": 0, "unsuccessful_expectations": 0},
    )
