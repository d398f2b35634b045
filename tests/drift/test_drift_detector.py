"""DriftDetector behaviour: decisions at defaults, definitions, profiles, streaming, errors."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from drift_data import CATEGORICAL, NUMERIC, SHIFTED, benchmark_frame
from scipy import stats as sps
from scipy.spatial.distance import jensenshannon

from retrainer.config.drift import DriftSection
from retrainer.drift import BaselineProfile, DriftDetector, DriftReport


def _detector(config: DriftSection | None = None) -> DriftDetector:
    return DriftDetector(numeric=NUMERIC, categorical=CATEGORICAL, config=config)


def _config(**sections) -> DriftSection:
    return DriftSection.model_validate(sections)


# -- decisions at the defaults ------------------------------------------------------------------


def test_known_shifts_are_flagged_and_the_tiny_one_is_not():
    # given the notes' benchmark shifts at 50k rows
    reference, current = benchmark_frame(50_000, 1), benchmark_frame(50_000, 2, drift=True)

    # when compared at the default settings
    report = _detector().fit(reference).compare(current)

    # then exactly the five real shifts drift; the +0.02 sd shift does not
    assert report.drifted
    assert report.drifted_columns == SHIFTED
    tiny = report.column("num_02")
    assert not tiny.drifted
    assert tiny.metrics["wasserstein_norm"].value < 0.05


def test_no_drift_on_same_distribution_at_2000_rows():
    # given 20 pairs of independent samples of the same distribution, 2,000 rows each
    flagged = []
    for seed in range(20):
        reference, current = benchmark_frame(2_000, 100 + seed), benchmark_frame(2_000, 200 + seed)

        # when compared at the defaults
        report = _detector().fit(reference).compare(current)
        flagged.append(report.drifted_columns)

    # then (almost) nothing drifts: the guard bounds the family-wise error by alpha = 5%
    assert sum(bool(f) for f in flagged) <= 1


def test_guard_removes_small_sample_noise_of_distances():
    # given the same 20 null pairs; a 50-level column has a null JS distance of ~0.094
    guard_off = _config(tests={"guard_distances": False})
    flagged_without_guard = 0
    for seed in range(20):
        reference, current = benchmark_frame(2_000, 100 + seed), benchmark_frame(2_000, 200 + seed)

        # when the significance guard is switched off
        report = _detector(guard_off).fit(reference).compare(current)
        flagged_without_guard += report.drifted

    # then distances alone flag many null samples
    assert flagged_without_guard >= 3


def test_no_drift_and_tiny_shift_ignored_at_one_million_rows():
    # given one million rows: p-values flag even a 0.02 sd shift here
    reference = benchmark_frame(1_000_000, 1, as_category=True)
    same = benchmark_frame(1_000_000, 2, as_category=True)
    detector = _detector().fit(reference)

    # when compared at the defaults
    report = detector.compare(same)

    # then nothing drifts, although the KS test rejects some null columns' p-values
    assert not report.drifted
    assert report.drifted_columns == []
    del same
    shifted = detector.compare(benchmark_frame(1_000_000, 3, drift=True, as_category=True))
    assert shifted.drifted_columns == SHIFTED
    assert shifted.column("num_02").metrics["ks"].p_value < 1e-20


# -- definitions agree with scipy / Evidently -----------------------------------------------------


def test_exact_numeric_metrics_equal_scipy_and_evidently():
    # given a numeric column with missing values on both sides
    rng = np.random.default_rng(7)
    ref = rng.normal(10, 2, 3000)
    cur = rng.normal(10.5, 2.4, 2500)
    ref[:30] = np.nan
    cur[:10] = np.inf
    detector = DriftDetector(numeric=["x"]).fit(pd.DataFrame({"x": ref}))

    # when
    column = detector.compare(pd.DataFrame({"x": cur})).column("x")

    # then every statistic equals its scipy / Evidently definition on the finite values
    r, c = ref[np.isfinite(ref)], cur[np.isfinite(cur)]
    ks = sps.ks_2samp(r, c, method="asymp")
    assert column.metrics["ks"].value == pytest.approx(ks.statistic, abs=1e-6)
    assert column.metrics["ks"].p_value == pytest.approx(ks.pvalue, abs=1e-6)
    w1 = sps.wasserstein_distance(r, c)
    assert column.metrics["wasserstein"].value == pytest.approx(w1, abs=1e-6)
    evidently_norm = w1 / max(np.std(r), 0.001)
    assert column.metrics["wasserstein_norm"].value == pytest.approx(evidently_norm, abs=1e-6)
    edges = np.unique(np.quantile(r, np.arange(1, 10) / 10))
    r_counts = np.bincount(np.searchsorted(edges, r, side="left"), minlength=10)
    c_counts = np.bincount(np.searchsorted(edges, c, side="left"), minlength=10)
    assert column.metrics["js"].value == pytest.approx(
        jensenshannon(r_counts, c_counts, base=2), abs=1e-6
    )
    r_p, c_p = r_counts / r_counts.sum(), c_counts / c_counts.sum()
    assert column.metrics["kl"].value == pytest.approx(sps.entropy(r_p, c_p), abs=1e-6)
    assert column.metrics["psi"].value == pytest.approx(
        float(np.sum((c_p - r_p) * np.log(c_p / r_p))), abs=1e-6
    )
    assert column.null_share_reference == pytest.approx(0.01)
    assert column.null_share_current == pytest.approx(0.004)


def test_categorical_metrics_equal_scipy_and_evidently_with_an_unseen_level():
    # given a categorical column whose current data has a level the reference never had
    ref = pd.Series(["a"] * 500 + ["b"] * 300 + ["c"] * 200, dtype="str")
    cur = pd.Series(["a"] * 400 + ["b"] * 350 + ["c"] * 200 + ["new"] * 50, dtype="str")
    detector = DriftDetector(categorical=["k"]).fit(pd.DataFrame({"k": ref}))

    # when
    column = detector.compare(pd.DataFrame({"k": cur})).column("k")

    # then chi2 is the contingency test over a, b, c, unseen
    r_counts, c_counts = np.array([500, 300, 200, 0]), np.array([400, 350, 200, 50])
    expected = sps.chi2_contingency(np.array([r_counts, c_counts]))
    assert column.metrics["chi2"].value == pytest.approx(expected.statistic, abs=1e-6)
    assert column.metrics["chi2"].p_value == pytest.approx(expected.pvalue, abs=1e-6)
    assert column.metrics["js"].value == pytest.approx(
        jensenshannon(r_counts, c_counts, base=2), abs=1e-6
    )
    # and PSI equals Evidently's per-value definition (empty reference bin -> 1e-4)
    r_p, c_p = r_counts / 1000, c_counts / 1000
    r_p[3] = 1e-4
    assert column.metrics["psi"].value == pytest.approx(
        float(np.sum((r_p - c_p) * np.log(r_p / c_p))), abs=1e-6
    )
    # and the unseen level is reported
    assert column.unseen_share == pytest.approx(0.05)
    assert column.unseen_values == {"new": 50}
    assert column.histogram.labels == ["a", "b", "c", "(unseen)"]


def test_js_base_e_is_evidently_compatible():
    rng = np.random.default_rng(8)
    frame = pd.DataFrame({"k": rng.choice(list("abcd"), 5000, p=[0.4, 0.3, 0.2, 0.1])})
    current = pd.DataFrame({"k": rng.choice(list("abcd"), 5000, p=[0.1, 0.2, 0.3, 0.4])})

    base_e = DriftDetector(categorical=["k"], config=_config(binning={"js_base": "e"}))
    value_e = base_e.fit(frame).compare(current).column("k").metrics["js"].value
    value_2 = DriftDetector(categorical=["k"]).fit(frame).compare(current).column("k")

    assert value_e == pytest.approx(value_2.metrics["js"].value * math.sqrt(math.log(2)))


# -- nulls and unseen -----------------------------------------------------------------------------


def test_missing_values_are_their_own_category():
    # given a categorical column whose share of missing values grows from 2% to 30%
    ref = pd.Series(["a", "b"] * 490 + [None] * 20, dtype="str")
    cur = pd.Series(["a", "b"] * 350 + [None] * 300, dtype="str")
    detector = DriftDetector(categorical=["k"]).fit(pd.DataFrame({"k": ref}))

    # when
    column = detector.compare(pd.DataFrame({"k": cur})).column("k")

    # then the missing bin drives drift and is shown in the histogram (columns without any
    # current value, and null shares of numeric columns: test_drift_detector_missing.py)
    assert column.drifted
    assert column.null_share_reference == pytest.approx(0.02)
    assert column.null_share_current == pytest.approx(0.30)
    assert column.histogram.labels[-1] == "(missing)"
    assert column.histogram.current[-1] == pytest.approx(0.30)


# -- profiles and streaming -----------------------------------------------------------------------


def test_profile_round_trip_gives_identical_report(tmp_path):
    # given a detector fitted in sketch precision and its saved profile
    reference, current = benchmark_frame(20_000, 1), benchmark_frame(20_000, 2, drift=True)
    config = _config(binning={"precision": "sketch"})
    fitted = _detector(config).fit(reference)
    plain, packed = tmp_path / "p.json", tmp_path / "p.json.gz"
    fitted.profile_.save(plain)
    fitted.profile_.save(packed)

    # when the profile is loaded back (plain and gzip) and compared
    expected = fitted.compare(current).to_dict()
    for path in (plain, packed):
        loaded = DriftDetector.from_profile(BaselineProfile.load(path), config)
        report = loaded.compare(current)

        # then the report is identical
        assert report.to_dict() == expected
    assert plain.stat().st_size < 100_000 * len(NUMERIC)


def test_a_gz_profile_an_artifact_server_already_decoded_still_loads(tmp_path):
    # given a .json.gz profile whose bytes are plain JSON (MLflow's artifact proxy sends
    # .gz files with Content-Encoding: gzip, and the HTTP client decodes them)
    fitted = _detector(_config()).fit(benchmark_frame(2_000, 1))
    plain = tmp_path / "p.json"
    fitted.profile_.save(plain)
    decoded = tmp_path / "baseline_profile.json.gz"
    decoded.write_bytes(plain.read_bytes())

    # when it is loaded, then it is the same profile
    assert BaselineProfile.load(decoded).to_dict() == BaselineProfile.load(plain).to_dict()


def test_profile_does_not_need_the_reference_and_rejects_other_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"hello": 1}))

    with pytest.raises(ValueError, match=r"bad\.json.*not a retrainer drift profile"):
        BaselineProfile.load(bad)
    with pytest.raises(ValueError, match="not found"):
        BaselineProfile.load(tmp_path / "missing.json")


def test_streaming_equals_in_memory():
    # given an exact (in-memory) detector and a current window cut into batches
    reference, current = benchmark_frame(30_000, 1), benchmark_frame(30_000, 2, drift=True)
    detector = _detector().fit(reference)
    batches = (current.iloc[start : start + 4_000] for start in range(0, len(current), 4_000))

    # when compared in memory and as a stream
    exact = detector.compare(current)
    streamed = detector.compare_batches(batches)

    # then count-based metrics are identical and KS/W1 within the sketch's error
    assert streamed.mode == "sketch"
    assert exact.mode == "exact"
    assert streamed.drifted_columns == exact.drifted_columns
    for column in exact.columns:
        other = streamed.column(column.column)
        for name in ("psi", "js", "kl", "chi2", "unseen_share"):
            if name in column.metrics:
                assert other.metrics[name].value == column.metrics[name].value, name
        if column.kind == "numeric":
            for name in ("ks", "wasserstein_norm"):
                exact_value, estimate = column.metrics[name].value, other.metrics[name]
                bound = estimate.details["error_bound"]
                assert estimate.value - 1e-12 <= exact_value <= estimate.value + bound + 1e-12
            assert other.metrics["ks"].details["error_bound"] <= 1 / 2048 + 1e-4
            assert other.metrics["wasserstein_norm"].value == pytest.approx(
                column.metrics["wasserstein_norm"].value, abs=1e-4
            )
        assert other.histogram == column.histogram


def test_streaming_parquet_row_groups(tmp_path):
    # given a current window in a Parquet file with several row groups
    import pyarrow.parquet as pq

    reference, current = benchmark_frame(10_000, 1), benchmark_frame(9_000, 2, drift=True)
    path = tmp_path / "current.parquet"
    current.to_parquet(path, row_group_size=2_000)
    detector = _detector().fit(reference)

    # when its record batches are streamed
    report = detector.compare_batches(pq.ParquetFile(path).iter_batches(batch_size=2_000))

    # then the result equals the in-memory comparison for count-based metrics
    expected = detector.compare(current)
    assert report.n_current == 9_000
    for column in expected.columns:
        assert report.column(column.column).metrics["psi"].value == column.metrics["psi"].value


def test_streaming_equals_in_memory_sketch_exactly():
    reference, current = benchmark_frame(10_000, 1), benchmark_frame(12_000, 2, drift=True)
    detector = DriftDetector.from_profile(_detector().fit(reference).profile_)

    whole = detector.compare(current)
    parts = detector.compare_batches(current.iloc[i : i + 2_500] for i in range(0, 12_000, 2_500))

    for column in whole.columns:
        for name, metric in column.metrics.items():
            assert parts.column(column.column).metrics[name].value == pytest.approx(
                metric.value, rel=1e-12, abs=1e-12
            )


# -- configuration --------------------------------------------------------------------------------


def test_per_column_overrides_ignore_metrics_and_thresholds():
    # given overrides: ignore num_00, decide num_01 by KS, a looser W-norm threshold on
    # num_03, and a partial PSI override on cat_00 (its warning level is inherited)
    reference, current = benchmark_frame(50_000, 1), benchmark_frame(50_000, 2, drift=True)
    config = _config(
        columns={
            "num_00": {"ignore": True},
            "num_01": {"metrics": ["ks"]},
            "num_03": {"thresholds": {"wasserstein_norm": {"drift": 0.5}}},
            "cat_00": {"metrics": ["psi"], "thresholds": {"psi": {"drift": 0.9}}},
        }
    )

    # when
    report = _detector(config).fit(reference).compare(current.drop(columns=["num_00"]))

    # then num_00 is neither checked nor required
    assert "num_00" not in [c.column for c in report.columns]
    # and num_01 drifts on KS alone, compared with alpha
    num_01 = report.column("num_01")
    assert num_01.drifted
    assert num_01.decision_metrics == ["ks"]
    assert num_01.metrics["ks"].threshold == 0.05
    # and num_03's shift (W-norm ~0.18) is below its own threshold
    num_03 = report.column("num_03")
    assert not num_03.drifted
    assert num_03.metrics["wasserstein_norm"].threshold == 0.5
    # and cat_00 (PSI ~0.68) is only at warning level: drift 0.9, warning 0.1 inherited
    cat_00 = report.column("cat_00")
    assert cat_00.status == "warning"
    assert cat_00.metrics["psi"].warning_threshold == 0.1


def test_ks_as_deciding_test_with_sample_size_cap():
    # given KS as the only numeric decision metric at 200k rows
    reference, current = benchmark_frame(200_000, 1), benchmark_frame(200_000, 2, drift=True)
    ks_only = {"metrics": {"numeric": ["ks"], "categorical": ["chi2"]}}

    # when p-values use the real sizes, then even the tiny shift is flagged
    report = _detector(_config(**ks_only)).fit(reference).compare(current)
    assert "num_02" in report.drifted_columns

    # when p-values are computed as if each side had 5,000 rows, it is not
    capped = _config(**ks_only, tests={"sample_size": 5_000})
    report = _detector(capped).fit(reference).compare(current)
    assert report.drifted_columns == SHIFTED


def test_dataset_share_rule():
    reference, current = benchmark_frame(20_000, 1), benchmark_frame(20_000, 2, drift=True)

    share_half = _config(dataset={"rule": "share", "drift_share": 0.5})
    share_low = _config(dataset={"rule": "share", "drift_share": 0.4})
    report_half = _detector(share_half).fit(reference).compare(current)
    report_low = _detector(share_low).fit(reference).compare(current)

    assert report_half.drift_share == pytest.approx(5 / 11)
    assert not report_half.drifted
    assert report_low.drifted


def test_column_rule_all_needs_every_deciding_metric():
    # given num_00: +0.25 sd gives W-norm ~0.25 (drift) but decile PSI ~0.06 (below warning)
    reference, current = benchmark_frame(50_000, 1), benchmark_frame(50_000, 2, drift=True)

    # when every deciding metric must agree
    report = _detector(_config(column_rule="all")).fit(reference).compare(current)

    # then num_00 no longer drifts, while cat_00 (PSI and JS both far over) still does
    assert not report.column("num_00").drifted
    assert report.column("cat_00").drifted


def test_fdr_correction_is_applied():
    rng = np.random.default_rng(0)
    reference = pd.DataFrame({f"x{i}": rng.normal(size=500) for i in range(4)})
    current = pd.DataFrame({f"x{i}": rng.normal(size=500) for i in range(4)})
    config = _config(tests={"correction": "fdr_bh"})

    report = DriftDetector(numeric=list(reference), config=config).fit(reference).compare(current)

    raw = np.array([c.metrics["ks"].p_value for c in report.columns])
    adjusted = [c.metrics["psi"].p_value_adjusted for c in report.columns]
    assert adjusted == pytest.approx(sps.false_discovery_control(raw, method="bh"))


def test_override_with_a_metric_of_the_wrong_kind_names_the_column():
    config = _config(columns={"x": {"metrics": ["chi2"]}})

    with pytest.raises(ValueError, match=r"drift\.columns\.x\.metrics.*numeric"):
        DriftDetector(numeric=["x"], config=config).fit(pd.DataFrame({"x": [1.0, 2.0]}))


# -- errors ---------------------------------------------------------------------------------------


def test_missing_current_column_is_named():
    detector = _detector().fit(benchmark_frame(1_000, 1))
    current = benchmark_frame(1_000, 2).drop(columns=["num_03", "cat_01"])

    with pytest.raises(ValueError, match=r"current data is missing column\(s\) 'num_03', 'cat_01'"):
        detector.compare(current)
    batches = [benchmark_frame(100, 3), current]
    with pytest.raises(ValueError, match=r"batch 2 is missing column\(s\) 'num_03'"):
        detector.compare_batches(batches)


def test_bad_inputs_are_named():
    frame = pd.DataFrame({"x": ["a", "b"], "y": [1.0, 2.0]})

    with pytest.raises(ValueError, match="'x' is declared numeric but has dtype"):
        DriftDetector(numeric=["x"]).fit(frame)
    with pytest.raises(ValueError, match="reference data is missing column\\(s\\) 'z'"):
        DriftDetector(numeric=["z"]).fit(frame)
    with pytest.raises(ValueError, match="'y' is declared both numeric and categorical"):
        DriftDetector(numeric=["y"], categorical=["y"]).fit(frame)
    with pytest.raises(RuntimeError, match="not fitted"):
        DriftDetector(numeric=["y"]).compare(frame)
    with pytest.raises(ValueError, match="no batches"):
        DriftDetector(numeric=["y"]).fit(frame).compare_batches([])
    ids = pd.DataFrame({"id": [f"u{i}" for i in range(50)]})
    few = _config(binning={"max_categories": 10})
    with pytest.raises(ValueError, match="'id' has 50 distinct values"):
        DriftDetector(categorical=["id"], config=few).fit(ids)


# -- prediction drift and report views ----------------------------------------------------------


def test_prediction_score_and_label_drift_use_the_same_api():
    # given a model's score (numeric) and predicted label (categorical)
    rng = np.random.default_rng(9)
    reference = pd.DataFrame({"score": rng.beta(2, 5, 5000)})
    reference["label"] = np.where(reference["score"] > 0.5, "yes", "no")
    current = pd.DataFrame({"score": rng.beta(3, 4, 5000)})
    current["label"] = np.where(current["score"] > 0.5, "yes", "no")

    report = DriftDetector(numeric=["score"], categorical=["label"]).fit(reference).compare(current)

    assert report.drifted_columns == ["score", "label"]


def test_report_views_are_json_and_one_row_per_metric():
    reference, current = benchmark_frame(5_000, 1), benchmark_frame(5_000, 2, drift=True)

    report: DriftReport = _detector().fit(reference).compare(current)

    text = json.dumps(report.to_dict(), allow_nan=False)
    assert json.loads(text)["drifted_columns"] == report.drifted_columns
    table = report.summary_table()
    assert len(table) == 7 * len(NUMERIC) + 5 * len(CATEGORICAL)
    psi = table[(table.column == "num_00") & (table.metric == "psi")].iloc[0]
    assert psi.threshold == 0.25
    assert psi.warning_threshold == 0.1
    informational = table[table.metric == "kl"]
    assert informational.metric_drifted.isna().all()
    histogram = report.column("num_00").histogram
    assert len(histogram.edges) == 31
    assert len(histogram.reference) == 30
    assert sum(histogram.reference) == pytest.approx(1)
    assert sum(histogram.current) == pytest.approx(1)
