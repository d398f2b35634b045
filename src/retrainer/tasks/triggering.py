"""IO around the trigger policy: observations from data and lineage, decisions in the store.

The decision itself is :func:`retrainer.policy.decide` (pure). Here it is taken under the
model's lock in the operational store (``trigger_state``), so concurrent runs decide one after
the other, and every decision — taken, suppressed, waiting for labels or nothing fired — is
recorded in ``trigger_decisions`` with its reasons.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from retrainer import events
from retrainer.policy import Alert, Decision, PolicyState, decide, handed_over
from retrainer.policy.clock import end_of_day
from retrainer.policy.decide import held_by_time
from retrainer.policy.observations import Observations
from retrainer.policy.observe import count_labels, label_window_days, trigger_alerts

if TYPE_CHECKING:
    from retrainer.project import Project
    from retrainer.registry.champion import Champion


_SUPPRESSED_NAMESPACE = uuid.UUID("0b6f3c1e-5d2a-4f8e-9c47-2a1d6e8b7f30")

CHECK_LEASE = timedelta(hours=1)
"""How long a run may hold a model's check lease (a crashed run's lease runs out)."""


def decision_time(as_of: str | None) -> datetime:
    """When a decision is taken: now, or the end of ``as_of`` (a replay of an older day)."""
    if as_of is None:
        return datetime.now(UTC)
    return end_of_day(date.fromisoformat(as_of))


@dataclass(frozen=True)
class Request:
    """What started the run (the CT flow's parameters)."""

    reason: str
    event_id: str | None = None
    event: str | None = None
    alert_id: str | None = None
    alert_source: str | None = None
    detail: str | None = None
    requested_by: str | None = None

    def on_demand(self) -> str | None:
        """A person's request, as the policy sees it."""
        if self.reason != "on_demand":
            return None
        who = f" ({self.requested_by})" if self.requested_by else ""
        return f"{self.detail or 'requested'}{who}"

    def alerts(self) -> tuple[Alert, ...]:
        """The alert a webhook-started request carries, as the policy sees it."""
        return trigger_alerts(
            self.reason,
            event_id=self.event_id,
            alert_id=self.alert_id,
            alert_source=self.alert_source,
            detail=self.detail,
        )

    def describe(self) -> str:
        """In words (a handed-over request's reason)."""
        what = self.detail or self.event or ""
        key = self.alert_id or self.event_id
        return f"{self.reason}{f' {key}' if key else ''}{f': {what}' if what else ''}"

    def handover(self) -> dict[str, Any]:
        """What a run hands to the run that is checking the model."""
        return {
            "reason": self.reason,
            "event_id": self.event_id,
            "alert_id": self.alert_id,
            "alert_source": self.alert_source,
            "detail": self.detail,
            "requested_by": self.requested_by,
        }


def running_rollout(project: Project) -> str | None:
    """The challenger a staged rollout runs for, as ``v5 (canary 25%)``, or None."""
    from retrainer.rollout import stage_name
    from retrainer.store import open_store

    state = open_store(project).rollouts.get(project.model_name)
    if state is None or state.status != "running":
        return None
    return f"v{state.challenger} ({stage_name(project.config.promotion.stages, state)})"


def base_observations(
    request: Request,
    now: datetime,
    champion: Champion | None,
    config_hash: str,
    code: str,
    rollout: str | None = None,
) -> Observations:
    """What is known without running a check: the request, the champion's lineage, a rollout."""
    tags = champion.tags if champion else {}
    trained = tags.get("retrainer.as_of")
    return Observations(
        now=now,
        has_champion=champion is not None,
        champion_trained_at=end_of_day(date.fromisoformat(trained)) if trained else None,
        config_hash=config_hash,
        champion_config_hash=tags.get("retrainer.config_hash"),
        code_version=code,
        champion_code_version=tags.get("retrainer.code_version"),
        alerts=request.alerts(),
        on_demand=request.on_demand(),
        rollout=rollout,
    )


def label_counts(
    project: Project, as_of: str | None, excluded: dict[str, str], since: str | None
) -> dict[str, Any]:
    """Labelled rows of the training window known on ``as_of``: overall, per class, new.

    ``new`` counts rows whose event date is after ``since`` (the end of the champion's
    training window). Partitions in ``excluded`` (invalid, quarantined) are not counted.
    """
    from retrainer.data import DataCatalog

    cfg = project.config
    catalog = DataCatalog.for_project(project)
    end = date.fromisoformat(as_of) if as_of else catalog.latest_date()
    if end is None:
        return {"rows": 0, "per_class": {}, "new": 0}
    days = label_window_days(cfg.training.window)
    start = end - timedelta(days=days - 1) if days else None
    try:
        window = catalog.load_labelled(
            start, end, as_of=end, columns=[cfg.columns.timestamp], exclude=excluded
        )
    except ValueError:  # nothing left to read
        return {"rows": 0, "per_class": {}, "new": 0}
    cols = cfg.columns
    return count_labels(
        window.frame,
        cols.target,
        cols.timestamp,
        cfg.model.task,
        date.fromisoformat(since) if since else None,
    )


def _emit_decision(project: Project, decision: Decision, record_id: int, request: Request) -> None:
    """``retrainer.retrain.decided`` / ``retrainer.retrain.suppressed`` (for notifications).

    A hold gets a stable id from what held it (model, guard, detail): the runs of an alert
    storm held by one cooldown emit one event between them.
    """
    from retrainer.tasks.events import emit

    if decision.retrain:
        name = events.RETRAIN_DECIDED
    elif decision.status in ("suppressed", "waiting_for_labels"):
        name = events.RETRAIN_SUPPRESSED
    else:
        return
    payload = {
        **decision.to_dict(),
        "decision_id": record_id,
        "reason": request.reason,
        "trigger_event_id": request.event_id,
    }
    event_id = None
    if not decision.retrain:
        # one event per hold: the 20 alerts of a storm held by one cooldown say the same
        # ("cooldown until ..."), so Prefect keeps one and people get one notification
        key = f"{project.model_name}|{decision.suppressed_by}|{decision.detail}"
        event_id = str(uuid.uuid5(_SUPPRESSED_NAMESPACE, key))
    emit(name, project.model_name, payload, event_id=event_id)


def decide_and_record(
    project: Project,
    observations: Observations,
    request: Request,
    flow_run_id: str | None,
    *,
    announce: bool = True,
) -> tuple[Decision, int]:
    """Take the decision under the model's lock, keep the new state and the decision.

    Returns:
        The decision and its record id in ``trigger_decisions``.
    """
    from retrainer.store import open_store

    store = open_store(project)
    with store.write() as conn:
        state = PolicyState.from_dict(store.policy_states.lock(conn, project.model_name))
        if flow_run_id:  # requests other runs handed over while this one was checking
            handed = store.check_leases.take(conn, project.model_name, flow_run_id)
            observations = _with_handed_over(observations, handed)
        decision = decide(project.config.policy, state, observations)
        store.policy_states.save(conn, project.model_name, decision.next_state.to_dict())
        record_id = store.decisions.record(
            conn,
            project.model_name,
            decision.to_dict(),
            reason=request.reason,
            event_id=request.event_id,
            flow_run_id=flow_run_id,
            at=observations.now,
        )
    if announce:
        _emit_decision(project, decision, record_id, request)
    return decision, record_id


def _with_handed_over(observations: Observations, handed: list[dict[str, Any]]) -> Observations:
    """The observations with the alerts and requests other runs handed over."""
    if not handed:
        return observations
    alerts = list(observations.alerts)
    on_demand = observations.on_demand
    for item in handed:
        request = Request(**item)
        alerts.extend(request.alerts())
        on_demand = on_demand or request.on_demand()
    return replace(observations, alerts=tuple(dict.fromkeys(alerts)), on_demand=on_demand)


def claim_checks(project: Project, request: Request, run_id: str | None) -> str | None:
    """Take the model's check lease for this run (None), or hand the request to the holder.

    Returns:
        None when this run checks and decides; else the run id that checks the model now.
    """
    from retrainer.store import open_store

    if run_id is None:
        return None
    until = datetime.now(UTC) + CHECK_LEASE
    return open_store(project).check_leases.claim(
        project.model_name, run_id, until, request.handover()
    )


def release_checks(project: Project, run_id: str | None) -> None:
    """Give the lease back when a run fails before deciding."""
    from retrainer.store import open_store

    if run_id is not None:
        open_store(project).check_leases.release(project.model_name, run_id)


def record_handed_over(
    project: Project, request: Request, holder: str, run_id: str | None, now: datetime
) -> tuple[Decision, int]:
    """Record the decision of a run whose request went to the run checking the model."""
    from retrainer.store import open_store

    store = open_store(project)
    state = PolicyState.from_dict(store.policy_states.get(project.model_name))
    decision = handed_over(state, holder, request.describe())
    with store.write() as conn:
        record_id = store.decisions.record(
            conn,
            project.model_name,
            decision.to_dict(),
            reason=request.reason,
            event_id=request.event_id,
            flow_run_id=run_id,
            at=now,
        )
    return decision, record_id


def held_back(project: Project, request: Request, now: datetime) -> str | None:
    """Why any fired trigger would be held back now, before running a check (else None).

    A cooldown or the daily cap holds back every trigger except an on-demand request that
    bypasses them, so an alert arriving during the cooldown is decided without checks. Reads
    the store only (no MLflow): a storm of such runs stays cheap.
    """
    from retrainer.store import open_store

    if request.on_demand() is not None:
        return None
    store = open_store(project)
    row = store.champions.get(project.model_name)
    if row is None or row.champion is None:
        return None  # the first model: bootstrap
    state = PolicyState.from_dict(store.policy_states.get(project.model_name))
    held = held_by_time(project.config.policy, state, now)
    return held[0] if held else None


def request_observations(request: Request, now: datetime) -> Observations:
    """What a run held back by a guard decides on: its request alone (a champion exists)."""
    return Observations(
        now=now,
        alerts=request.alerts(),
    )


def record_outcome(
    project: Project,
    record_id: int,
    outcome: str,
    *,
    version: str | None = None,
    detail: str = "",
    decided_at: datetime | None = None,
) -> None:
    """Record what a retrain decision led to; a failed retrain gives its slot back.

    When the retrain failed (``outcome == "failed"``), the retrain the state recorded at
    ``decided_at`` is removed again, so the cooldown does not block the next attempt.
    """
    from retrainer.store import open_store

    store = open_store(project)
    store.decisions.set_outcome(record_id, outcome, version=version, detail=detail)
    if outcome != "failed" or decided_at is None:
        return
    with store.write() as conn:
        state = PolicyState.from_dict(store.policy_states.lock(conn, project.model_name))
        if state.last_retrain != decided_at:
            return  # another retrain was decided since
        retrains = tuple(t for t in state.retrains if t != decided_at)
        earlier = replace(state, last_retrain=retrains[-1] if retrains else None, retrains=retrains)
        store.policy_states.save(conn, project.model_name, earlier.to_dict())


def decision_markdown(model: str, decision: Decision, request: Request, record_id: int) -> str:
    """The Prefect artifact of a decision."""
    lines = [
        f"# Retrain decision for {model}: {decision.status}",
        "",
        f"**{decision.detail}**",
        "",
        f"- started by: `{request.reason}`"
        + (f" (event `{request.event_id}`)" if request.event_id else ""),
        f"- decision record: #{record_id} (`retrainer policy explain`)",
    ]
    if decision.suppressed_by:
        lines.append(f"- held back by: `{decision.suppressed_by}`")
    for reason in decision.reasons:
        lines.append(f"- fired: {reason}")
    labels = decision.labels
    if labels:
        lines.append(
            f"- labelled rows: {labels.get('rows', 0):,} (need {labels.get('min_rows', 0):,})"
            + (f", per class {labels.get('per_class')}" if labels.get("per_class") else "")
        )
    return "\n".join(lines)
