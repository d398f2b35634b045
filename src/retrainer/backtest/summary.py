"""What each replayed policy cost and bought: the table, the frontier and the recommendation (pure).

Per policy: retrains (promoted, failed gates, waste), retraining cost in total and per week,
mean and worst metric over the replayed days, days beyond the SLO, business value, net value
and the ROI against never retraining and against the configured policy (``current``).

A retrain is **waste** when its gate failed (the cost bought nothing) or when, over the
:data:`~retrainer.backtest.engine.WASTE_HORIZON_DAYS` days after it, the new model beat the one
it replaced by less than ``backtest.min_gain`` on the same rows (hindsight).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from retrainer.backtest.engine import PolicyRun

SLO_TOLERANCE = 0.005
"""Without a configured SLO, the target is the best realisable mean metric minus this."""


@dataclass(frozen=True)
class Pricing:
    """How retrains and metric points are priced (from ``backtest`` and ``training``)."""

    cost_per_retrain: float | None
    cost_per_hour: float
    value_per_point_day: float
    slo: float | None
    higher_is_better: bool
    min_gain: float

    def retrain_cost(self, seconds: float) -> float:
        """The cost of one retrain: the configured price, or seconds × the hourly rate."""
        if self.cost_per_retrain is not None:
            return self.cost_per_retrain
        return seconds / 3600.0 * self.cost_per_hour


@dataclass
class PolicySummary:
    """One row of the table."""

    name: str
    kind: str
    window: str
    description: str
    retrains: int
    promoted: int
    gate_failed: int
    waste: int
    cost: float
    cost_per_week: float
    mean: float | None
    worst: float | None
    days_beyond_slo: int | None
    value: float
    net: float
    roi_vs_never: float | None = None
    net_vs_current: float | None = None
    mean_vs_current: float | None = None
    statuses: dict[str, int] | None = None
    held_by: dict[str, int] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return {k: v for k, v in self.__dict__.items()}


def _finite(values: list[float | None]) -> list[float]:
    return [v for v in values if v is not None and math.isfinite(v)]


def is_waste(retrain: Any, min_gain: float) -> bool:
    """Whether a retrain bought nothing (see the module docstring)."""
    if not retrain.promoted:
        return True
    return retrain.gain is not None and retrain.gain < min_gain


def summarise(run: PolicyRun, pricing: Pricing) -> PolicySummary:
    """The row of one policy (ROI columns are filled by :func:`compare`)."""
    values = _finite(run.metric)
    better = pricing.higher_is_better
    cost = sum(pricing.retrain_cost(r.seconds) for r in run.retrains)
    weeks = max(len(run.days), 1) / 7.0
    beyond = None
    if pricing.slo is not None:
        beyond = sum(1 for v in values if (v < pricing.slo if better else v > pricing.slo))
    sign = 1.0 if better else -1.0
    value = sum(sign * v * 100.0 * pricing.value_per_point_day for v in values)
    return PolicySummary(
        name=run.name,
        kind=run.kind,
        window=run.window,
        description=run.description,
        retrains=len(run.retrains),
        promoted=sum(1 for r in run.retrains if r.promoted),
        gate_failed=sum(1 for r in run.retrains if not r.promoted),
        waste=sum(1 for r in run.retrains if is_waste(r, pricing.min_gain)),
        cost=cost,
        cost_per_week=cost / weeks,
        mean=sum(values) / len(values) if values else None,
        worst=(min(values) if better else max(values)) if values else None,
        days_beyond_slo=beyond,
        value=value,
        net=value - cost,
        statuses=dict(run.statuses),
        held_by=dict(run.held_by),
    )


def compare(rows: list[PolicySummary], current: str = "current") -> list[PolicySummary]:
    """Fill the ROI columns: against ``never`` and against the configured policy."""
    by_name = {r.name: r for r in rows}
    never = by_name.get("never")
    mine = by_name.get(current)
    valued = any(r.value for r in rows)  # without a business value, ROI says nothing
    for row in rows:
        if valued and never is not None and row.cost > never.cost:
            row.roi_vs_never = (row.net - never.net) / (row.cost - never.cost)
        if mine is not None:
            row.net_vs_current = row.net - mine.net
            if row.mean is not None and mine.mean is not None:
                row.mean_vs_current = row.mean - mine.mean
    return rows


def frontier(rows: list[PolicySummary], higher_is_better: bool) -> list[PolicySummary]:
    """The policies no other beats on both cost and mean metric, cheapest first."""
    sign = 1.0 if higher_is_better else -1.0
    scored = [r for r in rows if r.mean is not None and r.kind != "oracle"]
    scored.sort(key=lambda r: (r.cost, -sign * (r.mean or 0.0)))
    front: list[PolicySummary] = []
    best = -math.inf
    for row in scored:
        if sign * (row.mean or 0.0) > best:
            front.append(row)
            best = sign * (row.mean or 0.0)
    return front


@dataclass(frozen=True)
class Recommendation:
    """The cheapest realisable policy that meets the target, and what it changes."""

    name: str
    target: float
    target_source: str
    mean: float | None
    cost_per_week: float
    retrains: int
    vs_current: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return dict(self.__dict__)


def recommend(
    rows: list[PolicySummary], pricing: Pricing, current: str = "current"
) -> Recommendation | None:
    """The policy on the frontier that meets the SLO at the least cost.

    The target is ``backtest.slo`` on the mean metric; without one, the best realisable mean
    metric minus :data:`SLO_TOLERANCE` (half a point of the best). The oracle is never
    recommended (it knows the future).
    """
    sign = 1.0 if pricing.higher_is_better else -1.0
    real = [r for r in rows if r.mean is not None and r.kind != "oracle"]
    if not real:
        return None
    if pricing.slo is not None:
        target, source = pricing.slo, "backtest.slo"
    else:
        best = max(real, key=lambda r: sign * (r.mean or 0.0))
        target = (best.mean or 0.0) - sign * SLO_TOLERANCE
        source = f"{SLO_TOLERANCE * 100:g} point(s) of the best mean ({best.name})"
    meeting = [r for r in real if sign * ((r.mean or 0.0) - target) >= 0]
    if not meeting:
        return None
    pick = min(meeting, key=lambda r: (round(r.cost, 9), -sign * (r.mean or 0.0), r.retrains))
    mine = next((r for r in rows if r.name == current), None)
    if mine is None or mine.name == pick.name:
        said = "it is the configured policy" if mine is not None else "no configured policy"
    else:
        saves = mine.cost_per_week - pick.cost_per_week
        gain = ((pick.mean or 0.0) - (mine.mean or 0.0)) * 100 * sign
        verb = "saves" if saves >= 0 else "costs"
        said = (
            f"{verb} {abs(saves):,.2f} a week against the configured policy "
            f"({mine.retrains} -> {pick.retrains} retrains) and "
            f"{'gains' if gain >= 0 else 'loses'} {abs(gain):.2f} metric point(s)"
        )
    return Recommendation(
        pick.name, target, source, pick.mean, pick.cost_per_week, pick.retrains, said
    )
