"""One drift check of a window: the window verdict plus per-day drift scores (no IO).

:func:`check_window` streams the window one day at a time: each day is compared with the
baseline on its own (the drift-score series of the report) and summarised into the window's
accumulators (the window verdict), so memory holds one day plus the sketches.

The *drift score* of a column is its most decisive metric: the deciding metric whose value
is furthest past its threshold (``value / threshold``; for a deciding test the p-value is
shown instead, see :func:`headline_metric`). A null burst shows as ``missing_share``, a day
without any value of a column as status ``no_data``.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import pandas as pd

from retrainer.config.drift import TEST_METRICS, DriftSection, TrainingBaseline, WindowBaseline
from retrainer.drift.baseline import parse_baseline
from retrainer.drift.detector import DriftDetector
from retrainer.drift.report import ColumnDrift, DriftReport, MetricResult
from retrainer.events import json_safe, stable_event_id
from retrainer.monitoring.report import MetricPoint, metric_path

if TYPE_CHECKING:
    from retrainer.drift.segments import SegmentSummary
    from retrainer.monitoring.screen import ReadScreen


class DriftCheckError(Exception):
    """A drift check that cannot run (no champion, no data in the window, bad option ...)."""


def parse_baseline_option(
    text: str | None, section: DriftSection
) -> TrainingBaseline | WindowBaseline:
    """:func:`retrainer.drift.baseline.parse_baseline`, failing with :class:`DriftCheckError`."""
    try:
        return parse_baseline(text, section)
    except ValueError as exc:
        raise DriftCheckError(str(exc)) from None


def headline_metric(column: ColumnDrift) -> MetricResult | None:
    """The column's most decisive deciding metric (None when no metric decides).

    Distances rank by ``value / threshold``; a deciding test ranks by how far its adjusted
    p-value is below ``alpha`` (``alpha / p``). Ties keep configuration order.
    """
    best: tuple[float, MetricResult] | None = None
    for metric in column.metrics.values():
        if metric.drifted is None or metric.threshold is None:
            continue
        if metric.name in TEST_METRICS:
            p = metric.p_value_adjusted
            ratio = metric.threshold / p if p and p > 0 else (math.inf if p == 0 else 0.0)
        elif math.isnan(metric.value) or metric.threshold == 0:
            ratio = 0.0
        else:
            ratio = metric.value / metric.threshold
        if best is None or ratio > best[0]:
            best = (ratio, metric)
    return best[1] if best else None


@dataclass
class DayScore:
    """One column's drift score on one day."""

    metric: str
    value: float
    threshold: float | None
    status: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return json_safe(
            {
                "metric": self.metric,
                "value": self.value,
                "threshold": self.threshold,
                "status": self.status,
            }
        )


@dataclass
class DailyDrift:
    """The drift of one day of the window, against the same baseline."""

    day: date
    n_rows: int
    drifted: bool
    drifted_columns: list[str]
    scores: dict[str, DayScore]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return {
            "date": self.day.isoformat(),
            "rows": self.n_rows,
            "drifted": self.drifted,
            "drifted_columns": list(self.drifted_columns),
            "scores": {c: s.to_dict() for c, s in self.scores.items()},
        }


def day_scores(report: DriftReport) -> dict[str, DayScore]:
    """Each column's headline metric of a (daily) report."""
    scores: dict[str, DayScore] = {}
    for column in report.columns:
        metric = headline_metric(column)
        if metric is None:
            continue
        value = metric.p_value_adjusted if metric.name in TEST_METRICS else metric.value
        scores[column.column] = DayScore(
            metric.name,
            math.nan if value is None else float(value),
            metric.threshold,
            column.status,
        )
    return scores


DayData = pd.DataFrame | Iterable[pd.DataFrame]
"""One day of a window: a frame, or a stream of chunks of it."""


def _day(
    detector: DriftDetector, data: DayData
) -> Iterator[pd.DataFrame | tuple[DriftReport, int]]:
    """Yield a day's non-empty chunks, then its ``(report, rows)`` (nothing for no rows).

    A day that arrives as one chunk is compared in memory (:meth:`DriftDetector.compare`);
    a longer one is streamed (:meth:`DriftDetector.stream`), one chunk in memory at a time.
    """
    parts = (p for p in ([data] if isinstance(data, pd.DataFrame) else data) if not p.empty)
    first = next(parts, None)
    if first is None:
        return
    second = next(parts, None)
    if second is None:
        report = detector.compare(first)
        yield first
        yield report, len(first)
        return
    stream = detector.stream()
    for part in itertools.chain([first, second], parts):
        stream.add(part)
        yield part
    yield stream.report(), stream.n_rows


def check_window(
    detector: DriftDetector, days: Iterable[tuple[date, DayData]]
) -> tuple[DriftReport, list[DailyDrift]]:
    """Compare a window with the baseline, as a whole and day by day.

    Args:
        detector: A fitted detector (``fit`` or ``from_profile``).
        days: ``(day, data)`` pairs in date order; each day's data is a frame or a stream of
            chunks (e.g. Parquet row groups) with the checked columns. Empty days are
            skipped.

    Returns:
        The window's report (the verdict) and one :class:`DailyDrift` per non-empty day.

    Raises:
        ValueError: No rows in the window, or a checked column is missing from a day (the
            message names the column and the day).
    """
    daily: list[DailyDrift] = []

    def frames() -> Iterator[pd.DataFrame]:
        for day, data in days:
            try:
                for item in _day(detector, data):
                    if isinstance(item, pd.DataFrame):
                        yield item
                        continue
                    report, rows = item
                    daily.append(
                        DailyDrift(
                            day=day,
                            n_rows=rows,
                            drifted=report.drifted,
                            drifted_columns=report.drifted_columns,
                            scores=day_scores(report),
                        )
                    )
            except ValueError as exc:
                raise ValueError(f"{day}: {exc}") from exc

    try:
        report = detector.compare_batches(frames())
    except ValueError as exc:
        if "got no batches" in str(exc):
            raise ValueError("the window has no rows to check") from None
        raise
    return report, daily


@dataclass
class DriftCheck:
    """A drift check of one model over one window, with everything a report shows.

    Attributes:
        model: Registered model name.
        model_version: The version whose baseline (and scores) were used: the champion, or
            the one asked for; None for a window baseline without a champion.
        window_start: First day of the current window.
        window_end: Last day of the current window.
        baseline: What the current window is compared with: ``kind`` (``training`` or
            ``window``), ``description``, ``start``, ``end``, ``rows``.
        report: The window's drift report.
        daily: Per-day drift scores.
        prediction_columns: Columns of the report that are model outputs, not features.
        notes: Remarks for the reader (fallbacks, skipped days ...).
        screen: The partitions of the window read and left out (invalid, quarantined, not
            validated), when the window was screened against the validation ledger.
        segments: The check within segments (``drift.segments``), when configured.
    """

    model: str
    model_version: str | None
    window_start: date
    window_end: date
    baseline: dict[str, Any]
    report: DriftReport
    daily: list[DailyDrift] = field(default_factory=list)
    prediction_columns: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    screen: ReadScreen | None = None
    segments: SegmentSummary | None = None

    @property
    def _deciding_segments(self) -> list[Any]:
        """The drifted segments, when they count in the verdict."""
        return self.segments.drifted if self.segments and self.segments.decides else []

    @property
    def drifted(self) -> bool:
        """The window verdict: the whole window, or a segment when segments decide."""
        return self.report.drifted or bool(self._deciding_segments)

    @property
    def verdict(self) -> str:
        """``drift`` or ``no drift``."""
        return "drift" if self.drifted else "no drift"

    @property
    def drifted_features(self) -> list[str]:
        """Drifted feature columns (in the whole window, or in a deciding segment)."""
        overall = [c for c in self.report.drifted_columns if c not in self.prediction_columns]
        within = [c for r in self._deciding_segments for c in r.drifted_columns]
        return list(dict.fromkeys([*overall, *sorted(set(within))]))

    @property
    def prediction_drift(self) -> bool:
        """Whether a prediction column drifted."""
        return any(c in self.prediction_columns for c in self.report.drifted_columns)

    def column_summary(self) -> list[dict[str, Any]]:
        """One entry per column: status, headline metric, value, threshold, p-value."""
        rows = []
        for column in self.report.columns:
            metric = headline_metric(column)
            rows.append(
                json_safe(
                    {
                        "column": column.column,
                        "kind": column.kind,
                        "role": "prediction"
                        if column.column in self.prediction_columns
                        else "feature",
                        "status": column.status,
                        "metric": metric.name if metric else None,
                        "value": metric.value if metric else None,
                        "threshold": metric.threshold if metric else None,
                        "p_value_adjusted": metric.p_value_adjusted if metric else None,
                    }
                )
            )
        return rows

    def incident_id(self, event: str) -> str:
        """A stable event id per model, champion, window, baseline, verdict and columns.

        Checking the same window twice gives the same id, which Prefect processes once, so a
        re-run (a retry, a second schedule) does not trigger a second retrain.
        """
        return stable_event_id(
            event,
            self.model,
            self.model_version,
            self.window_start.isoformat(),
            self.window_end.isoformat(),
            json.dumps(self.baseline, sort_keys=True, default=str),
            ",".join(self.report.drifted_columns),
            *[f"{r.segment}:{','.join(r.drifted_columns)}" for r in self._deciding_segments],
        )

    def event_payload(self) -> dict[str, Any]:
        """The payload of ``retrainer.drift.detected`` / ``retrainer.drift.checked``.

        ``columns`` lists the flagged columns: drifted or at warning level (a ``no_data``
        column when ``drift.no_data`` counts it); ``partitions`` the partitions of the window
        left out (invalid, quarantined or never validated).
        """
        counted = {*self.report.drifted_columns, *self.report.warning_columns}
        flagged = [c for c in self.column_summary() if c["column"] in counted]
        return json_safe(
            {
                "verdict": self.verdict,
                "model": self.model,
                "model_version": self.model_version,
                "window_start": self.window_start.isoformat(),
                "window_end": self.window_end.isoformat(),
                "baseline": self.baseline,
                "drifted_columns": self.report.drifted_columns,
                "drifted_features": self.drifted_features,
                "prediction_drift": self.prediction_drift,
                "warning_columns": self.report.warning_columns,
                "drift_share": self.report.drift_share,
                "rows": self.report.n_current,
                "columns": flagged,
                "partitions": self.screen.to_dict() if self.screen else None,
                "segments": self._segment_payload(),
            }
        )

    def _segment_payload(self) -> dict[str, Any] | None:
        """The segment check in brief (the drifted segments and the counts)."""
        if self.segments is None:
            return None
        brief = self.segments.to_dict()
        brief.pop("results")
        brief["headline"] = self.segments.headline()
        return brief

    def to_dict(self) -> dict[str, Any]:
        """The whole check as JSON-able types."""
        return {
            **self.event_payload(),
            "columns": self.column_summary(),
            "prediction_columns": list(self.prediction_columns),
            "notes": list(self.notes),
            "daily": [d.to_dict() for d in self.daily],
            "report": self.report.to_dict(),
            "segments": self.segments.to_dict() if self.segments else None,
        }


def drift_metrics(check: DriftCheck) -> list[MetricPoint]:
    """Every statistic of a check as MLflow metrics.

    Keys: ``<metric>.<column>`` (every metric of every column), ``p_value.<metric>.<column>``,
    ``drifted.<column>`` (0/1), ``drift_share``, ``drifted_columns``, ``rows``,
    ``excluded_partitions`` (left out by the validation screen); per day
    ``daily.<metric>.<column>`` with step = day index in the window and that day's timestamp.
    """
    report = check.report
    points: list[MetricPoint] = [
        ("drift_share", report.drift_share, 0, None),
        ("drifted_columns", len(report.drifted_columns), 0, None),
        ("rows", report.n_current, 0, None),
        ("reference_rows", report.n_reference, 0, None),
    ]
    if check.screen is not None:
        points.append(("excluded_partitions", len(check.screen.excluded), 0, None))
    if check.segments is not None:
        brief = check.segments.to_dict()
        for key in ("segments", "checked", "drifted", "too_few_rows"):
            points.append((f"segments.{key}", brief[key], 0, None))
    for column in report.columns:
        points.append((metric_path("drifted", column.column), column.drifted, 0, None))
        for name, metric in column.metrics.items():
            points.append((metric_path(name, column.column), metric.value, 0, None))
            points.append((metric_path("p_value", name, column.column), metric.p_value, 0, None))
    for day in check.daily:
        step = (day.day - check.window_start).days
        points.append(("daily.rows", day.n_rows, step, day.day))
        points.append(("daily.drifted", day.drifted, step, day.day))
        for column, score in day.scores.items():
            key = metric_path("daily", score.metric, column)
            points.append((key, score.value, step, day.day))
    return points
