"""Trigger policies: should the model be retrained now? (pure; no Prefect, no IO).

The live continuous-training flow and the policy backtest call the same :func:`decide`.
"""

from retrainer.policy.decide import (
    Decision,
    decide,
    handed_over,
    performance_holds,
    trigger_names,
)
from retrainer.policy.observations import (
    Alert,
    DriftObservation,
    Observations,
    PerformanceObservation,
    SegmentPerformance,
)
from retrainer.policy.state import PolicyState

__all__ = [
    "Alert",
    "Decision",
    "DriftObservation",
    "Observations",
    "PerformanceObservation",
    "PolicyState",
    "SegmentPerformance",
    "decide",
    "handed_over",
    "performance_holds",
    "trigger_names",
]
