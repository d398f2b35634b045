"""The gate document (status, round trip, MLflow metrics, event payload) and its HTML page."""

from __future__ import annotations

import json
import math

import pytest

from retrainer.gates import CheckResult, GateReport, gate_status, human_approval_check
from retrainer.gates.document import (
    flatten_metrics,
    gate_document,
    gate_event_payload,
    report_from_document,
)
from retrainer.gates.html import render_gate_html

HOLDOUT = {"start": "2026-03-10", "end": "2026-03-16", "rows": 2800, "as_of": "2026-03-20"}


def _segment(value: str, improvement: float, verdict: str = "passed") -> CheckResult:
    return CheckResult(
        f"segment[region={value}]",
        "segment",
        verdict,
        f"improvement {improvement:+.3f}",
        details={
            "improvement": improvement,
            "ci_low": improvement - 0.02,
            "ci_high": improvement + 0.02,
            "metric": "roc_auc",
        },
    )


def _report(*extra: CheckResult, comparison: str = "passed") -> GateReport:
    checks = (
        CheckResult("holdout", "holdout", "passed", "2,800 fresh labelled rows", observed=2800),
        CheckResult(
            "comparison[roc_auc]",
            "comparison",
            comparison,
            "roc_auc: improvement +0.03",
            observed="0.81 vs 0.78",
            threshold="CI lower bound > +0",
            details={"difference": 0.03, "ci_low": 0.01, "ci_high": math.nan, "p_better": 1e-4},
        ),
        *extra,
    )
    metrics = {"challenger": {"roc_auc": 0.81, "f1": None}, "champion": {"roc_auc": 0.78}}
    return GateReport("binary", checks, has_champion=True, metrics=metrics)


def _document(report: GateReport) -> dict:
    return gate_document(
        report, model="credit", challenger_version="3", champion_version="2", holdout=HOLDOUT
    )


@pytest.mark.parametrize(
    ("comparison", "approval", "status"),
    [
        ("passed", None, "passed"),
        ("failed", None, "failed"),
        ("passed", "pending", "awaiting_approval"),
        ("failed", "pending", "failed"),  # a person is asked only after the automatic checks
        ("passed", "rejected", "failed"),
    ],
)
def test_the_gate_status_waits_for_a_person_only_after_the_automatic_checks(
    comparison, approval, status
):
    extra = (human_approval_check(approval),) if approval else ()
    assert gate_status(_report(*extra, comparison=comparison)) == status


def test_the_logged_document_rebuilds_the_same_report():
    # given the document a gate logs, written as JSON and read back
    report = _report(_segment("north", 0.05), human_approval_check("pending"))
    document = json.loads(json.dumps(_document(report)))
    # when the report is rebuilt from it (as `retrainer approve` does)
    rebuilt = report_from_document(document)
    # then it says the same: status, checks, summary and metrics
    assert document["status"] == "awaiting_approval"
    assert document["holdout"] == HOLDOUT
    assert rebuilt.to_dict() == json.loads(json.dumps(report.to_dict()))
    assert gate_status(rebuilt) == "awaiting_approval"


def test_the_mlflow_metrics_leave_out_what_is_not_a_finite_number():
    # when a report's metrics are flattened for MLflow
    metrics = flatten_metrics(_report(_segment("north", 0.05)))
    # then each model's metrics and each check's figures are there under valid names
    assert metrics["challenger_roc_auc"] == 0.81
    assert metrics["champion_roc_auc"] == 0.78
    assert metrics["comparison_roc_auc_.difference"] == 0.03
    assert metrics["comparison_roc_auc_.p_better"] == 1e-4
    assert metrics["segment_region_north_.ci_low"] == pytest.approx(0.03)
    assert (metrics["passed"], metrics["checks_failed"]) == (1.0, 0.0)
    # and None / NaN values are left out
    assert "challenger_f1" not in metrics
    assert "comparison_roc_auc_.ci_high" not in metrics


def test_the_event_payload_carries_each_failed_check_in_full():
    # given a failed gate's document
    document = _document(_report(_segment("east", -0.2, "failed"), comparison="failed"))
    # when the event payload is built
    payload = gate_event_payload(document)
    # then it names the versions and holds every failed check with its figures
    assert (payload["version"], payload["champion_version"]) == ("3", "2")
    assert [c["name"] for c in payload["failed_checks"]] == [
        "comparison[roc_auc]",
        "segment[region=east]",
    ]
    assert payload["failed_checks"][1]["details"]["improvement"] == -0.2
    assert payload["holdout"] == HOLDOUT
    assert payload["summary"].startswith("FAILED: 2 of 3 checks failed")


def test_the_html_report_shows_checks_metrics_and_the_segment_chart():
    # given a report with two segments, for a model whose name needs escaping
    report = _report(_segment("north", 0.05), _segment("east", -0.2, "failed"))
    # when rendered
    page = render_gate_html("credit<v2>", report, "v3", "v2", "2026-03-10..2026-03-16", ["a note"])
    # then the title, facts, notes, every check and both models' metrics are on the page
    assert "<title>Gate: credit&lt;v2&gt; v3</title>" in page
    assert "model: credit&lt;v2&gt; · challenger: v3 · champion: v2" in page
    assert "<p>a note</p>" in page
    assert '<td><span class="verdict bad">failed</span></td>' in page
    for name in ("holdout", "comparison[roc_auc]", "segment[region=east]"):
        assert f"<td>{name}</td>" in page
    assert "<h2>Holdout metrics (same rows for both models)</h2>" in page
    # and the per-segment differences as an embedded chart
    assert '<img src="data:image/png;base64,' in page
    assert 'alt="Per-segment difference with 95% interval"' in page


def test_a_gate_waiting_for_a_person_is_shown_as_pending():
    report = _report(human_approval_check("pending"))
    page = render_gate_html("credit", report, "v3", "none", "x", [])
    assert '<p><span class="verdict info">pending</span></p>' in page
    assert "Per-segment difference" not in page
