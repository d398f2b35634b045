"""The side-by-side rollout report: champion and challenger on the same traffic (pure).

Written for the person who reviews a promotion: what the rollout decided and why, both
models' accuracy with 95% intervals on the labelled requests each answered (and, in shadow,
on the very same requests, with the paired difference), per segment, their agreement,
latency, the traffic share over time, and every transition with its analysis verdict.
Built from the prediction log (the rows of the whole rollout, with their inputs), the labels
that arrived and the rollout's history; rendered with :func:`retrainer.reports.render_report`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from retrainer.reports import Section, figure_to_data_uri, render_report
from retrainer.rollout.evidence import same_label, with_truth
from retrainer.rollout.machine import RolloutState

ARMS = {"champion": "#57606a", "challenger": "#0969da", "shadow": "#8250df"}


@dataclass(frozen=True)
class RolloutReport:
    """The rendered report: the HTML page and the PNG of its main figure."""

    html: str
    figure_png: bytes


def wilson(hits: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (NaN without observations)."""
    if n == 0:
        return float("nan"), float("nan")
    interval = stats.binomtest(hits, n).proportion_ci(confidence_level=level, method="wilson")
    return float(interval.low), float(interval.high)


def _labelled(log: pd.DataFrame, truth: pd.Series) -> pd.DataFrame:
    out = with_truth(log, truth)
    out["correct"] = np.where(out["truth"].notna(), same_label(out["label"], out["truth"]), np.nan)
    return out


def _arm_rows(rows: pd.DataFrame) -> dict[str, Any]:
    ok = rows[rows["error"].isna()]
    known = ok[ok["truth"].notna()]
    hits = int(known["correct"].sum())
    low, high = wilson(hits, len(known))
    latency = ok["latency_ms"].dropna()
    return {
        "requests": len(rows),
        "labelled": len(known),
        "accuracy": hits / len(known) if len(known) else float("nan"),
        "ci_low": low,
        "ci_high": high,
        "mean_score": float(ok["score"].mean()) if ok["score"].notna().any() else float("nan"),
        "error_rate": float(rows["error"].notna().mean()) if len(rows) else float("nan"),
        "latency_p50_ms": float(latency.median()) if len(latency) else float("nan"),
        "latency_p99_ms": float(np.percentile(latency, 99)) if len(latency) else float("nan"),
    }


def arms_table(log: pd.DataFrame, state: RolloutState) -> pd.DataFrame:
    """One row per model and role: requests, accuracy with its interval, errors, latency."""
    rows = []
    for variant in ("champion", "challenger", "shadow"):
        mine = log[log["variant"] == variant]
        if mine.empty:
            continue
        version = state.challenger if variant != "champion" else state.champion
        rows.append({"model": f"v{version} ({variant})", **_arm_rows(mine)})
    return pd.DataFrame(rows)


def paired_table(log: pd.DataFrame) -> pd.DataFrame:
    """Shadow: both models on the same requests — agreement and the paired accuracy delta."""
    shadow = log[(log["variant"] == "shadow") & log["error"].isna()]
    champion = log[(log["variant"] == "champion") & log["error"].isna()]
    pairs = shadow.merge(champion, on="base_id", suffixes=("", "_champion"))
    if pairs.empty:
        return pd.DataFrame()
    agreement = float(same_label(pairs["label"], pairs["label_champion"]).mean())
    known = pairs[pairs["truth"].notna()]
    row: dict[str, Any] = {"pairs": len(pairs), "agreement": agreement, "labelled": len(known)}
    if len(known) > 1:
        diff = known["correct"].astype(float) - known["correct_champion"].astype(float)
        se = float(diff.std(ddof=1) / np.sqrt(len(diff)))
        row |= {
            "delta": float(diff.mean()),
            "ci_low": float(diff.mean() - 1.96 * se),
            "ci_high": float(diff.mean() + 1.96 * se),
        }
    return pd.DataFrame([row])


def segments_table(log: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Accuracy per segment value and model role, on the labelled requests."""
    known = log[log["truth"].notna() & log["error"].isna()]
    # a shadow row's inputs are its request's, kept on the champion's row
    answered = log[log["variant"] != "shadow"].drop_duplicates("base_id").set_index("base_id")
    inputs = known["base_id"].map(answered["inputs"])
    rows = []
    for column in columns:
        values = inputs.map(lambda row, c=column: (row or {}).get(c))
        for (value, variant), group in known.groupby([values, known["variant"]], dropna=True):
            low, high = wilson(int(group["correct"].sum()), len(group))
            rows.append(
                {
                    "segment": f"{column}={value}",
                    "model": variant,
                    "labelled": len(group),
                    "accuracy": float(group["correct"].mean()),
                    "ci_low": low,
                    "ci_high": high,
                }
            )
    return pd.DataFrame(rows)


def history_table(history: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Every transition, oldest first, with its analysis verdict and measurements."""
    rows = []
    for entry in reversed(list(history)):
        analysis = entry.get("analysis") or {}
        measured = ", ".join(
            f"{m['name']} {m['value']:.4g}"
            if isinstance(m.get("value"), int | float)
            else m["name"]
            for m in analysis.get("measurements", [])
        )
        rows.append(
            {
                "at": pd.Timestamp(entry["at"]).strftime("%Y-%m-%d %H:%M:%S"),
                "revision": entry["revision"],
                "action": entry["action"],
                "verdict": analysis.get("verdict", "no analysis"),
                "measured": measured,
                "reason": entry["reason"],
            }
        )
    return pd.DataFrame(rows)


def _traffic(axis: Any, log: pd.DataFrame) -> None:
    answered = log[log["variant"] != "shadow"]
    if answered.empty:
        return
    at = pd.to_datetime(answered["at"], utc=True)
    span = (at.max() - at.min()).total_seconds()
    freq = "1D" if span > 3 * 86_400 else "1h" if span > 3 * 3_600 else "1min"
    counts = answered.groupby([at.dt.floor(freq), answered["variant"]]).size().unstack(fill_value=0)
    shares = counts.div(counts.sum(axis=1), axis=0) * 100
    bottom = np.zeros(len(shares))
    for variant in shares.columns:
        axis.bar(
            shares.index,
            shares[variant],
            bottom=bottom,
            color=ARMS.get(variant),
            label=variant,
            width=0.8 * pd.Timedelta(freq),
        )
        bottom += shares[variant].to_numpy()
    axis.set_ylabel("share of answers (%)")
    axis.set_title("traffic over time")
    axis.legend(loc="lower left", fontsize=8)
    axis.tick_params(axis="x", labelrotation=30, labelsize=7)


def _scores(axis: Any, log: pd.DataFrame) -> None:
    for variant, group in log[log["error"].isna()].groupby("variant"):
        values = group["score"].dropna().to_numpy(dtype=float)
        if len(values):
            axis.hist(
                values, bins=30, alpha=0.5, density=True, color=ARMS.get(variant), label=variant
            )
    axis.set_xlabel("score")
    axis.set_title("score distributions")
    axis.legend(fontsize=8)


def _accuracy(axis: Any, arms: pd.DataFrame) -> None:
    if arms.empty:
        return
    y = np.arange(len(arms))
    err = np.vstack([arms["accuracy"] - arms["ci_low"], arms["ci_high"] - arms["accuracy"]])
    axis.errorbar(arms["accuracy"], y, xerr=np.nan_to_num(err), fmt="o", capsize=4)
    axis.set_yticks(y, arms["model"])
    axis.set_xlabel("accuracy, 95% interval")
    axis.set_title("labelled requests")
    axis.invert_yaxis()


PANELS = (_traffic, _scores, _accuracy)


def _figures(log: pd.DataFrame, arms: pd.DataFrame) -> tuple[Any, list[Any]]:
    """The combined figure (the PNG) and one figure per panel (the HTML's grid)."""
    from matplotlib.figure import Figure

    combined = Figure(figsize=(12, 3.6))
    singles = []
    for axis, draw in zip(combined.subplots(1, 3), PANELS, strict=True):
        data = arms if draw is _accuracy else log
        draw(axis, data)
        single = Figure(figsize=(5.2, 3.6))
        draw(single.add_subplot(1, 1, 1), data)
        single.tight_layout()
        singles.append(single)
    combined.tight_layout()
    return combined, singles


def build_report(
    log: pd.DataFrame,
    truth: pd.Series,
    state: RolloutState,
    history: Sequence[dict[str, Any]],
    *,
    stage: str,
    segments: Sequence[str] = (),
) -> RolloutReport:
    """The report of a rollout.

    Args:
        log: The rollout's prediction log rows (``request_id``, ``version``, ``variant``,
            ``label``, ``score``, ``latency_ms``, ``error``, ``at``, ``inputs``).
        truth: The true label by request id.
        state: The rollout's state.
        history: Its transitions, newest first (``store.rollouts.history``).
        stage: Where it stands (``stage_name``).
        segments: The config's segment columns (read from each row's inputs).
    """
    import io

    rows = _labelled(log, truth) if not log.empty else log.assign(truth=[], correct=[])
    arms = arms_table(rows, state) if not rows.empty else pd.DataFrame()
    paired = paired_table(rows) if not rows.empty else pd.DataFrame()
    by_segment = segments_table(rows, segments) if not rows.empty and segments else pd.DataFrame()
    figure, panels = _figures(rows, arms)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    sections = [
        Section(
            "Decision",
            paragraphs=[state.reason or "(no transition yet)"],
            images=[figure_to_data_uri(panel) for panel in panels],
        ),
        Section(
            "Both models on the traffic they served",
            paragraphs=[
                "Accuracy on the labelled requests each answered (shadow: the challenger on the "
                "champion's own requests), with its 95% Wilson interval; errors are requests "
                "the model failed on; latency is the time to answer (shadow: the scoring call)."
            ],
            tables=[arms] if not arms.empty else [],
        ),
    ]
    if not paired.empty:
        sections.append(
            Section(
                "Shadow: the same requests, paired",
                paragraphs=[
                    "Agreement is the share of requests both models labelled alike; the delta "
                    "is challenger minus champion accuracy on the same labelled requests, with "
                    "its 95% interval."
                ],
                tables=[paired],
            )
        )
    if not by_segment.empty:
        sections.append(Section("Per segment", tables=[by_segment]))
    sections.append(Section("Every transition and its analysis", tables=[history_table(history)]))
    html = render_report(
        f"Rollout of {state.model} v{state.challenger}",
        sections,
        verdict=state.status,
        meta={
            "model": state.model,
            "challenger": f"v{state.challenger}",
            "champion": f"v{state.champion}" if state.champion else "none",
            "stage": stage,
            "started": state.started_at.isoformat(timespec="seconds"),
            "revision": state.revision,
        },
    )
    return RolloutReport(html, buffer.getvalue())
