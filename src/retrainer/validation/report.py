"""Human-readable validation reports: HTML (MLflow, quarantine) and markdown (Prefect)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from retrainer.reports import Section, markdown_table, render_report
from retrainer.validation.batch import BatchValidation
from retrainer.validation.findings import TABLE, fmt_share

FINDING_COLUMNS = ["severity", "column", "expectation", "observed", "expected"]


def findings_frame(batches: Sequence[BatchValidation], with_batch: bool = True) -> pd.DataFrame:
    """One row per failed expectation: batch, severity, column, expectation, observed, expected."""
    rows: list[dict[str, Any]] = []
    for batch in batches:
        for finding in batch.findings:
            row = {
                "severity": finding.severity,
                "column": finding.target,
                "expectation": finding.expectation,
                "observed": finding.observed,
                "expected": finding.expected,
            }
            rows.append({"batch": batch.label, **row} if with_batch else row)
    columns = (["batch"] if with_batch else []) + FINDING_COLUMNS
    return pd.DataFrame(rows, columns=columns)


def _expectations_frame(batch: BatchValidation) -> pd.DataFrame:
    rows = []
    for item in batch.result.get("results", []):
        config = item.get("expectation_config", {})
        result = item.get("result") or {}
        if "observed_value" in result:
            observed = result["observed_value"]
            if isinstance(observed, list):
                observed = f"{len(observed)} columns"
        elif result.get("unexpected_percent") is not None:
            observed = f"{fmt_share(float(result['unexpected_percent']) / 100)} unexpected"
        else:
            observed = ""
        rows.append(
            {
                "verdict": "passed" if item.get("success") else "failed",
                "column": config.get("kwargs", {}).get("column") or TABLE,
                "expectation": config.get("type", "?"),
                "kind": (config.get("meta") or {}).get("retrainer", {}).get("kind", ""),
                "severity": {"critical": "error"}.get(config.get("severity"), "warning"),
                "observed": str(observed),
            }
        )
    frame = pd.DataFrame(
        rows, columns=["verdict", "column", "expectation", "kind", "severity", "observed"]
    )
    return frame.sort_values(["verdict", "column"], kind="stable").reset_index(drop=True)


def render_html(batch: BatchValidation, model: str | None = None) -> str:
    """A self-contained HTML report of one batch: failed expectations first, then all of them."""
    stats = batch.statistics
    meta = {
        "model": model or "",
        "batch": batch.label,
        "rows": f"{batch.rows:,}",
        "suite": batch.suite_source,
        "evaluated": stats.get("evaluated_expectations", 0),
        "failed": stats.get("unsuccessful_expectations", 0),
    }
    if batch.quarantine:
        meta["quarantine"] = batch.quarantine
    sections = []
    if batch.findings:
        detail = pd.DataFrame(
            [
                {
                    "severity": f.severity,
                    "column": f.target,
                    "expectation": f.expectation,
                    "observed": f.observed,
                    "expected": f.expected,
                    "message": f.message,
                }
                for f in batch.findings
            ]
        )
        sections.append(
            Section(
                "Failed expectations",
                paragraphs=[
                    "error blocks the batch (it is quarantined); warning is only reported."
                ],
                tables=[detail],
            )
        )
    else:
        sections.append(Section("Failed expectations", paragraphs=["None: every check passed."]))
    if batch.notes:
        sections.append(Section("Not evaluated", paragraphs=list(batch.notes)))
    if batch.result.get("results"):
        sections.append(Section("All expectations", tables=[_expectations_frame(batch)]))
    return render_report(
        f"Data validation: {batch.label}",
        sections,
        verdict=batch.verdict,
        meta={k: v for k, v in meta.items() if v != ""},
    )


def markdown_summary(batches: Sequence[BatchValidation], suite: str) -> str:
    """Markdown for the Prefect UI: one line per batch and the failed-expectations table."""
    lines = [f"**Suite:** {suite}", ""]
    overview = pd.DataFrame(
        [
            {
                "batch": b.label,
                "verdict": b.verdict,
                "rows": b.rows,
                "errors": len(b.errors),
                "warnings": len(b.warnings),
                "quarantine": b.quarantine or "",
            }
            for b in batches
        ],
        columns=["batch", "verdict", "rows", "errors", "warnings", "quarantine"],
    )
    failing = [b for b in batches if b.findings]
    if len(batches) > 20 and not failing:
        lines.append(f"{len(batches)} batches validated, all valid.")
    else:
        shown = overview if len(batches) <= 20 else overview[overview["verdict"] != "valid"]
        if len(shown) < len(overview):
            lines.append(f"{len(overview) - len(shown)} more batches were valid.")
            lines.append("")
        lines.append(markdown_table(shown))
    lines += ["", "### Failed expectations", "", markdown_table(findings_frame(failing))]
    return "\n".join(lines)
