"""Gate results: one :class:`CheckResult` per check, gathered in a :class:`GateReport`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

Verdict = Literal["passed", "failed", "skipped", "insufficient_data", "warning", "pending"]
CheckKind = Literal["holdout", "sanity", "absolute", "comparison", "segment", "human_approval"]
GateStatus = Literal["passed", "failed", "awaiting_approval"]

_BLOCKING = ("failed", "pending", "insufficient_data")


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def format_value(value: Any) -> str:
    """A short display form: floats with 4 significant digits, None as an em dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float | np.floating):
        return f"{float(value):.4g}"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    return str(value)


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one gate check.

    Attributes:
        name: Unique name, e.g. ``absolute[roc_auc]``, ``comparison[roc_auc]``,
            ``segment[region=north]``, ``sanity.signature``, ``human_approval``.
        kind: ``holdout``, ``sanity``, ``absolute``, ``comparison``, ``segment`` or
            ``human_approval``.
        verdict: ``passed``, ``failed``, ``skipped``, ``insufficient_data``, ``warning`` or
            ``pending`` (waiting for a person).
        message: One line saying why.
        observed: What was measured (a number or a short text), if anything.
        threshold: What it was held against, as text (e.g. ``≥ 0.75``).
        required: Whether a ``failed`` / ``pending`` / ``insufficient_data`` verdict fails
            the gate (informational checks have ``required=False``).
        details: JSON-friendly figures behind the verdict (intervals, p-values, counts).
    """

    name: str
    kind: CheckKind
    verdict: Verdict
    message: str
    observed: float | int | str | None = None
    threshold: str | None = None
    required: bool = True
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def blocking(self) -> bool:
        """Whether this check keeps the gate from passing."""
        return self.required and self.verdict in _BLOCKING

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dictionary."""
        return {
            "name": self.name,
            "kind": self.kind,
            "verdict": self.verdict,
            "message": self.message,
            "observed": _plain(self.observed),
            "threshold": self.threshold,
            "required": self.required,
            "blocking": self.blocking,
            "details": _plain(self.details),
        }


def human_approval_check(
    decision: Literal["approved", "rejected", "timed_out", "pending", "not_required"],
    *,
    reviewer: str | None = None,
    comment: str = "",
    timeout_seconds: int | None = None,
) -> CheckResult:
    """The ``human_approval`` check, as the flow records a reviewer's answer.

    Args:
        decision: ``approved`` → passed; ``rejected`` or ``timed_out`` → failed;
            ``pending`` → pending (blocks); ``not_required`` → skipped.
        reviewer: Who decided.
        comment: The reviewer's comment.
        timeout_seconds: The configured wait, for the threshold column.

    Returns:
        The check.

    Raises:
        ValueError: For an unknown decision.
    """
    verdicts: dict[str, Verdict] = {
        "approved": "passed",
        "rejected": "failed",
        "timed_out": "failed",
        "pending": "pending",
        "not_required": "skipped",
    }
    if decision not in verdicts:
        raise ValueError(f"decision must be one of {sorted(verdicts)}, got {decision!r}")
    who = reviewer or "unknown reviewer"
    messages = {
        "approved": f"approved by {who}",
        "rejected": f"rejected by {who}",
        "timed_out": f"no decision within {timeout_seconds} s: rejected",
        "pending": "waiting for a reviewer",
        "not_required": "human approval not required",
    }
    message = messages[decision] + (f": {comment}" if comment else "")
    threshold = "approval required"
    if timeout_seconds is not None:
        threshold += f" within {timeout_seconds} s"
    return CheckResult(
        name="human_approval",
        kind="human_approval",
        verdict=verdicts[decision],
        message=message,
        observed=reviewer,
        threshold=threshold,
        required=decision != "not_required",
        details={"decision": decision, "reviewer": reviewer, "comment": comment},
    )


@dataclass(frozen=True)
class GateReport:
    """All checks of one gate evaluation and the overall verdict.

    The gate passes only when at least one check ran and no required check failed, is
    pending, or (when configured to fail) lacks data.

    Attributes:
        task: binary, multiclass or regression.
        checks: Every check, in evaluation order.
        has_champion: Whether a champion was compared.
        metrics: ``{"challenger": {...}, "champion": {...}}`` holdout metrics (None where not
            computable) for reports.
    """

    task: str
    checks: tuple[CheckResult, ...]
    has_champion: bool = False
    metrics: dict[str, dict[str, float | None]] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """True only when every required check passed (or was skipped / only warned)."""
        return bool(self.checks) and not any(c.blocking for c in self.checks)

    @property
    def failed_checks(self) -> list[CheckResult]:
        """The checks that keep the gate from passing."""
        return [c for c in self.checks if c.blocking]

    @property
    def automatic_checks_passed(self) -> bool:
        """Whether everything but a pending human approval passed (time to ask a person)."""
        others = [c for c in self.checks if c.kind != "human_approval"]
        return bool(others) and not any(c.blocking for c in others)

    @property
    def awaiting_approval(self) -> bool:
        """Whether a human approval check is pending."""
        return any(c.kind == "human_approval" and c.verdict == "pending" for c in self.checks)

    def check(self, name: str) -> CheckResult:
        """The check called ``name``.

        Raises:
            KeyError: Naming the checks that exist.
        """
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(f"no check {name!r}; checks: {[c.name for c in self.checks]}")

    def by_kind(self, kind: CheckKind) -> list[CheckResult]:
        """The checks of one kind."""
        return [c for c in self.checks if c.kind == kind]

    @property
    def summary(self) -> str:
        """One or two sentences: the verdict, failed checks and segments, notable notes."""
        failed = self.failed_checks
        if failed:
            head = f"FAILED: {len(failed)} of {len(self.checks)} checks failed: " + ", ".join(
                c.name for c in failed
            )
        elif not self.checks:
            head = "FAILED: no checks ran"
        else:
            head = f"PASSED: {len(self.checks)} checks"
            comparison = self.by_kind("comparison")
            if comparison and comparison[0].verdict != "skipped":
                head += f"; {comparison[0].name}: {format_value(comparison[0].observed)}"
            elif not self.has_champion:
                head += " (no champion: judged on absolute bounds and sanity only)"
        notes = []
        regressed = [c.name for c in self.by_kind("segment") if c.verdict == "failed"]
        if regressed and not failed:
            notes.append("regressed segments: " + ", ".join(regressed))
        thin = [c.name for c in self.checks if c.verdict == "insufficient_data"]
        if thin:
            notes.append(f"{len(thin)} segment(s) with insufficient data")
        warned = [c.name for c in self.checks if c.verdict == "warning"]
        if warned:
            notes.append("warnings: " + ", ".join(warned))
        if self.awaiting_approval:
            notes.append("waiting for human approval")
        return head + ("; " + "; ".join(notes) if notes else "") + "."

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dictionary (for events, MLflow tags and the HTML report)."""
        return {
            "passed": self.passed,
            "summary": self.summary,
            "task": self.task,
            "has_champion": self.has_champion,
            "failed_checks": [c.name for c in self.failed_checks],
            "checks": [c.to_dict() for c in self.checks],
            "metrics": _plain(self.metrics),
        }

    def to_markdown(self) -> str:
        """A Markdown table (check, observed, threshold, verdict, message) under the summary."""

        def cell(text: str) -> str:
            return text.replace("|", "\\|").replace("\n", " ")

        labels = {
            "passed": "passed",
            "failed": "**FAILED**",
            "skipped": "skipped",
            "insufficient_data": "insufficient data",
            "warning": "warning",
            "pending": "pending",
        }
        lines = [
            f"**Gate {'passed' if self.passed else 'failed'}** — {cell(self.summary)}",
            "",
            "| check | observed | threshold | verdict | message |",
            "| --- | --- | --- | --- | --- |",
        ]
        for c in self.checks:
            verdict = labels[c.verdict] + ("" if c.required else " (info)")
            lines.append(
                f"| {cell(c.name)} | {cell(format_value(c.observed))} | "
                f"{cell(c.threshold or '—')} | {verdict} | {cell(c.message)} |"
            )
        return "\n".join(lines) + "\n"

    def with_check(self, check: CheckResult) -> GateReport:
        """A copy with ``check`` added, replacing a check of the same name."""
        kept = tuple(c for c in self.checks if c.name != check.name)
        return replace(self, checks=(*kept, check))

    def with_human_approval(
        self,
        decision: Literal["approved", "rejected", "timed_out"],
        *,
        reviewer: str | None = None,
        comment: str = "",
        timeout_seconds: int | None = None,
    ) -> GateReport:
        """A copy whose ``human_approval`` check records a reviewer's decision.

        Args:
            decision: ``approved``, ``rejected`` or ``timed_out``.
            reviewer: Who decided.
            comment: Their comment.
            timeout_seconds: The configured wait (shown in the threshold column).

        Returns:
            The updated report.
        """
        return self.with_check(
            human_approval_check(
                decision, reviewer=reviewer, comment=comment, timeout_seconds=timeout_seconds
            )
        )


def gate_status(report: GateReport) -> GateStatus:
    """The ``retrainer.gate`` tag value: passed, failed, or awaiting_approval.

    A report waits for approval only when every automatic check passed and the human
    approval is pending; anything else that does not pass has failed.
    """
    if report.passed:
        return "passed"
    if report.awaiting_approval and report.automatic_checks_passed:
        return "awaiting_approval"
    return "failed"
