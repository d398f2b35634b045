"""Suites from a reference profile and the validation rules (no GX needed)."""

import math
from datetime import date

import pandas as pd
import pytest

from retrainer.config.validation import ValidationSection
from retrainer.validation import SuiteError, ValidationSuite, build_suite


def _by_kind(suite: ValidationSuite, kind: str, column: str | None = None) -> list[dict]:
    return [
        e
        for e in suite.expectations
        if e["meta"]["retrainer"]["kind"] == kind
        and (column is None or e["kwargs"].get("column") == column)
    ]


def _build(profile, roles, **rules) -> ValidationSuite:
    return build_suite(
        profile, roles, ValidationSection.model_validate(rules), name="s", source={"kind": "t"}
    )


def test_default_suite_covers_every_configured_column(suite, columns):
    # then each feature/id/timestamp column has presence, dtype and null checks ...
    required = set(columns.feature_table_columns)
    assert set(_by_kind(suite, "columns")[0]["kwargs"]["column_set"]) == required
    assert {e["kwargs"]["column"] for e in _by_kind(suite, "dtype")} == required
    assert {e["kwargs"]["column"] for e in _by_kind(suite, "not_null")} == required
    # ... numeric ranges, categorical value sets, unique ids, row counts and time checks
    assert {e["kwargs"]["column"] for e in _by_kind(suite, "range")} == set(columns.numeric)
    assert {e["kwargs"]["column"] for e in _by_kind(suite, "categories")} == set(
        columns.categorical
    )
    assert [e["kwargs"]["column"] for e in _by_kind(suite, "unique_id")] == ["loan_id"]
    assert len(_by_kind(suite, "row_count")) == 1
    assert [e["kwargs"]["column"] for e in _by_kind(suite, "freshness")] == ["event_time"]
    assert [e["kwargs"]["column"] for e in _by_kind(suite, "monotonic_dates")] == ["event_time"]
    # ... and each numeric column a unit-change (scale) check of Retrainer's own
    assert {c["kwargs"]["column"] for c in suite.checks} == set(columns.numeric)
    assert {c["meta"]["retrainer"]["kind"] for c in suite.checks} == {"scale"}
    # every expectation is an error except the column-set comparison and unseen categories
    severities = {e["meta"]["retrainer"]["kind"]: e["severity"] for e in suite.expectations}
    assert severities.pop("column_set") == "warning"
    assert severities.pop("categories") == "warning"
    assert set(severities.values()) == {"critical"}
    # row-wise expectations carry no GX `mostly`: their tolerance is judged per batch size
    assert not [e for e in suite.expectations if "mostly" in e["kwargs"]]


def test_ranges_are_plausibility_bounds_in_log_space_for_skewed_positive_columns(profile, columns):
    # given incomes: positive, spanning more than a factor of 10 (a log-space column)
    income = profile.profiles["income"]
    low, high = income.quantile(0.001), income.quantile(0.999)
    spread = math.log10(income.quantile(0.75) / income.quantile(0.25))

    suite = _build(profile, columns, numeric={"margin": 3.0, "min_decades": 0.5})

    # then the quantiles are widened by 3 log10-IQRs (or 0.5 decades) on each side
    expectation = _by_kind(suite, "range", "income")[0]
    widen = max(3.0 * spread, 0.5)
    assert expectation["kwargs"]["max_value"] == pytest.approx(high * 10**widen, 1e-5)
    assert expectation["kwargs"]["min_value"] == pytest.approx(low / 10**widen, 1e-5)
    assert expectation["meta"]["retrainer"]["space"] == "log10"
    assert expectation["meta"]["retrainer"]["max_outside_share"] == 0.01


def test_linear_ranges_widen_by_the_spread_or_the_magnitude_and_keep_the_sign(profile, columns):
    # given credit scores: positive and narrow (300..850), never negative
    score = profile.profiles["credit_score"]
    low, high = score.quantile(0.001), score.quantile(0.999)

    suite = _build(profile, columns)
    off = _build(profile, columns, numeric={"keep_sign": False})

    # then the bounds widen by 2x the magnitude (wider than 3 IQRs here) ...
    expectation = _by_kind(suite, "range", "credit_score")[0]
    assert expectation["meta"]["retrainer"]["space"] == "linear"
    assert expectation["kwargs"]["max_value"] == pytest.approx(high + 2 * high, 1e-5)
    # ... but never below 0: a negative score is broken data, not drift
    assert expectation["kwargs"]["min_value"] == 0.0
    unsigned = _by_kind(off, "range", "credit_score")[0]
    assert unsigned["kwargs"]["min_value"] == pytest.approx(low - 2 * high, 1e-5)


def test_overrides_add_loosen_and_drop_per_column(profile, columns):
    suite = _build(
        profile,
        columns,
        columns={
            "income": {"min_value": 5000, "max_value": 2e6, "severity": {"range": "warning"}},
            "loan_amount": {"margin": 6.0, "max_outside_share": 0.1},
            "utilization": {"max_null_share": 0.5},
            "channel": {"extra_values": ["aggregator"], "max_unseen_share": 0.2},
            "purpose": {"allowed_values": ["car", "medical"]},
            "age": {"drop": ["range", "not_null"]},
            "open_accounts": {"ignore": True},
        },
    )
    default = _build(profile, columns)

    income = _by_kind(suite, "range", "income")[0]
    assert (income["kwargs"]["min_value"], income["kwargs"]["max_value"]) == (5000, 2e6)
    assert income["severity"] == "warning"
    wide, narrow = (
        _by_kind(suite, "range", "loan_amount")[0],
        _by_kind(default, "range", "loan_amount")[0],
    )
    assert wide["kwargs"]["max_value"] > narrow["kwargs"]["max_value"]
    assert wide["meta"]["retrainer"]["max_outside_share"] == 0.1
    utilization = _by_kind(suite, "not_null", "utilization")[0]
    assert utilization["meta"]["retrainer"]["max_null_share"] == 0.5
    channel = _by_kind(suite, "categories", "channel")[0]
    assert "aggregator" in channel["kwargs"]["value_set"]
    assert channel["meta"]["retrainer"]["max_unseen_share"] == 0.2
    assert _by_kind(suite, "categories", "purpose")[0]["kwargs"]["value_set"] == ["car", "medical"]
    assert not _by_kind(suite, "range", "age")
    assert not _by_kind(suite, "not_null", "age")
    assert _by_kind(suite, "dtype", "age")  # only the dropped kinds go
    assert not [e for e in suite.expectations if e["kwargs"].get("column") == "open_accounts"]
    assert "open_accounts" not in _by_kind(suite, "columns")[0]["kwargs"]["column_set"]


def test_kinds_can_be_dropped_for_all_columns(profile, columns):
    suite = _build(profile, columns, drop=["range", "freshness", "column_set"])

    kinds = suite.kinds()
    assert "range" not in kinds
    assert "freshness" not in kinds
    assert "column_set" not in kinds
    assert kinds["dtype"] == len(columns.feature_table_columns)


def test_an_override_for_an_unknown_or_unfit_column_names_it(profile, columns):
    with pytest.raises(SuiteError, match=r"validation\.columns\.incme: no such column"):
        _build(profile, columns, columns={"incme": {"max_value": 3}})
    with pytest.raises(SuiteError, match=r"validation\.columns\.channel: max_value only apply"):
        _build(profile, columns, columns={"channel": {"max_value": 3}})
    with pytest.raises(SuiteError, match=r"validation\.columns\.income: allowed_values only"):
        _build(profile, columns, columns={"income": {"allowed_values": [1]}})


def _with_branch(columns):
    """The demo roles plus a categorical/numeric column the reference data does not have."""
    from retrainer.config.core import ColumnsSection

    data = columns.model_dump()
    return ColumnsSection.model_validate(
        {
            **data,
            "categorical": [*data["categorical"], "branch"],
            "numeric": [*data["numeric"], "fee"],
        }
    )


@pytest.mark.parametrize(
    ("override", "message"),
    [
        # a column the config uses but the reference data lacks: nothing to derive from
        ({"branch": {"extra_values": ["north"]}}, "branch: extra_values cannot apply"),
        ({"fee": {"margin": 0.2}}, "fee: margin cannot apply"),
        ({"fee": {"max_outside_share": 0.1}}, "fee: max_outside_share cannot apply"),
        ({"branch": {"severity": {"dtype": "warning"}}}, "branch: severity.dtype cannot apply"),
        # a reference column the config does not use: only its presence is checked
        ({"campaign": {"max_null_share": 0.5}}, "campaign: max_null_share cannot apply"),
        # too many categories for a value set: extra values have nothing to extend
        ({"purpose": {"extra_values": ["boat"]}}, "purpose: extra_values cannot apply"),
    ],
)
def test_an_override_that_cannot_apply_is_an_error_naming_the_column(
    reference, columns, override, message
):
    from validation_helpers import profile_of

    # given a reference with an extra column the config does not name
    profile = profile_of(reference.assign(campaign="spring"), columns)
    roles = _with_branch(columns)
    rules = {"columns": override}
    if "purpose" in override:
        rules["categories"] = {"max_categories": 2}

    # when the suite is built, then the override is not silently ignored
    with pytest.raises(SuiteError, match=rf"validation\.columns\.{message}"):
        _build(profile, roles, **rules)


def test_explicit_overrides_apply_to_a_column_missing_from_the_reference(profile, columns):
    # given configured columns the reference lacks, with fully spelled-out checks
    roles = _with_branch(columns)

    suite = _build(
        profile,
        roles,
        columns={
            "branch": {"allowed_values": ["north", "south"], "max_null_share": 0.1},
            "fee": {"min_value": 0, "max_value": 50},
        },
    )

    # then each is in the suite (presence, value set, null share, range)
    assert _by_kind(suite, "categories", "branch")[0]["kwargs"]["value_set"] == ["north", "south"]
    assert _by_kind(suite, "not_null", "branch")[0]["meta"]["retrainer"]["max_null_share"] == 0.1
    fee = _by_kind(suite, "range", "fee")[0]["kwargs"]
    assert (fee["min_value"], fee["max_value"]) == (0, 50)
    assert {"branch", "fee"} <= set(_by_kind(suite, "columns")[0]["kwargs"]["column_set"])


def test_extra_expectations_are_added_to_their_column_with_their_severity(profile, columns):
    suite = _build(
        profile,
        columns,
        columns={
            "loan_id": {
                "extra_expectations": [
                    {"type": "ExpectColumnValueLengthsToBeBetween", "kwargs": {"min_value": 5}},
                    {
                        "type": "expect_column_values_to_match_regex",
                        "kwargs": {"regex": "^L", "mostly": 0.9},
                        "severity": "warning",
                    },
                ]
            }
        },
    )

    extra = _by_kind(suite, "extra", "loan_id")
    assert [(e["type"], e["kwargs"], e["severity"]) for e in extra] == [
        (
            "expect_column_value_lengths_to_be_between",
            {"min_value": 5, "column": "loan_id"},
            "critical",
        ),
        (
            "expect_column_values_to_match_regex",
            {"regex": "^L", "mostly": 0.9, "column": "loan_id"},
            "warning",
        ),
    ]


def test_the_monotonic_check_tolerates_a_share_of_late_events(profile, columns):
    suite = _build(profile, columns, timestamps={"max_late_share": 0.01})

    [monotonic] = _by_kind(suite, "monotonic_dates")

    assert monotonic["type"] == "expect_column_values_to_be_between"
    assert monotonic["kwargs"] == {
        "column": "event_time",
        "min_value": {"$PARAMETER": "not_before"},
    }
    assert monotonic["meta"]["retrainer"]["max_late_share"] == 0.01


def test_row_count_and_time_window_are_parameters_filled_per_batch(suite):
    # given a suite whose reference days hold 2,000 rows each (margin 0.5, growth x3)
    assert suite.retrainer["rows_per_day"] == [1000.0, 6000.0]

    # when computing the parameters of a two-day batch after a validated partition
    params = suite.parameters_for([date(2026, 2, 2), date(2026, 2, 3)], date(2026, 2, 1))

    # then the bounds scale with the days and the window is the dates plus the tolerance
    assert (params["min_rows"], params["max_rows"]) == (2000, 12000)
    assert params["earliest_event_time"] == pd.Timestamp("2026-02-01 23:00", tz="UTC")
    assert params["latest_event_time"] == pd.Timestamp("2026-02-04 01:00", tz="UTC")
    assert params["not_before"] == pd.Timestamp("2026-01-31 23:00", tz="UTC")
    # a file without a date and without history gets no time window
    bare = suite.parameters_for(None, None)
    assert bare["earliest_event_time"] is None
    assert bare["not_before"] is None
    assert bare["min_rows"] == 1000


def test_suite_json_round_trip_keeps_hash_and_profile(suite, tmp_path):
    path = suite.save(tmp_path / "suite.json")

    loaded = ValidationSuite.load(path)

    assert loaded.hash == suite.hash
    assert loaded.expectations == suite.expectations
    assert loaded.profile == suite.profile
    assert "reference" not in loaded.describe() or suite.hash in loaded.describe()


def test_reading_something_else_fails_naming_the_file(tmp_path):
    path = tmp_path / "other.json"
    path.write_text('{"name": "x"}')

    with pytest.raises(SuiteError, match=r"other\.json: not a Great Expectations suite"):
        ValidationSuite.load(path)
    with pytest.raises(SuiteError, match=r"missing\.json: no such suite file"):
        ValidationSuite.load(tmp_path / "missing.json")


def test_changed_rules_rebuild_the_suite_from_its_profile(suite, columns):
    rules = ValidationSection(numeric={"margin": 2.0})
    assert suite.is_current(columns, ValidationSection())
    assert not suite.is_current(columns, rules)

    rebuilt = suite.rebuilt(columns, rules)

    assert rebuilt.profile == suite.profile
    assert rebuilt.hash != suite.hash
    assert rebuilt.source["rebuilt_from"] == suite.hash
    assert rebuilt.is_current(columns, rules)


def test_same_profile_and_rules_give_the_same_hash(profile, columns):
    assert _build(profile, columns).hash == _build(profile, columns).hash
