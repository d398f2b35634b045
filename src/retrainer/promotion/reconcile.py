"""The MLflow aliases as a projection of the store's champion row, and their repair.

The store row is the truth. Aliases move only under the row's lock (a PostgreSQL row lock,
SQLite's write lock), and always to the row's latest state, so two promotions can never
leave the aliases behind the store. A crash between the store write and the alias write
leaves the row marked pending; :func:`reconcile` (run first by every promotion command)
finishes the projection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from retrainer.promotion.target import ModelTarget, PromotionError, as_target
from retrainer.registry.models import (
    CHALLENGER,
    CHAMPION,
    PREVIOUS_CHAMPION,
    TAG_PREFIX,
    RegistryError,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from retrainer.store.champions import ChampionState
    from retrainer.store.ledger import PromotionRecord

BY_RETRAINER = "retrainer"


@dataclass(frozen=True)
class Reconciliation:
    """What :func:`reconcile` found and did.

    Attributes:
        state: The champion row afterwards (aliases equal it).
        action: ``in_sync``, ``repaired`` (aliases rewritten from the store), ``imported``
            (first use: the row was created from the aliases) or ``adopted`` (the champion
            alias had been moved outside retrainer; the store follows it, with a record).
        record: The ledger record written (import/adopt), if any.
    """

    state: ChampionState
    action: str
    record: PromotionRecord | None = None


class _RowExists(Exception):
    """Another process created the row first (roll back ours)."""


def _ensure_row(t: ModelTarget) -> PromotionRecord | None:
    """Create the model's row on first use, from the MLflow aliases (with an import record)."""
    if t.store.champions.get(t.name) is not None:
        return None
    aliases = t.registry.aliases()
    champion, previous = aliases.get(CHAMPION), aliases.get(PREVIOUS_CHAMPION)
    try:
        with t.store.write() as conn:
            record = None
            if champion is not None:
                record = t.store.ledger.append(
                    t.name,
                    "import",
                    from_version=previous,
                    to_version=champion,
                    by=BY_RETRAINER,
                    reason="champion found in MLflow (alias champion) on first use of the "
                    "operational store",
                    evidence={"aliases": aliases},
                    conn=conn,
                )
            created = t.store.champions.create(
                conn, t.name, champion, previous, record.id if record else None
            )
            if not created:
                raise _RowExists
    except _RowExists:
        return None
    return record


def _in_sync(state: ChampionState, aliases: dict[str, str]) -> bool:
    return (
        aliases.get(CHAMPION) == state.champion
        and aliases.get(PREVIOUS_CHAMPION) == state.previous
        and (state.champion is None or aliases.get(CHALLENGER) != state.champion)
    )


def _move(t: ModelTarget, alias: str, version: str | None, aliases: dict[str, str]) -> None:
    if version is None:
        if alias in aliases:
            t.registry.delete_alias(alias)
    elif aliases.get(alias) != version:
        t.registry.set_alias(alias, version)


def _tag(t: ModelTarget, state: ChampionState, record: PromotionRecord | None) -> None:
    """The version tags a promotion or rollback leaves (who, when, why, what it replaced)."""
    if record is None or record.action not in ("promote", "rollback"):
        return
    if state.champion is not None:
        t.registry.set_tags(
            state.champion,
            {
                f"{TAG_PREFIX}status": "champion",
                f"{TAG_PREFIX}promoted_at": record.at.isoformat(timespec="seconds"),
                f"{TAG_PREFIX}promoted_by": record.by,
                f"{TAG_PREFIX}promotion_reason": record.reason or None,
                f"{TAG_PREFIX}replaced_version": record.from_version,
            },
        )
    if state.previous is not None:
        status = "rolled_back" if record.action == "rollback" else PREVIOUS_CHAMPION
        t.registry.set_tags(state.previous, {f"{TAG_PREFIX}status": status})


def project(t: ModelTarget, state: ChampionState, conn: Connection) -> None:
    """Write the aliases (and, for a pending change, the tags) from a locked row; read back.

    Raises:
        RegistryError: When the aliases do not show the row afterwards.
    """
    aliases = t.registry.aliases()
    _move(t, PREVIOUS_CHAMPION, state.previous, aliases)
    _move(t, CHAMPION, state.champion, aliases)
    if state.champion is not None and aliases.get(CHALLENGER) == state.champion:
        t.registry.delete_alias(CHALLENGER)
    if state.pending:
        record = t.store.ledger.get(state.record_id, conn) if state.record_id else None
        _tag(t, state, record)
    after = t.registry.aliases()
    if not _in_sync(state, after):
        raise RegistryError(
            f"aliases of {t.name!r} are {after} after writing champion={state.champion}, "
            f"previous_champion={state.previous}"
        )
    t.store.champions.mark_projected(conn, t.name, state.counter)


def _adopt(t: ModelTarget, state: ChampionState, aliases: dict[str, str], conn: Any) -> Any:
    """The champion alias was moved outside retrainer: the store follows, with a record."""
    champion = aliases[CHAMPION]
    previous = aliases.get(PREVIOUS_CHAMPION) or state.champion
    record = t.store.ledger.append(
        t.name,
        "adopt",
        from_version=state.champion,
        to_version=champion,
        by=BY_RETRAINER,
        reason="the champion alias was moved outside retrainer; the store follows it",
        evidence={"aliases": aliases},
        conn=conn,
    )
    t.store.champions.compare_and_set(
        conn,
        t.name,
        counter=state.counter,
        champion=champion,
        previous=previous,
        record_id=record.id,
    )
    return record


def reconcile(target: Any) -> Reconciliation:
    """Make the MLflow aliases show the store's champion row (creating the row on first use).

    A pending change (a crash after the store write) is projected onto the aliases. A
    champion alias moved outside retrainer while nothing was pending is adopted by the store
    (ledger record ``adopt``); anything else that differs is rewritten from the store.

    Args:
        target: A :class:`retrainer.project.Project` or :class:`ModelTarget`.

    Returns:
        What was found and done.

    Raises:
        RegistryError: When the aliases cannot be written.
    """
    t = as_target(target)
    imported = _ensure_row(t)
    with t.store.write() as conn:
        state = t.store.champions.lock(conn, t.name)
        if state is None:  # pragma: no cover - the row was just created
            raise PromotionError(f"no champion row for {t.name!r} in {t.store.url}")
        aliases = t.registry.aliases()
        if _in_sync(state, aliases) and not state.pending:
            action, record = ("imported" if imported else "in_sync"), imported
        elif not state.pending and aliases.get(CHAMPION) not in (None, state.champion):
            record, action = _adopt(t, state, aliases, conn), "adopted"
            state = t.store.champions.lock(conn, t.name)
            project(t, state, conn)
        else:
            project(t, state, conn)
            action, record = "repaired", None
    return Reconciliation(t.store.champions.get(t.name), action, record)


def project_latest(t: ModelTarget) -> ChampionState:
    """Project the row's latest state when it is pending (after a change)."""
    with t.store.write() as conn:
        state = t.store.champions.lock(conn, t.name)
        if state is not None and state.pending:
            project(t, state, conn)
    return t.store.champions.get(t.name)
