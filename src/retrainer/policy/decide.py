"""Should the model be retrained now? One pure function for the live flow and the backtest.

:func:`decide` takes the ``policy`` section, the model's :class:`PolicyState`, what is observed
now and returns a :class:`Decision` with the state to keep. Check order:

1. **Triggers.** Each trigger is evaluated (a dispatch table by kind): event-like triggers
   (webhook alerts, a drift or monitoring event already decided on) count each event id once;
   condition triggers (drift, performance) fire after ``consecutive`` breaching checks in a
   row; a model without a champion fires ``bootstrap``. The top-level ``mode`` (and any
   ``hybrid`` trigger) combines them. Nothing fired: ``no_trigger``.
2. **require_degradation.** When every fired trigger is a drift trigger and realised and
   estimated performance hold (no available basis is worse than the champion's recorded value
   by ``degradation_drop``), the retrain is waste: ``suppressed`` by ``require_degradation``.
3. **A running rollout** (``hold_during_rollout``), then the **cooldown** since the last
   retrain, then the **daily cap** — all skipped for an on-demand request that may bypass
   them: ``suppressed``.
4. **Labels.** Too few labelled rows, overall or for a class: ``waiting_for_labels``, with the
   counts.
5. Otherwise ``retrain``: the state records the retrain and the counters of the fired
   triggers start again.

Whatever the outcome, the events seen are remembered (a storm of duplicates causes one
retrain) and the breach counters keep counting (a breach suppressed by the cooldown still
counts once the cooldown is over).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from retrainer.config.policy import (
    CodeChangeTrigger,
    DataVolumeTrigger,
    DriftTrigger,
    HybridTrigger,
    OnDemandTrigger,
    PerformanceTrigger,
    PolicySection,
    ScheduleTrigger,
    WebhookTrigger,
)
from retrainer.policy.clock import next_occurrence, utc
from retrainer.policy.observations import Observations, PerformanceObservation
from retrainer.policy.state import PolicyState

STATUSES = ("retrain", "no_trigger", "suppressed", "waiting_for_labels")


@dataclass(frozen=True)
class Outcome:
    """One trigger's verdict on the observations."""

    fired: bool
    reason: str = ""
    breach: bool | None = None  # condition triggers: this check breached (None: not one)
    events: tuple[str, ...] = ()
    bypass: bool = False  # an on-demand request: cooldown and cap do not apply
    drift_only: bool = False


@dataclass(frozen=True)
class Decision:
    """The outcome of one decision.

    Attributes:
        retrain: Whether to retrain now.
        status: ``retrain``, ``no_trigger``, ``suppressed`` or ``waiting_for_labels``.
        reasons: Why the policy fired, one line per fired trigger.
        suppressed_by: The guard that held a fired policy back (``require_degradation``,
            ``cooldown``, ``daily_cap``, ``labels``; ``in_progress`` when another run was
            checking the model and took the request over), or None.
        detail: One line saying what was decided and why.
        fired: Names of the fired triggers.
        consecutive: Trigger name → consecutive breaching checks (after this decision).
        labels: Labelled rows overall and per class, and what the guard needs.
        event_ids: Event and alert ids this decision consumed.
        next_state: The state to keep.
    """

    retrain: bool
    status: str
    reasons: tuple[str, ...]
    suppressed_by: str | None
    detail: str
    fired: tuple[str, ...]
    consecutive: dict[str, int]
    labels: dict[str, Any]
    event_ids: tuple[str, ...]
    next_state: PolicyState = field(repr=False)

    @property
    def reason(self) -> str:
        """The fired triggers' reasons in one line (the lineage's trigger reason)."""
        return "; ".join(self.reasons) or self.detail

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (the recorded decision and the Prefect artifact)."""
        return {
            "retrain": self.retrain,
            "status": self.status,
            "reasons": list(self.reasons),
            "suppressed_by": self.suppressed_by,
            "detail": self.detail,
            "fired": list(self.fired),
            "consecutive": dict(self.consecutive),
            "labels": dict(self.labels),
            "event_ids": list(self.event_ids),
        }


def trigger_names(triggers: list[Any]) -> list[str]:
    """Each trigger's name: its own, or its kind (``kind[i]`` when the kind repeats)."""
    kinds = [t.kind for t in triggers]
    return [
        t.name or (t.kind if kinds.count(t.kind) == 1 else f"{t.kind}[{i}]")
        for i, t in enumerate(triggers)
    ]


# -- one evaluator per kind ---------------------------------------------------------------
@dataclass(frozen=True)
class _Context:
    observations: Observations
    state: PolicyState
    policy: PolicySection
    seen: frozenset[str]


Evaluator = Callable[[Any, _Context], Outcome]


def _schedule(trigger: ScheduleTrigger, ctx: _Context) -> Outcome:
    obs = ctx.observations
    since = ctx.state.last_retrain or obs.champion_trained_at or ctx.state.started or obs.now
    due = next_occurrence(trigger.cron, trigger.timezone, since)
    now = utc(ctx.observations.now)
    if due > now:
        return Outcome(False)
    return Outcome(
        True, f"schedule: {trigger.cron} ({trigger.timezone}) was due {due:%Y-%m-%d %H:%M} UTC"
    )


def _new_event(event_id: str | None, ctx: _Context) -> bool:
    return event_id is None or event_id not in ctx.seen


def _drift(trigger: DriftTrigger, ctx: _Context) -> Outcome:
    drift = ctx.observations.drift
    if drift is None or not _new_event(drift.event_id, ctx):
        return Outcome(False)  # no new check: the counter neither grows nor resets
    columns = [c for c in drift.drifted_columns if trigger.columns is None or c in trigger.columns]
    breach = drift.drifted and (
        len(columns) >= trigger.min_drifted_columns
        or (trigger.prediction and drift.prediction_drift)
    )
    events = (drift.event_id,) if drift.event_id else ()
    what = ", ".join(columns[:5]) + (" ..." if len(columns) > 5 else "")
    if trigger.prediction and drift.prediction_drift:
        what = f"{what}{', ' if what else ''}predictions"
    return Outcome(
        False, f"drift: {what or 'none'}", breach=bool(breach), events=events, drift_only=True
    )


def _worse(value: float, bound: float, higher_is_better: bool) -> bool:
    return value < bound if higher_is_better else value > bound


def _bounds(
    trigger: PerformanceTrigger, reference: float | None, higher_is_better: bool
) -> list[tuple[float, str]]:
    """The bounds a value is judged by: the threshold, and the reference minus ``max_drop``.

    ``reference`` is the champion's value where the value was measured: overall, or the
    segment's own (segments differ in base rate; the overall value would flag a segment that
    was always lower as degraded).
    """
    bounds = []
    if trigger.threshold is not None:
        bounds.append((trigger.threshold, f"{trigger.threshold:g}"))
    if trigger.max_drop is not None and reference is not None:
        sign = -1 if higher_is_better else 1
        bound = reference + sign * trigger.max_drop
        bounds.append(
            (bound, f"{bound:.4g} (the champion's {reference:.4g} - {trigger.max_drop:g})")
        )
    return bounds


def _performance_values(
    trigger: PerformanceTrigger, perf: PerformanceObservation
) -> list[tuple[float, str, float | None]]:
    """``(value, description, reference)`` of every value the trigger looks at."""
    values: list[tuple[float, str, float | None]] = []

    def add(
        realised: float | None,
        estimated: float | None,
        support: int,
        scope: str,
        reference: float | None,
    ) -> None:
        if (
            trigger.basis in ("realised", "either")
            and realised is not None
            and support >= trigger.min_support
        ):
            values.append((realised, f"realised {scope} ({support:,} labelled rows)", reference))
        if trigger.basis in ("estimated", "either") and estimated is not None:
            values.append((estimated, f"estimated {scope}", reference))

    if trigger.scope in ("overall", "any"):
        add(perf.realised, perf.estimated, perf.support, "overall", perf.reference)
    if trigger.scope in ("segments", "any"):
        for seg in perf.segments:
            reference = seg.reference if seg.reference is not None else perf.reference
            add(seg.realised, seg.estimated, seg.support, f"in {seg.segment}", reference)
    return values


def _performance(trigger: PerformanceTrigger, ctx: _Context) -> Outcome:
    perf = ctx.observations.performance
    if perf is None or not _new_event(perf.event_id, ctx):
        return Outcome(False)
    metric = trigger.metric or perf.metric
    if metric != perf.metric:
        return Outcome(False)
    events = (perf.event_id,) if perf.event_id else ()
    for value, where, reference in _performance_values(trigger, perf):
        for bound, text in _bounds(trigger, reference, perf.higher_is_better):
            if _worse(value, bound, perf.higher_is_better):
                side = "<" if perf.higher_is_better else ">"
                reason = f"performance: {metric} {where} {value:.4g} {side} {text}"
                return Outcome(False, reason, breach=True, events=events)
    return Outcome(False, f"performance: {metric} holds", breach=False, events=events)


def _data_volume(trigger: DataVolumeTrigger, ctx: _Context) -> Outcome:
    rows = ctx.observations.new_labelled_rows
    if rows < trigger.min_new_rows:
        return Outcome(False)
    return Outcome(True, f"data_volume: {rows:,} new labelled rows (>= {trigger.min_new_rows:,})")


def _code_change(trigger: CodeChangeTrigger, ctx: _Context) -> Outcome:
    obs = ctx.observations
    changed = []
    if trigger.config and obs.champion_config_hash and obs.config_hash != obs.champion_config_hash:
        changed.append(f"config {obs.champion_config_hash} -> {obs.config_hash}")
    if trigger.code and obs.champion_code_version and obs.code_version != obs.champion_code_version:
        changed.append(f"code {obs.champion_code_version} -> {obs.code_version}")
    if not changed:
        return Outcome(False)
    return Outcome(True, "code_change: " + ", ".join(changed))


def _webhook(trigger: WebhookTrigger, ctx: _Context) -> Outcome:
    alerts = [
        a
        for a in ctx.observations.alerts
        if a.alert_id not in ctx.seen and (trigger.sources is None or a.source in trigger.sources)
    ]
    if not alerts:
        return Outcome(False)
    first = alerts[0]
    more = f" (+{len(alerts) - 1} more)" if len(alerts) > 1 else ""
    said = f": {first.reason}" if first.reason else ""
    text = f"webhook: {first.source} alert {first.alert_id}{said}{more}"
    return Outcome(True, text, events=tuple(a.alert_id for a in alerts))


def _on_demand(trigger: OnDemandTrigger, ctx: _Context) -> Outcome:
    request = ctx.observations.on_demand
    if request is None:
        return Outcome(False)
    return Outcome(True, f"on_demand: {request}", bypass=trigger.bypass_cooldown)


def _hybrid(trigger: HybridTrigger, ctx: _Context) -> Outcome:
    outcomes = [
        _evaluate(t, name, ctx)[0]
        for t, name in zip(trigger.triggers, trigger_names(trigger.triggers), strict=True)
    ]
    return _combine(outcomes, trigger.mode, trigger.k)


EVALUATORS: dict[str, Evaluator] = {
    "schedule": _schedule,
    "drift": _drift,
    "performance": _performance,
    "data_volume": _data_volume,
    "code_change": _code_change,
    "webhook": _webhook,
    "on_demand": _on_demand,
    "hybrid": _hybrid,
}
"""Trigger kind → its evaluator."""


def _evaluate(trigger: Any, name: str, ctx: _Context) -> tuple[Outcome, int | None]:
    """A trigger's outcome, with consecutive breaches applied; and its new counter."""
    outcome = EVALUATORS[trigger.kind](trigger, ctx)
    if outcome.breach is None:
        return outcome, None
    count = ctx.state.consecutive.get(name, 0) + 1 if outcome.breach else 0
    needed = getattr(trigger, "consecutive", 1)
    fired = bool(outcome.breach) and count >= needed
    reason = outcome.reason + (
        f" ({count} checks in a row)" if needed > 1 and outcome.breach else ""
    )
    return replace(outcome, fired=fired, reason=reason), count


def _combine(outcomes: list[Outcome], mode: str, k: int | None) -> Outcome:
    fired = [o for o in outcomes if o.fired]
    needed = {"any": 1, "all": len(outcomes), "at_least": k or 1}[mode]
    events = tuple(e for o in outcomes for e in o.events)
    if len(fired) < needed or not fired:
        return Outcome(False, events=events)
    return Outcome(
        True,
        "; ".join(o.reason for o in fired),
        events=events,
        bypass=any(o.bypass for o in fired),
        drift_only=all(o.drift_only for o in fired),
    )


# -- guards --------------------------------------------------------------------------------
def performance_holds(policy: PolicySection, perf: PerformanceObservation | None) -> bool | None:
    """Whether realised and estimated performance hold (None: nothing to tell)."""
    if perf is None or perf.reference is None:
        return None
    values = [v for v in (perf.realised, perf.estimated) if v is not None]
    if not values:
        return None
    sign = -1 if perf.higher_is_better else 1
    bound = perf.reference + sign * policy.degradation_drop
    return not any(_worse(v, bound, perf.higher_is_better) for v in values)


def _label_counts(policy: PolicySection, obs: Observations) -> tuple[dict[str, Any], str | None]:
    guard = policy.labels
    counts: dict[str, Any] = {
        "rows": obs.labelled_rows,
        "min_rows": guard.min_rows,
        "per_class": dict(obs.labelled_per_class),
        "min_per_class": guard.min_per_class,
    }
    if obs.labelled_rows < guard.min_rows:
        return counts, f"{obs.labelled_rows:,} labelled rows, {guard.min_rows:,} needed"
    short = {c: n for c, n in obs.labelled_per_class.items() if n < guard.min_per_class}
    if short:
        listed = ", ".join(f"{c}: {n:,}" for c, n in sorted(short.items()))
        return (
            counts,
            f"too few labelled rows of class {listed} ({guard.min_per_class:,} each needed)",
        )
    return counts, None


def _guard(
    policy: PolicySection, state: PolicyState, obs: Observations, fired: Outcome
) -> tuple[str, str] | None:
    """The first guard that holds the fired policy back: ``(name, why)``."""
    if (
        fired.drift_only
        and policy.require_degradation
        and performance_holds(policy, obs.performance)
    ):
        perf = obs.performance
        assert perf is not None
        return "require_degradation", (
            f"drift without degradation: {perf.metric} realised {_num(perf.realised)}, "
            f"estimated {_num(perf.estimated)}, champion {perf.reference:.4g} "
            "(a retrain now is waste)"
        )
    if fired.bypass:
        return None
    if policy.hold_during_rollout and obs.rollout is not None:
        return "rollout", f"{obs.rollout} is under rollout: the rollout decides first"
    return held_by_time(policy, state, obs.now)


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def held_by_time(
    policy: PolicySection, state: PolicyState, now: datetime
) -> tuple[str, str] | None:
    """The cooldown or the daily cap, when one holds every non-bypassing retrain back now.

    Returns:
        ``(guard, why)``, or None when neither holds.
    """
    now = utc(now)
    if state.last_retrain is not None:
        ready = utc(state.last_retrain) + timedelta(hours=policy.cooldown_hours)
        if now < ready:
            return (
                "cooldown",
                f"cooldown until {ready:%Y-%m-%d %H:%M} UTC (last retrain "
                f"{utc(state.last_retrain):%Y-%m-%d %H:%M})",
            )
    if policy.max_per_day is not None:
        today = [t for t in state.retrains if utc(t).date() == now.date()]
        if len(today) >= policy.max_per_day:
            return "daily_cap", f"{len(today)} retrain(s) today, at most {policy.max_per_day}"
    return None


def decide(policy: PolicySection, state: PolicyState, observations: Observations) -> Decision:
    """Decide whether to retrain now (see the module docstring for the check order).

    Args:
        policy: The ``policy`` section.
        state: What the policy remembers of earlier decisions.
        observations: What is known now.

    Returns:
        The decision, and in ``next_state`` the state to keep (also when nothing fired).
    """
    if state.started is None:
        state = replace(state, started=utc(observations.now))
    ctx = _Context(observations, state, policy, frozenset(state.processed_events))
    names = trigger_names(policy.triggers)
    outcomes, counters = [], dict(state.consecutive)
    for trigger, name in zip(policy.triggers, names, strict=True):
        outcome, count = _evaluate(trigger, name, ctx)
        outcomes.append(outcome)
        if count is not None:
            counters[name] = count
    if not observations.has_champion:
        outcomes.append(Outcome(True, "bootstrap: the model has no champion yet"))
        names = [*names, "bootstrap"]
    combined = _combine(outcomes, "any" if not observations.has_champion else policy.mode, policy.k)
    fired_names = tuple(n for n, o in zip(names, outcomes, strict=True) if o.fired)
    kept = replace(state, consecutive=counters).with_events(
        list(combined.events), policy.remember_events
    )
    labels, short = _label_counts(policy, observations)
    base = {
        "fired": fired_names,
        "consecutive": counters,
        "labels": labels,
        "event_ids": combined.events,
    }
    if not combined.fired:
        return Decision(False, "no_trigger", (), None, "no trigger fired", next_state=kept, **base)
    reasons = tuple(o.reason for o in outcomes if o.fired)
    held = _guard(policy, state, observations, combined)
    if held is not None:
        return Decision(False, "suppressed", reasons, held[0], held[1], next_state=kept, **base)
    if short is not None:
        return Decision(
            False,
            "waiting_for_labels",
            reasons,
            "labels",
            f"waiting for labels: {short}",
            next_state=kept,
            **base,
        )
    retrained = kept.retrained(observations.now)
    reset = {n: (0 if n in fired_names else c) for n, c in counters.items()}
    final = replace(retrained, consecutive=reset)
    return Decision(
        True,
        "retrain",
        reasons,
        None,
        "retrain: " + "; ".join(reasons),
        next_state=final,
        **{**base, "consecutive": reset},
    )


def handed_over(state: PolicyState, holder: str, request: str) -> Decision:
    """The decision of a run that found another run checking the model (an alert storm).

    The request (an alert, a person's request) goes to the run holding the check, which
    decides on it with fresh checks; this run decides nothing and keeps the state as it is.

    Args:
        state: The model's state (unchanged).
        holder: The run that is checking the model.
        request: What this run was started for, in words.
    """
    return Decision(
        retrain=False,
        status="suppressed",
        reasons=(request,),
        suppressed_by="in_progress",
        detail=f"handed over to run {holder}, which is checking the model now",
        fired=(),
        consecutive=dict(state.consecutive),
        labels={},
        event_ids=(),
        next_state=state,
    )
