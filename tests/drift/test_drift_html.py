"""The drift report pages: what a reader sees about missing data."""

from datetime import date

import numpy as np
import pandas as pd

from retrainer.drift import DriftDetector
from retrainer.drift.check import DriftCheck, check_window
from retrainer.drift.html import column_table, render_html, render_markdown


def _check() -> DriftCheck:
    """A day where x went from 5% to 30% nulls and y has no values at all."""
    rng = np.random.default_rng(0)

    def frame(n: int, null_share: float) -> pd.DataFrame:
        x = rng.normal(0.0, 1.0, n)
        x[rng.random(n) < null_share] = np.nan
        return pd.DataFrame({"x": x, "y": rng.normal(0.0, 1.0, n), "z": rng.normal(0.0, 1.0, n)})

    detector = DriftDetector(["x", "y", "z"]).fit(frame(4_000, 0.05))
    day = date(2026, 1, 2)
    report, daily = check_window(detector, [(day, frame(1_000, 0.30).assign(y=np.nan))])
    return DriftCheck("m", "1", day, day, {"kind": "training"}, report, daily)


def test_the_report_shows_the_null_burst_and_the_column_without_values():
    # given a check with a null burst in x and no values of y
    check = _check()

    # when the report is rendered
    table = column_table(check).set_index("column")
    page = render_html(check)
    summary = render_markdown(check)

    # then x is decided by missing_share, y is listed as no_data, z carries the metric's value
    assert table.loc["x", "deciding metric"] == "missing_share"
    assert table.loc["x", "value"] > 0.2
    assert table.loc["y", "verdict"] == "no_data"
    assert abs(table.loc["z", "missing_share"]) < 1e-12
    assert "No values in the current window: y (counted as drift; drift.no_data: drift)." in page
    assert "missing_share (numeric columns: current minus reference share" in page
    assert "| x | feature | drift | missing_share |" in summary
