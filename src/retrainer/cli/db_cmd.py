"""``retrainer db upgrade|status``: the operational store's schema (Alembic migrations)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import typer

from retrainer.cli._common import (
    ConfigOption,
    ExitCode,
    JsonOption,
    fail_usage,
    load_project,
    out_console,
    print_json,
)

if TYPE_CHECKING:
    from retrainer.store import Store

db_app = typer.Typer(
    name="db",
    help="The operational store (RETRAINER_DB_URL, default: SQLite in the state directory).",
    no_args_is_help=True,
)


def _store(config: ConfigOption, as_json: bool) -> Store:
    """The store of ``RETRAINER_DB_URL``, else of the project's state directory (unmigrated)."""
    from retrainer.store import DB_URL_ENV, Store, StoreError, store_url

    url = os.environ.get(DB_URL_ENV) or store_url(load_project(config, as_json=as_json))
    try:
        return Store.from_url(url, upgrade=False)
    except StoreError as exc:
        fail_usage(str(exc), as_json=as_json)


def _revisions(store: Store, as_json: bool) -> tuple[str | None, str]:
    from retrainer.store import StoreError
    from retrainer.store.migrate import current_revision, head_revision

    try:
        return current_revision(store), head_revision()
    except StoreError as exc:
        fail_usage(str(exc), as_json=as_json)


def upgrade(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Apply the pending migrations of the operational store (safe to run again)."""
    from retrainer.store import StoreError
    from retrainer.store.migrate import upgrade as run_upgrade

    store = _store(config, as_json)
    try:
        before, after = run_upgrade(store)
    except StoreError as exc:
        fail_usage(str(exc), as_json=as_json)
    if as_json:
        print_json({"ok": True, "url": store.url, "before": before, "revision": after})
        return
    said = f"already at {after}" if before == after else f"upgraded {before or 'empty'} -> {after}"
    out_console(False).print(f"operational store {store.url}: {said}", markup=False)


def status(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Show the store's URL (password masked) and its current and head revisions.

    Exit 0 when the schema is current, 1 when migrations are pending (`retrainer db upgrade`).
    """
    store = _store(config, as_json)
    current, head = _revisions(store, as_json)
    up_to_date = current == head
    if as_json:
        print_json(
            {
                "ok": True,
                "url": store.url,
                "current": current,
                "head": head,
                "current_is_head": up_to_date,
            }
        )
    else:
        say = out_console(False)
        say.print(f"url:      {store.url}", markup=False)
        say.print(f"current:  {current or 'none (empty database)'}", markup=False)
        say.print(f"head:     {head}", markup=False)
        if not up_to_date:
            say.print("migrations pending: run `retrainer db upgrade`", markup=False)
    raise typer.Exit(ExitCode.OK if up_to_date else ExitCode.FINDING)


def register(app: typer.Typer) -> None:
    """Add the ``db`` group to the main app."""
    db_app.command("upgrade")(upgrade)
    db_app.command("status")(status)
    app.add_typer(db_app, name="db")
