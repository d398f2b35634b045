"""HTML report and markdown summary of a :class:`~retrainer.drift.check.DriftCheck`.

Plots (matplotlib, embedded as PNG): every column's reference vs current distribution
(drifted columns first), each column's drift score per day of the window with its
threshold, and, with ``drift.segments``, a map of each segment's drift score per feature.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from retrainer.config.drift import MISSING_METRICS, TEST_METRICS
from retrainer.drift.check import DriftCheck
from retrainer.drift.report import NO_DATA_EFFECT, ColumnDrift, DriftReport
from retrainer.drift.segments import SegmentSummary
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


#: Segments shown in the map (the most drifted first); the table lists every one.
MAP_SEGMENTS = 30


def _score_ratio(score: dict[str, Any]) -> float:
    """How far a headline score is past its threshold (1 = at it; tests: alpha / p)."""
    value, threshold = score.get("value"), score.get("threshold")
    if value is None or threshold is None or not math.isfinite(value) or threshold == 0:
        return math.nan
    if score.get("metric") in TEST_METRICS:
        return threshold / value if value > 0 else math.inf
    return value / threshold


def segment_figure(summary: SegmentSummary) -> Any | None:
    """Each checked segment's verdict per feature, the most drifted segments first."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    checked = [r for r in summary.results if r.status != "too_few_rows"]
    if not checked:
        return None
    features = sorted({c for r in checked for c in r.scores})

    def rank(result: Any) -> tuple[int, float]:
        ratios = [_score_ratio(s) for s in result.scores.values()]
        return -len(result.drifted_columns), -max((r for r in ratios if r == r), default=0.0)

    shown = sorted(checked, key=rank)[:MAP_SEGMENTS]
    order = ["ok", "warning", "no_data", "drift"]
    codes = np.array(
        [[order.index(r.scores.get(c, {}).get("status", "ok")) for c in features] for r in shown]
    )
    fig = _figure(width=max(5.0, 0.45 * len(features) + 3.0), height=0.3 * len(shown) + 1.8)
    ax = fig.add_subplot(1, 1, 1)
    palette = ["#dafbe1", _COLOURS["warning"], _COLOURS["no_data"], _COLOURS["drift"]]
    ax.imshow(codes, cmap=ListedColormap(palette), vmin=0, vmax=3, aspect="auto")
    ax.set_xticks(range(len(features)), features, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(len(shown)), [r.segment for r in shown], fontsize=7)
    ax.set_xticks(np.arange(-0.5, len(features)), minor=True)
    ax.set_yticks(np.arange(-0.5, len(shown)), minor=True)
    ax.grid(which="minor", color="white", lw=1)
    ax.tick_params(which="minor", length=0)
    ax.legend(
        handles=[Patch(color=c, label=n) for n, c in zip(order, palette, strict=True)],
        fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0),
    )  # fmt: skip
    more = len(checked) - len(shown)
    ax.set_title(
        f"Drift within segments: {len(summary.drifted)} of {len(checked)} checked drifted"
        + (f" (the {more} least drifted not shown)" if more > 0 else ""),
        fontsize=9,
    )
    fig.tight_layout()
    return fig


def segment_table(summary: SegmentSummary) -> pd.DataFrame:
    """One row per segment: rows on each side, verdict, drifted features, the worst score."""
    rows = []
    for result in sorted(summary.results, key=lambda r: (r.status != "drift", r.segment)):
        ratios = {c: _score_ratio(s) for c, s in result.scores.items()}
        worst = max(
            ratios, key=lambda c: ratios[c] if math.isfinite(ratios[c]) else -1.0, default=None
        )
        rows.append(
            {
                "segment": result.segment,
                "rows": result.n_current,
                "baseline rows": result.n_reference,
                "verdict": {"too_few_rows": "too few rows"}.get(result.status, result.status),
                "drifted features": ", ".join(result.drifted_columns),
                "worst feature": worst or "",
                "score / threshold": ratios.get(worst, math.nan) if worst else math.nan,
            }
        )
    return pd.DataFrame(rows)


def _segment_section(check: DriftCheck) -> Section | None:
    summary = check.segments
    if summary is None:
        return None
    figure = segment_figure(summary)
    effect = "counts in the window verdict" if summary.decides else "is reported only"
    return Section(
        "Drift within segments",
        paragraphs=[
            f"Each value combination of {', '.join(summary.columns)} compared with the same "
            "segment of the baseline data, feature by feature; a drifted segment "
            f"{effect} (drift.segments.decides). {summary.headline()}. "
            f"{len(summary.results)} segments in {summary.shards} task(s) on {summary.runner}."
        ],
        images=[figure_to_data_uri(figure)] if figure is not None else [],
        tables=[segment_table(summary)],
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
    if check.segments is not None:
        lines.append(f"Within segments: {check.segments.headline()}.")
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
    segments = _segment_section(check)
    if segments is not None:
        sections.append(segments)
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
    if check.segments is not None and check.segments.drifted:
        table = segment_table(check.segments)
        lines += ["", "## Drifted segments", markdown_table(table[table["verdict"] == "drift"])]
    if check.notes:
        lines += ["", *[f"_{note}_" for note in check.notes]]
    return "\n".join(lines)
