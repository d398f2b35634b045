"""The ``drift:`` section: defaults, validation errors that name the field."""

from datetime import date

import pytest
import yaml
from pydantic import ValidationError

from retrainer.config import ConfigError, parse_config
from retrainer.config.drift import DriftSection, TrainingBaseline, WindowBaseline
from retrainer.config.starter import STARTER_CONFIG


def _error_locations(data: dict) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as info:
        DriftSection.model_validate(data)
    return [(".".join(map(str, e["loc"])), e["msg"]) for e in info.value.errors()]


def test_empty_section_gives_the_documented_defaults():
    section = DriftSection.model_validate({})

    assert section.metrics.numeric == ["psi", "wasserstein_norm", "missing_share"]
    assert section.metrics.categorical == ["psi", "js"]
    assert section.thresholds.psi.drift == 0.25
    assert section.thresholds.psi.warning == 0.1
    assert section.thresholds.wasserstein_norm.drift == 0.1
    assert section.thresholds.js.drift == 0.1
    assert section.thresholds.missing_share.drift == 0.05
    assert section.thresholds.missing_share.warning == 0.02
    assert section.no_data == "drift"
    assert section.tests.correction == "bonferroni"
    assert section.tests.guard_distances is True
    assert section.dataset.rule == "any"
    assert section.binning.psi_bins == 10
    assert section.binning.epsilon == 1e-4
    assert section.binning.js_base == 2
    assert isinstance(section.baseline, TrainingBaseline)


def test_unknown_key_is_named():
    assert _error_locations({"tests": {"alfa": 0.01}}) == [
        ("tests.alfa", "Extra inputs are not permitted")
    ]


@pytest.mark.parametrize(
    ("data", "location"),
    [
        ({"thresholds": {"psi": {"drift": -0.1}}}, "thresholds.psi.drift"),
        ({"thresholds": {"js": {"drift": 1.5}}}, "thresholds.js.drift"),
        ({"thresholds": {"classifier_auc": {"drift": 0.4}}}, "thresholds.classifier_auc.drift"),
        ({"tests": {"alpha": 1.5}}, "tests.alpha"),
        ({"dataset": {"drift_share": 0}}, "dataset.drift_share"),
        ({"columns": {"income": {"thresholds": {"psi": {"drift": 0}}}}}, "columns.income"),
        ({"metrics": {"numeric": ["chi2"]}}, "metrics.numeric.0"),
        ({"metrics": {"categorical": ["missing_share"]}}, "metrics.categorical.0"),
        ({"thresholds": {"missing_share": {"drift": 1.5}}}, "thresholds.missing_share.drift"),
        ({"no_data": "maybe"}, "no_data"),
    ],
)
def test_value_out_of_range_is_named(data, location):
    locations = [loc for loc, _ in _error_locations(data)]

    assert any(loc.startswith(location) for loc in locations), locations


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"binning": {"js_base": "e"}, "thresholds": {"js": {"drift": 0.9}}},
            "thresholds.js.drift: 0.9 exceeds the largest JS distance in base e (0.8326)",
        ),
        (
            {"thresholds": {"psi": {"drift": 0.2, "warning": 0.3}}},
            "warning (0.3) must not exceed drift (0.2)",
        ),
        (
            {"columns": {"age": {"thresholds": {"psi": {"drift": 0.05}}}}},
            "columns.age.thresholds.psi: warning (0.1) must not exceed drift (0.05)",
        ),
        (
            {"thresholds": {"missing_share": {"drift": 0.01}}},
            "thresholds.missing_share: warning (0.02) must not exceed drift (0.01)",
        ),
        (
            {"metrics": {"numeric": ["wasserstein"]}},
            "metrics.numeric: 'wasserstein' decides drift but thresholds.wasserstein.drift is "
            "not set",
        ),
        (
            {"baseline": {"kind": "window", "start": "2024-02-01", "end": "2024-01-01"}},
            "end (2024-01-01) is before start (2024-02-01)",
        ),
    ],
)
def test_inconsistent_settings_name_the_field(data, message):
    messages = " | ".join(msg for _, msg in _error_locations(data))

    assert message in messages


@pytest.mark.parametrize(
    ("metric", "section_levels"), [("psi", (0.25, 0.1)), ("missing_share", (0.05, 0.02))]
)
def test_partial_column_override_keeps_the_section_values(metric, section_levels):
    section = DriftSection.model_validate(
        {"columns": {"age": {"thresholds": {metric: {"drift": 0.3}}}}}
    )

    merged = section.threshold_for(metric, "age")

    assert (merged.drift, merged.warning) == (0.3, section_levels[1])
    assert section.threshold_for(metric, "other").drift == section_levels[0]


def test_baseline_kinds():
    assert isinstance(
        DriftSection.model_validate({"baseline": "training"}).baseline, TrainingBaseline
    )
    window = DriftSection.model_validate(
        {"baseline": {"kind": "window", "start": "2024-01-01", "end": "2024-01-31"}}
    ).baseline
    assert isinstance(window, WindowBaseline)
    assert (window.start, window.end) == (date(2024, 1, 1), date(2024, 1, 31))


def test_errors_in_retrainer_yaml_name_the_drift_field():
    # given the starter config with a bad drift threshold and an unknown drift key
    data = yaml.safe_load(STARTER_CONFIG)
    data["drift"] = {"thresholds": {"psi": {"drift": -1}}, "columnz": {}}

    # when it is validated
    with pytest.raises(ConfigError) as info:
        parse_config(data, "retrainer.yaml")

    # then each problem names its field under drift.
    lines = info.value.lines()
    assert any(line.startswith("retrainer.yaml: drift.thresholds.psi.drift:") for line in lines)
    assert "retrainer.yaml: drift.columnz: unknown key" in lines
