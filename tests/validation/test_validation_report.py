"""HTML and markdown reports of validated batches."""

from retrainer.validation import BatchValidation, Finding, markdown_summary, render_html


def _batch(label: str, findings: list[Finding]) -> BatchValidation:
    return BatchValidation(
        label=label,
        rows=2000,
        suite_hash="abc123",
        suite_source="reference window 2026-01-01..2026-01-14 (suite abc123)",
        findings=findings,
        statistics={"evaluated_expectations": 52, "unsuccessful_expectations": len(findings)},
    )


UNIT = Finding(
    "loan_amount",
    "expect_column_values_to_be_between",
    "range",
    "error",
    "100% outside; max 9.1e7",
    "[0, 1.12e5], ≤ 1% outside",
    "loan_amount: expect_column_values_to_be_between failed: 100% of values outside [0, 1.12e5]",
)


def test_html_report_shows_the_verdict_suite_and_failed_expectations():
    html = render_html(_batch("2026-03-22", [UNIT]), model="credit-default")

    assert "<title>Data validation: 2026-03-22</title>" in html
    assert 'class="verdict bad">invalid<' in html
    assert "reference window 2026-01-01..2026-01-14 (suite abc123)" in html
    assert "loan_amount" in html
    assert "[0, 1.12e5], ≤ 1% outside" in html


def test_markdown_lists_failed_expectations_observed_vs_expected():
    text = markdown_summary([_batch("2026-03-21", []), _batch("2026-03-22", [UNIT])], "suite x")

    assert "| batch | severity | column | expectation | observed | expected |" in text
    assert (
        "| 2026-03-22 | error | loan_amount | expect_column_values_to_be_between | "
        "100% outside; max 9.1e7 | [0, 1.12e5], ≤ 1% outside |" in text
    )
    assert "| 2026-03-21 | valid | 2000 | 0 | 0 |" in text
