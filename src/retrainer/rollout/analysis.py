"""Judging a stage's analysis: each measurement, then the worst of them (Argo semantics).

A measurement inside its ``failure`` interval fails (failure takes precedence); otherwise one
inside its ``success`` interval passes; with only a failure condition, a value outside it
passes; with only a success condition, a value outside it fails; with both, a value in
neither is inconclusive. A value that cannot be measured (None, NaN) is an error. The
analysis takes the worst verdict: failed > error > inconclusive > successful.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from retrainer.config.promotion import AnalysisMetric

Verdict = Literal["successful", "inconclusive", "error", "failed"]

SEVERITY: dict[str, int] = {"successful": 0, "inconclusive": 1, "error": 2, "failed": 3}


@dataclass(frozen=True)
class Measurement:
    """One analysis metric's value and verdict."""

    name: str
    value: float | None
    verdict: Verdict
    why: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return {"name": self.name, "value": self.value, "verdict": self.verdict, "why": self.why}


@dataclass(frozen=True)
class AnalysisResult:
    """Every measurement of one analysis and the worst verdict."""

    measurements: tuple[Measurement, ...]

    @property
    def verdict(self) -> Verdict:
        """The worst measurement's verdict (successful when there is none)."""
        if not self.measurements:
            return "successful"
        return max(self.measurements, key=lambda m: SEVERITY[m.verdict]).verdict

    def summary(self) -> str:
        """One line: the verdict, and the measurements that decided it."""
        worst = [m for m in self.measurements if m.verdict == self.verdict]
        return f"{self.verdict}: " + "; ".join(m.why for m in worst or self.measurements)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return {"verdict": self.verdict, "measurements": [m.to_dict() for m in self.measurements]}


def _interval(bounds: Any) -> str:
    low = "-inf" if bounds.min is None else f"{bounds.min:g}"
    high = "inf" if bounds.max is None else f"{bounds.max:g}"
    return f"[{low}, {high}]"


def judge(metric: AnalysisMetric, value: float | None) -> Measurement:
    """The verdict of one measurement (see the module docstring for the rules)."""
    name = metric.name
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return Measurement(name, None, "error", f"{name} could not be measured")
    shown = f"{name} {value:.4g}"
    if metric.failure is not None and metric.failure.holds(value):
        return Measurement(name, value, "failed", f"{shown} in failure {_interval(metric.failure)}")
    if metric.success is not None and metric.success.holds(value):
        return Measurement(
            name, value, "successful", f"{shown} in success {_interval(metric.success)}"
        )
    if metric.success is None:
        return Measurement(
            name, value, "successful", f"{shown} outside failure {_interval(metric.failure)}"
        )
    if metric.failure is None:
        return Measurement(
            name, value, "failed", f"{shown} outside success {_interval(metric.success)}"
        )
    return Measurement(
        name,
        value,
        "inconclusive",
        f"{shown} in neither success {_interval(metric.success)} nor failure "
        f"{_interval(metric.failure)}",
    )


def analyse(
    metrics: Sequence[AnalysisMetric], values: Mapping[str, float | None]
) -> AnalysisResult:
    """Judge every analysis metric on the measured ``values`` (a missing one is an error)."""
    return AnalysisResult(tuple(judge(m, values.get(m.name)) for m in metrics))
