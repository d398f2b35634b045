"""The unit-change check: a batch's typical magnitude against the reference's (pure).

GX has no expectation for "the values are in another unit". A unit change multiplies every
value by 10^k (grams → kilograms, cents → euros, a percentage written as a fraction), so it
moves the median of log10|value| by exactly k decades, while drift — a seasonal movement, a
new population, a widened distribution — rarely moves it by more than a fraction of one. The
check compares that median with the range the reference days' medians span and fails when it
lies more than ``log10(max_ratio)`` decades outside it, or more than the batch's own sampling
noise allows (four standard errors of a median of ``n`` values), whichever is larger.

Its outcome is written in the shape of a GX result item (``expectation_config``, ``success``,
``result``), so findings, reports and the ledger treat it like any other expectation.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

NOISE_Z = 4.0
"""Standard errors of the batch median allowed on top of ``max_ratio``."""


MAX_VALUES = 200_000
"""Larger batches are checked on an even stride of this many values (a median of 200,000
values is exact to far less than the fraction of a decade that matters)."""


def log_magnitudes(values: pd.Series | np.ndarray) -> np.ndarray:
    """log10|x| of the finite non-zero values (of an even stride through a large batch)."""
    numbers = np.asarray(values, dtype=float)
    if len(numbers) > MAX_VALUES:
        numbers = numbers[:: -(-len(numbers) // MAX_VALUES)]
    magnitude = np.abs(numbers[np.isfinite(numbers)])
    return np.log10(magnitude[magnitude > 0])


def scale_result(check: dict[str, Any], values: pd.Series | None) -> dict[str, Any]:
    """Run one scale check (a suite ``checks`` entry) on a batch column.

    Args:
        check: The check: ``kwargs.column`` and, in ``meta.retrainer``, ``median``, ``low``,
            ``high``, ``sd`` (of the reference's log10|x|), ``max_ratio``, ``min_rows``.
        values: The batch's column (None when the batch lacks it: not evaluated).

    Returns:
        A GX-shaped result item; ``result.observed_value`` is the factor between the batch's
        and the reference's median |value|.
    """
    meta = check["meta"]["retrainer"]
    item: dict[str, Any] = {"expectation_config": check, "success": True, "result": {}}
    if values is None or not pd.api.types.is_numeric_dtype(values.dtype):
        why = "the column is missing" if values is None else "the column is not numeric"
        item["exception_info"] = {"raised_exception": True, "exception_message": why}
        return item
    logs = log_magnitudes(values.to_numpy(dtype=float, na_value=np.nan))
    n = len(logs)
    if n < int(meta.get("min_rows", 1)):
        item["result"] = {"observed_value": None, "details": {"values": n, "skipped": True}}
        return item
    median = float(np.median(logs))
    deviation = max(0.0, median - float(meta["high"]), float(meta["low"]) - median)
    noise = NOISE_Z * 1.2533 * float(meta.get("sd", 0.0)) / math.sqrt(n)
    limit = max(math.log10(float(meta["max_ratio"])), noise)
    factor = 10 ** (median - float(meta["median"]))
    item["success"] = deviation <= limit
    item["result"] = {
        "observed_value": factor,
        "details": {
            "values": n,
            "batch_median": 10**median,
            "reference_median": 10 ** float(meta["median"]),
            "reference_day_range": [10 ** float(meta["low"]), 10 ** float(meta["high"])],
            "decades_outside": deviation,
            "decades_allowed": limit,
            "power_of_ten": round(median - float(meta["median"])),
        },
    }
    return item


def run_scale_checks(checks: list[dict[str, Any]], frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Every scale check of a suite on a batch, as GX-shaped result items."""
    return [
        scale_result(
            check, frame[column] if (column := check["kwargs"]["column"]) in frame else None
        )
        for check in checks
    ]
