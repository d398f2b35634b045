"""Tolerated shares judged with the batch size: the binomial test against a slow reference."""

from fractions import Fraction
from math import comb

import pytest

from retrainer.validation.tolerance import apply_judgements, exceeds, judge


def _tail_exact(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed in exact fractions (the slow reference)."""
    q = Fraction(p).limit_denominator(10**12)
    return float(sum(comb(n, i) * q**i * (1 - q) ** (n - i) for i in range(k, n + 1)))


@pytest.mark.parametrize(
    ("k", "n", "p"),
    [(1, 24, 0.01), (4, 24, 0.01), (7, 24, 0.05), (30, 2000, 0.01), (1, 1, 0.02), (12, 24, 0.1)],
)
def test_the_p_value_is_the_exact_binomial_tail(k, n, p):
    _, p_value = exceeds(k, n, p, alpha=0.001)

    assert p_value == pytest.approx(_tail_exact(k, n, p), rel=1e-9, abs=1e-300)


def _range(share: float = 0.01) -> dict:
    return {
        "type": "expect_column_values_to_be_between",
        "kwargs": {"column": "x", "min_value": 0, "max_value": 10},
        "meta": {"retrainer": {"kind": "range", "max_outside_share": share}},
        "severity": "critical",
    }


def _counts(unexpected: int, elements: int, missing: int = 0) -> dict:
    return {"element_count": elements, "unexpected_count": unexpected, "missing_count": missing}


def test_one_odd_row_in_a_small_day_is_not_a_burst_but_a_third_is():
    # given a range check tolerating 1% of values outside
    # when one of 24 values (4.2%) is outside, and then 8 of 24 (33%)
    one = judge(_range(), _counts(1, 24), alpha=0.001)
    third = judge(_range(), _counts(8, 24), alpha=0.001)

    # then the single outlier passes (p = 0.21) and the burst fails as an error
    assert one.success
    assert one.p_value == pytest.approx(1 - 0.99**24)
    assert not third.success
    assert third.severity == "error"
    assert third.tier == "exceeds"


def test_large_batches_are_held_to_the_tolerated_share_itself():
    # 1.5% outside of 100,000 values is far beyond 1%; 1.02% is within noise
    assert not judge(_range(), _counts(1_500, 100_000), alpha=0.001).success
    assert judge(_range(), _counts(1_020, 100_000), alpha=0.001).success


def test_nulls_count_over_all_rows_and_other_kinds_over_non_null_values():
    not_null = {**_range(), "meta": {"retrainer": {"kind": "not_null", "max_null_share": 0.1}}}

    # 10 nulls of 24 rows against 10% tolerated
    nulls = judge(not_null, _counts(10, 24), alpha=0.001)
    # 2 out-of-range values among the 4 non-null ones of 24 rows
    outside = judge(_range(), _counts(2, 24, missing=20), alpha=0.001)

    assert (nulls.unexpected, nulls.total) == (10, 24)
    assert not nulls.success
    assert (outside.unexpected, outside.total) == (2, 4)


def test_a_flood_of_unseen_categories_is_its_own_tier_with_its_own_severity():
    categories = {
        "type": "expect_column_values_to_be_in_set",
        "kwargs": {"column": "c", "value_set": ["a", "b"]},
        "meta": {
            "retrainer": {
                "kind": "categories",
                "max_unseen_share": 0.02,
                "flood_share": 0.25,
                "flood_severity": "error",
            }
        },
        "severity": "warning",
    }

    beyond = judge(categories, _counts(100, 2000), alpha=0.001)  # 5%
    flood = judge(categories, _counts(10, 24), alpha=0.001)  # 42% of a small day

    assert (beyond.tier, beyond.severity) == ("exceeds", "warning")
    assert (flood.tier, flood.severity) == ("flood", "error")


def test_judgements_replace_gx_verdicts_and_recount_the_run():
    # given a GX result where any unexpected value failed (no mostly)
    result = {
        "success": False,
        "results": [
            {"expectation_config": _range(), "success": False, "result": _counts(1, 24)},
            {
                "expectation_config": {**_range(), "meta": {"retrainer": {"kind": "dtype"}}},
                "success": True,
                "result": {"observed_value": "float64"},
            },
        ],
    }

    apply_judgements(result, alpha=0.001)

    # then the tolerated outlier passes, the untouched dtype keeps GX's verdict
    assert result["success"] is True
    assert result["results"][0]["success"] is True
    assert result["results"][0]["retrainer"]["p_value"] == pytest.approx(1 - 0.99**24)
    assert result["statistics"]["unsuccessful_expectations"] == 0
    assert "retrainer" not in result["results"][1]


def test_without_counts_gx_keeps_the_verdict():
    assert judge(_range(), {"observed_value": 3}, alpha=0.001) is None


def test_a_one_row_batch_fails_when_its_value_is_off_but_not_for_a_null():
    not_null = {**_range(), "meta": {"retrainer": {"kind": "not_null", "max_null_share": 0.05}}}

    # a daily aggregate of one row: its value outside the bounds, or null
    outside = judge(_range(), _counts(1, 1), alpha=0.001)
    null = judge(not_null, _counts(1, 1), alpha=0.001)

    # then the impossible value fails (not testable, but the whole batch is off) ...
    assert not outside.success
    assert outside.p_value >= 0.001
    # ... while one null in a one-row day is within a 5% null rate
    assert null.success
