"""Findings from GX results: formatting and folding of follow-on failures (no GX needed)."""

import pytest

from retrainer.validation import Finding, findings_from_result, verdict_of
from retrainer.validation.findings import fmt_number, fmt_share


def _result(kind, gx_type, kwargs, result, success=False, exception=None, severity="critical"):
    return {
        "success": success,
        "expectation_config": {
            "type": gx_type,
            "kwargs": kwargs,
            "meta": {"retrainer": {"kind": kind}},
            "severity": severity,
        },
        "result": result,
        "exception_info": {
            "raised_exception": exception is not None,
            "exception_message": exception,
        },
    }


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (2000, "2000"),
        (12_000, "1.2e4"),
        (411_000, "4.11e5"),
        (0.25, "0.25"),
        (391_000_000, "3.91e8"),
        (None, "none"),
    ],
)
def test_numbers_are_compact(value, text):
    assert fmt_number(value) == text


def test_shares_are_percentages():
    assert fmt_share(0.3125) == "31.2%"
    assert fmt_share(0.01) == "1%"
    assert fmt_share(0.0004) == "0.04%"


def test_failures_caused_by_a_missing_column_become_notes():
    # given GX results where income is missing and its range check raised
    result = {
        "results": [
            _result(
                "columns",
                "expect_table_columns_to_match_set",
                {"column_set": ["income", "age"], "exact_match": False},
                {"details": {"mismatched": {"missing": ["income"], "unexpected": ["income_usd"]}}},
            ),
            _result(
                "range",
                "expect_column_values_to_be_between",
                {"column": "income", "min_value": 0, "max_value": 1},
                {},
                exception='Error: The column "income" in BatchData does not exist.',
            ),
            _result(
                "range", "expect_column_values_to_be_between", {"column": "age"}, {}, success=True
            ),
        ]
    }

    findings, notes = findings_from_result(result)

    assert [(f.column, f.kind, f.severity) for f in findings] == [("income", "columns", "error")]
    assert "'income_usd'" in findings[0].message
    assert notes == [
        "income: expect_column_values_to_be_between not evaluated: the column is missing"
    ]


def test_an_unexplained_exception_is_an_error_finding():
    result = {
        "results": [
            _result(
                "range",
                "expect_column_values_to_be_between",
                {"column": "x"},
                {},
                exception="boom",
                severity="warning",
            )
        ]
    }

    findings, _ = findings_from_result(result)

    assert (
        findings[0].message
        == "x: expect_column_values_to_be_between failed: could not be evaluated: boom"
    )
    assert findings[0].severity == "warning"


def test_skipped_expectations_are_noted_with_their_reason():
    skipped = [
        {
            "type": "expect_column_min_to_be_between",
            "kwargs": {"column": "t"},
            "reason": "no earlier partition has been validated",
        }
    ]

    _, notes = findings_from_result({"results": []}, skipped)

    assert notes == [
        "t: expect_column_min_to_be_between not evaluated: no earlier partition has been validated"
    ]


def test_verdict_follows_the_worst_severity():
    error = Finding("a", "e", "range", "error", "", "", "")
    warning = Finding("b", "e", "column_set", "warning", "", "", "")

    assert verdict_of([]) == "valid"
    assert verdict_of([warning]) == "warning"
    assert verdict_of([warning, error]) == "invalid"
