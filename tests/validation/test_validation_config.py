"""The ``validation:`` section of retrainer.yaml."""

import pytest
import yaml

from retrainer.config import ConfigError, parse_config
from retrainer.config.validation import EXPECTATION_KINDS, ValidationSection


@pytest.fixture
def demo_config(request) -> dict:
    root = request.config.rootpath
    return yaml.safe_load((root / "retrainer.yaml").read_text())


def _problems(config: dict, validation: dict) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config({**config, "validation": validation}, "retrainer.yaml")
    return caught.value.lines()


def test_an_empty_section_is_valid_and_every_kind_has_a_severity(demo_config):
    # given a config without any validation settings
    section = parse_config({**demo_config, "validation": {}}).validation

    # then every default is set: errors block broken data; the column-set comparison and
    # unseen categories (often drift, a new code) only warn, while a flood of them blocks
    assert section == ValidationSection()
    assert section.enabled
    assert section.quarantine
    assert {kind: section.severity_of(kind) for kind in EXPECTATION_KINDS} == {
        **{kind: "error" for kind in EXPECTATION_KINDS},
        "column_set": "warning",
        "categories": "warning",
    }
    assert section.severity_of("category_flood") == "error"
    assert section.reference.days == 60


def test_per_column_overrides_change_severity_and_drop_kinds_for_that_column_only():
    section = ValidationSection.model_validate(
        {
            "drop": ["column_set"],
            "columns": {
                "income": {"severity": {"range": "warning"}, "drop": ["not_null"]},
                "purpose": {"ignore": True},
            },
        }
    )

    assert section.severity_of("range", "income") == "warning"
    assert section.severity_of("range", "loan_amount") == "error"
    assert section.is_dropped("not_null", "income")
    assert not section.is_dropped("not_null", "loan_amount")
    assert section.is_dropped("range", "purpose")  # ignored entirely
    assert section.is_dropped("column_set")


@pytest.mark.parametrize(
    ("validation", "expected"),
    [
        ({"row_count": {"min_rows": 10, "max_rows": 5}}, "validation.row_count: min_rows (10)"),
        ({"row_count": {"margin": 1.0}}, "validation.row_count: margin must be below 1"),
        ({"reference": {"end": "2026-01-10"}}, "validation.reference: end needs start"),
        (
            {"reference": {"start": "2026-01-10", "end": "2026-01-01"}},
            "validation.reference: end (2026-01-01) is before start (2026-01-10)",
        ),
        (
            {"columns": {"income": {"min_value": 10, "max_value": 1}}},
            "validation.columns.income: min_value (10) must be below max_value (1)",
        ),
        (
            {"columns": {"income": {"ignore": True, "margin": 2}}},
            "validation.columns.income: ignore: true leaves the column out entirely; remove margin",
        ),
        (
            {"columns": {"channel": {"allowed_values": ["a"], "extra_values": ["b"]}}},
            "validation.columns.channel: allowed_values replaces the reference set",
        ),
        (
            {"columns": {"income": {"drop": ["range"], "max_value": 5}}},
            "validation.columns.income: range is dropped but max_value is set",
        ),
        (
            {"drop": ["range"], "columns": {"income": {"drop": ["range"]}}},
            "validation: columns.income.drop: range is already dropped for every column",
        ),
        ({"numeric": {"quantiles": [0.6, 0.99]}}, "validation.numeric.quantiles: quantiles must"),
        ({"severity": {"range": "fatal"}}, "validation.severity.range:"),
        ({"columns": {"income": {"drop": ["row_count"]}}}, "validation.columns.income.drop[0]"),
        ({"max_nulls": 0.1}, "validation.max_nulls: unknown key"),
    ],
)
def test_bad_settings_are_rejected_naming_the_field(demo_config, validation, expected):
    lines = _problems(demo_config, validation)

    assert any(expected in line for line in lines), lines


def test_the_fingerprint_changes_with_the_rules_only():
    assert ValidationSection().fingerprint() == ValidationSection().fingerprint()
    assert (
        ValidationSection(numeric={"margin": 1.0}).fingerprint()
        != ValidationSection().fingerprint()
    )


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            {"type": "expect_column_values_to_be_purple"},
            "validation.columns.loan_id.extra_expectations[0].type: unknown Great "
            "Expectations expectation 'expect_column_values_to_be_purple'",
        ),
        (
            {"type": "expect_column_values_to_match_regex", "kwargs": {"regx": "^L"}},
            "validation.columns.loan_id.extra_expectations[0]: kwargs: not valid for "
            "expect_column_values_to_match_regex: regx: extra fields not permitted",
        ),
        (
            {"type": "ExpectColumnValuesToMatchRegex", "kwargs": {"regex": "^L", "mostly": 2}},
            "extra_expectations[0]: kwargs: not valid for expect_column_values_to_match_regex: "
            "mostly: ensure this value is less than or equal to 1.0",
        ),
        (
            {"type": "expect_table_row_count_to_be_between"},
            "extra_expectations[0].type: expect_table_row_count_to_be_between does not check "
            "one column",
        ),
        (
            {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "x"}},
            "extra_expectations[0].kwargs: column is set by retrainer",
        ),
    ],
)
def test_an_unknown_extra_expectation_or_bad_kwargs_is_a_config_error(demo_config, extra, expected):
    lines = _problems(demo_config, {"columns": {"loan_id": {"extra_expectations": [extra]}}})

    assert any(expected in line for line in lines), lines


def test_extra_expectations_accept_gx_names_in_either_case(demo_config):
    section = parse_config(
        {
            **demo_config,
            "validation": {
                "columns": {
                    "loan_id": {
                        "extra_expectations": [
                            {"type": "ExpectColumnValuesToMatchRegex", "kwargs": {"regex": "^L"}}
                        ]
                    }
                }
            },
        }
    ).validation

    [extra] = section.columns["loan_id"].extra_expectations
    assert extra.type == "expect_column_values_to_match_regex"
    assert extra.severity == "error"


@pytest.mark.parametrize(
    ("validation", "expected"),
    [
        (
            {"drop": ["range"], "columns": {"income": {"max_value": 5}}},
            "validation: columns.income: max_value cannot apply: range is dropped for every column",
        ),
        (
            {"drop": ["categories"], "columns": {"channel": {"extra_values": ["x"]}}},
            "columns.channel: extra_values cannot apply: categories is dropped",
        ),
        (
            {"drop": ["dtype"], "columns": {"income": {"severity": {"dtype": "warning"}}}},
            "columns.income.severity: dtype is dropped for every column",
        ),
    ],
)
def test_an_override_of_a_kind_dropped_for_every_column_is_rejected(
    demo_config, validation, expected
):
    lines = _problems(demo_config, validation)

    assert any(expected in line for line in lines), lines


def test_before_training_defaults_to_validate_and_rejects_other_words(demo_config):
    assert parse_config({**demo_config, "validation": {}}).validation.before_training == "validate"

    lines = _problems(demo_config, {"before_training": "ignore"})

    assert any(line.startswith("retrainer.yaml: validation.before_training:") for line in lines)
