"""Staged rollouts on the store: start one, advance it one step, settle its end (no Prefect).

The state machine (:mod:`retrainer.rollout`) decides; this module reads what it needs and
writes what it decided, in an order that a crash between any two writes leaves repairable:

1. the rollout state, by compare-and-set (with its history row, one transaction);
2. at a ``promoted`` state, the single promotion path :func:`retrainer.promotion.promote`
   (store row, then MLflow aliases, each repaired by :func:`~retrainer.promotion.reconcile`);
   at an ``aborted`` or ``inconclusive`` one, an ``abort`` ledger record naming the rollout's
   revision.

:func:`tick` settles an ended rollout whose step 2 is missing before it does anything else,
so the next run after a crash converges; then it advances a running rollout by at most one
transition. Events go through the ``emit`` callable the caller passes (the reconciler flow
passes Prefect's), with ids stable per rollout revision.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from retrainer import events
from retrainer.promotion import hooks
from retrainer.promotion.core import champion_state, promote, record_abort
from retrainer.promotion.target import PromotionConflict, as_target
from retrainer.rollout import (
    Evidence,
    RolloutState,
    Transition,
    advance,
    restart,
    start,
    traffic,
)
from retrainer.rollout.evidence import SHADOW_SUFFIX, build_evidence
from retrainer.rollout.machine import TERMINAL

ROLLOUT_BY = "rollout"
ROLLED_BACK = events.ROLLOUT_ROLLED_BACK
Emit = Callable[[str, dict[str, Any], str], None]
"""``emit(event, payload, event_id)``."""


class RolloutConflict(RuntimeError):
    """Another writer changed the rollout first (read it again)."""


@dataclass
class Tick:
    """What one reconciler run did.

    Attributes:
        action: The transition (``start``, ``advance``, ``promote``, ``abort`` ...), ``wait``,
            ``none`` (no rollout) or ``conflict`` (another writer came first).
        reason: Why, in words.
        state: The rollout state after the run.
        evidence: What the step's analysis saw (None when nothing was measured).
        settled: What was repaired or completed at the end of the plan (``promoted vN``,
            ``abort recorded``), if anything.
        events: The events emitted.
    """

    action: str
    reason: str
    state: RolloutState | None = None
    evidence: Evidence | None = None
    settled: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary."""
        ev = self.evidence
        return {
            "action": self.action,
            "reason": self.reason,
            "state": self.state.to_dict() if self.state else None,
            "evidence": None
            if ev is None
            else {"requests": ev.requests, "labelled": ev.labelled, "values": dict(ev.values)},
            "settled": self.settled,
            "events": self.events,
        }


def _chunks(values: list[str], size: int = 5_000) -> list[list[str]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


LOG_COLUMNS = [
    "request_id",
    "version",
    "variant",
    "label",
    "score",
    "latency_ms",
    "error",
    "entity_key",
    "at",
]


def step_log(
    store: Any, model: str, state: RolloutState, *, whole: bool = False, inputs: bool = False
) -> pd.DataFrame:
    """The prediction log rows of the champion and challenger since the step began.

    Args:
        store: The operational store.
        model: Registered model name.
        state: The rollout.
        whole: Since the rollout (re)started instead (the report).
        inputs: Keep each row's inputs too (the report's segments).
    """
    since = state.started_at if whole else state.step_started_at
    rows = store.predictions.for_model(model, start=since)
    versions = {state.challenger, state.champion}
    columns = [*LOG_COLUMNS, "inputs"] if inputs else LOG_COLUMNS
    return pd.DataFrame(
        [{c: getattr(p, c) for c in columns} for p in rows if p.version in versions],
        columns=columns,
    )


def truth_for(store: Any, log: pd.DataFrame) -> pd.Series:
    """The true label per request id: its own label, else its entity's latest label."""
    if log.empty:
        return pd.Series(dtype=object)
    base = log["request_id"].astype(str).str.removesuffix(SHADOW_SUFFIX)
    ids = sorted(set(base))
    truth: dict[str, Any] = {}
    for chunk in _chunks(ids):
        truth.update({lab.request_id: lab.label for lab in store.labels.for_requests(chunk)})
    keys = sorted({k for k in log["entity_key"].dropna()})
    by_entity: dict[str, Any] = {}
    for chunk in _chunks(keys):
        by_entity.update({lab.entity_key: lab.label for lab in store.labels.for_entities(chunk)})
    if by_entity:
        for rid, key in zip(base, log["entity_key"], strict=True):
            if rid not in truth and key in by_entity:
                truth[rid] = by_entity[key]
    return pd.Series(truth, dtype=object)


def evidence_for(store: Any, model: str, state: RolloutState, alpha: float = 0.05) -> Evidence:
    """The evidence of the rollout's current step, from the prediction log and the labels."""
    log = step_log(store, model, state)
    if log.empty:
        return Evidence(state.challenger)
    return build_evidence(log, truth_for(store, log), state.challenger, alpha=alpha)


def begin(
    target: Any,
    plan: Sequence[Any],
    challenger: str,
    *,
    now: datetime,
    baseline: float | None = None,
    emit: Emit | None = None,
) -> Tick:
    """Start a rollout of ``challenger`` (a running one of another version restarts with it).

    Raises:
        RolloutConflict: Another writer changed the rollout between the read and the write.
    """
    t = as_target(target)
    champion = champion_state(t).champion
    state = t.store.rollouts.get(t.name)
    if state is not None and state.status not in TERMINAL:
        if state.challenger == challenger:
            return Tick("wait", f"v{challenger} is under rollout already", state)
        transition, expected = restart(state, challenger, now), state.revision
    else:
        transition, expected = start(plan, t.name, challenger, champion, now, baseline), None
    stored = t.store.rollouts.write(transition, expected)
    if stored is None:
        raise RolloutConflict(f"{t.name}: the rollout changed while starting v{challenger}")
    tick = Tick(transition.action, transition.reason, stored)
    _announce(tick, transition.event, stored, emit)
    return tick


def _event_id(event: str, state: RolloutState) -> str:
    return events.stable_event_id(event, state.model, state.challenger, state.revision)


def _announce(tick: Tick, event: str | None, state: RolloutState, emit: Emit | None) -> None:
    if event is None or emit is None:
        return
    payload = {
        "version": state.challenger,
        "champion": state.champion,
        "status": state.status,
        "stage": state.stage,
        "step": state.step,
        "reason": state.reason,
        "revision": state.revision,
    }
    emit(event, payload, _event_id(event, state))
    tick.events.append(event)


def _abort_recorded(t: Any, state: RolloutState) -> bool:
    return any(
        r.action == "abort"
        and r.to_version == state.challenger
        and r.evidence.get("rollout_revision") == state.revision
        for r in t.store.ledger.history(t.name, 50)
    )


def settle(target: Any, state: RolloutState, emit: Emit | None = None) -> list[str]:
    """Finish an ended rollout's writes after the state: the promotion or the abort record.

    Idempotent: a promoted challenger that is champion already, or an abort already in the
    ledger, is left alone.

    Raises:
        PromotionConflict: The champion moved to another version under the rollout.
    """
    t = as_target(target)
    done: list[str] = []
    if state.status == "promoted":
        if champion_state(t).champion != state.challenger:
            record = promote(
                t,
                state.challenger,
                expected_champion=state.champion,
                by=ROLLOUT_BY,
                reason=state.reason,
                evidence={"rollout_revision": state.revision},
            )
            done.append(f"promoted v{record.to_version}")
            if emit is not None:
                payload = {"version": state.challenger, "previous_version": state.champion}
                emit(events.MODEL_PROMOTED, payload, _event_id(events.MODEL_PROMOTED, state))
    elif state.status in ("aborted", "inconclusive") and not _abort_recorded(t, state):
        record_abort(
            t,
            state.challenger,
            by=ROLLOUT_BY,
            reason=state.reason,
            evidence={"rollout_revision": state.revision, "status": state.status},
        )
        done.append("abort recorded")
    return done


def tick(
    target: Any,
    plan: Sequence[Any],
    *,
    now: datetime,
    alpha: float = 0.05,
    emit: Emit | None = None,
) -> Tick:
    """One reconciler run: settle an ended rollout, else advance a running one by one step."""
    t = as_target(target)
    state = t.store.rollouts.get(t.name)
    if state is None:
        return Tick("none", f"{t.name} has no rollout")
    if state.status != "running":
        try:
            settled = settle(t, state, emit)
        except PromotionConflict as exc:
            return Tick("conflict", str(exc), state)
        return Tick("wait", f"rollout {state.status}: {state.reason}", state, settled=settled)
    evidence = evidence_for(t.store, t.name, state, alpha)
    transition = advance(plan, state, evidence, now)
    if not transition.changed:
        return Tick("wait", transition.reason, state, evidence)
    stored = t.store.rollouts.write(transition, state.revision)
    if stored is None:
        return Tick("conflict", "another writer changed the rollout first", state, evidence)
    hooks.crash_point("rollout_state")
    result = Tick(transition.action, transition.reason, stored, evidence)
    _announce(result, transition.event, stored, emit)
    if transition.action == "abort" and traffic(plan, state).challenger > 0:
        _announce(result, ROLLED_BACK, stored, emit)  # the challenger had live traffic
    try:
        result.settled = settle(t, stored, emit)
    except PromotionConflict as exc:
        result.reason += f"; not promoted: {exc}"
    return result


def transition_by_hand(
    target: Any, change: Callable[[RolloutState], Transition], emit: Emit | None = None
) -> Tick:
    """Apply a person's change (pause, resume, abort, promote now) by compare-and-set.

    Raises:
        LookupError: The model has no rollout.
        ValueError: The change does not apply to the rollout's status.
        RolloutConflict: Another writer came first.
    """
    t = as_target(target)
    state = t.store.rollouts.get(t.name)
    if state is None:
        raise LookupError(f"{t.name} has no rollout")
    transition = change(state)
    stored = t.store.rollouts.write(transition, state.revision)
    if stored is None:
        raise RolloutConflict(f"{t.name}: the rollout changed meanwhile; try again")
    result = Tick(transition.action, transition.reason, stored)
    _announce(result, transition.event, stored, emit)
    result.settled = settle(t, stored, emit)
    return result
