"""The result of a performance check: values, thresholds, verdicts and breaches."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from retrainer.events import json_safe, stable_event_id

if TYPE_CHECKING:
    from retrainer.monitoring.screen import ReadScreen

Basis = Literal["realised", "estimated"]

OK = "ok"
DEGRADED = "degraded"
WARNING = "warning"
INSUFFICIENT = "insufficient_data"
SKIPPED = "skipped"


@dataclass(frozen=True)
class ResolvedThreshold:
    """The bound a metric is judged against and where it comes from.

    Attributes:
        value: The effective bound (the strictest rule that applies); None when no rule can
            apply (only drop rules and no reference performance).
        reference: The reference performance the drop rules start from.
        limit: The configured absolute bound.
        max_drop: The configured drop in metric units.
        max_relative_drop: The configured drop as a fraction of the reference.
        greater_is_better: Orientation of the metric.
    """

    value: float | None
    reference: float | None
    limit: float | None
    max_drop: float | None
    max_relative_drop: float | None
    greater_is_better: bool

    def breached_by(self, value: float) -> bool:
        """Whether ``value`` is worse than the bound."""
        if self.value is None:
            return False
        return value < self.value if self.greater_is_better else value > self.value

    def describe(self) -> str:
        """The rules in words, e.g. ``>= 0.77 (reference 0.82 - 0.05)``."""
        if self.value is None:
            return "no threshold"
        op = ">=" if self.greater_is_better else "<="
        sign = "-" if self.greater_is_better else "+"
        rules = []
        if self.limit is not None:
            rules.append(f"limit {self.limit:g}")
        if self.reference is not None and self.max_drop is not None:
            rules.append(f"reference {self.reference:.4g} {sign} {self.max_drop:g}")
        if self.reference is not None and self.max_relative_drop is not None:
            rules.append(f"reference {self.reference:.4g} {sign} {self.max_relative_drop:.0%}")
        return f"{op} {self.value:.4g} ({'; '.join(rules)})"


def resolve_threshold(
    limit: float | None,
    max_drop: float | None,
    max_relative_drop: float | None,
    reference: float | None,
    greater_is_better: bool,
) -> ResolvedThreshold:
    """Combine the configured rules into one bound: the strictest that applies.

    Args:
        limit: Absolute worst acceptable value.
        max_drop: Allowed degradation from the reference, in metric units.
        max_relative_drop: Allowed degradation as a fraction of the reference.
        reference: Reference performance (None: drop rules cannot apply).
        greater_is_better: Orientation of the metric.

    Returns:
        The resolved threshold.
    """
    candidates: list[float] = []
    if limit is not None:
        candidates.append(float(limit))
    if reference is not None:
        direction = -1.0 if greater_is_better else 1.0
        if max_drop is not None:
            candidates.append(reference + direction * max_drop)
        if max_relative_drop is not None:
            candidates.append(reference + direction * abs(reference) * max_relative_drop)
    bound = None
    if candidates:
        bound = max(candidates) if greater_is_better else min(candidates)
    return ResolvedThreshold(
        value=bound,
        reference=reference,
        limit=limit,
        max_drop=max_drop,
        max_relative_drop=max_relative_drop,
        greater_is_better=greater_is_better,
    )


@dataclass
class MetricCheck:
    """One metric judged on one part of the window.

    Attributes:
        metric: Metric name.
        basis: ``realised`` (on labelled rows) or ``estimated`` (CBPE, on unlabelled rows).
        segment: ``column=value``, or None for the whole window.
        value: The metric value (None when it could not be computed).
        support: Rows it was computed on.
        min_support: Rows needed for a verdict.
        threshold: The resolved threshold.
        verdict: ``ok``, ``degraded``, ``warning`` (beyond the threshold but within sampling
            noise), ``insufficient_data`` or ``skipped``.
        reason: Why the verdict is not ok (breach, too few rows, not estimable ...).
        counts: Whether a degraded verdict counts as a breach (estimates may be advisory).
        standard_error: Combined bootstrap standard error of the value and its reference
            (realised checks when ``monitoring.significance`` is set).
        z: Degradation versus the reference (or the limit) in standard errors.
    """

    metric: str
    basis: Basis
    segment: str | None
    value: float | None
    support: int
    min_support: int
    threshold: ResolvedThreshold
    verdict: str
    reason: str | None = None
    counts: bool = True
    standard_error: float | None = None
    z: float | None = None

    @property
    def scope(self) -> str:
        """``overall`` or the segment name."""
        return self.segment or "overall"

    @property
    def is_breach(self) -> bool:
        """Whether this check is a counted breach."""
        return self.verdict == DEGRADED and self.counts

    def to_dict(self) -> dict[str, Any]:
        """As a JSON-able dict."""
        column, _, value = (self.segment or "").partition("=")
        return {
            "metric": self.metric,
            "basis": self.basis,
            "scope": self.scope,
            "segment": self.segment,
            "segment_column": column or None,
            "segment_value": value or None,
            "value": self.value,
            "support": self.support,
            "min_support": self.min_support,
            "reference": self.threshold.reference,
            "threshold": self.threshold.value,
            "threshold_rule": self.threshold.describe(),
            "greater_is_better": self.threshold.greater_is_better,
            "verdict": self.verdict,
            "reason": self.reason,
            "counts": self.counts,
            "standard_error": self.standard_error,
            "z": self.z,
        }


@dataclass
class EstimationInfo:
    """How estimation went: whether it ran, on what reference, and its assumption."""

    enabled: bool
    available: bool
    reason: str | None = None
    calibration: str | None = None
    calibrated: bool | None = None
    reference_rows: int = 0
    reference_source: str | None = None
    ece_raw: float | None = None
    ece_calibrated: float | None = None
    assumption: str = (
        "P(y | score) on the monitored rows equals the reference (no concept drift with "
        "respect to the score); estimates see score-distribution shifts only, realised "
        "metrics are needed to catch concept drift"
    )

    def to_dict(self) -> dict[str, Any]:
        """As a JSON-able dict."""
        return asdict(self)


@dataclass
class PerformanceReport:
    """Monitored performance of one model over one window, as known on ``as_of``.

    Attributes:
        model_name: Registered model name.
        model_version: The monitored version (None when every version's predictions count).
        task: binary, multiclass or regression.
        metrics: Monitored metrics, primary first.
        window_start: First event date of the window.
        window_end: Last event date of the window.
        as_of: Labels known on this date were used.
        rows: Predictions in the window.
        labelled_rows: Of which labelled by ``as_of``.
        checks: Every metric check (overall and per segment, realised and estimated).
        daily: Per event date: rows, labelled share, realised and estimated metric values.
        segments: Per segment: rows, labelled share and each metric's values.
        reference: Reference performance per metric (overall) and its source.
        estimation: How estimation went.
        expectation_gap: Per metric, realised minus estimated on the SAME labelled rows,
            oriented so that negative means worse than CBPE expected: a large negative gap
            is the signature of concept drift (the estimate cannot see it).
        notes: Anything the reader should know (excluded versions, skipped segments ...).
        screen: The partitions of the window read and left out (invalid, quarantined, not
            validated), when the predictions were screened against the validation ledger.
    """

    model_name: str
    model_version: str | None
    task: str
    metrics: list[str]
    window_start: date | None
    window_end: date | None
    as_of: date | None
    rows: int
    labelled_rows: int
    checks: list[MetricCheck]
    daily: pd.DataFrame
    segments: pd.DataFrame
    reference: dict[str, Any]
    estimation: EstimationInfo
    expectation_gap: dict[str, float | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    screen: ReadScreen | None = None

    # -- verdicts -------------------------------------------------------------------------
    @property
    def labelled_share(self) -> float | None:
        """Share of the window's predictions whose label is known."""
        return self.labelled_rows / self.rows if self.rows else None

    @property
    def breaches(self) -> list[MetricCheck]:
        """Counted breaches: degraded realised checks, and estimated ones when they alert."""
        return [c for c in self.checks if c.is_breach]

    @property
    def degraded(self) -> bool:
        """Whether any counted breach exists."""
        return bool(self.breaches)

    @property
    def verdict(self) -> str:
        """``degraded``; else ``ok`` when some overall metric was judged; else insufficient."""
        if self.degraded:
            return DEGRADED
        if any(c.segment is None and c.verdict == OK for c in self.checks):
            return OK
        return INSUFFICIENT

    @property
    def primary_metric(self) -> str:
        """The first monitored metric."""
        return self.metrics[0]

    def check(self, metric: str, basis: Basis = "realised", segment: str | None = None):
        """The check of a metric for a basis and scope, or None."""
        for c in self.checks:
            if c.metric == metric and c.basis == basis and c.segment == segment:
                return c
        return None

    def insufficient_segments(self) -> list[str]:
        """Segments with at least one realised check lacking support."""
        return sorted(
            {
                c.segment
                for c in self.checks
                if c.segment and c.basis == "realised" and c.verdict == INSUFFICIENT
            }
        )

    # -- output ---------------------------------------------------------------------------
    def summary_table(self, include_ok_segments: bool = True) -> pd.DataFrame:
        """One row per check: metric, scope, basis, value, support, reference, threshold, verdict.

        Args:
            include_ok_segments: Also list segment checks that passed (False keeps the overall
                checks plus the segments that need attention).
        """
        rows = []
        for c in self.checks:
            if c.segment and not include_ok_segments and c.verdict == OK:
                continue
            rows.append(
                {
                    "metric": c.metric,
                    "scope": c.scope,
                    "basis": c.basis,
                    "value": c.value,
                    "support": c.support,
                    "reference": c.threshold.reference,
                    "threshold": c.threshold.value,
                    "verdict": c.verdict if c.counts or c.verdict != DEGRADED else "warning",
                }
            )
        columns = [
            "metric",
            "scope",
            "basis",
            "value",
            "support",
            "reference",
            "threshold",
            "verdict",
        ]
        return pd.DataFrame(rows, columns=columns)

    def breach_dicts(self) -> list[dict[str, Any]]:
        """The breaches as dicts (metric, scope, basis, value, threshold, support ...)."""
        return [c.to_dict() for c in self.breaches]

    @property
    def breach_basis(self) -> str | None:
        """``realised``, ``estimated`` or ``estimated+realised``: what the breaches rest on."""
        bases = sorted({b.basis for b in self.breaches})
        return "+".join(bases) if bases else None

    def incident_id(self, event: str) -> str:
        """A stable event id per model, version, window, basis and verdict.

        The window counts with its ``as_of`` date (the labels known). Checking the same
        window again gives the same id, which Prefect processes once, so a re-run (a retry,
        a second schedule) does not trigger a second retrain.
        """
        return stable_event_id(
            event,
            self.model_name,
            self.model_version,
            self.window_start,
            self.window_end,
            self.as_of,
            self.breach_basis,
            self.verdict,
        )

    def event_payload(self) -> dict[str, Any]:
        """The payload of ``retrainer.performance.degraded`` / ``.checked``.

        It names the primary breached metric, whether the overall metric and which segments
        breached, each breach's value, threshold and support, whether it is realised or
        estimated, the window and its labelled share, and the partitions of the window left
        out (``partitions``: invalid, quarantined or never validated).
        """
        breaches = self.breaches
        metric = breaches[0].metric if breaches else self.primary_metric
        thresholds = {
            m: c.threshold.value
            for m in self.metrics
            if (c := self.check(m, "realised")) is not None
        }
        return json_safe(
            {
                "verdict": self.verdict,
                "metric": metric,
                "metrics": list(dict.fromkeys(b.metric for b in breaches)),
                "overall": any(b.segment is None for b in breaches),
                "segments": sorted({b.segment for b in breaches if b.segment}),
                "basis": self.breach_basis,
                "breaches": [
                    {
                        "metric": b.metric,
                        "scope": b.scope,
                        "basis": b.basis,
                        "value": b.value,
                        "threshold": b.threshold.value,
                        "reference": b.threshold.reference,
                        "support": b.support,
                    }
                    for b in breaches
                ],
                "values": {
                    m: {
                        "realised": getattr(self.check(m, "realised"), "value", None),
                        "estimated": getattr(self.check(m, "estimated"), "value", None),
                    }
                    for m in self.metrics
                },
                "thresholds": thresholds,
                "support": {"rows": self.rows, "labelled": self.labelled_rows},
                "labelled_share": self.labelled_share,
                "window": {"start": self.window_start, "end": self.window_end},
                "as_of": self.as_of,
                "model_version": self.model_version,
                "insufficient_segments": self.insufficient_segments(),
                "partitions": self.screen.to_dict() if self.screen else None,
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """Everything in the report as a JSON-able dict."""
        daily = self.daily.copy()
        if "date" in daily.columns:
            daily["date"] = daily["date"].astype(str)
        return json_safe(
            {
                "model": self.model_name,
                "model_version": self.model_version,
                "task": self.task,
                "verdict": self.verdict,
                "metrics": self.metrics,
                "window": {"start": self.window_start, "end": self.window_end},
                "as_of": self.as_of,
                "rows": self.rows,
                "labelled_rows": self.labelled_rows,
                "labelled_share": self.labelled_share,
                "breaches": self.breach_dicts(),
                "checks": [c.to_dict() for c in self.checks],
                "insufficient_segments": self.insufficient_segments(),
                "reference": self.reference,
                "estimation": self.estimation.to_dict(),
                "expectation_gap": self.expectation_gap,
                "daily": daily.to_dict(orient="records"),
                "segments": self.segments.to_dict(orient="records"),
                "notes": self.notes,
                "partitions": self.screen.to_dict() if self.screen else None,
            }
        )


MetricPoint = tuple[str, Any, int, date | None]
"""An MLflow metric to log: ``(key, value, step, day)``; ``day`` timestamps a daily point.

Values may be None or NaN: the logger skips them."""


def metric_path(*parts: object) -> str:
    """A dotted metric key from its parts (the logger makes it MLflow-safe)."""
    return ".".join(str(part) for part in parts)


def report_metrics(report: PerformanceReport) -> list[MetricPoint]:
    """Every statistic of a report as MLflow metrics.

    Keys: ``<basis>.<metric>`` (overall) and ``<basis>.<metric>.<column>.<value>`` (segments),
    ``reference.<metric>``, ``threshold.<metric>``, ``support.<basis>``, ``labelled_share``;
    per day ``daily.<metric>.<basis>`` and ``daily.labelled_share`` with step = day index in
    the window and the timestamp of that day; ``excluded_partitions`` (left out by the
    validation screen).
    """
    points: list[MetricPoint] = [
        ("rows", report.rows, 0, None),
        ("labelled_rows", report.labelled_rows, 0, None),
        ("labelled_share", report.labelled_share, 0, None),
        ("breaches", len(report.breaches), 0, None),
    ]
    if report.screen is not None:
        points.append(("excluded_partitions", len(report.screen.excluded), 0, None))
    for check in report.checks:
        parts = [check.basis, check.metric]
        if check.segment:
            column, _, value = check.segment.partition("=")
            parts += [column, value]
            points.append((metric_path("support", *parts), check.support, 0, None))
        points.append((metric_path(*parts), check.value, 0, None))
        if check.segment is None:
            points += [
                (metric_path("support", check.basis), check.support, 0, None),
                (metric_path("threshold", check.metric), check.threshold.value, 0, None),
                (metric_path("reference", check.metric), check.threshold.reference, 0, None),
            ]
        if check.z is not None:
            points.append((metric_path("z", *parts), check.z, 0, None))
    for metric, gap in report.expectation_gap.items():
        points.append((metric_path("expectation_gap", metric), gap, 0, None))
    return points + _daily_points(report)


def _daily_points(report: PerformanceReport) -> list[MetricPoint]:
    if report.window_start is None or not len(report.daily):
        return []
    points: list[MetricPoint] = []
    for _, row in report.daily.iterrows():
        day = row["date"]
        step = (day - report.window_start).days
        points.append(("daily.labelled_share", row["labelled_share"], step, day))
        points.append(("daily.rows", row["rows"], step, day))
        for metric in report.metrics:
            for basis in ("realised", "estimated"):
                column = f"{metric}_{basis}"
                if column in row.index:
                    points.append((metric_path("daily", metric, basis), row[column], step, day))
    return points
