"""Each data incident is rejected with a message naming the column and the expectation.

Runs Great Expectations on the shared suite (built once per session from 14 clean days).
"""

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from validation_helpers import INCIDENT_DAYS, clean_batch, loan_columns

from retrainer.config.validation import ValidationSection
from retrainer.validation import BatchValidation, build_suite, validate_batch

BETWEEN = "expect_column_values_to_be_between"

# incident kind -> (column named, expectation named)
EXPECTED = {
    "schema_break": ("debt_to_income", "expect_table_columns_to_match_set"),
    "null_burst": ("income", "expect_column_values_to_not_be_null"),
    "unit_change": ("loan_amount", BETWEEN),
    "new_category": ("channel", "expect_column_values_to_be_in_set"),
    "dtype_break": ("credit_score", "expect_column_values_to_be_in_dtype_list"),
    "duplicate_ids": ("loan_id", "expect_column_values_to_be_unique"),
    "empty_batch": (None, "expect_table_row_count_to_be_between"),
    "stale_dates": ("event_time", BETWEEN),
}


def _validate(suite, frame: pd.DataFrame, day: date) -> BatchValidation:
    return validate_batch(
        frame, suite, label=day.isoformat(), dates=[day], previous=day - timedelta(days=1)
    )


def _assert_rejected(batch: BatchValidation, column: str | None, expectation: str) -> None:
    assert batch.verdict == "invalid", batch.findings
    assert batch.blocked
    named = [f for f in batch.errors if f.column == column and f.expectation == expectation]
    assert named, [f.message for f in batch.findings]
    prefix = f"{column or '(table)'}: {expectation} failed: "
    assert named[0].message.startswith(prefix)


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_simulated_incident_is_rejected_and_the_clean_batch_of_that_day_passes(stream, suite, kind):
    day = INCIDENT_DAYS[kind]
    column, expectation = EXPECTED[kind]

    # when validating the batch as delivered (with the incident) and as it should have been
    broken = _validate(suite, stream.feature_batch(day), day)
    clean = _validate(suite, clean_batch(stream, day), day)

    # then the broken one is invalid, naming the column and the expectation ...
    _assert_rejected(broken, column, expectation)
    # ... and the clean one passes every expectation
    assert clean.verdict == "valid", [f.message for f in clean.findings]
    assert clean.statistics["unsuccessful_expectations"] == 0


def test_messages_say_what_was_observed_against_what_was_expected(stream, suite):
    day = INCIDENT_DAYS["unit_change"]

    batch = _validate(suite, stream.feature_batch(day), day)

    finding = next(f for f in batch.errors if f.kind == "range")
    high = next(
        e["kwargs"]["max_value"]
        for e in suite.expectations
        if e["meta"]["retrainer"]["kind"] == "range" and e["kwargs"]["column"] == "loan_amount"
    )
    # e.g. "loan_amount: ...between failed: 2,000 of 2,000 values (100%) outside the plausible
    #       range [98.6, 1.17e6]: significantly more than the tolerated 1% (binomial p = 0 <
    #       0.001); observed min 1.35e6, max 9.45e7"
    assert "2,000 of 2,000 values (100%) outside the plausible range [" in finding.message
    assert "significantly more than the tolerated 1% (binomial p = 0 < 0.001)" in finding.message
    assert f"max {stream.feature_batch(day)['loan_amount'].max():.3g}".replace("e+0", "e") in (
        finding.message
    )
    assert finding.expected.startswith("[")
    assert finding.expected.endswith("≤ 1% outside")
    assert high > 0
    # the unit change is also named as such by the scale check
    scale = next(f for f in batch.errors if f.kind == "scale")
    assert scale.column == "loan_amount"
    assert "x10^3: a unit change?" in scale.message


def _one_day(stream) -> tuple[date, pd.DataFrame]:
    day = date(2026, 1, 30)
    return day, clean_batch(stream, day)


def test_hand_made_missing_column_is_rejected(stream, suite):
    day, frame = _one_day(stream)

    batch = _validate(suite, frame.drop(columns=["interest_rate"]), day)

    _assert_rejected(batch, "interest_rate", "expect_table_columns_to_match_set")
    # its other expectations are not reported again, only noted
    assert all(f.column != "interest_rate" or f.kind == "columns" for f in batch.findings)
    assert any(n.startswith("interest_rate:") and "missing" in n for n in batch.notes)


def test_hand_made_renamed_column_is_rejected_and_the_new_name_reported(stream, suite):
    day, frame = _one_day(stream)

    batch = _validate(suite, frame.rename(columns={"age": "age_years"}), day)

    _assert_rejected(batch, "age", "expect_table_columns_to_match_set")
    assert "'age_years'" in batch.errors[0].message
    assert [f.column for f in batch.warnings] == ["age_years"]


def test_hand_made_strings_in_a_numeric_column_are_rejected(stream, suite):
    day, frame = _one_day(stream)
    # an object column: mostly numbers, some text tokens
    values = frame["income"].astype(object)
    values.iloc[::10] = "unknown"

    batch = _validate(suite, frame.assign(income=values), day)

    _assert_rejected(batch, "income", "expect_column_values_to_be_in_dtype_list")
    assert "'unknown'" in batch.errors[0].message


def test_hand_made_null_burst_and_unit_change_are_rejected(stream, suite):
    day, frame = _one_day(stream)
    rng = np.random.default_rng(0)
    burst = frame["purpose"].mask(rng.random(len(frame)) < 0.3)

    batch = _validate(suite, frame.assign(purpose=burst, income=frame["income"] * 1000), day)

    _assert_rejected(batch, "purpose", "expect_column_values_to_not_be_null")
    _assert_rejected(batch, "income", BETWEEN)


def test_unseen_categories_warn_above_the_tolerated_share_and_block_as_a_flood(stream, suite):
    day, frame = _one_day(stream)
    few, many, flood = frame.copy(), frame.copy(), frame.copy()
    few.loc[few.index[:20], "region"] = "offshore"  # 1% < 2% tolerated
    many.loc[many.index[:100], "region"] = "offshore"  # 5%: significantly above 2%
    flood.loc[flood.index[:600], "region"] = "offshore"  # 30%: a flood (>= 25%)

    assert _validate(suite, few, day).verdict == "valid"
    warned = _validate(suite, many, day)
    blocked = _validate(suite, flood, day)

    # a new code is often drift: reported, the batch stays usable ...
    assert warned.verdict == "warning"
    [warning] = warned.warnings
    assert (warning.column, warning.expectation) == ("region", "expect_column_values_to_be_in_set")
    assert "'offshore' 5%" in warning.message
    # ... while a flood of unseen values is a broken feed
    _assert_rejected(blocked, "region", "expect_column_values_to_be_in_set")
    assert "a flood of unseen categories" in blocked.errors[0].message


def test_hand_made_duplicates_empty_and_stale_batches_are_rejected(stream, suite):
    day, frame = _one_day(stream)
    duplicated = pd.concat([frame, frame.iloc[:10]], ignore_index=True)
    stale = frame.assign(event_time=frame["event_time"] - pd.Timedelta(days=3))

    _assert_rejected(
        _validate(suite, duplicated, day), "loan_id", "expect_column_values_to_be_unique"
    )
    _assert_rejected(
        _validate(suite, frame.iloc[0:0], day), None, "expect_table_row_count_to_be_between"
    )
    batch = _validate(suite, stale, day)
    _assert_rejected(batch, "event_time", BETWEEN)
    # three days old is also older than the last accepted partition (the day before)
    assert {f.kind for f in batch.errors} == {"freshness", "monotonic_dates"}
    monotonic = next(f for f in batch.errors if f.kind == "monotonic_dates")
    assert monotonic.message.startswith(
        f"event_time: {BETWEEN} failed: 2,000 of 2,000 event times (100%) are older than the "
        "newest partition"
    )


def test_warnings_are_reported_but_do_not_block(stream, suite):
    day, frame = _one_day(stream)

    batch = _validate(suite, frame.assign(campaign="spring"), day)

    assert batch.verdict == "warning"
    assert not batch.blocked
    assert [(f.column, f.severity) for f in batch.findings] == [("campaign", "warning")]


def test_a_loosened_override_accepts_what_the_default_rejects(stream, profile, columns):
    day = INCIDENT_DAYS["new_category"]
    rules = ValidationSection.model_validate({"columns": {"channel": {"max_unseen_share": 0.5}}})
    loose = build_suite(profile, columns, rules, name="loose", source={})

    batch = _validate(loose, stream.feature_batch(day), day)

    assert batch.verdict == "valid", [f.message for f in batch.findings]


def test_a_file_without_partition_date_skips_the_time_checks_with_a_note(stream, suite):
    _day, frame = _one_day(stream)

    batch = validate_batch(frame, suite, label="adhoc.parquet")

    assert batch.verdict == "valid"
    assert any("no partition date" in note for note in batch.notes)
    assert any("no earlier partition" in note for note in batch.notes)


def test_explicit_row_bounds_replace_the_reference_ones(stream, profile, columns):
    day, frame = _one_day(stream)
    rules = ValidationSection.model_validate({"row_count": {"min_rows": 10, "max_rows": 1500}})
    bounded = build_suite(profile, columns, rules, name="bounded", source={})

    batch = _validate(bounded, frame, day)

    _assert_rejected(batch, None, "expect_table_row_count_to_be_between")
    assert batch.errors[0].message.endswith("2,000 rows, expected 10..1,500 rows")


def test_an_open_lower_row_bound_is_evaluated():
    from retrainer.config.core import ColumnsSection
    from retrainer.validation import profile_reference

    # given a reference without timestamps (no daily counts) and only an upper bound
    roles = ColumnsSection(id="id", timestamp="ts", target="y", numeric=["x"])
    reference = pd.DataFrame({"id": ["a", "b"], "x": [1.0, 2.0]})
    profile = profile_reference(
        reference,
        id_column="id",
        timestamp_column="ts",
        numeric_columns=["x"],
        categorical_columns=[],
    )
    rules = ValidationSection.model_validate({"row_count": {"max_rows": 3}, "drop": ["columns"]})
    suite = build_suite(profile, roles, rules, name="open", source={})

    small = validate_batch(pd.DataFrame({"id": ["c"], "x": [1.5]}), suite, label="small")
    large = validate_batch(pd.DataFrame({"id": list("cdef"), "x": [1.5] * 4}), suite, label="l")

    assert small.verdict == "valid", [f.message for f in small.findings]
    assert [f.kind for f in large.errors] == ["row_count"]
    assert large.errors[0].message.endswith("4 rows, expected none..3 rows")


# -- monotonic partition dates -------------------------------------------------------------
def _monotonic(batch: BatchValidation):
    return [f for f in batch.findings if f.kind == "monotonic_dates"]


def test_one_late_event_in_two_thousand_is_tolerated_but_one_percent_is_not(stream, suite):
    day, frame = _one_day(stream)
    month_ago = frame["event_time"] - pd.Timedelta(days=30)
    # given a clean day with 1 event (0.05%) and with 20 events (1%) from 30 days ago
    one = frame.assign(event_time=frame["event_time"].mask(frame.index == 0, month_ago))
    twenty = frame.assign(event_time=frame["event_time"].mask(frame.index < 20, month_ago))

    # when validated after the previous day was accepted
    tolerated = _validate(suite, one, day)
    rejected = _validate(suite, twenty, day)

    # then one replayed row does not block the day (freshness tolerates it as well) ...
    assert tolerated.verdict == "valid", [f.message for f in tolerated.findings]
    # ... while 1% late events fail the monotonic-dates check, naming the share
    [finding] = _monotonic(rejected)
    assert finding.severity == "error"
    assert finding.message.startswith(
        f"event_time: {BETWEEN} failed: 20 of 2,000 event times (1%) are older"
    )
    assert "significantly more than the tolerated late share 0.1%" in finding.message


def test_the_tolerated_share_of_late_events_is_configurable(stream, profile, columns):
    day, frame = _one_day(stream)
    month_ago = frame["event_time"] - pd.Timedelta(days=30)
    twenty = frame.assign(event_time=frame["event_time"].mask(frame.index < 20, month_ago))
    rules = ValidationSection.model_validate(
        {"timestamps": {"max_late_share": 0.02, "max_outside_share": 0.02}}
    )
    lenient = build_suite(profile, columns, rules, name="lenient", source={})

    batch = _validate(lenient, twenty, day)

    assert batch.verdict == "valid", [f.message for f in batch.findings]


def test_a_partition_older_than_the_newest_accepted_one_fails_as_a_whole(stream, suite):
    day, frame = _one_day(stream)

    # when the day is validated after a newer partition (3 days later) was accepted
    batch = validate_batch(
        frame, suite, label=day.isoformat(), dates=[day], previous=day + timedelta(days=3)
    )

    # then every event is too old: it arrived out of order
    [finding] = _monotonic(batch)
    assert batch.blocked
    assert finding.unexpected_share == 1.0
    assert "a partition out of order" in finding.message


# -- per-column extra expectations and explicit overrides -----------------------------------
def test_an_extra_expectation_from_the_config_checks_its_column(stream, profile, columns):
    day, frame = _one_day(stream)
    prefix = frame["loan_id"].str[:1].iloc[0]
    rules = ValidationSection.model_validate(
        {
            "columns": {
                "loan_id": {
                    "extra_expectations": [
                        {
                            "type": "ExpectColumnValuesToMatchRegex",
                            "kwargs": {"regex": f"^{prefix}"},
                        }
                    ]
                },
                "purpose": {
                    "extra_expectations": [
                        {
                            "type": "expect_column_value_lengths_to_be_between",
                            "kwargs": {"min_value": 1, "max_value": 3},
                            "severity": "warning",
                        }
                    ]
                },
            }
        }
    )
    checked = build_suite(profile, columns, rules, name="extra", source={})
    renamed = frame.assign(loan_id="X" + frame["loan_id"].str[1:])

    clean = _validate(checked, frame, day)
    broken = _validate(checked, renamed, day)

    # then a clean batch breaks only the warning (purposes are longer than 3 characters) ...
    assert clean.verdict == "warning"
    [warning] = clean.warnings
    assert warning.column == "purpose"
    assert warning.expectation == "expect_column_value_lengths_to_be_between"
    # ... and ids that no longer match the pattern block the batch, naming column and check
    _assert_rejected(broken, "loan_id", "expect_column_values_to_match_regex")
    assert "100% unexpected" in broken.errors[0].message
    assert "validation.columns.loan_id.extra_expectations" in broken.errors[0].message


def test_allowed_values_on_a_column_missing_from_the_reference_are_checked(stream, profile):
    from retrainer.config.core import ColumnsSection

    day, frame = _one_day(stream)
    # given a configured categorical column the reference data does not have
    roles = ColumnsSection.model_validate(
        {**loan_columns().model_dump(), "categorical": [*loan_columns().categorical, "branch"]}
    )
    rules = ValidationSection.model_validate(
        {"columns": {"branch": {"allowed_values": ["north", "south"]}}}
    )
    suite = build_suite(profile, roles, rules, name="branch", source={})

    good = _validate(suite, frame.assign(branch="north"), day)
    bad = _validate(suite, frame.assign(branch="east"), day)

    # then its explicit value set is enforced (it used to be silently ignored); the clean
    # batch only gets the column-set warning (the reference schema has no such column)
    assert not good.blocked, [f.message for f in good.findings]
    assert [f.kind for f in good.findings] == ["column_set"]
    _assert_rejected(bad, "branch", "expect_column_values_to_be_in_set")
