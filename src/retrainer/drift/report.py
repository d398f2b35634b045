"""Drift results: per metric, per column, per data set; JSON and table views."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

ColumnKind = Literal["numeric", "categorical", "embedding"]
ColumnStatus = Literal["drift", "warning", "ok", "no_data"]

#: How a ``no_data`` column counts, per ``drift.no_data``: ``(drifted, warning)``.
NO_DATA_VERDICT: dict[str, tuple[bool, bool]] = {
    "drift": (True, False),
    "warning": (False, True),
    "ignore": (False, False),
}
#: The same in words, for notes and summaries.
NO_DATA_EFFECT: dict[str, str] = {
    "drift": "counted as drift",
    "warning": "counted as a warning",
    "ignore": "not counted",
}


def _clean(value: Any) -> Any:
    """JSON-safe: NaN/inf become None, NumPy scalars and arrays become Python values."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return _clean(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass
class MetricResult:
    """One statistic of one column.

    Attributes:
        name: Metric name (``psi``, ``ks``, ``wasserstein``, ``wasserstein_norm``, ``js``,
            ``kl``, ``missing_share``, ``chi2``, ``unseen_share``, ``mmd``,
            ``classifier_auc``).
        value: The statistic (KS: D; chi2: the chi-square statistic; missing_share: current
            minus reference share of missing values). NaN when it cannot be computed (an
            empty side).
        threshold: Drift threshold for a deciding distance; for a deciding test (``ks``,
            ``chi2``) the significance level ``alpha`` that the *adjusted* p-value is
            compared with. None when the metric is informational.
        drifted: Whether this metric flags drift; None when informational.
        p_value: Raw p-value for tests and metrics that have one, else None.
        warning_threshold: Warning level of a deciding distance, if configured.
        warning: Whether the warning level (not the drift level) is reached; None when
            informational.
        p_value_adjusted: The column's test p-value after multiple-testing correction (for
            tests, and for distances when the significance guard is on), else None;
            ``missing_share`` always has its own test's corrected p-value here.
        details: Extra facts, e.g. ``error_bound`` for sketch-based KS/Wasserstein,
            ``approximate`` (bool), ``guard_passed`` for guarded distances.
    """

    name: str
    value: float
    threshold: float | None = None
    drifted: bool | None = None
    p_value: float | None = None
    warning_threshold: float | None = None
    warning: bool | None = None
    p_value_adjusted: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return _clean(
            {
                "name": self.name,
                "value": self.value,
                "threshold": self.threshold,
                "warning_threshold": self.warning_threshold,
                "drifted": self.drifted,
                "warning": self.warning,
                "p_value": self.p_value,
                "p_value_adjusted": self.p_value_adjusted,
                "details": self.details,
            }
        )


@dataclass
class Histogram:
    """Reference vs current distribution of one column, for plots.

    Numeric columns: ``edges`` has ``B + 1`` finite values (equal-width between the
    reference's 0.1% and 99.9% quantiles); values below the first edge are counted in the
    first bin and values above the last edge in the last bin. Bins are right-closed.
    Categorical columns: ``labels`` names each bar (categories, then ``(unseen)`` and
    ``(missing)`` when present). ``reference`` and ``current`` are proportions summing to 1.
    """

    reference: list[float]
    current: list[float]
    edges: list[float] | None = None
    labels: list[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return _clean(
            {
                "edges": self.edges,
                "labels": self.labels,
                "reference": self.reference,
                "current": self.current,
            }
        )


@dataclass
class ColumnDrift:
    """Drift verdict and statistics of one column.

    Attributes:
        column: Column (or embedding) name.
        kind: ``numeric``, ``categorical`` or ``embedding``.
        n_reference: Reference rows (including missing values).
        n_current: Current rows (including missing values).
        metrics: Metric name to result; deciding metrics have a threshold.
        drifted: Any deciding metric flags drift (or ``no_data`` counted as drift).
        warning: Not drifted, but a deciding metric reached its warning level (or
            ``no_data`` counted as a warning).
        no_data: The baseline has values but the current data has none (numeric: no finite
            value; categorical: all missing; embedding: no complete vector); ``drifted`` and
            ``warning`` then follow ``drift.no_data``.
        null_share_reference: Share of missing values in the reference (numeric: NaN/inf;
            categorical: nulls, compared as their own category; embedding: incomplete rows).
        null_share_current: The same in the current data.
        unseen_share: Categorical only: share of current rows whose category the reference
            never had.
        unseen_values: Categorical only: the most frequent unseen categories with counts.
        histogram: Reference vs current distribution for plotting (None for embeddings).
        notes: Human-readable remarks (empty side, approximation used ...).
    """

    column: str
    kind: ColumnKind
    n_reference: int
    n_current: int
    metrics: dict[str, MetricResult]
    drifted: bool = False
    warning: bool = False
    null_share_reference: float = 0.0
    null_share_current: float = 0.0
    unseen_share: float | None = None
    unseen_values: dict[str, int] | None = None
    histogram: Histogram | None = None
    notes: list[str] = field(default_factory=list)
    no_data: bool = False

    @property
    def status(self) -> ColumnStatus:
        """``no_data`` (whatever it counts as), else ``drift``, ``warning`` or ``ok``."""
        if self.no_data:
            return "no_data"
        return "drift" if self.drifted else "warning" if self.warning else "ok"

    @property
    def baseline_empty(self) -> bool:
        """The baseline has no usable value of this column (it cannot drift; a note says so)."""
        return self.n_reference == 0 or self.null_share_reference == 1.0

    @property
    def decision_metrics(self) -> list[str]:
        """Names of the metrics that decide this column."""
        return [name for name, m in self.metrics.items() if m.drifted is not None]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return _clean(
            {
                "column": self.column,
                "kind": self.kind,
                "status": self.status,
                "drifted": self.drifted,
                "warning": self.warning,
                "n_reference": self.n_reference,
                "n_current": self.n_current,
                "null_share_reference": self.null_share_reference,
                "null_share_current": self.null_share_current,
                "unseen_share": self.unseen_share,
                "unseen_values": self.unseen_values,
                "metrics": {name: m.to_dict() for name, m in self.metrics.items()},
                "histogram": self.histogram.to_dict() if self.histogram else None,
                "notes": self.notes,
            }
        )


@dataclass
class DriftReport:
    """The result of comparing a current window with the baseline.

    Attributes:
        columns: One entry per checked column, in profile order.
        drifted: The dataset verdict (rule ``any`` or ``share``, see ``dataset_rule``).
        drift_share: Share of checked columns that drifted.
        dataset_rule: ``any`` or ``share``.
        dataset_threshold: The share needed under rule ``share`` (None for ``any``).
        mode: ``exact`` when numeric KS/Wasserstein came from the reference rows, ``sketch``
            otherwise (from the profile sketch, or no numeric column).
        n_reference: Reference rows.
        n_current: Current rows.
        settings: The decision settings used (alpha, correction, guard, JS base ...).
    """

    columns: list[ColumnDrift]
    drifted: bool
    drift_share: float
    dataset_rule: str
    dataset_threshold: float | None
    mode: Literal["exact", "sketch"]
    n_reference: int
    n_current: int
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def drifted_columns(self) -> list[str]:
        """Names of drifted columns."""
        return [c.column for c in self.columns if c.drifted]

    @property
    def warning_columns(self) -> list[str]:
        """Names of columns at warning level (not drifted)."""
        return [c.column for c in self.columns if c.warning]

    @property
    def no_data_columns(self) -> list[str]:
        """Names of columns without current data (status ``no_data``), however they count."""
        return [c.column for c in self.columns if c.no_data]

    @property
    def baseline_empty_columns(self) -> list[str]:
        """Names of columns without any value in the baseline (not comparable)."""
        return [c.column for c in self.columns if c.baseline_empty]

    def column(self, name: str) -> ColumnDrift:
        """The result of one column.

        Raises:
            KeyError: No such column in the report.
        """
        for entry in self.columns:
            if entry.column == name:
                return entry
        raise KeyError(f"column {name!r} is not in the drift report")

    def to_dict(self) -> dict[str, Any]:
        """The whole report as JSON-able types (NaN becomes null)."""
        return _clean(
            {
                "drifted": self.drifted,
                "drifted_columns": self.drifted_columns,
                "warning_columns": self.warning_columns,
                "no_data_columns": self.no_data_columns,
                "drift_share": self.drift_share,
                "dataset_rule": self.dataset_rule,
                "dataset_threshold": self.dataset_threshold,
                "mode": self.mode,
                "n_reference": self.n_reference,
                "n_current": self.n_current,
                "settings": self.settings,
                "columns": [c.to_dict() for c in self.columns],
            }
        )

    def summary_table(self) -> pd.DataFrame:
        """One row per column x metric.

        Returns:
            Columns ``column, kind, metric, value, threshold, warning_threshold, p_value,
            p_value_adjusted, metric_drifted, metric_warning, column_status``;
            ``metric_drifted`` is None for informational metrics.
        """
        rows = [
            {
                "column": c.column,
                "kind": c.kind,
                "metric": m.name,
                "value": m.value,
                "threshold": m.threshold,
                "warning_threshold": m.warning_threshold,
                "p_value": m.p_value,
                "p_value_adjusted": m.p_value_adjusted,
                "metric_drifted": m.drifted,
                "metric_warning": m.warning,
                "column_status": c.status,
            }
            for c in self.columns
            for m in c.metrics.values()
        ]
        columns = [
            "column", "kind", "metric", "value", "threshold", "warning_threshold", "p_value",
            "p_value_adjusted", "metric_drifted", "metric_warning", "column_status",
        ]  # fmt: skip
        table = pd.DataFrame(rows, columns=columns)
        for name in ("metric_drifted", "metric_warning"):
            table[name] = table[name].astype(object)
        return table
