"""Data validation with Great Expectations: suites from reference data, findings, reports.

Building a suite (:func:`build_suite` from a :class:`ReferenceProfile`) and reading results
need no GX import; :func:`validate_batch` imports GX (a few seconds) when it first runs.
"""

from retrainer.validation.batch import (
    BatchInput,
    BatchValidation,
    unreadable_batch,
    validate_batch,
    validate_batches,
)
from retrainer.validation.findings import Finding, findings_from_result, verdict_of
from retrainer.validation.ledger import (
    LedgerError,
    PartitionScreen,
    ValidationLedger,
    screen_partitions,
)
from retrainer.validation.profile import ColumnProfile, ReferenceProfile, profile_reference
from retrainer.validation.report import findings_frame, markdown_summary, render_html
from retrainer.validation.suite import SuiteError, ValidationSuite, build_suite

__all__ = [
    "BatchInput",
    "BatchValidation",
    "ColumnProfile",
    "Finding",
    "LedgerError",
    "PartitionScreen",
    "ReferenceProfile",
    "SuiteError",
    "ValidationLedger",
    "ValidationSuite",
    "build_suite",
    "findings_frame",
    "findings_from_result",
    "markdown_summary",
    "profile_reference",
    "render_html",
    "screen_partitions",
    "unreadable_batch",
    "validate_batch",
    "validate_batches",
    "verdict_of",
]
