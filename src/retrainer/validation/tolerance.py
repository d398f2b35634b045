"""Tolerated shares judged with the batch's size in mind (pure; no GX import).

GX counts, Retrainer decides: the row-wise expectations of a suite (nulls, ranges, categories,
event times) are run without a GX ``mostly``, so GX reports how many values were unexpected
out of how many. :func:`judge` then asks whether that share is *significantly* above the
tolerated share with a one-sided binomial test at the suite's ``alpha``:

* 1 out-of-range value in a 24-row day (4.2% against 1% tolerated) has p = 0.21: it passes;
* 30% nulls where 10% are tolerated fails at any batch size worth the name;
* on a very large batch the test converges on the tolerated share itself.

Categories have a second tier: a significant unseen share at or above ``flood_share`` is a
category flood, with its own (higher) severity.

A batch of one or two rows can never be significant; there, a value outside the plausibility
bounds or an event outside the partition's window fails when *every* value of the batch is
unexpected (a daily aggregate of one row that is 1000x off is broken, whatever its size). Nulls
and unseen categories keep the test alone: one null in a one-row day is within a 5% null rate.

Check order for one expectation: a kind without a tolerance keeps GX's verdict; a result
without counts (GX raised) keeps GX's verdict; no unexpected value passes; otherwise the
binomial test decides (or, for ranges and event times, a batch whose every value is
unexpected fails), and for categories the observed share picks the tier.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scipy.stats import binom

TOLERANCE_KEYS: dict[str, str] = {
    "not_null": "max_null_share",
    "range": "max_outside_share",
    "categories": "max_unseen_share",
    "freshness": "max_outside_share",
    "monotonic_dates": "max_late_share",
}
"""Expectation kinds judged here → the meta key holding their tolerated share."""

WHOLE_BATCH_KINDS = frozenset({"range", "freshness", "monotonic_dates"})
"""Kinds where a batch whose every value is unexpected fails, whatever its size."""

SEVERITY_TO_GX = {"error": "critical", "warning": "warning"}
GX_TO_SEVERITY = {"critical": "error", "warning": "warning", "info": "warning"}


@dataclass(frozen=True)
class Judgement:
    """The decision on one row-wise expectation of one batch.

    Attributes:
        success: Whether the batch passes the expectation.
        unexpected: Unexpected values (nulls for not_null).
        total: Values they are counted among (all rows for not_null, non-null ones otherwise).
        tolerated: The tolerated share.
        p_value: P(at least ``unexpected`` of ``total`` | the tolerated share); 1 when none.
        alpha: The significance level.
        tier: ``ok``, ``exceeds`` or ``flood`` (categories).
        severity: Severity of a failure (``error``/``warning``); None on success.
    """

    success: bool
    unexpected: int
    total: int
    tolerated: float
    p_value: float
    alpha: float
    tier: str
    severity: str | None

    @property
    def share(self) -> float | None:
        """The observed share (None for an empty batch)."""
        return self.unexpected / self.total if self.total else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (kept in the result item as ``retrainer``)."""
        return {
            "success": self.success,
            "unexpected": self.unexpected,
            "total": self.total,
            "tolerated": self.tolerated,
            "p_value": self.p_value,
            "alpha": self.alpha,
            "tier": self.tier,
            "severity": self.severity,
            "share": self.share,
        }


def exceeds(unexpected: int, total: int, tolerated: float, alpha: float) -> tuple[bool, float]:
    """One-sided binomial test: is ``unexpected`` of ``total`` above the tolerated share?

    Returns:
        ``(significant, p_value)``.
    """
    if total <= 0 or unexpected <= 0:
        return False, 1.0
    if tolerated <= 0:
        return True, 0.0
    if tolerated >= 1:
        return False, 1.0
    p_value = float(binom.sf(unexpected - 1, total, tolerated))
    return p_value < alpha, p_value


def counts(kind: str, result: dict[str, Any]) -> tuple[int, int] | None:
    """``(unexpected, total)`` of a GX map result, or None when GX reported no counts."""
    unexpected = result.get("unexpected_count")
    elements = result.get("element_count")
    if unexpected is None or elements is None:
        return None
    if kind == "not_null":
        return int(unexpected), int(elements)
    missing = result.get("missing_count") or 0
    return int(unexpected), int(elements) - int(missing)


def judge(expectation: dict[str, Any], result: dict[str, Any], alpha: float) -> Judgement | None:
    """Decide one row-wise expectation of one batch (None: not a tolerance kind, no counts).

    Args:
        expectation: The suite's expectation (``meta.retrainer`` holds kind and tolerance).
        result: GX's result of it on the batch (``unexpected_count``, ``element_count`` ...).
        alpha: Significance level of the test.
    """
    meta = (expectation.get("meta") or {}).get("retrainer", {})
    kind = meta.get("kind")
    key = TOLERANCE_KEYS.get(kind or "")
    found = counts(kind or "", result) if key else None
    if key is None or found is None:
        return None
    unexpected, total = found
    tolerated = float(meta.get(key) or 0.0)
    significant, p_value = exceeds(unexpected, total, tolerated, alpha)
    if kind in WHOLE_BATCH_KINDS and 0 < total == unexpected and tolerated < 1:
        significant = True  # every value of the batch is off: broken, even in a tiny batch
    severity = GX_TO_SEVERITY.get(str(expectation.get("severity")), "error")
    tier = "exceeds" if significant else "ok"
    flood = meta.get("flood_share")
    if significant and kind == "categories" and flood is not None and unexpected >= flood * total:
        tier, severity = "flood", str(meta.get("flood_severity", "error"))
    return Judgement(
        success=not significant,
        unexpected=unexpected,
        total=total,
        tolerated=tolerated,
        p_value=p_value,
        alpha=alpha,
        tier=tier,
        severity=None if not significant else severity,
    )


def apply_judgements(result: dict[str, Any], alpha: float) -> dict[str, Any]:
    """Replace GX's verdict of every row-wise expectation by :func:`judge`'s (in place).

    Each judged item gets ``retrainer`` (the judgement) and, for a flood, the flood tier's
    severity; the run's ``success`` and ``statistics`` are recounted.

    Returns:
        The same result.
    """
    for item in result.get("results", []):
        config = item.get("expectation_config") or {}
        judgement = judge(config, item.get("result") or {}, alpha)
        if judgement is None:
            continue
        item["success"] = judgement.success
        item["retrainer"] = judgement.to_dict()
        if judgement.severity is not None:
            config["severity"] = SEVERITY_TO_GX[judgement.severity]
    recount(result)
    return result


def recount(result: dict[str, Any]) -> None:
    """Recompute a result's ``success`` and ``statistics`` from its items (in place)."""
    items = result.get("results", [])
    evaluated = len(items)
    passed = sum(bool(item.get("success")) for item in items)
    result["success"] = passed == evaluated
    result["statistics"] = {
        "evaluated_expectations": evaluated,
        "successful_expectations": passed,
        "unsuccessful_expectations": evaluated - passed,
        "success_percent": 100.0 * passed / evaluated if evaluated else None,
    }
