"""Drift on missing data: columns without data (status ``no_data``) and the missing-share rise.

PSI, KS and Wasserstein only see the finite values of a numeric column, so a column whose
share of nulls rises, or that has no values at all, needs its own findings.
"""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from retrainer.config.drift import DriftSection
from retrainer.drift import BaselineProfile, DriftDetector

PROFILE_FORMAT_1 = Path(__file__).parent / "data" / "profile_format1.json"


def _config(**sections) -> DriftSection:
    return DriftSection.model_validate(sections)


def _with_nulls(n: int, missing: int, seed: int, loc: float = 10.0) -> np.ndarray:
    """``n`` normal values of which ``missing`` (at random positions) are NaN."""
    rng = np.random.default_rng(seed)
    values = rng.normal(loc, 2.0, n)
    values[rng.choice(n, missing, replace=False)] = np.nan
    return values


def _fisher_greater(cur_missing: int, cur_rows: int, ref_missing: int, ref_rows: int) -> float:
    table = [[cur_missing, cur_rows - cur_missing], [ref_missing, ref_rows - ref_missing]]
    return float(sps.fisher_exact(table, alternative="greater").pvalue)


# -- no data in the current window ----------------------------------------------------------------


def test_all_missing_current_numeric_column_is_no_data_and_drifts():
    # given a numeric column with values in the reference and none (NaN, inf) in the current data
    reference = pd.DataFrame({"x": np.arange(100.0), "y": np.arange(100.0)})
    current = pd.DataFrame({"x": [np.nan] * 40 + [np.inf] * 10, "y": np.arange(0.0, 100.0, 2.0)})

    # when compared at the defaults
    report = DriftDetector(numeric=["x", "y"]).fit(reference).compare(current)

    # then the column is a no_data finding that counts as drift, everywhere it is shown
    column = report.column("x")
    assert column.status == "no_data"
    assert report.drifted
    assert report.drifted_columns == ["x"]
    assert report.no_data_columns == ["x"]
    assert column.null_share_current == 1.0
    assert math.isnan(column.metrics["psi"].value)
    assert any("no finite values in the 50 current rows" in note for note in column.notes)
    assert report.to_dict()["columns"][0]["status"] == "no_data"
    table = report.summary_table()
    assert set(table[table.column == "x"].column_status) == {"no_data"}
    assert report.settings["no_data"] == "drift"


@pytest.mark.parametrize(("policy", "warning_columns"), [("warning", ["x"]), ("ignore", [])])
def test_no_data_can_count_as_a_warning_or_not_at_all(policy, warning_columns):
    # given the same column without current values, and drift.no_data set to warning / ignore
    reference = pd.DataFrame({"x": np.arange(100.0)})
    current = pd.DataFrame({"x": [np.nan] * 50})
    config = _config(no_data=policy)

    # when compared
    report = DriftDetector(numeric=["x"], config=config).fit(reference).compare(current)

    # then the status still says no_data, but the verdict follows the setting
    column = report.column("x")
    assert column.status == "no_data"
    assert not report.drifted
    assert report.drifted_columns == []
    assert report.warning_columns == warning_columns
    assert any(f"drift.no_data: {policy}" in note for note in column.notes)


def test_all_missing_current_categorical_column_is_no_data():
    # given a categorical column whose current values are all missing
    reference = pd.DataFrame({"k": pd.Series(["a", "b", "c"] * 100, dtype="str")})
    current = pd.DataFrame({"k": pd.Series([None] * 80, dtype="str")})

    # when compared at the defaults
    report = DriftDetector(categorical=["k"]).fit(reference).compare(current)

    # then it is a no_data finding counted as drift
    column = report.column("k")
    assert column.status == "no_data"
    assert report.drifted_columns == ["k"]
    assert column.null_share_current == 1.0
    assert any("no values in the 80 current rows" in note for note in column.notes)


def test_embedding_without_complete_vectors_is_no_data():
    # given an embedding whose current rows have no complete vector (null cells, NaN parts)
    rng = np.random.default_rng(4)
    reference = pd.DataFrame({"emb": list(rng.normal(size=(300, 8)))})
    broken = [None] * 30 + [np.full(8, np.nan)] * 20
    current = pd.DataFrame({"emb": pd.Series(broken, dtype=object)})

    # when compared at the defaults
    report = DriftDetector(embeddings=["emb"]).fit(reference).compare(current)

    # then it is a no_data finding counted as drift
    column = report.column("emb")
    assert column.status == "no_data"
    assert report.drifted_columns == ["emb"]
    assert any("no complete vectors in the 50 current rows" in note for note in column.notes)


def test_a_reference_without_values_is_a_note_not_drift():
    # given a baseline whose column has no finite values (a baseline problem, not drift)
    reference = pd.DataFrame({"x": [np.nan] * 100, "k": pd.Series([None] * 100, dtype="str")})
    current = pd.DataFrame({"x": np.arange(50.0), "k": pd.Series(["a", "b"] * 25, dtype="str")})

    # when compared at the defaults
    report = DriftDetector(numeric=["x"], categorical=["k"]).fit(reference).compare(current)

    # then nothing is flagged and each column's note says the baseline has to be rebuilt
    assert not report.drifted
    for name in ("x", "k"):
        column = report.column(name)
        assert column.status == "ok"
        assert any("the baseline has no" in n and "rebuild" in n for n in column.notes), name


def test_a_column_empty_on_both_sides_is_a_baseline_note_not_no_data():
    reference = pd.DataFrame({"x": [np.nan] * 100})
    current = pd.DataFrame({"x": [np.nan] * 50})

    column = DriftDetector(numeric=["x"]).fit(reference).compare(current).column("x")

    assert column.status == "ok"
    assert any("the baseline has no finite values" in note for note in column.notes)


# -- the missing share of numeric columns ---------------------------------------------------------


def test_numeric_null_share_rising_from_5_to_30_percent_is_flagged_by_missing_share():
    # given a numeric column with 5% nulls in the reference and 30% in the current data, the
    # present values drawn from the same distribution (no distance moves)
    reference = pd.DataFrame({"x": _with_nulls(2_000, 100, seed=1)})
    current = pd.DataFrame({"x": _with_nulls(2_000, 600, seed=2)})

    # when compared at the defaults
    report = DriftDetector(numeric=["x"]).fit(reference).compare(current)

    # then the column drifts on missing_share alone, with the rise and its one-sided test
    column = report.column("x")
    assert report.drifted_columns == ["x"]
    metric = column.metrics["missing_share"]
    assert metric.value == pytest.approx(0.25)
    assert metric.drifted is True
    assert (metric.threshold, metric.warning_threshold) == (0.05, 0.02)
    assert metric.p_value == pytest.approx(_fisher_greater(600, 2_000, 100, 2_000), rel=1e-9)
    assert metric.p_value < 1e-100
    assert metric.details["reference_share"] == pytest.approx(0.05)
    assert metric.details["current_share"] == pytest.approx(0.30)
    assert [m for m in column.decision_metrics if column.metrics[m].drifted] == ["missing_share"]
    row = report.summary_table().query("column == 'x' and metric == 'missing_share'").iloc[0]
    assert row.value == pytest.approx(0.25)
    assert row.metric_drifted is True


def test_small_null_share_rise_on_a_small_sample_is_not_flagged():
    # given 5% nulls in 2,000 reference rows and 6% in 200 current rows
    reference = pd.DataFrame({"x": _with_nulls(2_000, 100, seed=3)})
    current = pd.DataFrame({"x": _with_nulls(200, 12, seed=4)})

    # when compared at the defaults
    column = DriftDetector(numeric=["x"]).fit(reference).compare(current).column("x")

    # then missing_share is neither drift nor warning
    metric = column.metrics["missing_share"]
    assert metric.value == pytest.approx(0.01)
    assert metric.p_value == pytest.approx(_fisher_greater(12, 200, 100, 2_000), rel=1e-9)
    assert (metric.drifted, metric.warning) == (False, False)
    assert column.status == "ok"


def test_the_guard_holds_back_a_null_share_rise_that_the_sample_cannot_support():
    # given 5% nulls in the reference and 10% in only 60 current rows: a rise at the drift
    # threshold that a 60-row sample shows by chance with probability 0.085
    reference = pd.DataFrame({"x": _with_nulls(2_000, 100, seed=5)})
    current = pd.DataFrame({"x": _with_nulls(60, 6, seed=6)})
    unguarded = _config(tests={"guard_distances": False})

    # when compared with the significance guard (default) and without it
    guarded = DriftDetector(numeric=["x"]).fit(reference).compare(current).column("x")
    plain = DriftDetector(numeric=["x"], config=unguarded).fit(reference).compare(current)

    # then only the unguarded check lets missing_share flag it
    metric = guarded.metrics["missing_share"]
    assert metric.value == pytest.approx(0.05)
    assert metric.p_value_adjusted == pytest.approx(_fisher_greater(6, 60, 100, 2_000))
    assert metric.details["guard_passed"] is False
    assert metric.drifted is False
    assert plain.column("x").metrics["missing_share"].drifted is True


def test_the_missing_share_test_respects_the_sample_size_cap():
    # given 5% -> 10% nulls at 2,000 rows a side, and p-values capped at 100 rows a side
    reference = pd.DataFrame({"x": _with_nulls(2_000, 100, seed=13)})
    current = pd.DataFrame({"x": _with_nulls(2_000, 200, seed=14)})
    capped = _config(tests={"sample_size": 100})

    # when compared with and without the cap
    plain = DriftDetector(numeric=["x"]).fit(reference).compare(current).column("x")
    small = DriftDetector(numeric=["x"], config=capped).fit(reference).compare(current)

    # then the rise is the same, but only the uncapped test is sure enough to flag it
    metric = small.column("x").metrics["missing_share"]
    assert metric.value == plain.metrics["missing_share"].value == pytest.approx(0.05)
    assert metric.p_value == pytest.approx(_fisher_greater(10, 100, 5, 100))
    assert plain.metrics["missing_share"].drifted is True
    assert metric.drifted is False


def test_missing_share_p_values_are_adjusted_across_the_numeric_columns():
    # given three numeric columns whose null share rises a little
    reference = pd.DataFrame({f"x{i}": _with_nulls(2_000, 100, seed=10 + i) for i in range(3)})
    current = pd.DataFrame({f"x{i}": _with_nulls(400, 30, seed=20 + i) for i in range(3)})

    # when compared with the default Bonferroni correction
    report = DriftDetector(numeric=list(reference)).fit(reference).compare(current)

    # then each missing_share p-value is multiplied by the number of columns tested
    for column in report.columns:
        metric = column.metrics["missing_share"]
        assert metric.p_value_adjusted == pytest.approx(min(1.0, 3 * metric.p_value))


def test_a_falling_null_share_is_not_drift():
    reference = pd.DataFrame({"x": _with_nulls(2_000, 600, seed=7)})
    current = pd.DataFrame({"x": _with_nulls(2_000, 100, seed=8)})

    column = DriftDetector(numeric=["x"]).fit(reference).compare(current).column("x")

    assert column.metrics["missing_share"].value == pytest.approx(-0.25)
    assert column.metrics["missing_share"].drifted is False
    assert column.status == "ok"


def test_missing_share_thresholds_can_be_overridden_per_column():
    # given a column allowed to lose up to 40 points of values before drifting
    reference = pd.DataFrame({"x": _with_nulls(2_000, 100, seed=1)})
    current = pd.DataFrame({"x": _with_nulls(2_000, 600, seed=2)})
    config = _config(columns={"x": {"thresholds": {"missing_share": {"drift": 0.4}}}})

    # when compared
    column = DriftDetector(numeric=["x"], config=config).fit(reference).compare(current).column("x")

    # then the 25-point rise is a warning (the section's warning level 0.02 still applies)
    assert column.metrics["missing_share"].threshold == 0.4
    assert column.status == "warning"


def test_column_rule_all_applies_to_distances_and_missing_share_flags_on_its_own():
    # given a null share rising 5% -> 30% with unchanged present values, and column_rule all
    reference = pd.DataFrame({"x": _with_nulls(2_000, 100, seed=1)})
    current = pd.DataFrame({"x": _with_nulls(2_000, 600, seed=2)})
    config = _config(column_rule="all")

    # when compared
    column = DriftDetector(numeric=["x"], config=config).fit(reference).compare(current).column("x")

    # then the rise still drifts the column although PSI and W-norm do not flag
    assert column.drifted
    assert column.metrics["psi"].drifted is False


def test_missing_share_is_not_deciding_when_the_metric_list_leaves_it_out():
    reference = pd.DataFrame({"x": _with_nulls(2_000, 100, seed=1)})
    current = pd.DataFrame({"x": _with_nulls(2_000, 600, seed=2)})
    config = _config(metrics={"numeric": ["psi", "wasserstein_norm"]})

    column = DriftDetector(numeric=["x"], config=config).fit(reference).compare(current).column("x")

    assert column.metrics["missing_share"].drifted is None
    assert column.metrics["missing_share"].value == pytest.approx(0.25)
    assert not column.drifted


def test_categorical_null_share_rising_from_5_to_30_percent_is_flagged_at_the_defaults():
    # given a categorical column with 5% missing values in the reference and 30% currently
    rng = np.random.default_rng(9)

    def column(n: int, missing: int) -> pd.Series:
        values = pd.Series(rng.choice(list("abcdef"), n), dtype=object)
        values[rng.choice(n, missing, replace=False)] = None
        return values.astype("str")

    reference = pd.DataFrame({"k": column(2_000, 100)})
    current = pd.DataFrame({"k": column(2_000, 600)})

    # when compared at the defaults
    result = DriftDetector(categorical=["k"]).fit(reference).compare(current).column("k")

    # then the "(missing)" category moves PSI and JS far past their drift thresholds
    assert result.drifted
    assert result.metrics["psi"].value > 0.25
    assert result.metrics["js"].value > 0.1
    assert result.histogram.labels[-1] == "(missing)"


# -- streaming and saved profiles -----------------------------------------------------------------


def test_missing_share_is_the_same_streamed_and_from_a_saved_profile(tmp_path):
    # given a detector, its profile saved and loaded back, and a current window with 30% nulls
    reference = pd.DataFrame({"x": _with_nulls(2_000, 100, seed=1)})
    current = pd.DataFrame({"x": _with_nulls(2_000, 600, seed=2)})
    fitted = DriftDetector(numeric=["x"]).fit(reference)
    loaded = DriftDetector.from_profile(BaselineProfile.load(fitted.profile_.save(tmp_path / "p")))

    # when compared in memory, from the saved profile, and batch by batch
    expected = fitted.compare(current).column("x").metrics["missing_share"].to_dict()
    from_profile = loaded.compare(current).column("x").metrics["missing_share"]
    streamed = loaded.compare_batches(current.iloc[i : i + 300] for i in range(0, 2_000, 300))

    # then missing_share, its p-value and its verdict are identical
    assert from_profile.to_dict() == expected
    assert streamed.column("x").metrics["missing_share"].to_dict() == expected


def test_a_profile_saved_before_missing_share_existed_still_loads_and_reports_it():
    # given a profile written by an earlier version (400 rows, 5% nulls in x and in k)
    profile = BaselineProfile.load(PROFILE_FORMAT_1)
    detector = DriftDetector.from_profile(profile)
    current = pd.DataFrame(
        {
            "x": _with_nulls(1_000, 300, seed=12),
            "k": pd.Series(list("abc") * 300 + ["a"] * 100, dtype="str"),
        }
    )

    # when a window with 30% nulls in x is compared with it
    report = detector.compare(current)

    # then the rise is measured against the stored missing count
    metric = report.column("x").metrics["missing_share"]
    assert metric.value == pytest.approx(0.30 - 0.05)
    assert metric.p_value == pytest.approx(_fisher_greater(300, 1_000, 20, 400), rel=1e-9)
    assert "x" in report.drifted_columns
