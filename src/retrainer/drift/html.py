"""HTML report and markdown summary of a :class:`~retrainer.drift.check.DriftCheck`.

Plots (matplotlib, embedded as PNG): every column's reference vs current distribution
(drifted columns first), and each column's drift score per day of the window with its
threshold.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from retrainer.config.drift import MISSING_METRICS
from retrainer.drift.check import DriftCheck
from retrainer.drift.report import NO_DATA_EFFECT, ColumnDrift, DriftReport
from retrainer.reports import Section, figure_to_data_uri, markdown_table, render_report

_STATUS_ORDER = {"drift": 0, "no_data": 1, "warning": 2, "ok": 3}
_COLOURS = {"drift": "#a40e26", "no_data": "#6639ba", "warning": "#9a6700", "ok": "#116329"}


def _figure(width: float = 5.0, height: float = 2.8) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _ordered(check: DriftCheck) -> list[ColumnDrift]:
    return sorted(check.report.columns, key=lambda c: _STATUS_ORDER.get(c.status, 3))


def histogram_figure(column: ColumnDrift, title_suffix: str = "") -> Any | None:
    """Reference vs current distribution of one column (None without a histogram)."""
    histogram = column.histogram
    if histogram is None:
        return None
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    reference = np.asarray(histogram.reference, dtype=float)
    current = np.asarray(histogram.current, dtype=float)
    if histogram.edges is not None:
        edges = np.asarray(histogram.edges, dtype=float)
        widths = np.diff(edges)
        ax.bar(edges[:-1], reference, width=widths, align="edge", alpha=0.45, label="reference")
        ax.bar(edges[:-1], current, width=widths, align="edge", alpha=0.45, label="current")
    else:
        labels = histogram.labels or [str(i) for i in range(len(reference))]
        x = np.arange(len(labels))
        ax.bar(x - 0.2, reference, width=0.4, label="reference")
        ax.bar(x + 0.2, current, width=0.4, label="current")
        ax.set_xticks(x, labels, rotation=45, ha="right", fontsize=7)
    ax.set_ylabel("share of rows")
    ax.set_title(f"{column.column}: {column.status}{title_suffix}", color=_COLOURS[column.status])
    ax.legend(fontsize=7)
    return fig


def scores_over_time_figure(check: DriftCheck, column: str) -> Any | None:
    """One column's drift score per day with its threshold (None without daily scores)."""
    points = [(d.day, d.scores[column]) for d in check.daily if column in d.scores]
    if not points:
        return None
    metric = points[-1][1].metric
    fig = _figure(height=2.4)
    ax = fig.add_subplot(1, 1, 1)
    days = pd.to_datetime([day for day, _ in points])
    values = [score.value for _, score in points]
    colours = [_COLOURS.get(score.status, "#59636e") for _, score in points]
    ax.plot(days, values, color="#59636e", lw=1)
    ax.scatter(days, values, c=colours, s=18, zorder=3)
    threshold = points[-1][1].threshold
    if threshold is not None:
        ax.axhline(threshold, color="#a40e26", lw=1, ls="--", label=f"threshold {threshold:g}")
        ax.legend(fontsize=7)
    if metric in ("ks", "chi2"):
        ax.set_yscale("log")
        ax.set_ylabel("adjusted p-value")
    else:
        ax.set_ylabel(metric)
    ax.set_title(f"{column}: {metric} per day")
    fig.autofmt_xdate()
    return fig


def column_table(check: DriftCheck) -> pd.DataFrame:
    """One row per column: status, headline metric and the other metric values."""
    rows = []
    summary = {row["column"]: row for row in check.column_summary()}
    for column in _ordered(check):
        entry = summary[column.column]
        row: dict[str, Any] = {
            "column": column.column,
            "role": entry["role"],
            "kind": column.kind,
            "verdict": column.status,
            "deciding metric": entry["metric"],
            "value": entry["value"],
            "threshold": entry["threshold"],
            "p (adjusted)": entry["p_value_adjusted"],
        }
        for name, metric in column.metrics.items():
            if name != entry["metric"]:
                row[name] = metric.value
        row["null share ref/cur"] = (
            f"{column.null_share_reference:.3f}/{column.null_share_current:.3f}"
        )
        rows.append(row)
    table = pd.DataFrame(rows)
    text = {"column", "role", "kind", "verdict", "deciding metric", "null share ref/cur"}
    for name in table.columns:
        if name not in text:
            table[name] = pd.to_numeric(table[name], errors="coerce").astype(float)
    return table


def daily_table(check: DriftCheck) -> pd.DataFrame:
    """One row per day: rows, verdict, drifted columns."""
    return pd.DataFrame(
        [
            {
                "date": d.day.isoformat(),
                "rows": d.n_rows,
                "verdict": "drift" if d.drifted else "no drift",
                "drifted columns": ", ".join(d.drifted_columns),
            }
            for d in check.daily
        ],
        columns=["date", "rows", "verdict", "drifted columns"],
    )


def _summary_lines(check: DriftCheck) -> list[str]:
    report = check.report
    lines = [
        f"{report.n_current} rows from {check.window_start} to {check.window_end} compared with "
        f"{check.baseline.get('description', check.baseline.get('kind'))} "
        f"({report.n_reference} rows); {len(report.columns)} columns checked "
        f"({report.mode} KS/Wasserstein).",
    ]
    if check.drifted:
        lines.append("Drifted features: " + (", ".join(check.drifted_features) or "none") + ".")
        if check.prediction_drift:
            lines.append(
                "The model's predictions drifted: "
                + ", ".join(c for c in report.drifted_columns if c in check.prediction_columns)
                + "."
            )
    if report.no_data_columns:
        policy = report.settings.get("no_data", "drift")
        lines.append(
            "No values in the current window: "
            + ", ".join(report.no_data_columns)
            + f" ({NO_DATA_EFFECT[policy]}; drift.no_data: {policy})."
        )
    if report.warning_columns:
        lines.append("At warning level: " + ", ".join(report.warning_columns) + ".")
    return lines


def _decision_lines(report: DriftReport) -> list[str]:
    """How the report's metrics decided, in words."""
    settings = report.settings
    guard = settings.get("guard_distances")
    correction = f"{settings.get('correction')} correction at alpha {settings.get('alpha')}"
    lines = [
        "A distance flags drift at or above its threshold"
        + (f" and only when the column's test also rejects after {correction}" if guard else "")
        + f"; dataset rule: {report.dataset_rule}"
        + (
            f" (share >= {report.dataset_threshold})"
            if report.dataset_threshold is not None
            else ""
        )
        + "."
    ]
    if any(
        metric.drifted is not None
        for column in report.columns
        for name, metric in column.metrics.items()
        if name in MISSING_METRICS
    ):
        lines.append(
            "missing_share (numeric columns: current minus reference share of missing values, "
            "which the distances do not see) flags a column on its own at or above its "
            "threshold"
            + (
                f", when its one-sided Fisher exact test rejects after {correction}"
                if guard
                else ""
            )
            + "."
        )
    return lines


def render_html(check: DriftCheck) -> str:
    """The full HTML report."""
    report = check.report
    settings = report.settings
    sections = [
        Section("Summary", paragraphs=_summary_lines(check), tables=[column_table(check)]),
    ]
    images = []
    for column in _ordered(check):
        fig = histogram_figure(column)
        if fig is not None:
            images.append(figure_to_data_uri(fig))
    sections.append(
        Section(
            "Distributions: reference vs current",
            paragraphs=[
                "Numeric columns: present values in equal-width bins between the reference's "
                "0.1% and 99.9% quantiles (outliers in the end bins; the null shares are in "
                "the summary table). Categorical columns: share per category, with (unseen) "
                "and (missing) when present."
            ],
            images=images,
        )
    )
    trend = []
    for column in _ordered(check):
        fig = scores_over_time_figure(check, column.column)
        if fig is not None:
            trend.append(figure_to_data_uri(fig))
    sections.append(
        Section(
            "Drift scores over time",
            paragraphs=[
                "Each day of the window against the same baseline: the column's deciding "
                "metric (dots coloured by that day's verdict; small days are noisier)."
            ],
            images=trend,
            tables=[daily_table(check)],
        )
    )
    sections.append(
        Section(
            "Decision settings",
            paragraphs=[
                f"Baseline: {check.baseline.get('description', check.baseline.get('kind'))}.",
                *_decision_lines(report),
                *check.notes,
            ],
            tables=[pd.DataFrame([{"setting": k, "value": str(v)} for k, v in settings.items()])],
        )
    )
    return render_report(
        f"Drift: {check.model}",
        sections,
        verdict=check.verdict,
        meta={
            "model": check.model,
            "version": check.model_version or "none",
            "window": f"{check.window_start} .. {check.window_end}",
            "baseline": check.baseline.get("kind"),
            "drift share": _fmt(report.drift_share),
        },
    )


def render_markdown(check: DriftCheck) -> str:
    """A markdown summary for a Prefect artifact."""
    lines = [
        f"# Drift of {check.model} v{check.model_version or 'none'}: **{check.verdict}**",
        "",
        *_summary_lines(check),
        "",
        "## Columns",
        markdown_table(
            column_table(check)[
                [
                    "column",
                    "role",
                    "verdict",
                    "deciding metric",
                    "value",
                    "threshold",
                    "p (adjusted)",
                ]
            ]
        ),
        "",
        "## Days",
        markdown_table(daily_table(check)),
    ]
    if check.notes:
        lines += ["", *[f"_{note}_" for note in check.notes]]
    return "\n".join(lines)
