"""The side-by-side rollout report, from a prediction log, labels and a history (no IO)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from retrainer.rollout import RolloutState
from retrainer.rollout.report import arms_table, build_report, paired_table, wilson

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
STATE = RolloutState("m", "2", "1", T0, T0, stage=1, status="promoted", reason="canary passed")


def _log(n: int = 400) -> tuple[pd.DataFrame, pd.Series]:
    """Champion right 80% of the time; the challenger 90%; half the requests shadowed."""
    rng = np.random.default_rng(0)
    rows, truth = [], {}
    for i in range(n):
        rid, label = f"r{i}", int(rng.integers(2))
        truth[rid] = label
        region = "north" if i % 2 else "south"
        at = T0 + timedelta(minutes=i)

        def said(p: float, label: int = label) -> int:
            return label if rng.random() < p else 1 - label

        base = {"inputs": {"region": region}, "latency_ms": 4.0, "error": None, "at": at}
        variant = "champion" if i < n // 2 or i % 4 else "challenger"
        version = "1" if variant == "champion" else "2"
        rows.append(
            base
            | {
                "request_id": rid,
                "version": version,
                "variant": variant,
                "label": said(0.8 if version == "1" else 0.9),
                "score": 0.3,
            }
        )
        if i < n // 2:
            rows.append(
                base
                | {
                    "request_id": f"{rid}:shadow",
                    "version": "2",
                    "variant": "shadow",
                    "label": said(0.9),
                    "score": 0.6,
                }
            )
    return pd.DataFrame(rows), pd.Series(truth)


def test_the_wilson_interval_matches_the_textbook_formula():
    # given 45 of 60, the Wilson interval from its formula
    p, n, z = 45 / 60, 60, 1.959963984540054
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert wilson(45, 60) == pytest.approx((centre - half, centre + half), abs=1e-9)
    assert all(np.isnan(wilson(0, 0)))


def test_both_models_are_compared_on_the_traffic_each_served_and_paired_in_shadow():
    log, truth = _log()
    from retrainer.rollout.report import _labelled

    rows = _labelled(log, truth)
    arms = arms_table(rows, STATE).set_index("model")
    # then each role's accuracy is its share of right labels, inside its own interval
    for model, variant in [("v1 (champion)", "champion"), ("v2 (shadow)", "shadow")]:
        mine = rows[rows["variant"] == variant]
        expected = (mine["label"].astype(str) == mine["truth"].astype(str)).mean()
        assert arms.loc[model, "accuracy"] == pytest.approx(expected)
        assert arms.loc[model, "ci_low"] < expected < arms.loc[model, "ci_high"]
    # and in shadow the same requests are paired: the delta is the difference on them
    [paired] = paired_table(rows).to_dict("records")
    assert paired["pairs"] == 200
    assert 0.0 < paired["delta"] < 0.25
    assert paired["ci_low"] < paired["delta"] < paired["ci_high"]


def test_the_report_shows_the_decision_every_table_and_a_figure():
    log, truth = _log()
    history = [
        {
            "at": T0 + timedelta(hours=2),
            "revision": 2,
            "action": "promote",
            "reason": "canary passed",
            "analysis": {
                "verdict": "successful",
                "measurements": [{"name": "metric_delta", "value": 0.1}],
            },
        },
        {"at": T0, "revision": 0, "action": "start", "reason": "rollout of v2", "analysis": None},
    ]
    report = build_report(log, truth, STATE, history, stage="done", segments=["region"])
    html = report.html
    assert "Rollout of m v2" in html
    for heading in (
        "Both models on the traffic they served",
        "Shadow: the same requests, paired",
        "Per segment",
        "Every transition and its analysis",
    ):
        assert heading in html
    assert "region=north" in html
    assert "metric_delta 0.1" in html
    assert html.index("rollout of v2") < html.index("canary passed</td>")  # oldest first
    assert report.figure_png.startswith(b"\x89PNG")
