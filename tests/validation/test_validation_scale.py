"""The unit-change check: a batch's typical magnitude against the reference's (no GX)."""

import math

import numpy as np
import pandas as pd
import pytest

from retrainer.validation.scale import scale_result


def _check(median: float = 4.0, low: float = 3.9, high: float = 4.1, sd: float = 0.2) -> dict:
    """A check for a column whose reference median |value| is 10^4 (days 10^3.9..10^4.1)."""
    return {
        "type": "retrainer_column_scale_matches_reference",
        "kwargs": {"column": "amount"},
        "meta": {
            "retrainer": {
                "kind": "scale",
                "median": median,
                "low": low,
                "high": high,
                "sd": sd,
                "max_ratio": 10.0,
                "min_rows": 3,
            }
        },
        "severity": "critical",
    }


def _values(factor: float, n: int = 24, seed: int = 0) -> pd.Series:
    rng = np.random.default_rng(seed)
    return pd.Series(10 ** rng.normal(4.0, 0.2, n) * factor)


@pytest.mark.parametrize("factor", [1000.0, 0.001, 100.0, 0.01])
def test_a_unit_change_fails_and_names_the_power_of_ten(factor):
    item = scale_result(_check(), _values(factor))

    assert item["success"] is False
    assert item["result"]["details"]["power_of_ten"] == round(math.log10(factor))
    assert item["result"]["observed_value"] == pytest.approx(factor, rel=0.3)


@pytest.mark.parametrize("factor", [0.5, 1.0, 2.0, 3.0])
def test_drift_of_the_magnitude_within_a_factor_of_a_few_passes(factor):
    assert scale_result(_check(), _values(factor))["success"] is True


def test_the_median_of_a_tiny_batch_gets_room_for_its_own_noise():
    # given a column whose log10 magnitude spreads widely (sd 1 decade) and a batch of 3 values
    wide = _check(sd=1.0)

    # when the batch's median is 1.4 decades above the reference days' range
    item = scale_result(wide, pd.Series([10**5.5, 10**5.5, 10**5.5]))

    # then that is within 4 standard errors of a median of 3 values: no verdict of a unit change
    assert item["success"] is True
    assert item["result"]["details"]["decades_allowed"] > 1.4


def test_too_few_non_zero_values_are_not_judged():
    item = scale_result(_check(), pd.Series([0.0, 0.0, 5e7, np.nan]))

    assert item["success"] is True
    assert item["result"]["details"]["skipped"] is True


def test_a_missing_or_non_numeric_column_is_left_to_the_schema_checks():
    missing = scale_result(_check(), None)
    text = scale_result(_check(), pd.Series(["1", "2", "3"]))

    assert missing["exception_info"]["exception_message"] == "the column is missing"
    assert text["exception_info"]["exception_message"] == "the column is not numeric"
