"""The demo's timeline (pure) and its folder handling; the whole demo is `make demo`.

The full run (nightly CT runs, the gateway, the rollouts) takes minutes: it is the README's
``make demo``, not a test. Here: what its summary, figure and page say for a known timeline,
and that a rerun never deletes a folder the demo did not make.
"""

from __future__ import annotations

import numpy as np
import pytest

from retrainer.demo.loop import MARKER, DemoSettings, prepare
from retrainer.demo.timeline import Day, Timeline, figure, page, score_day, summary


def _timeline() -> Timeline:
    t = Timeline()
    t.days = [
        Day("2026-01-21", "retrain", champion="1", served={"1": 500}, auc=0.80, drift_share=0.0),
        Day("2026-01-22", "no_trigger", champion="1", served={"1": 480, "2": 20}, auc=0.79,
            drift_share=0.3, drifted=True, stage="canary 25%"),
        Day("2026-01-23", "suppressed", champion="2", served={"2": 500}, auc=0.83),
    ]  # fmt: skip
    t.mark("2026-01-21", "gate_passed", "v1 is champion (the first model)")
    t.mark("2026-01-22", "drift", "drift detected in income")
    t.mark("2026-01-23", "promoted", "v2 promoted: champion after shadow and canary")
    return t


def test_the_summary_has_a_row_per_version_that_served_with_its_requests_and_outcome():
    table = summary(_timeline())

    assert table["version"].tolist() == ["v1", "v2"]
    assert table["requests"].tolist() == [980, 520]
    assert table.loc[0, "served from"] == "2026-01-21"
    assert table.loc[0, "to"] == "2026-01-22"
    assert table["outcome"].tolist() == ["first champion 2026-01-21", "promoted 2026-01-23"]


def test_the_figure_shows_metric_drift_and_traffic_share_with_a_line_per_moment():
    fig = figure(_timeline())

    metric, drift, share = fig.axes
    assert metric.get_ylabel() == "ROC AUC (served)"
    assert len(drift.patches) == 3  # a bar per day
    assert [t.get_text() for t in share.get_legend().get_texts()] == ["v1", "v2"]
    assert len(metric.lines) == 1 + 1  # the metric, and a dashed line for the promotion


def test_the_page_embeds_the_figure_and_lists_what_happened(tmp_path):
    html = page(_timeline(), "data:image/png;base64,AAAA", "demo", {"days": 3})

    assert 'src="data:image/png;base64,AAAA"' in html
    assert "drift detected in income" in html
    assert "v2 promoted" in html


def test_a_day_is_scored_on_its_answers_and_one_class_has_no_auc():
    labels, scores = np.array([0, 0, 1, 1]), np.array([0.1, 0.6, 0.7, 0.9])

    assert score_day(labels, scores) == (1.0, 0.75)
    assert score_day(np.array([0, 0]), np.array([0.2, 0.7])) == (None, 0.5)
    assert score_day(np.array([]), np.array([])) == (None, None)


def test_a_rerun_replaces_a_demo_folder_but_never_one_the_demo_did_not_make(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")

    with pytest.raises(FileExistsError, match="not a demo folder"):
        prepare(DemoSettings(folder=mine), print)
    assert (mine / "notes.txt").read_text() == "keep me"

    demo = tmp_path / "demo"
    said: list[str] = []
    prepare(DemoSettings(folder=demo, rows_per_day=100), said.append)
    (demo / "stale.txt").write_text("from the last run")
    prepare(DemoSettings(folder=demo, rows_per_day=100), said.append)
    assert (demo / MARKER).exists()
    assert not (demo / "stale.txt").exists()
    assert said == [f"{demo} holds an earlier demo: starting clean"]
    assert (demo / "data" / "features").is_dir()
