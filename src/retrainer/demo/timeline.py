"""The demo's timeline: one row per simulated day, the figure and the HTML page (pure).

:mod:`retrainer.demo.loop` fills a :class:`Timeline` as it replays the days; this module
turns it into the summary table, the timeline figure (metric, drift, traffic share per
version, the moments that matter) and the page that holds both.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

MARKS = {
    "retrain": ("#1f77b4", "trained"),
    "promoted": ("#2ca02c", "promoted"),
    "paused": ("#8c564b", "paused (inconclusive)"),
    "aborted": ("#d62728", "aborted in canary"),
    "rollback": ("#9467bd", "rollback by hand"),
    "quarantined": ("#ff7f0e", "bad batch quarantined"),
}
"""The moments the figure marks (kind → colour, label); the page lists every moment."""

OUTCOMES = {
    "promoted": "promoted",
    "paused": "paused: inconclusive",
    "aborted": "aborted, rolled back",
    "first": "first champion",
}


@dataclass
class Moment:
    """Something that happened on a day (a line of the story, a mark on the figure)."""

    day: str
    kind: str
    text: str


@dataclass
class Day:
    """What one simulated day looked like.

    Attributes:
        day: The date (YYYY-MM-DD).
        decision: The CT run's decision status (retrain, suppressed, no_trigger ...).
        detail: The decision's one-line reason.
        drift_share: Share of monitored columns that drifted (None without a check).
        drifted: Whether the drift check's verdict was drift.
        champion: The champion version at the end of the day.
        stage: The rollout stage in force at the end of the day ('' without one).
        served: Requests answered per version that day.
        auc: ROC AUC of that day's answers against the true outcomes (None: one class).
        accuracy: Accuracy of that day's answers.
    """

    day: str
    decision: str = ""
    detail: str = ""
    drift_share: float | None = None
    drifted: bool = False
    champion: str | None = None
    stage: str = ""
    served: dict[str, int] = field(default_factory=dict)
    auc: float | None = None
    accuracy: float | None = None


@dataclass
class Timeline:
    """The days and the moments of a demo run."""

    days: list[Day] = field(default_factory=list)
    moments: list[Moment] = field(default_factory=list)

    def mark(self, day: str, kind: str, text: str) -> Moment:
        """Record a moment and return it."""
        moment = Moment(day, kind, text)
        self.moments.append(moment)
        return moment

    def frame(self) -> pd.DataFrame:
        """One row per day (served counts as one column per version)."""
        rows = []
        for d in self.days:
            row = {k: v for k, v in asdict(d).items() if k != "served"}
            row.update({f"v{v}": n for v, n in d.served.items()})
            rows.append(row)
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (the JSON file next to the figure)."""
        return {
            "days": [asdict(d) for d in self.days],
            "moments": [asdict(m) for m in self.moments],
        }


def score_day(labels: np.ndarray, scores: np.ndarray) -> tuple[float | None, float | None]:
    """ROC AUC and accuracy (threshold 0.5) of one day's answers."""
    from sklearn.metrics import roc_auc_score

    if len(labels) == 0:
        return None, None
    accuracy = float(np.mean((scores >= 0.5) == labels))
    if len(np.unique(labels)) < 2:
        return None, accuracy
    return float(roc_auc_score(labels, scores)), accuracy


def summary(timeline: Timeline) -> pd.DataFrame:
    """The summary table: one row per version that served (days, requests, AUC, how it ended)."""
    frame = timeline.frame()
    versions = sorted({v for d in timeline.days for v in d.served}, key=int)
    rows = []
    for version in versions:
        served = frame.get(f"v{version}", pd.Series(dtype=float)).fillna(0)
        days = frame.loc[served > 0, "day"]
        mine = [m for m in timeline.moments if m.text.split()[:1] == [f"v{version}"]]
        ended = [f"{OUTCOMES[m.kind]} {m.day}" for m in mine if m.kind in OUTCOMES]
        if not ended and any("first model" in m.text for m in mine):
            ended = [f"{OUTCOMES['first']} {mine[0].day}"]
        rows.append(
            {
                "version": f"v{version}",
                "served from": days.min() if len(days) else "",
                "to": days.max() if len(days) else "",
                "requests": int(served.sum()),
                "outcome": ended[-1] if ended else "",
            }
        )
    return pd.DataFrame(rows)


def figure(timeline: Timeline) -> Any:
    """The timeline figure: metric, drift, traffic share per version, and the moments."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frame = timeline.frame()
    x = pd.to_datetime(frame["day"])
    fig, axes = plt.subplots(3, 1, figsize=(11, 7.5), sharex=True, height_ratios=[3, 2, 2])
    metric, drift, share = axes
    metric.plot(x, frame["auc"], marker="o", ms=3, color="#1f77b4", label="ROC AUC of the answers")
    metric.set_ylabel("ROC AUC (served)")
    metric.set_title("Retrainer demo: the continuous-training loop, day by day", loc="left")
    drift.bar(
        x, frame["drift_share"].fillna(0), color=np.where(frame["drifted"], "#d62728", "#bbb")
    )
    drift.set_ylabel("drifted columns\n(share)")
    _shares(share, frame, x)
    stacked: dict[str, int] = {}  # labels already on a day: the next one goes left of them
    for moment in [m for m in timeline.moments if m.kind in MARKS]:
        colour, label = MARKS[moment.kind]
        for ax in axes:
            ax.axvline(pd.Timestamp(moment.day), color=colour, lw=1, alpha=0.6, ls="--")
        version = moment.text.split()[0] if moment.text.startswith("v") else ""
        offset = stacked.get(moment.day, 0)
        stacked[moment.day] = offset + 1
        metric.annotate(
            f"{version} {label}".strip(), (pd.Timestamp(moment.day), 0.02),
            xycoords=("data", "axes fraction"), xytext=(-9 * offset, 0),
            textcoords="offset points", rotation=90, fontsize=8, va="bottom", ha="right",
            color=colour,
        )  # fmt: skip
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def _shares(ax: Any, frame: pd.DataFrame, x: pd.Series) -> None:
    columns = sorted([c for c in frame.columns if c.startswith("v") and c[1:].isdigit()],
                     key=lambda c: int(c[1:]))  # fmt: skip
    if not columns:
        return
    counts = frame[columns].fillna(0)
    total = counts.sum(axis=1).replace(0, np.nan)
    shares = counts.div(total, axis=0).fillna(0) * 100
    ax.stackplot(x, *[shares[c] for c in columns], labels=columns, alpha=0.85)
    ax.set_ylabel("traffic share %")
    ax.set_ylim(0, 100)
    ax.legend(loc="upper left", fontsize=8, ncol=len(columns))


def page(timeline: Timeline, figure_uri: str, title: str, meta: dict[str, Any]) -> str:
    """The HTML page: the figure, the summary table, the story, every day."""
    from retrainer.reports.html import Section, render_report

    days = timeline.frame().drop(columns=["detail"], errors="ignore")
    story = pd.DataFrame([{"day": m.day, "what happened": m.text} for m in timeline.moments])
    sections = [
        Section("Timeline", images=[figure_uri]),
        Section("Versions", tables=[summary(timeline)]),
        Section("What happened", tables=[story]),
        Section("Every day", tables=[days]),
    ]
    return render_report(title=title, sections=sections, meta=meta)
