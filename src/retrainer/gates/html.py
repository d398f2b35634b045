"""The gate report as HTML: verdict, every check, both models' metrics, per-segment differences.

Rendered with :func:`retrainer.reports.render_report` (Jinja2 templates), like every report.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from retrainer.gates.holdout import Holdout, holdout_text
from retrainer.gates.inputs import GateSubject
from retrainer.gates.report import CheckResult, GateReport
from retrainer.reports import Section, figure_to_data_uri, render_report

_FAILED = "#cf222e"
_PASSED = "#2da44e"


def _checks_frame(report: GateReport) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "check": c.name,
                "observed": c.observed
                if isinstance(c.observed, int | float)
                else (c.observed or ""),
                "threshold": c.threshold or "",
                "verdict": c.verdict,
                "required": "yes" if c.required else "info",
                "message": c.message,
            }
            for c in report.checks
        ]
    )


def segment_figure(checks: list[CheckResult]) -> Any:
    """Bars of each segment's challenger − champion difference with its 95% interval."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 0.35 * len(checks) + 1.2))
    axis = figure.add_subplot(1, 1, 1)
    names = [c.name.removeprefix("segment[").removesuffix("]") for c in checks]
    values = [c.details["improvement"] for c in checks]
    lows = [c.details["improvement"] - c.details["ci_low"] for c in checks]
    highs = [c.details["ci_high"] - c.details["improvement"] for c in checks]
    if not checks[0].details.get("greater_is_better", True):
        lows, highs = highs, lows
    colours = [_FAILED if c.verdict == "failed" else _PASSED for c in checks]
    axis.barh(names, values, xerr=[np.abs(lows), np.abs(highs)], color=colours)
    axis.axvline(0, color="black", linewidth=0.8)
    axis.set_xlabel(f"challenger − champion ({checks[0].details.get('metric')})")
    axis.invert_yaxis()
    return figure


def _sections(report: GateReport, notes: list[str]) -> list[Section]:
    sections = [
        Section("Verdict", paragraphs=[report.summary, *notes]),
        Section("Checks", tables=[_checks_frame(report)]),
    ]
    if report.metrics:
        metrics = pd.DataFrame(report.metrics).reset_index(names="metric")
        sections.append(Section("Holdout metrics (same rows for both models)", tables=[metrics]))
    segments = [c for c in report.by_kind("segment") if "improvement" in c.details]
    if segments:
        sections.append(
            Section(
                "Per-segment difference with 95% interval",
                images=[figure_to_data_uri(segment_figure(segments))],
            )
        )
    return sections


def render_gate_html(
    model_name: str,
    report: GateReport,
    challenger_label: str,
    champion_label: str,
    holdout: str,
    notes: list[str],
) -> str:
    """The gate report as HTML, from the report and what it was run on.

    Args:
        model_name: The registered model's name.
        report: The gate report.
        challenger_label: How the challenger is named (``v3``).
        champion_label: How the champion is named (``v2``, or ``none``).
        holdout: The holdout window and row count (see :func:`holdout_text`).
        notes: Notes shown under the verdict.

    Returns:
        A self-contained HTML document.
    """
    verdict = "passed" if report.passed else ("pending" if report.awaiting_approval else "failed")
    return render_report(
        f"Gate: {model_name} {challenger_label}",
        _sections(report, notes),
        verdict=verdict,
        meta={
            "model": model_name,
            "challenger": challenger_label,
            "champion": champion_label,
            "holdout": holdout,
        },
    )


def gate_report_html(
    model_name: str,
    report: GateReport,
    challenger: GateSubject,
    champion: GateSubject | None,
    holdout: Holdout,
) -> str:
    """The gate report of a gate run (see :func:`render_gate_html`)."""
    return render_gate_html(
        model_name,
        report,
        challenger.label,
        champion.label if champion else "none",
        holdout_text(holdout.to_dict()),
        holdout.notes,
    )
