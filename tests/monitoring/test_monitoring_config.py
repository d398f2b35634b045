from datetime import date
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from retrainer.config import ConfigError, parse_config
from retrainer.config.monitoring import MonitoringSection
from retrainer.monitoring.window import parse_window, resolve_window

REPO_ROOT = Path(__file__).resolve().parents[2]


def _demo() -> dict:
    return yaml.safe_load((REPO_ROOT / "retrainer.yaml").read_text())


def test_defaults_are_valid_and_depend_on_the_task():
    settings = MonitoringSection()

    assert settings.metrics_for("binary") == ["roc_auc", "accuracy", "log_loss"]
    assert settings.metrics_for("regression") == ["rmse", "mae"]
    assert settings.threshold_for("roc_auc").max_drop == 0.05
    assert settings.segments.min_support == 200
    assert settings.estimation.calibration == "isotonic"


def test_a_threshold_entry_replaces_only_that_metric():
    settings = MonitoringSection(thresholds={"roc_auc": {"limit": 0.7}})

    assert settings.threshold_for("roc_auc").limit == 0.7
    assert settings.threshold_for("roc_auc").max_drop is None
    assert settings.threshold_for("log_loss").max_relative_drop == 0.1


def test_segment_thresholds_fall_back_to_overall_and_overrides_win():
    settings = MonitoringSection(
        thresholds={"roc_auc": {"max_drop": 0.03}},
        segments={
            "thresholds": {"roc_auc": {"max_drop": 0.08}},
            "overrides": {
                "region=south": {"min_support": 50, "thresholds": {"roc_auc": {"limit": 0.6}}}
            },
        },
    )

    assert settings.threshold_for("roc_auc", "region=north").max_drop == 0.08
    assert settings.threshold_for("roc_auc", "region=south").limit == 0.6
    assert settings.threshold_for("log_loss", "region=north").max_relative_drop == 0.1
    assert settings.segment_min_support("region=south") == 50
    assert settings.segment_min_support("region=north") == 200


def test_bad_monitoring_settings_name_the_field():
    data = _demo()
    data["monitoring"] = {
        "metrics": ["roc_auk"],
        "thresholds": {"roc_auc": {}},
        "segments": {"overrides": {"south": {}}},
    }

    with pytest.raises(ConfigError) as info:
        parse_config(data, "retrainer.yaml")

    text = "\n".join(info.value.lines())
    assert "monitoring.metrics" in text
    assert "did you mean 'roc_auc'" in text
    assert "monitoring.thresholds.roc_auc" in text
    assert "at least one of limit" in text
    assert "monitoring.segments.overrides" in text
    assert "column=value" in text


def test_unknown_key_is_rejected():
    with pytest.raises(ValidationError, match="extra"):
        MonitoringSection(window=7)


def test_window_defaults_to_the_last_days_up_to_the_data_clock():
    window = resolve_window(date(2026, 3, 31), 14)

    assert (window.start, window.end, window.as_of) == (
        date(2026, 3, 18),
        date(2026, 3, 31),
        date(2026, 3, 31),
    )
    assert resolve_window(date(2026, 3, 31), 14, days=7, as_of="2026-03-10").start == date(
        2026, 3, 4
    )


def test_explicit_window_is_cut_at_as_of():
    window = resolve_window(None, 14, window="2026-03-01:2026-03-20", as_of="2026-03-15")

    assert (window.start, window.end, window.as_of) == (
        date(2026, 3, 1),
        date(2026, 3, 15),
        date(2026, 3, 15),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [("2026-03-01", "START:END"), ("2026-03-05:2026-03-01", "before start"), ("x:y", "not a date")],
)
def test_bad_windows_are_explained(text, message):
    with pytest.raises(ValueError, match=message):
        parse_window(text)


def test_window_and_days_conflict():
    with pytest.raises(ValueError, match="not both"):
        resolve_window(date(2026, 3, 31), 14, window="2026-03-01:2026-03-02", days=3)
