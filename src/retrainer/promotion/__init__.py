"""Promotion in the core (no Prefect): compare-and-set on the store, ledger, MLflow aliases.

Use :func:`promote` with the champion the decision was made against, :func:`rollback` to
restore the previous champion, :func:`reconcile` to repair the aliases from the store, and
:func:`record_approval` / :func:`record_abort` for decisions that do not change the champion.
"""

from retrainer.promotion.core import (
    champion_state,
    history,
    promote,
    record_abort,
    record_approval,
    rollback,
)
from retrainer.promotion.reconcile import Reconciliation, reconcile
from retrainer.promotion.target import (
    ModelTarget,
    PromotionConflict,
    PromotionError,
    as_target,
)
from retrainer.store.ledger import PromotionRecord

__all__ = [
    "ModelTarget",
    "PromotionConflict",
    "PromotionError",
    "PromotionRecord",
    "Reconciliation",
    "as_target",
    "champion_state",
    "history",
    "promote",
    "reconcile",
    "record_abort",
    "record_approval",
    "rollback",
]
