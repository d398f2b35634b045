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
        seconds: Wall time of the GX run.
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
                "seconds": round(self.seconds, 3),
            }
        )


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
    """Run ``suite`` on ``frame`` with GX and turn the result into findings.

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

    parameters = suite.parameters_for(dates, previous)
    run = run_suite(frame, suite, parameters)
    findings, notes = findings_from_result(run.result, run.skipped, frame)
    return BatchValidation(
        label=label,
        rows=len(frame),
        dates=list(dates or []),
        table=table,
        path=path,
        suite_hash=suite.hash,
        suite_source=suite.describe(),
        findings=findings,
        notes=notes,
        statistics=run.statistics,
        result=run.result,
        parameters=json_safe(parameters),
        seconds=run.seconds,
        fingerprint=fingerprint,
    )


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
