"""Promote or roll back through the one path (:mod:`retrainer.promotion`) and announce it.

The gate flow (after a passed gate), ``retrainer approve`` (after an approval) and
``retrainer promote`` call :func:`promote_and_announce`; ``retrainer rollback`` calls
:func:`rollback_and_announce`. When a gated version is promoted without being told is
:func:`retrainer.promotion.rules.should_promote`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from retrainer import events

if TYPE_CHECKING:
    from retrainer.store.ledger import PromotionRecord


def _announce(event: str, record: PromotionRecord) -> str | None:
    from retrainer.tasks.events import emit

    return emit(
        event,
        record.model,
        {
            "version": record.to_version,
            "previous_version": record.from_version,
            "reason": record.reason,
            "by": record.by,
            "ledger_record": record.id,
        },
        version=str(record.to_version),
    )


def promote_and_announce(
    target: Any,
    version: str,
    *,
    expected_champion: str | None,
    by: str,
    reason: str,
    evidence: dict[str, Any] | None = None,
    emit_event: bool = True,
) -> tuple[PromotionRecord, str | None]:
    """Make ``version`` the champion if it is still ``expected_champion``; emit the event.

    Args:
        target: The project (MLflow configured) or a :class:`retrainer.promotion.ModelTarget`.
        version: The version to promote.
        expected_champion: The champion the decision was made against (None: none).
        by: Who decides (``gate``, the reviewer, a user).
        reason: Why (ledger and version tags).
        evidence: Gate summary, metrics, report links (ledger).
        emit_event: Emit ``retrainer.model.promoted`` (False: only the store and aliases).

    Returns:
        The ledger record and the event id (None when no event was emitted).

    Raises:
        retrainer.promotion.PromotionConflict: Another version is champion by now.
    """
    from retrainer.promotion import promote

    record = promote(
        target,
        version,
        expected_champion=expected_champion,
        by=by,
        reason=reason,
        evidence=evidence,
    )
    return record, _announce(events.MODEL_PROMOTED, record) if emit_event else None


def rollback_and_announce(
    target: Any,
    to: str | None = None,
    *,
    by: str,
    reason: str,
    emit_event: bool = True,
) -> tuple[PromotionRecord, str | None]:
    """Restore the previous champion (or ``to``); emit ``retrainer.model.rolled_back``.

    Raises:
        retrainer.promotion.PromotionError: Nothing to roll back to.
        retrainer.promotion.PromotionConflict: Another promotion changed the champion.
    """
    from retrainer.promotion import rollback

    record = rollback(target, to, by=by, reason=reason)
    return record, _announce(events.MODEL_ROLLED_BACK, record) if emit_event else None
