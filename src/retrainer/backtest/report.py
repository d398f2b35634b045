"""The backtest's table, figures (PNG) and HTML report (pure rendering, no IO but the writes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from retrainer.backtest.history import Truth
from retrainer.backtest.run import BacktestResult
from retrainer.backtest.summary import is_waste

MAX_LINES = 10
"""Policies drawn in the metric-over-time figure (a sweep shows the frontier and the pick)."""

_COLUMNS = {
    "name": "policy",
    "window": "window",
    "retrains": "retrains",
    "promoted": "promoted",
    "waste": "waste",
    "cost": "cost",
    "cost_per_week": "cost/week",
    "mean": "mean",
    "worst": "worst",
    "days_beyond_slo": "days<SLO",
    "net": "net value",
    "roi_vs_never": "ROI vs never",
    "net_vs_current": "net vs current",
}


def table_frame(result: BacktestResult) -> pd.DataFrame:
    """One row per policy, in the report's column names."""
    rows = [{label: getattr(r, key) for key, label in _COLUMNS.items()} for r in result.rows]
    frame = pd.DataFrame(rows)
    if result.pricing is None or result.pricing.slo is None:
        frame = frame.drop(columns=["days<SLO"])
    return frame


def _drawn(result: BacktestResult) -> list[str]:
    """The policies the metric figure draws: all, or the standard ones, frontier and pick."""
    names = [r.name for r in result.rows]
    if len(names) <= MAX_LINES:
        return names
    keep = [r.name for r in result.rows if r.kind in ("never", "current", "oracle")]
    keep += result.frontier
    if result.recommendation:
        keep.append(result.recommendation.name)
    return list(dict.fromkeys(keep))[:MAX_LINES]


def _figure(width: float, height: float) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height), dpi=100)


def metric_figure(result: BacktestResult, truth: Truth | None, smooth_days: int = 7) -> Any:
    """The metric over time per policy (rolling mean), retrains marked, drift periods shaded."""
    fig, ax = _figure(10.0, 4.6)
    if truth is not None:
        for i, (_id, kind, first, last) in enumerate(truth.periods):
            color = "#f4a582" if kind == "concept" else "#92c5de"
            ax.axvspan(
                pd.Timestamp(first),
                pd.Timestamp(last) + pd.Timedelta(days=1),
                color=color,
                alpha=0.25,
                lw=0,
                label=f"{kind} drift" if i == 0 or kind != truth.periods[i - 1][1] else None,
            )
    by_name = {run.name: run for run in result.runs}
    for name in _drawn(result):
        run = by_name[name]
        series = pd.Series(run.metric, index=pd.to_datetime(run.days), dtype=float)
        smooth = series.rolling(smooth_days, min_periods=1).mean()
        (line,) = ax.plot(smooth.index, smooth.to_numpy(), lw=1.4, label=name)
        promoted = [r.day for r in run.retrains if r.promoted]
        if promoted and len(promoted) <= 60:
            marks = smooth.reindex(pd.to_datetime(promoted), method="nearest")
            ax.scatter(marks.index, marks.to_numpy(), s=14, color=line.get_color(), zorder=3)
    if result.pricing is not None and result.pricing.slo is not None:
        ax.axhline(result.pricing.slo, color="#b2182b", ls="--", lw=1, label="SLO")
    ax.set_ylabel(f"{result.metric} ({smooth_days}-day mean)")
    ax.set_title(f"{result.metric} of the serving model; dots: promoted retrains")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8, ncol=3)
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def frontier_figure(result: BacktestResult) -> Any:
    """Cost per week against mean metric for every policy; the frontier joined; the pick ringed."""
    fig, ax = _figure(7.0, 4.6)
    rows = [r for r in result.rows if r.mean is not None]
    ax.scatter([r.cost_per_week for r in rows], [r.mean for r in rows], s=22, color="#4d4d4d")
    for r in rows:
        if len(rows) <= 16 or r.name in result.frontier:
            ax.annotate(
                r.name,
                (r.cost_per_week, r.mean),
                fontsize=7,
                xytext=(3, 3),
                textcoords="offset points",
            )
    front = [next(r for r in rows if r.name == n) for n in result.frontier]
    ax.plot(
        [r.cost_per_week for r in front],
        [r.mean for r in front],
        color="#2166ac",
        lw=1.2,
        label="frontier",
    )
    pick = result.recommendation
    if pick is not None:
        chosen = next(r for r in rows if r.name == pick.name)
        ax.scatter(
            [chosen.cost_per_week],
            [chosen.mean],
            s=160,
            facecolors="none",
            edgecolors="#b2182b",
            lw=1.6,
            label=f"recommended: {pick.name}",
        )
        ax.axhline(pick.target, color="#b2182b", ls=":", lw=1, label="target")
    ax.set_xlabel("retraining cost per week")
    ax.set_ylabel(f"mean {result.metric}")
    ax.set_title("Cost against metric")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def save_figures(result: BacktestResult, truth: Truth | None, folder: Path) -> dict[str, Path]:
    """Write both figures as PNG into ``folder``; returns name → path."""
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, make in (
        ("metric_over_time", lambda: metric_figure(result, truth)),
        ("cost_vs_metric", lambda: frontier_figure(result)),
    ):
        fig = make()
        path = folder / f"{name}.png"
        fig.savefig(path)
        plt.close(fig)
        paths[name] = path
    return paths


def _retrain_table(result: BacktestResult) -> pd.DataFrame:
    min_gain = result.pricing.min_gain if result.pricing else 0.0
    rows = []
    for run in result.runs:
        for r in run.retrains:
            rows.append(
                {
                    "policy": run.name,
                    "day": r.day.isoformat(),
                    "gate": "passed" if r.promoted else r.gate[:80],
                    "gain": r.gain,
                    "waste": "waste" if is_waste(r, min_gain) else "",
                    "reason": r.reason[:100],
                }
            )
    return pd.DataFrame(rows)


def waste_lines(result: BacktestResult) -> list[str]:
    """One sentence per policy whose retrains were mostly waste."""
    lines = []
    for row in result.rows:
        if row.retrains and row.waste * 2 >= row.retrains and row.kind != "never":
            lines.append(
                f"{row.name}: {row.waste} of {row.retrains} retrain(s) were waste (a failed "
                "gate, or a model no better than the one it replaced on the next days)"
            )
    return lines


def render_html(result: BacktestResult, truth: Truth | None, snippet: str | None) -> str:
    """The HTML report (figures embedded)."""
    import matplotlib.pyplot as plt

    from retrainer.reports.html import Section, figure_to_data_uri, render_report

    figures = [metric_figure(result, truth), frontier_figure(result)]
    images = [figure_to_data_uri(f) for f in figures]
    for f in figures:
        plt.close(f)
    pick = result.recommendation
    summary = [
        f"{len(result.rows)} policies replayed day by day from {result.start} to {result.end} "
        f"with the labels each day had; {result.fits_text()}.",
    ]
    if pick is not None:
        summary.append(
            f"Recommended: {pick.name} — the cheapest policy whose mean {result.metric} "
            f"({pick.mean:.4f}) meets the target {pick.target:.4f} ({pick.target_source}); "
            f"it {pick.vs_current}."
        )
    else:
        summary.append("No realisable policy meets the target.")
    sections = [
        Section("Summary", paragraphs=summary + waste_lines(result)),
        Section("Policies", tables=[table_frame(result)]),
        Section("Metric over time and cost against metric", images=images),
    ]
    if snippet:
        sections.append(
            Section(
                "The recommended policy for retrainer.yaml",
                raw_html="<pre>" + _escape(snippet) + "</pre>",
            )
        )
    retrains = _retrain_table(result)
    if not retrains.empty:
        sections.append(Section("Retrains", tables=[retrains.head(500)]))
    sections.append(
        Section(
            "How this was measured",
            paragraphs=[
                "Each day the serving model is measured on that day's rows with every label "
                "that ever arrives (what users got). Decisions see only the labels that had "
                "arrived, through the live code: drift check, monitoring, label counts, "
                "retrainer.policy.decide. Retrains fit the train flow's window on labelled rows "
                "and pass the gate against the serving model before they serve (a human "
                "approval, when configured, is taken as given).",
                "A retrain is waste when its gate failed or its model beat the one it replaced "
                "by less than backtest.min_gain on the next 7 days. Excluded partitions "
                f"(invalid or quarantined, never trained on or measured): {len(result.excluded)}.",
            ],
        )
    )
    return render_report(
        "Retraining-policy backtest",
        sections,
        meta={
            "metric": result.metric,
            "days": f"{result.start} .. {result.end}",
            "policies": len(result.rows),
            "fits run / shared": f"{result.fits_run} / {result.fits_shared}",
        },
    )


def _escape(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))
