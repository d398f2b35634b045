"""Staged rollouts: the state machine, its analyses and the A/B statistics (pure, no IO).

The serving gateway routes by :func:`traffic`; the reconciler feeds :func:`advance` the
evidence the gateway logged and writes the transition it returns.
"""

from retrainer.rollout.analysis import AnalysisResult, Measurement, analyse, judge
from retrainer.rollout.machine import (
    EVENTS,
    Evidence,
    RolloutState,
    Traffic,
    Transition,
    abort,
    advance,
    pause,
    promote_now,
    required_labelled,
    restart,
    resume,
    stage_name,
    start,
    traffic,
)
from retrainer.rollout.stats import Comparison, compare_rates, required_per_arm

__all__ = [
    "EVENTS",
    "AnalysisResult",
    "Comparison",
    "Evidence",
    "Measurement",
    "RolloutState",
    "Traffic",
    "Transition",
    "abort",
    "advance",
    "analyse",
    "compare_rates",
    "judge",
    "pause",
    "promote_now",
    "required_labelled",
    "required_per_arm",
    "restart",
    "resume",
    "stage_name",
    "start",
    "traffic",
]
