"""HTML report and markdown summary of a :class:`PerformanceReport`.

Plots (matplotlib, embedded as PNG): each metric per day, realised vs estimated, with the
threshold line; the labelled share per day; per-segment bars with each segment's threshold.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from retrainer.monitoring.report import DEGRADED, INSUFFICIENT, WARNING, PerformanceReport
from retrainer.reports import Section, figure_to_data_uri, markdown_table, render_report


def _figure(width: float = 7.0, height: float = 3.2) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def _fmt(value: float | None) -> str:
    return (
        "n/a" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{value:.4g}"
    )


def metric_over_time_figure(report: PerformanceReport, metric: str) -> Any:
    """Realised and estimated daily values of ``metric`` with the overall threshold line."""
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    daily = report.daily
    dates = pd.to_datetime(daily["date"]) if len(daily) else pd.Series(dtype="datetime64[ns]")
    realised = daily.get(f"{metric}_realised")
    estimated = daily.get(f"{metric}_estimated")
    if realised is not None:
        ax.plot(dates, realised, marker="o", ms=3, label="realised (labelled rows)")
    if estimated is not None:
        ax.plot(dates, estimated, marker="s", ms=3, ls="--", label="estimated (CBPE, all rows)")
    check = report.check(metric, "realised")
    if check is not None and check.threshold.value is not None:
        ax.axhline(check.threshold.value, color="#a40e26", lw=1, label="threshold")
    if check is not None and check.threshold.reference is not None:
        ax.axhline(check.threshold.reference, color="#59636e", lw=1, ls=":", label="reference")
    ax.set_title(f"{metric} per day")
    ax.set_ylabel(metric)
    ax.legend(fontsize=7, loc="best")
    fig.autofmt_xdate()
    return fig


def labelled_share_figure(report: PerformanceReport) -> Any:
    """Share of each day's predictions whose label had arrived by ``as_of``."""
    fig = _figure(height=2.6)
    ax = fig.add_subplot(1, 1, 1)
    daily = report.daily
    if len(daily):
        ax.bar(pd.to_datetime(daily["date"]), daily["labelled_share"], color="#0550ae", width=0.8)
    ax.set_ylim(0, 1.05)
    ax.set_title(f"labelled share per day (labels known on {report.as_of})")
    ax.set_ylabel("share labelled")
    fig.autofmt_xdate()
    return fig


def segment_figure(report: PerformanceReport, metric: str, column: str) -> Any | None:
    """Bars of ``metric`` per value of a segment column (realised; estimated when no labels)."""
    segments = report.segments
    if segments.empty or f"{metric}_realised" not in segments.columns:
        return None
    part = segments[segments["column"] == column]
    if part.empty:
        return None
    fig = _figure(height=max(2.4, 0.45 * len(part) + 1.2))
    ax = fig.add_subplot(1, 1, 1)
    labels = [str(v) for v in part["value"]]
    y = np.arange(len(part))
    realised = part[f"{metric}_realised"].astype(float).to_numpy()
    verdicts = part[f"{metric}_realised_verdict"].tolist()
    palette = {DEGRADED: "#a40e26", INSUFFICIENT: "#c9a227", WARNING: "#e16f24"}
    colors = [palette.get(v, "#116329") for v in verdicts]
    ax.barh(y, np.nan_to_num(realised), color=colors, height=0.4, label="realised")
    estimated = np.array([np.nan])
    if f"{metric}_estimated" in part.columns:
        estimated = part[f"{metric}_estimated"].astype(float).to_numpy()
        ax.barh(y + 0.4, np.nan_to_num(estimated), color="#8c959f", height=0.4, label="estimated")
    thresholds = part[f"{metric}_threshold"].astype(float).to_numpy()
    ax.scatter(thresholds, y, marker="|", s=300, color="black", label="threshold", zorder=3)
    ax.set_yticks(
        y + 0.2, [f"{lab} (n={n})" for lab, n in zip(labels, part["labelled"], strict=True)]
    )
    ax.set_title(
        f"{metric} by {column} (red: degraded, orange: within noise, amber: insufficient data)",
        fontsize=9,
    )
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    values = np.concatenate([realised, estimated, thresholds])
    finite = values[np.isfinite(values)]
    if finite.size:
        ax.set_xlim(min(0.0, finite.min()), finite.max() * 1.05)
    return fig


def render_html(report: PerformanceReport) -> str:
    """The full HTML report."""
    sections: list[Section] = []
    summary = [
        f"{report.rows} predictions from {report.window_start} to {report.window_end}; "
        f"{report.labelled_rows} labelled as of {report.as_of} "
        f"(labelled share {_fmt(report.labelled_share)}).",
    ]
    if report.breaches:
        summary.append(
            "Breaches: "
            + "; ".join(
                f"{b.metric} {b.basis} {b.scope} = {_fmt(b.value)} vs threshold "
                f"{_fmt(b.threshold.value)} (n={b.support})"
                for b in report.breaches
            )
        )
    sections.append(Section("Summary", paragraphs=summary, tables=[report.summary_table(False)]))
    sections.append(
        Section(
            "Metrics over time",
            paragraphs=[
                "Realised values use the labelled rows of each day; estimated values (CBPE) "
                "use every row of the day. Days with fewer than 30 rows are left out."
            ],
            images=[figure_to_data_uri(metric_over_time_figure(report, m)) for m in report.metrics],
        )
    )
    daily = report.daily.copy()
    sections.append(
        Section(
            "Labelled share per day",
            images=[figure_to_data_uri(labelled_share_figure(report))],
            tables=[daily],
        )
    )
    if not report.segments.empty:
        images = []
        for column in dict.fromkeys(report.segments["column"]):
            for metric in report.metrics:
                fig = segment_figure(report, metric, column)
                if fig is not None:
                    images.append(figure_to_data_uri(fig))
        insufficient = report.insufficient_segments()
        paragraphs = []
        if insufficient:
            paragraphs.append(
                "Insufficient data (below min_support, not judged): " + ", ".join(insufficient)
            )
        sections.append(
            Section(
                "Segments",
                paragraphs=paragraphs,
                images=images,
                tables=[report.summary_table(True).query("scope != 'overall'")],
            )
        )
    est = report.estimation
    est_lines = [
        "Estimated performance (CBPE): "
        + (
            f"calibrator fitted on {est.reference_rows} labelled rows of {est.reference_source} "
            f"({est.calibration}, {'applied' if est.calibrated else 'not needed'}; ECE raw "
            f"{_fmt(est.ece_raw)})."
            if est.available
            else f"not available: {est.reason}."
        ),
        f"Assumption: {est.assumption}.",
    ]
    if report.expectation_gap:
        est_lines.append(
            "Realised minus estimated on the same labelled rows (negative = worse than the "
            "estimate expects, the signature of concept drift): "
            + ", ".join(f"{m} {_fmt(v)}" for m, v in report.expectation_gap.items())
        )
    sections.append(Section("Estimation", paragraphs=est_lines))
    ref = report.reference
    sections.append(
        Section(
            "Reference",
            paragraphs=[
                f"Reference performance: {ref.get('sources') or 'none'}; reference rows: "
                f"{ref.get('rows', 0)} ({ref.get('source') or 'none'}).",
                *report.notes,
            ],
            tables=[
                pd.DataFrame(
                    [{"metric": m, "reference": v} for m, v in ref.get("overall", {}).items()]
                )
            ],
        )
    )
    return render_report(
        f"Performance monitoring: {report.model_name}",
        sections,
        verdict=report.verdict,
        meta={
            "model": report.model_name,
            "version": report.model_version or "all",
            "window": f"{report.window_start} .. {report.window_end}",
            "as of": report.as_of,
            "labelled share": _fmt(report.labelled_share),
        },
    )


def render_markdown(report: PerformanceReport) -> str:
    """A markdown summary for a Prefect artifact."""
    lines = [
        f"# Performance of {report.model_name} v{report.model_version or 'all'}: "
        f"**{report.verdict}**",
        "",
        f"Window {report.window_start} .. {report.window_end}, labels as of {report.as_of}: "
        f"{report.rows} predictions, {report.labelled_rows} labelled "
        f"(share {_fmt(report.labelled_share)}).",
        "",
    ]
    if report.breaches:
        lines.append("## Breaches")
        breaches = pd.DataFrame(
            [
                {
                    "metric": b.metric,
                    "scope": b.scope,
                    "basis": b.basis,
                    "value": b.value,
                    "threshold": b.threshold.value,
                    "reference": b.threshold.reference,
                    "support": b.support,
                }
                for b in report.breaches
            ]
        )
        lines.append(markdown_table(breaches))
        lines.append("")
    lines.append("## Checks")
    lines.append(markdown_table(report.summary_table(include_ok_segments=False)))
    lines.append("")
    lines.append("## Labelled share per day")
    lines.append(markdown_table(report.daily[["date", "rows", "labelled", "labelled_share"]]))
    if not report.estimation.available:
        lines += ["", f"_Estimation not available: {report.estimation.reason}_"]
    return "\n".join(lines)
