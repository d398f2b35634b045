"""The rollout state machine: a challenger through shadow, canary and A/B stages (pure).

:func:`start` opens a rollout; :func:`advance` is one tick of the reconciler: given the plan
(``promotion.stages``), the state and the evidence the gateway logged since the current step
began, it returns at most one :class:`Transition`. Each stage's rule, in order:

1. A state that is not ``running`` (paused, promoted, aborted, inconclusive) waits.
2. Evidence for another challenger (a newer one arrived) restarts the plan with it.
3. ``shadow``: once ``min_requests``, ``min_labelled`` and ``min_duration_hours`` are met,
   the analysis decides; still short of evidence after ``max_duration_hours`` pauses.
4. ``canary``: at each weight step, once ``step_minutes`` passed and ``min_labelled_per_step``
   labels arrived, the analysis decides; success moves to the next weight (the last one to
   the next stage); a step still short of labels after ``max_step_hours`` pauses.
5. ``ab``: the analysis metrics are guardrails (a failure beyond ``failure_limit`` aborts
   early); at the horizon — the labelled requests per arm the minimum detectable effect needs,
   or ``horizon_days``, whichever comes first — the comparison decides: better promotes (or
   moves on), worse aborts, anything else ends ``inconclusive`` and promotes nothing.

An analysis (see :mod:`retrainer.rollout.analysis`) that fails or errs counts a failure;
past ``failure_limit`` the rollout aborts (challenger weight 0, champion unchanged). An
inconclusive one counts; past ``inconclusive_limit`` it pauses for a human
(:func:`resume`, :func:`abort`, :func:`promote_now`). Otherwise the step starts over, to
collect fresh evidence. The end of the last stage is ``promote``: the caller then calls the
single promotion path. Every transition bumps ``revision``, for a compare-and-set write.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from retrainer import events
from retrainer.config.promotion import ABStage, CanaryStage, ShadowStage
from retrainer.rollout.analysis import AnalysisResult, analyse
from retrainer.rollout.stats import Comparison, required_per_arm

Status = Literal["running", "paused", "promoted", "aborted", "inconclusive"]
Action = Literal[
    "start", "wait", "retry", "advance", "pause", "resume", "abort", "promote", "restart"
]

EVENTS: dict[str, str] = {
    "start": events.ROLLOUT_STARTED,
    "restart": events.ROLLOUT_STARTED,
    "advance": events.ROLLOUT_ADVANCED,
    "pause": events.ROLLOUT_PAUSED,
    "resume": events.ROLLOUT_ADVANCED,
    "promote": events.ROLLOUT_PROMOTED,
    "abort": events.ROLLOUT_ABORTED,
}
"""The event each action emits (``wait`` and ``retry``, a step measured again, emit none)."""

TERMINAL: frozenset[str] = frozenset({"promoted", "aborted", "inconclusive"})


@dataclass(frozen=True)
class RolloutState:
    """Where a rollout stands (stored; every change bumps ``revision``).

    Attributes:
        model: Registered model name.
        challenger: The challenger's version.
        champion: The serving champion's version (None: the first model).
        started_at: When the plan (re)started.
        step_started_at: When the current step began collecting evidence.
        stage: Index of the current stage in the plan.
        step: Index of the current canary weight.
        status: running, paused, promoted, aborted or inconclusive.
        failed: Failed (or errored) analyses in the current stage.
        inconclusive: Inconclusive analyses in the current stage.
        baseline: The champion's primary metric (a rate), for the A/B sample size.
        reason: Why the last transition happened.
        revision: Bumped by every transition.
    """

    model: str
    challenger: str
    champion: str | None
    started_at: datetime
    step_started_at: datetime
    stage: int = 0
    step: int = 0
    status: Status = "running"
    failed: int = 0
    inconclusive: int = 0
    baseline: float | None = None
    reason: str = ""
    revision: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        data = asdict(self)
        data["started_at"] = self.started_at.isoformat()
        data["step_started_at"] = self.step_started_at.isoformat()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RolloutState:
        """Inverse of :meth:`to_dict`."""
        values = dict(data)
        for key in ("started_at", "step_started_at"):
            values[key] = datetime.fromisoformat(values[key])
        return cls(**values)


@dataclass(frozen=True)
class Evidence:
    """What the gateway logged since the current step began.

    Attributes:
        challenger: The challenger version the evidence is about.
        requests: Requests the challenger answered (or shadowed).
        labelled: Of those, how many have a label.
        values: Analysis metric name → measured value (None: could not be measured).
        comparison: The primary metric, challenger minus champion (the A/B decision).
    """

    challenger: str
    requests: int = 0
    labelled: int = 0
    values: Mapping[str, float | None] = field(default_factory=dict)
    comparison: Comparison | None = None


@dataclass(frozen=True)
class Transition:
    """The outcome of one tick: the action, the new state, why, and the analysis if any."""

    action: Action
    state: RolloutState
    reason: str
    analysis: AnalysisResult | None = None

    @property
    def event(self) -> str | None:
        """The ``retrainer.rollout.*`` event to emit (None: nothing changed)."""
        return EVENTS.get(self.action)

    @property
    def changed(self) -> bool:
        """Whether the state must be written."""
        return self.action != "wait"


@dataclass(frozen=True)
class Traffic:
    """How the gateway routes: a weight per variant (percent) and the shadow share."""

    champion: int
    challenger: int
    shadow_fraction: float = 0.0


def _move(state: RolloutState, reason: str, **changes: Any) -> RolloutState:
    return replace(state, reason=reason, revision=state.revision + 1, **changes)


def stage_name(plan: Sequence[Any], state: RolloutState) -> str:
    """``shadow``, ``canary 25%`` or ``ab`` for the current stage (``done`` past the end)."""
    if state.stage >= len(plan):
        return "done"
    stage = plan[state.stage]
    if isinstance(stage, CanaryStage):
        return f"canary {stage.weights[min(state.step, len(stage.weights) - 1)]}%"
    return stage.kind


def traffic(plan: Sequence[Any], state: RolloutState) -> Traffic:
    """The routing the state asks for (a paused rollout holds its weights, as Argo does)."""
    if state.status == "promoted":
        return Traffic(0, 100)
    if state.status in ("aborted", "inconclusive") or state.stage >= len(plan):
        return Traffic(100, 0)
    stage = plan[state.stage]
    if isinstance(stage, ShadowStage):
        return Traffic(100, 0, stage.sample_fraction)
    if isinstance(stage, CanaryStage):
        weight = stage.weights[state.step]
        return Traffic(100 - weight, weight)
    share = round(stage.challenger_share * 100)
    return Traffic(100 - share, share)


def required_labelled(stage: ABStage, baseline: float | None) -> int | None:
    """Labelled requests per arm the A/B stage needs (None without a baseline rate)."""
    if baseline is None:
        return None
    return required_per_arm(baseline, stage.min_detectable_effect, stage.alpha, stage.power)


def start(
    plan: Sequence[Any],
    model: str,
    challenger: str,
    champion: str | None,
    now: datetime,
    baseline: float | None = None,
) -> Transition:
    """Open a rollout of ``challenger`` (the reason names the plan and any A/B sample size).

    Raises:
        ValueError: An empty plan.
    """
    if not plan:
        raise ValueError("promotion.stages is empty: nothing to roll out")
    kinds = " → ".join(
        f"canary {'/'.join(map(str, s.weights))}%" if isinstance(s, CanaryStage) else s.kind
        for s in plan
    )
    reason = f"rollout of v{challenger} against v{champion or '-'}: {kinds}"
    for stage in plan:
        if isinstance(stage, ABStage):
            needed = required_labelled(stage, baseline)
            if needed is not None:
                reason += (
                    f"; A/B needs {needed:,} labelled requests per arm to detect "
                    f"{stage.min_detectable_effect:g} at power {stage.power:g}"
                )
    state = RolloutState(model, challenger, champion, now, now, baseline=baseline, reason=reason)
    return Transition("start", state, reason)


def _next_stage(
    plan: Sequence[Any], state: RolloutState, now: datetime, why: str, analysis: Any = None
) -> Transition:
    if state.stage + 1 >= len(plan):
        reason = f"{stage_name(plan, state)} passed ({why}): promote v{state.challenger}"
        return Transition("promote", _move(state, reason, status="promoted"), reason, analysis)
    moved = _move(
        state, "", stage=state.stage + 1, step=0, failed=0, inconclusive=0, step_started_at=now
    )
    reason = f"{stage_name(plan, state)} passed ({why}): on to {stage_name(plan, moved)}"
    return Transition("advance", replace(moved, reason=reason), reason, analysis)


def _judge(
    plan: Sequence[Any],
    stage: Any,
    state: RolloutState,
    evidence: Evidence,
    now: datetime,
    on_success: Callable[[str, AnalysisResult], Transition],
) -> Transition:
    result = analyse(stage.analysis, evidence.values)
    where = stage_name(plan, state)
    if result.verdict in ("failed", "error"):
        failed = state.failed + 1
        if failed > stage.failure_limit:
            reason = f"{where} analysis {result.summary()}: abort, v{state.champion} stays"
            moved = _move(state, reason, status="aborted", failed=failed)
            return Transition("abort", moved, reason, result)
        reason = f"{where} analysis {result.summary()} ({failed}/{stage.failure_limit} allowed)"
        moved = _move(state, reason, failed=failed, step_started_at=now)
        return Transition("retry", moved, reason, result)
    if result.verdict == "inconclusive":
        count = state.inconclusive + 1
        if count > stage.inconclusive_limit:
            reason = f"{where} analysis {result.summary()}: paused for a human"
            moved = _move(state, reason, status="paused", inconclusive=count)
            return Transition("pause", moved, reason, result)
        reason = f"{where} analysis {result.summary()}: measuring again"
        moved = _move(state, reason, inconclusive=count, step_started_at=now)
        return Transition("retry", moved, reason, result)
    return on_success(result.summary(), result)


def _short(state: RolloutState, reason: str) -> Transition:
    return Transition("wait", state, reason)


def _pause(state: RolloutState, reason: str) -> Transition:
    return Transition("pause", _move(state, reason, status="paused"), reason)


def _shadow(
    plan: Sequence[Any], stage: ShadowStage, state: RolloutState, ev: Evidence, now: datetime
) -> Transition:
    elapsed = now - state.step_started_at
    missing = []
    if ev.requests < stage.min_requests:
        missing.append(f"{ev.requests:,}/{stage.min_requests:,} requests")
    if ev.labelled < stage.min_labelled:
        missing.append(f"{ev.labelled:,}/{stage.min_labelled:,} labelled")
    if elapsed < timedelta(hours=stage.min_duration_hours):
        missing.append(f"{elapsed} of {stage.min_duration_hours:g} h")
    if missing:
        if elapsed >= timedelta(hours=stage.max_duration_hours):
            return _pause(
                state,
                f"shadow still short after {stage.max_duration_hours:g} h: " + ", ".join(missing),
            )
        return _short(state, "shadow collecting: " + ", ".join(missing))
    return _judge(plan, stage, state, ev, now, lambda why, r: _next_stage(plan, state, now, why, r))


def _canary(
    plan: Sequence[Any], stage: CanaryStage, state: RolloutState, ev: Evidence, now: datetime
) -> Transition:
    elapsed = now - state.step_started_at
    where = stage_name(plan, state)
    missing = []
    if elapsed < timedelta(minutes=stage.step_minutes):
        missing.append(f"{elapsed} of {stage.step_minutes:g} min")
    if ev.labelled < stage.min_labelled_per_step:
        missing.append(f"{ev.labelled:,}/{stage.min_labelled_per_step:,} labelled")
    if missing:
        if elapsed >= timedelta(hours=stage.max_step_hours):
            return _pause(
                state,
                f"{where} still short after {stage.max_step_hours:g} h: " + ", ".join(missing),
            )
        return _short(state, f"{where} collecting: " + ", ".join(missing))

    def passed(why: str, result: AnalysisResult) -> Transition:
        if state.step + 1 < len(stage.weights):
            moved = _move(state, "", step=state.step + 1, step_started_at=now)
            reason = f"{where} passed ({why}): on to {stage_name(plan, moved)}"
            return Transition("advance", replace(moved, reason=reason), reason, result)
        return _next_stage(plan, state, now, why, result)

    return _judge(plan, stage, state, ev, now, passed)


def _ab(
    plan: Sequence[Any], stage: ABStage, state: RolloutState, ev: Evidence, now: datetime
) -> Transition:
    guard = analyse(stage.analysis, ev.values) if ev.labelled else None
    if guard is not None and guard.verdict == "failed" and state.failed + 1 > stage.failure_limit:
        reason = f"ab guardrail {guard.summary()}: abort, v{state.champion} stays"
        moved = _move(state, reason, status="aborted", failed=state.failed + 1)
        return Transition("abort", moved, reason, guard)
    needed = required_labelled(stage, state.baseline)
    elapsed = now - state.step_started_at
    arm = min(ev.comparison.n_champion, ev.comparison.n_challenger) if ev.comparison else 0
    at_horizon = elapsed >= timedelta(days=stage.horizon_days) or (
        needed is not None and arm >= needed
    )
    if not at_horizon:
        goal = f"{arm:,}/{needed:,} labelled per arm" if needed else f"{arm:,} labelled per arm"
        return _short(state, f"ab running: {goal}, {elapsed} of {stage.horizon_days:g} days")
    comparison = ev.comparison
    if comparison is None:
        return _pause(state, "ab at its horizon without a comparison of the arms")
    shown = (
        f"delta {comparison.delta:+.4f} [{comparison.low:+.4f}, {comparison.high:+.4f}], "
        f"p {comparison.p_value:.3g}, n {comparison.n_champion:,}/{comparison.n_challenger:,}"
    )
    if comparison.low > 0:
        return _next_stage(plan, state, now, f"challenger better: {shown}", guard)
    if comparison.high < 0:
        reason = f"ab: challenger worse ({shown}): abort, v{state.champion} stays"
        return Transition("abort", _move(state, reason, status="aborted"), reason, guard)
    reason = f"ab inconclusive ({shown}): nothing promoted, v{state.champion} stays"
    return Transition("abort", _move(state, reason, status="inconclusive"), reason, guard)


STAGES: dict[str, Callable[..., Transition]] = {"shadow": _shadow, "canary": _canary, "ab": _ab}


def advance(
    plan: Sequence[Any], state: RolloutState, evidence: Evidence, now: datetime
) -> Transition:
    """One reconciler tick (see the module docstring for the rules, in order)."""
    if state.status != "running":
        return Transition("wait", state, f"rollout {state.status}: {state.reason}")
    if evidence.challenger != state.challenger:
        return restart(state, evidence.challenger, now)
    if state.stage >= len(plan):  # the plan was shortened under a running rollout
        reason = f"promotion.stages has no stage {state.stage + 1} any more: abort"
        return Transition("abort", _move(state, reason, status="aborted"), reason)
    stage = plan[state.stage]
    return STAGES[stage.kind](plan, stage, state, evidence, now)


def restart(state: RolloutState, challenger: str, now: datetime) -> Transition:
    """A newer challenger replaces the one under rollout: the plan starts over with it.

    Raises:
        ValueError: The rollout has ended (start a new one instead).
    """
    if state.status in TERMINAL:
        raise ValueError(f"rollout is already {state.status}: start a new one")
    reason = f"newer challenger v{challenger} replaces v{state.challenger}: restart"
    moved = _move(
        state,
        reason,
        challenger=challenger,
        status="running",
        stage=0,
        step=0,
        failed=0,
        inconclusive=0,
        started_at=now,
        step_started_at=now,
    )
    return Transition("restart", moved, reason)


def resume(state: RolloutState, now: datetime, by: str = "") -> Transition:
    """A human resumes a paused rollout: the step starts over, inconclusive count cleared."""
    if state.status != "paused":
        raise ValueError(f"rollout is {state.status}, not paused")
    reason = f"resumed{f' by {by}' if by else ''}"
    moved = _move(state, reason, status="running", inconclusive=0, step_started_at=now)
    return Transition("resume", moved, reason)


def pause(state: RolloutState, by: str = "") -> Transition:
    """A human pauses a running rollout: the weights hold until resumed or aborted."""
    if state.status != "running":
        raise ValueError(f"rollout is {state.status}, not running")
    return _pause(state, f"paused by hand{f' by {by}' if by else ''}")


def abort(state: RolloutState, reason: str) -> Transition:
    """Stop the rollout: challenger weight 0, the champion unchanged."""
    if state.status in TERMINAL:
        raise ValueError(f"rollout is already {state.status}")
    return Transition("abort", _move(state, reason, status="aborted"), reason)


def promote_now(state: RolloutState, by: str = "") -> Transition:
    """A human promotes the challenger without the remaining stages."""
    if state.status in TERMINAL:
        raise ValueError(f"rollout is already {state.status}")
    reason = f"promoted by hand{f' by {by}' if by else ''}, the remaining stages skipped"
    return Transition("promote", _move(state, reason, status="promoted"), reason)
