"""The store's schema under Alembic: migrations ship in ``retrainer/store/migrations``.

No ``alembic.ini`` is needed: the Alembic config is built here and runs on the store's own
connection. :func:`ensure_current` runs on first use of a store in a process; ``retrainer db
upgrade`` runs :func:`upgrade` explicitly.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config

    from retrainer.store.engine import Store

logger = logging.getLogger(__name__)

SCRIPT_LOCATION = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> Config:
    """An Alembic config pointing at the migrations shipped in the package."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    return config


def head_revision() -> str:
    """The newest revision this retrainer ships."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, f"no migrations in {SCRIPT_LOCATION}"
    return head


def current_revision(store: Store) -> str | None:
    """The revision the database is at (None before the first migration)."""
    from alembic.runtime.migration import MigrationContext

    with store.read() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(store: Store, revision: str = "head") -> tuple[str | None, str]:
    """Migrate the store to ``revision`` (one transaction; concurrent callers queue).

    Returns:
        ``(before, after)`` revisions.

    Raises:
        StoreError: When the database cannot be reached.
    """
    from alembic import command

    before = current_revision(store)
    config = alembic_config()
    with store.write() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    after = current_revision(store)
    if before != after:
        logger.info("operational store %s migrated from %s to %s", store.url, before, after)
    return before, after


def ensure_current(store: Store) -> None:
    """Apply pending migrations (a no-op when the store is at the head revision)."""
    if current_revision(store) != head_revision():
        upgrade(store)
