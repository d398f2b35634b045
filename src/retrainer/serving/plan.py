"""The plan the gateway serves by: which versions answer, with what weights (pure).

The store holds the truth: the champion row (``champions``) and the rollout state
(``rollouts``); :func:`serving_plan` turns them and ``promotion.stages`` into a
:class:`ServingPlan`. A rollout that is running or paused routes by
:func:`retrainer.rollout.traffic` (a paused one holds its weights); an aborted or
inconclusive one sends everything to the champion; a promoted one whose champion row has not
moved yet (the reconciler's next run repairs that) sends everything to the challenger.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from retrainer.rollout import RolloutState, Traffic, stage_name, traffic

ALL_CHAMPION = Traffic(100, 0)


@dataclass(frozen=True)
class ServingPlan:
    """What the gateway serves.

    Attributes:
        champion: The champion version (None: nothing to serve yet).
        challenger: The version under rollout (None: no rollout in force).
        traffic: Weights (percent) per variant and the shadow share.
        stage: The rollout's stage (``shadow``, ``canary 25%``, ``ab``), None without one.
        rollout: The stored rollout state (as a dict), None without one.
    """

    champion: str | None
    challenger: str | None = None
    traffic: Traffic = ALL_CHAMPION
    stage: str | None = None
    rollout: dict[str, Any] | None = None

    @property
    def versions(self) -> set[str]:
        """The versions that must be loaded."""
        return {v for v in (self.champion, self.challenger) if v is not None}

    def to_dict(self) -> dict[str, Any]:
        """The ``GET /rollout`` document."""
        return {
            "champion": self.champion,
            "challenger": self.challenger,
            "stage": self.stage,
            "traffic": {
                "champion": self.traffic.champion,
                "challenger": self.traffic.challenger,
                "shadow_fraction": self.traffic.shadow_fraction,
            },
            "rollout": self.rollout,
        }


def serving_plan(
    champion: str | None, state: RolloutState | None, stages: Sequence[Any]
) -> ServingPlan:
    """The plan in force for a champion row and a rollout state."""
    if state is None or state.challenger == champion:
        return ServingPlan(champion, rollout=state.to_dict() if state else None)
    shown = state.to_dict()
    if state.status in ("aborted", "inconclusive"):
        return ServingPlan(champion, rollout=shown)
    if state.status == "promoted":
        return ServingPlan(champion, state.challenger, Traffic(0, 100), "promoting", shown)
    return ServingPlan(
        champion, state.challenger, traffic(stages, state), stage_name(stages, state), shown
    )
