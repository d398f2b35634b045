"""The one promotion path: compare-and-set on the store, a ledger record, then the aliases.

``promote``/``rollback`` change the champion only when it is still the one the caller
expected (``PromotionConflict`` otherwise), append a ledger record in the same transaction,
and then move the MLflow aliases (``champion``, ``previous_champion``; ``challenger`` is
cleared when it pointed at the new champion) as a projection of the store, reading them back.
No Prefect import: the gate flow, ``retrainer approve`` and ``retrainer promote`` share it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from retrainer.promotion import hooks
from retrainer.promotion.reconcile import project_latest, reconcile
from retrainer.promotion.target import ModelTarget, PromotionConflict, PromotionError, as_target

if TYPE_CHECKING:
    from retrainer.store.champions import ChampionState
    from retrainer.store.ledger import PromotionRecord


def _version(value: Any) -> str | None:
    return None if value is None else str(value)


def _change(
    t: ModelTarget,
    version: str,
    *,
    expected: str | None,
    action: str,
    by: str,
    reason: str,
    evidence: dict[str, Any] | None,
) -> PromotionRecord:
    """Compare-and-set the champion row plus its ledger record, then project the aliases."""
    hooks.barrier()
    with t.store.write() as conn:
        state = t.store.champions.get(t.name, conn)
        if state is None or state.champion != expected:
            raise PromotionConflict(t.name, expected, state.champion if state else None)
        if state.champion == version:
            raise PromotionError(f"{t.name} v{version} is the champion already")
        record = t.store.ledger.append(
            t.name,
            action,
            from_version=state.champion,
            to_version=version,
            by=by,
            reason=reason,
            evidence=evidence,
            conn=conn,
        )
        won = t.store.champions.compare_and_set(
            conn,
            t.name,
            counter=state.counter,
            champion=version,
            previous=state.champion,
            record_id=record.id,
        )
        if not won:
            actual = t.store.champions.get(t.name, conn)
            raise PromotionConflict(t.name, expected, actual.champion if actual else None)
    hooks.crash_point("store_write")
    project_latest(t)
    return record


def promote(
    target: Any,
    version: str | int,
    *,
    expected_champion: str | int | None,
    by: str,
    reason: str = "",
    evidence: dict[str, Any] | None = None,
) -> PromotionRecord:
    """Make ``version`` the champion, if the champion is still ``expected_champion``.

    Args:
        target: A :class:`retrainer.project.Project` (MLflow configured) or
            :class:`ModelTarget`.
        version: The version to promote.
        expected_champion: The champion the decision was made against (the gate's judged
            champion; None: no champion yet).
        by: Who promotes (``gate``, a reviewer, a user).
        reason: Why (kept in the ledger and the version's tags).
        evidence: Gate summary, metrics, report links ... (kept in the ledger).

    Returns:
        The ledger record.

    Raises:
        PromotionConflict: The champion is another version by now (nothing changed).
        PromotionError: ``version`` is the champion already.
        RegistryError: The version does not exist, or an alias did not move.
    """
    t = as_target(target)
    version = str(version)
    t.registry.get_version(version)
    reconcile(t)
    return _change(
        t,
        version,
        expected=_version(expected_champion),
        action="promote",
        by=by,
        reason=reason,
        evidence=evidence,
    )


def rollback(
    target: Any,
    to: str | int | None = None,
    *,
    by: str,
    reason: str = "",
    evidence: dict[str, Any] | None = None,
) -> PromotionRecord:
    """Make the previous champion (or ``to``) the champion again (ledger action ``rollback``).

    Raises:
        PromotionError: No champion, or nothing to roll back to.
        PromotionConflict: Another promotion changed the champion meanwhile.
        RegistryError: ``to`` does not exist, or an alias did not move.
    """
    t = as_target(target)
    state = reconcile(t).state
    if state.champion is None:
        raise PromotionError(f"{t.name} has no champion to roll back")
    goal = _version(to) or state.previous
    if goal is None:
        raise PromotionError(
            f"{t.name} v{state.champion} has no previous champion to roll back to "
            "(name one with --to VERSION)"
        )
    t.registry.get_version(goal)
    return _change(
        t,
        goal,
        expected=state.champion,
        action="rollback",
        by=by,
        reason=reason,
        evidence=evidence,
    )


def record_approval(
    target: Any,
    version: str | int,
    *,
    by: str,
    approved: bool = True,
    reason: str = "",
    evidence: dict[str, Any] | None = None,
) -> PromotionRecord:
    """Record a reviewer's decision on a version (ledger action ``approval``).

    ``evidence["decision"]`` is ``approved`` or ``rejected``. The champion does not change:
    promoting an approved version is :func:`promote` (``by`` the reviewer).
    """
    decision = {"decision": "approved" if approved else "rejected"}
    evidence = {**(evidence or {}), **decision}
    return _decision(target, "approval", version, by=by, reason=reason, evidence=evidence)


def record_abort(
    target: Any,
    version: str | int,
    *,
    by: str,
    reason: str,
    evidence: dict[str, Any] | None = None,
) -> PromotionRecord:
    """Record that a rollout of ``version`` was aborted (ledger action ``abort``)."""
    return _decision(target, "abort", version, by=by, reason=reason, evidence=evidence)


def _decision(
    target: Any,
    action: str,
    version: str | int,
    *,
    by: str,
    reason: str,
    evidence: dict[str, Any] | None,
) -> PromotionRecord:
    """A ledger record about ``version`` that leaves the champion as it is."""
    t = as_target(target)
    state = reconcile(t).state
    return t.store.ledger.append(
        t.name,
        action,
        from_version=state.champion,
        to_version=str(version),
        by=by,
        reason=reason,
        evidence=evidence,
    )


def champion_state(target: Any) -> ChampionState:
    """The store's champion row of the model, after :func:`reconcile`."""
    return reconcile(target).state


def history(target: Any, limit: int | None = None) -> list[PromotionRecord]:
    """The model's ledger, newest first."""
    t = as_target(target)
    return t.store.ledger.history(t.name, limit)
