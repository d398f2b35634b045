"""Many small batches validated in one stacked GX run give what validating each alone gives."""

from datetime import date, timedelta

import pandas as pd
import pytest
from validation_helpers import INCIDENT_DAYS, clean_batch

from retrainer.config.validation import ValidationSection
from retrainer.validation import BatchInput, build_suite, validate_batch, validate_batches

pytestmark = pytest.mark.slow


def _signature(batch):
    return (
        batch.verdict,
        [
            (f.column, f.expectation, f.kind, f.severity, f.observed, f.expected, f.message)
            for f in batch.findings
        ],
        sorted(batch.notes),
        batch.statistics["evaluated_expectations"],
        batch.statistics["unsuccessful_expectations"],
    )


def _variants(stream) -> list[BatchInput]:
    """Every incident day of the stream, clean days, and hand-made oddities."""
    day = date(2026, 1, 30)
    frame = clean_batch(stream, day)
    late = frame.assign(
        event_time=frame["event_time"].mask(
            frame.index < 5, frame["event_time"] - pd.Timedelta(days=30)
        )
    )
    odd = [
        ("extra column", frame.assign(campaign="spring"), day - timedelta(days=1)),
        ("reordered", frame[list(reversed(frame.columns))], day - timedelta(days=1)),
        ("a few late events", late, day - timedelta(days=1)),
        ("out of order", frame, day + timedelta(days=3)),
        ("no previous", frame, None),
        ("null ids", frame.assign(loan_id=frame["loan_id"].mask(frame.index < 3)), None),
        ("a few outliers", frame.assign(income=frame["income"].mask(frame.index < 3, 1e9)), None),
        ("small day", frame.iloc[:24], day - timedelta(days=1)),
    ]
    items = [
        BatchInput(stream.feature_batch(d), d.isoformat(), [d], d - timedelta(days=1))
        for d in [*INCIDENT_DAYS.values(), date(2026, 1, 28), date(2026, 2, 2)]
    ]
    items += [BatchInput(f, label, [day], previous) for label, f, previous in odd]
    return items


def test_stacked_and_alone_validation_agree_finding_for_finding(stream, profile, columns):
    # given a suite with a row-wise and an aggregate extra expectation besides the derived ones
    rules = ValidationSection.model_validate(
        {
            "columns": {
                "loan_id": {
                    "extra_expectations": [
                        {"type": "expect_column_values_to_match_regex", "kwargs": {"regex": "^L"}}
                    ]
                },
                "income": {
                    "extra_expectations": [
                        {
                            "type": "expect_column_mean_to_be_between",
                            "kwargs": {"min_value": 1, "max_value": 1e6},
                            "severity": "warning",
                        }
                    ]
                },
            }
        }
    )
    suite = build_suite(profile, columns, rules, name="s", source={})
    items = _variants(stream)

    # when validating all of them together, and each alone
    together = validate_batches(items, suite)
    alone = [
        validate_batch(i.frame, suite, label=i.label, dates=i.dates, previous=i.previous)
        for i in items
    ]

    # then every batch has the same verdict, findings, notes and counts both ways
    assert [b.label for b in together] == [i.label for i in items]
    for stacked, single in zip(together, alone, strict=True):
        assert _signature(stacked) == _signature(single), stacked.label
    # and the incidents are among them (the comparison is not between two empty lists)
    assert sum(b.blocked for b in together) >= len(INCIDENT_DAYS) + 2
    # the clean ones shared one GX run
    clean = next(b for b in together if b.label == "2026-01-28")
    assert clean.result["meta"]["stacked_batches"] > 1
