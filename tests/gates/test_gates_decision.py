"""End-to-end gate decisions on synthetic data scored by small scikit-learn models."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from retrainer.config.gates import GatesSection
from retrainer.gates import (
    GateConfigError,
    GateInputs,
    GateReport,
    ModelEvidence,
    evaluate_gates,
    signature_problems,
)

SIGNATURE = [("x0", "double"), ("x1", "double"), ("x2", "double"), ("x3", "double")]


@dataclass
class Frame:
    """Synthetic rows: features, region segment and binary labels."""

    x: np.ndarray
    region: np.ndarray
    y: np.ndarray

    @property
    def east(self) -> np.ndarray:
        return (self.region == "east").astype(float)


def make_rows(n: int, seed: int, *, drift: float = 1.5, east_flip: bool = False) -> Frame:
    """Labels depend on x0, x1 and (after drift) x3; in 'east' x1 may act the other way."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    region = rng.choice(["north", "south", "east"], size=n, p=[0.4, 0.4, 0.2])
    x1_effect = np.where((region == "east") & east_flip, -2.0, 1.0) * x[:, 1]
    logit = x[:, 0] + x1_effect + drift * x[:, 3]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return Frame(x, region, y)


def fit_proba(
    train: Frame, holdout: Frame, columns: list[int], *, shuffle: bool = False
) -> np.ndarray:
    """P(y=1) on the holdout of a logistic regression on some feature columns."""
    y = np.random.default_rng(0).permutation(train.y) if shuffle else train.y
    model = LogisticRegression().fit(train.x[:, columns], y)
    return model.predict_proba(holdout.x[:, columns])[:, 1]


def gates(**section: object) -> GatesSection:
    return GatesSection.model_validate(section)


def evaluate(
    config: GatesSection,
    holdout: Frame,
    challenger: np.ndarray,
    champion: np.ndarray | None,
    *,
    segments: pd.DataFrame | None = None,
    **evidence: object,
) -> GateReport:
    segments = pd.DataFrame({"region": holdout.region}) if segments is None else segments
    return evaluate_gates(
        config,
        "binary",
        GateInputs(holdout.y, segments=segments),
        ModelEvidence(y_proba=challenger, signature=SIGNATURE, **evidence),
        None if champion is None else ModelEvidence(y_proba=champion, signature=SIGNATURE),
    )


@pytest.fixture(scope="module")
def drifted() -> dict[str, object]:
    """A stale champion (trained before x3 mattered) and fresh rows after the drift."""
    old = make_rows(3000, 1, drift=0.0)
    fresh = make_rows(3000, 2)
    holdout = make_rows(3000, 3)
    return {
        "holdout": holdout,
        "champion": fit_proba(old, holdout, [0, 1, 2]),
        "challenger": fit_proba(fresh, holdout, [0, 1, 2, 3]),
        "fresh": fresh,
    }


def test_clearly_better_challenger_passes_against_a_stale_champion(drifted: dict) -> None:
    # given a challenger trained after the drift and the stale champion
    # when gating with a floor and defaults (superiority, DeLong)
    report = evaluate(
        gates(absolute={"roc_auc": {"min": 0.7}}),
        drifted["holdout"],
        drifted["challenger"],
        drifted["champion"],
    )
    # then it passes and the comparison is significant
    assert report.passed, report.summary
    comparison = report.check("comparison[roc_auc]")
    assert comparison.verdict == "passed"
    assert comparison.details["test"] == "delong"
    assert comparison.details["verdict"] == "superior"
    assert report.summary.startswith("PASSED")


def test_worse_challenger_fails_and_the_report_names_the_failed_checks(drifted: dict) -> None:
    # given a challenger trained on shuffled labels
    worse = fit_proba(drifted["fresh"], drifted["holdout"], [0, 1, 2, 3], shuffle=True)
    # when gating against the champion
    report = evaluate(
        gates(absolute={"roc_auc": {"min": 0.7}}), drifted["holdout"], worse, drifted["champion"]
    )
    # then it fails; the comparison and the floor are named
    assert not report.passed
    failed = {c.name for c in report.failed_checks}
    assert {"comparison[roc_auc]", "absolute[roc_auc]"} <= failed
    assert "comparison[roc_auc]" in report.summary
    assert report.check("comparison[roc_auc]").details["verdict"] == "not_superior"


def test_a_challenger_trained_on_less_data_does_not_replace_the_champion() -> None:
    # given a champion trained on plenty of rows and a challenger on very few
    holdout = make_rows(3000, 5)
    champion = fit_proba(make_rows(3000, 6), holdout, [0, 1, 2, 3])
    challenger = fit_proba(make_rows(40, 7), holdout, [0, 1, 2, 3])
    # when gating with non-inferiority and a small margin on log_loss
    config = gates(comparison={"metric": "log_loss", "mode": "non_inferiority", "margin": 0.005})
    report = evaluate(config, holdout, challenger, champion)
    # then the bootstrap shows it inferior
    comparison = report.check("comparison[log_loss]")
    assert comparison.verdict == "failed"
    assert comparison.details["test"] == "bootstrap"
    assert comparison.details["verdict"] == "inferior"


@pytest.mark.parametrize(("policy", "passes"), [("reject", False), ("accept", True)])
def test_equal_skill_models_do_not_win_on_noise(policy: str, passes: bool) -> None:
    # given two models fitted the same way on two samples of the same distribution
    holdout = make_rows(2000, 10)
    champion = fit_proba(make_rows(3000, 11), holdout, [0, 1, 2, 3])
    challenger = fit_proba(make_rows(3000, 12), holdout, [0, 1, 2, 3])
    # when gating for superiority with the configured inconclusive policy
    report = evaluate(gates(comparison={"on_inconclusive": policy}), holdout, challenger, champion)
    # then the comparison is not significant and the policy decides
    comparison = report.check("comparison[roc_auc]")
    assert comparison.details["verdict"] == "inconclusive"
    assert comparison.details["significant"] is False
    assert f"on_inconclusive: {policy}" in comparison.message
    assert report.passed is passes


def test_better_overall_but_worse_on_one_segment_fails_naming_the_segment() -> None:
    # given a champion that models the 'east' segment and a challenger that catches the drift
    # but ignores east's reversed x1 effect
    train = make_rows(4000, 20, east_flip=True)
    holdout = make_rows(4000, 21, east_flip=True)
    model = LogisticRegression()
    champ_features = np.c_[train.x[:, :2], train.x[:, 1] * train.east, train.east]
    model.fit(champ_features, train.y)
    champion = model.predict_proba(
        np.c_[holdout.x[:, :2], holdout.x[:, 1] * holdout.east, holdout.east]
    )[:, 1]
    challenger = fit_proba(train, holdout, [0, 1, 3])
    # when gating with segment checks on region
    report = evaluate(gates(), holdout, challenger, champion)
    # then the overall comparison passes but the east segment fails the gate
    assert report.check("comparison[roc_auc]").verdict == "passed"
    east = report.check("segment[region=east]")
    assert east.verdict == "failed"
    assert east.details["improvement"] < 0
    assert report.check("segment[region=north]").verdict == "passed"
    assert not report.passed
    assert "segment[region=east]" in report.summary


def _segment_regression_rows() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Labels, region, champion and challenger scores: the challenger is noisier in 'east'."""
    rng = np.random.default_rng(30)
    n = 6000
    region = rng.choice(["north", "south", "east"], size=n, p=[0.4, 0.4, 0.2])
    y = (rng.random(n) < 0.3).astype(int)
    signal = y + rng.normal(size=n)
    noisier = np.where(region == "east", signal + 0.85 * rng.normal(size=n), signal)
    champion = 1 / (1 + np.exp(-(1.5 * signal - 1)))
    challenger = 1 / (1 + np.exp(-(1.5 * noisier - 1)))
    return y, region, champion, challenger


@pytest.mark.parametrize(("max_regression", "fails"), [(0.05, False), (0.02, True)])
def test_a_segment_fails_only_when_significantly_worse_than_the_tolerated_regression(
    max_regression: float, fails: bool
) -> None:
    # given a challenger worse than the champion on 'east' by a bit more than 0.05 AUC, with
    # an interval entirely below zero but reaching above -0.05
    y, region, champion, challenger = _segment_regression_rows()
    config = gates(segments={"max_regression": max_regression})

    # when gating with that tolerated regression
    report = evaluate_gates(
        config,
        "binary",
        GateInputs(y, segments=pd.DataFrame({"region": region})),
        ModelEvidence(y_proba=challenger),
        ModelEvidence(y_proba=champion),
    )

    # then the segment is tested against the tolerance, not against zero
    east = report.check("segment[region=east]")
    assert east.details["threshold"] == -max_regression
    assert -east.details["improvement"] > max_regression  # the point estimate is beyond it
    assert east.details["ci_high"] < 0  # and significantly worse than the champion
    if fails:
        # the whole interval lies below -max_regression: significantly beyond the tolerance
        assert east.details["ci_high"] < -max_regression
        assert east.verdict == "failed"
        assert "segment[region=east]" in [c.name for c in report.failed_checks]
    else:
        # the data cannot tell the regression from the tolerated 0.05: the segment passes
        assert east.details["ci_high"] > -max_regression
        assert east.verdict == "passed"
        assert "not significantly beyond the tolerance 0.05" in east.message
        assert "segment[region=east]" not in [c.name for c in report.failed_checks]


def test_a_holdout_that_may_not_be_fresh_fails_closed(drifted: dict) -> None:
    # given a challenger that would pass on these rows, but they are not known to be unseen
    args = (drifted["holdout"], drifted["challenger"], drifted["champion"])
    assert evaluate(gates(), *args).passed

    # when gating with the reason the rows may not be fresh
    holdout = drifted["holdout"]
    report = evaluate_gates(
        gates(),
        "binary",
        GateInputs(holdout.y, segments=pd.DataFrame({"region": holdout.region})),
        ModelEvidence(y_proba=drifted["challenger"], signature=SIGNATURE),
        ModelEvidence(y_proba=drifted["champion"], signature=SIGNATURE),
        holdout_not_fresh="no recorded holdout dates: v3 was registered outside the train flow",
    )

    # then the holdout check fails with that reason and the gate fails
    check = report.check("holdout")
    assert check.verdict == "failed"
    assert check.message.startswith("no recorded holdout dates")
    assert not report.passed
    assert [c.name for c in report.failed_checks] == ["holdout"]


def test_a_tiny_segment_is_reported_as_insufficient_data(drifted: dict) -> None:
    # given a segment column where one value has only 30 rows
    holdout = drifted["holdout"]
    channel = np.where(np.arange(len(holdout.y)) < 30, "kiosk", "web")
    segments = pd.DataFrame({"channel": channel})
    args = (holdout, drifted["challenger"], drifted["champion"])
    # when gating with the default policy and with insufficient_data: fail
    reported = evaluate(gates(), *args, segments=segments)
    failing = evaluate(gates(segments={"insufficient_data": "fail"}), *args, segments=segments)
    # then the kiosk segment is insufficient_data: reported, and blocking only when configured
    kiosk = reported.check("segment[channel=kiosk]")
    assert kiosk.verdict == "insufficient_data"
    assert "30 rows < min_support 200" in kiosk.message
    assert reported.passed
    assert "insufficient data" in reported.summary
    assert not failing.passed
    assert [c.name for c in failing.failed_checks] == ["segment[channel=kiosk]"]


def test_without_a_champion_only_absolute_floors_and_sanity_decide(drifted: dict) -> None:
    # given no champion
    holdout, challenger = drifted["holdout"], drifted["challenger"]
    # when gating with a reachable and with an unreachable floor
    ok = evaluate(gates(absolute={"roc_auc": {"min": 0.7}}), holdout, challenger, None)
    too_high = evaluate(gates(absolute={"roc_auc": {"min": 0.99}}), holdout, challenger, None)
    # then the comparison and segments are skipped and the floor decides
    assert ok.passed
    comparison = ok.check("comparison[roc_auc]")
    assert comparison.verdict == "skipped"
    assert comparison.message == "no champion: judged on absolute bounds and sanity only"
    assert ok.check("segments").verdict == "skipped"
    assert not too_high.passed
    assert [c.name for c in too_high.failed_checks] == ["absolute[roc_auc]"]


def test_segment_floors_apply_without_a_champion(drifted: dict) -> None:
    # given per-segment floors and no champion
    config = gates(segments={"floors": {"roc_auc": {"min": 0.99}}})
    # when gating
    report = evaluate(config, drifted["holdout"], drifted["challenger"], None)
    # then every segment's floor is checked and fails
    floors = [c for c in report.checks if c.name.endswith(".roc_auc")]
    assert {c.name for c in floors} == {
        "segment[region=north].roc_auc",
        "segment[region=south].roc_auc",
        "segment[region=east].roc_auc",
    }
    assert all(c.verdict == "failed" for c in floors)


def test_a_missing_metric_fails_closed(drifted: dict) -> None:
    # given a challenger that only gives hard labels, and a floor on AUC (needs scores)
    holdout = drifted["holdout"]
    labels = (drifted["challenger"] >= 0.5).astype(int)
    # when gating
    report = evaluate_gates(
        gates(absolute={"roc_auc": {"min": 0.5}}),
        "binary",
        GateInputs(holdout.y),
        ModelEvidence(y_pred=labels),
    )
    # then the floor fails with "metric roc_auc missing"
    check = report.check("absolute[roc_auc]")
    assert check.verdict == "failed"
    assert check.message.startswith("metric roc_auc missing")
    assert not report.passed


def test_an_uncomputable_metric_fails_closed(drifted: dict) -> None:
    # given a challenger that never predicts the positive class, and a precision floor
    holdout = drifted["holdout"]
    timid = drifted["challenger"] * 0.4
    # when gating
    report = evaluate(gates(absolute={"precision": {"min": 0.1}}), holdout, timid, None)
    # then the floor fails and says why
    check = report.check("absolute[precision]")
    assert check.verdict == "failed"
    assert "no positive prediction" in check.message


def test_nan_predictions_fail_sanity(drifted: dict) -> None:
    # given a challenger with NaN probabilities
    broken = drifted["challenger"].copy()
    broken[:5] = np.nan
    # when gating
    report = evaluate(gates(), drifted["holdout"], broken, drifted["champion"])
    # then sanity fails and metric-based checks fail closed instead of passing
    assert report.check("sanity.predictions").verdict == "failed"
    assert "5 NaN/inf" in report.check("sanity.predictions").message
    assert report.check("absolute[roc_auc]").verdict == "failed"
    assert report.check("comparison[roc_auc]").verdict == "failed"
    assert not report.passed


def test_probabilities_outside_zero_one_fail_sanity(drifted: dict) -> None:
    # given scores that are not probabilities
    scores = drifted["challenger"] * 3 - 1
    # when gating
    report = evaluate(gates(), drifted["holdout"], scores, None)
    # then sanity fails
    assert report.check("sanity.predictions").verdict == "failed"
    assert "outside [0, 1]" in report.check("sanity.predictions").message


@pytest.mark.parametrize(
    ("challenger_signature", "passes", "fragment"),
    [
        ([("x0", "double"), ("x1", "double"), ("x2", "double")], False, "['x3']"),
        ([*SIGNATURE, ("x4", "double")], False, "['x4']"),
        ([("x0", "string"), *SIGNATURE[1:]], False, "champion takes double"),
        ([("x0", "float64"), ("x1", "double"), ("x2", "double"), ("x3", "double")], True, ""),
    ],
)
def test_signature_mismatch_fails(
    drifted: dict, challenger_signature: list, passes: bool, fragment: str
) -> None:
    # given signatures that differ from the champion's
    holdout = drifted["holdout"]
    # when gating
    report = evaluate_gates(
        gates(comparison={"on_inconclusive": "accept"}),
        "binary",
        GateInputs(holdout.y),
        ModelEvidence(y_proba=drifted["challenger"], signature=challenger_signature),
        ModelEvidence(y_proba=drifted["champion"], signature=SIGNATURE),
    )
    # then a missing/extra column or incompatible type fails; equivalent types pass
    check = report.check("sanity.signature")
    assert (check.verdict == "passed") is passes
    assert fragment in check.message


def test_integer_columns_may_widen_to_double() -> None:
    # given a champion taking int32 columns and a challenger expecting double
    # when comparing signatures both ways
    # then long → double is accepted, double → long is not
    assert signature_problems([("age", "double")], [("age", "int32")]) == []
    assert signature_problems([("age", "integer")], [("age", "double")]) != []


def test_latency_and_size_budgets(drifted: dict) -> None:
    # given budgets of 10 ms per 1,000 rows and 5 MB
    config = gates(sanity={"max_latency_ms_per_1k_rows": 10, "max_model_size_mb": 5})
    args = (config, drifted["holdout"], drifted["challenger"], None)
    # when the challenger is fast and small, slow and big, or unmeasured
    within = evaluate(*args, latency_ms_per_1k=4.0, size_bytes=2 * 1024 * 1024)
    over = evaluate(*args, latency_ms_per_1k=25.0, size_bytes=50 * 1024 * 1024)
    unmeasured = evaluate(*args)
    # then only the first passes; unmeasured fails closed
    assert within.passed
    assert {c.name for c in over.failed_checks} == {"sanity.latency", "sanity.model_size"}
    assert unmeasured.check("sanity.latency").message == "not measured"
    assert not unmeasured.passed


def test_human_approval_is_pending_until_the_flow_records_a_decision(drifted: dict) -> None:
    # given a gate that requires human approval
    config = gates(human_approval={"required": True, "timeout_seconds": 600})
    report = evaluate(config, drifted["holdout"], drifted["challenger"], drifted["champion"])
    # when the automatic checks passed but nobody decided yet
    # then the gate is not passed and waits; a decision resolves it
    assert not report.passed
    assert report.automatic_checks_passed
    assert report.awaiting_approval
    approved = report.with_human_approval("approved", reviewer="ana", comment="looks good")
    assert approved.passed
    assert approved.check("human_approval").message == "approved by ana: looks good"
    rejected = report.with_human_approval("rejected", reviewer="bo")
    assert not rejected.passed
    assert not report.with_human_approval("timed_out", timeout_seconds=600).passed


def test_report_renders_as_markdown_and_json(drifted: dict) -> None:
    # given a report
    report = evaluate(gates(), drifted["holdout"], drifted["challenger"], drifted["champion"])
    # when rendering it
    markdown = report.to_markdown()
    payload = json.loads(json.dumps(report.to_dict()))
    # then the table has one row per check and the dict carries verdicts and metrics
    assert "| check | observed | threshold | verdict | message |" in markdown
    rows = [line for line in markdown.splitlines() if line.startswith("|")]
    assert len(rows) == 2 + len(report.checks)  # header, separator, one row per check
    assert payload["passed"] is report.passed
    assert [c["name"] for c in payload["checks"]] == [c.name for c in report.checks]
    assert payload["metrics"]["champion"]["roc_auc"] < payload["metrics"]["challenger"]["roc_auc"]


def test_regression_gate_uses_the_bootstrap_on_rmse() -> None:
    # given a regression where the challenger uses a feature the champion lacks
    rng = np.random.default_rng(30)
    x = rng.normal(size=(3000, 3))
    y = 2 * x[:, 0] + x[:, 1] + rng.normal(0, 0.5, 3000)
    train, test = slice(0, 1500), slice(1500, 3000)
    champion = LinearRegression().fit(x[train, :1], y[train]).predict(x[test, :1])
    challenger = LinearRegression().fit(x[train], y[train]).predict(x[test])
    # when gating with an rmse ceiling
    report = evaluate_gates(
        gates(
            absolute={"rmse": {"max": 1.0}},
            comparison={"n_bootstrap": 500},
            sanity={"require_signature_compatible": False},
        ),
        "regression",
        GateInputs(y[test]),
        ModelEvidence(y_pred=challenger),
        ModelEvidence(y_pred=champion),
    )
    # then the challenger passes with a significant rmse reduction
    assert report.passed, report.summary
    assert report.check("sanity.signature").verdict == "skipped"
    comparison = report.check("comparison[rmse]")
    assert comparison.details["test"] == "bootstrap"
    assert comparison.details["difference"] < 0


def test_multiclass_champion_missing_a_class_is_aligned_by_class_labels() -> None:
    # given three classes; the champion never saw 'c' and lists its columns as [b, a]
    rng = np.random.default_rng(40)
    y = rng.choice(["a", "b", "c"], size=1500)
    good = np.full((1500, 3), 0.1)
    good[np.arange(1500), np.searchsorted(["a", "b", "c"], y)] = 0.8
    champion = np.where((y == "a")[:, None], [[0.3, 0.7]], [[0.7, 0.3]])
    # when gating multiclass on log_loss
    report = evaluate_gates(
        gates(comparison={"n_bootstrap": 300}),
        "multiclass",
        GateInputs(y, classes=["a", "b", "c"]),
        ModelEvidence(y_proba=good),
        ModelEvidence(y_proba=champion, classes=["b", "a"]),
    )
    # then the comparison runs on aligned columns and the challenger wins
    comparison = report.check("comparison[log_loss]")
    assert comparison.verdict == "passed", comparison.message
    assert report.metrics["champion"]["accuracy"] == pytest.approx(np.mean(y != "c"))


def test_config_that_does_not_fit_the_task_raises_naming_the_field(drifted: dict) -> None:
    # given an AUC floor for a regression task
    config = gates(absolute={"roc_auc": {"min": 0.7}})
    # when evaluating
    # then the error names the field
    with pytest.raises(GateConfigError, match=r"gates\.absolute\.roc_auc"):
        evaluate_gates(
            config, "regression", GateInputs(np.zeros(3)), ModelEvidence(y_pred=[1, 2, 3])
        )


def test_a_too_small_holdout_fails_the_gate(drifted: dict) -> None:
    # given 100 holdout rows (default minimum 200)
    holdout = drifted["holdout"]
    # when gating
    report = evaluate_gates(
        gates(),
        "binary",
        GateInputs(holdout.y[:100]),
        ModelEvidence(y_proba=drifted["challenger"][:100]),
    )
    # then the holdout check fails
    assert report.check("holdout").verdict == "failed"
    assert not report.passed


def test_a_verdict_without_the_metric_tables_is_the_same_verdict(drifted: dict) -> None:
    # given the stale champion and the fresh challenger
    holdout = drifted["holdout"]
    inputs = GateInputs(holdout.y, segments=pd.DataFrame({"region": holdout.region}))
    challenger = ModelEvidence(y_proba=drifted["challenger"], signature=SIGNATURE)
    champion = ModelEvidence(y_proba=drifted["champion"], signature=SIGNATURE)
    config = gates(absolute={"roc_auc": {"min": 0.7}})

    # when gating with and without the report's metric tables (the backtest's replay)
    full = evaluate_gates(config, "binary", inputs, challenger, champion)
    lean = evaluate_gates(config, "binary", inputs, challenger, champion, metric_tables=False)

    # then the checks and the verdict are identical; only the tables are left out
    assert lean.checks == full.checks
    assert (lean.passed, lean.summary) == (full.passed, full.summary)
    assert set(full.metrics) == {"challenger", "champion"}
    assert lean.metrics == {}
