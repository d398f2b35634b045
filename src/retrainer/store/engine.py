"""Opening the operational store: one engine per URL and process, migrated on first use.

SQLite (the default, ``<state_dir>/retrainer.db``) runs in WAL mode with a busy timeout and
foreign keys on; its write transactions start with ``BEGIN IMMEDIATE`` so two writers queue
instead of failing half-way. PostgreSQL (``RETRAINER_DB_URL=postgresql+psycopg://...``)
serves several machines.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url

if TYPE_CHECKING:
    from retrainer.project import Project

DB_URL_ENV = "RETRAINER_DB_URL"
"""Environment variable holding the store's SQLAlchemy URL (default: SQLite in the state dir)."""

DB_FILENAME = "retrainer.db"
SQLITE_BUSY_TIMEOUT_MS = 30_000
_WRITE = "retrainer_write"
_DRIVERLESS = {"postgres": "postgresql+psycopg", "postgresql": "postgresql+psycopg"}


class StoreError(RuntimeError):
    """The operational store cannot be opened, migrated or written (the message names it)."""


def store_url(project: Project) -> str:
    """The project's store URL: ``RETRAINER_DB_URL``, else ``sqlite:///<state_dir>/retrainer.db``."""
    return os.environ.get(DB_URL_ENV) or f"sqlite:///{project.state_dir / DB_FILENAME}"


def parse_url(url: str) -> URL:
    """The URL as SQLAlchemy reads it; ``postgresql://`` means psycopg 3.

    Raises:
        StoreError: When it is no database URL.
    """
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError as exc:
        raise StoreError(f"{DB_URL_ENV}: {url!r} is not a database URL: {exc}") from None
    if parsed.drivername in _DRIVERLESS:
        parsed = parsed.set(drivername=_DRIVERLESS[parsed.drivername])
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise StoreError(
            f"{DB_URL_ENV}: {parsed.get_backend_name()!r} is not supported "
            "(sqlite:///FILE or postgresql+psycopg://USER@HOST/DB)"
        )
    return parsed


def masked(url: str | URL) -> str:
    """The URL with its password replaced by ``***``."""
    parsed = url if isinstance(url, URL) else make_url(url)
    return parsed.render_as_string(hide_password=True)


def _sqlite_events(engine: Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" event below begins
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        write = connection.get_execution_options().get(_WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def create_engine(url: str | URL) -> Engine:
    """A new engine for ``url`` (SQLite: WAL, busy timeout, foreign keys; parent dir created)."""
    parsed = parse_url(str(url)) if not isinstance(url, URL) else url
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(parsed)
        _sqlite_events(engine)
        return engine
    return sa.create_engine(parsed, pool_pre_ping=True)


class Store:
    """The operational store: transactions plus one repository per table.

    Use :func:`retrainer.store.open_store` (a project) or :meth:`from_url`; both cache one
    store per URL and process and apply the migrations on first use.

    Args:
        engine: The SQLAlchemy engine.
    """

    def __init__(self, engine: Engine):
        self.engine = engine

    @classmethod
    def from_url(cls, url: str, *, upgrade: bool = True) -> Store:
        """The store at ``url`` (cached per URL), migrated to the newest schema.

        Raises:
            StoreError: When the URL is invalid or the database cannot be reached/migrated.
        """
        return _cached(url, upgrade)

    @property
    def url(self) -> str:
        """The URL, password masked."""
        return masked(self.engine.url)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction."""
        with self._errors(), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction (SQLite: ``BEGIN IMMEDIATE``, so writers queue up front)."""
        with self._errors(), self.engine.connect() as conn:
            conn.execution_options(**{_WRITE: True})
            with conn.begin():
                yield conn

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            detail = " ".join(str(exc.orig or exc).split())
            raise StoreError(f"operational store {self.url}: {detail}") from exc

    # -- repositories -------------------------------------------------------------------
    @property
    def predictions(self) -> Any:
        """The prediction log (:class:`retrainer.store.predictions.Predictions`)."""
        from retrainer.store.predictions import Predictions

        return Predictions(self)

    @property
    def labels(self) -> Any:
        """Arrived labels (:class:`retrainer.store.labels.Labels`)."""
        from retrainer.store.labels import Labels

        return Labels(self)

    @property
    def rollouts(self) -> Any:
        """Rollout state and history (:class:`retrainer.store.rollouts.Rollouts`)."""
        from retrainer.store.rollouts import Rollouts

        return Rollouts(self)

    @property
    def champions(self) -> Any:
        """Champion per model (:class:`retrainer.store.champions.Champions`)."""
        from retrainer.store.champions import Champions

        return Champions(self)

    @property
    def ledger(self) -> Any:
        """The promotion ledger (:class:`retrainer.store.ledger.Ledger`)."""
        from retrainer.store.ledger import Ledger

        return Ledger(self)

    @property
    def triggers(self) -> Any:
        """Trigger state (:class:`retrainer.store.triggers.TriggerStates`)."""
        from retrainer.store.triggers import TriggerStates

        return TriggerStates(self)

    @property
    def policy_states(self) -> Any:
        """Trigger-policy state per model (:class:`retrainer.store.triggers.PolicyStates`)."""
        from retrainer.store.triggers import PolicyStates

        return PolicyStates(self)

    @property
    def check_leases(self) -> Any:
        """Which run checks a model now (:class:`retrainer.store.triggers.CheckLeases`)."""
        from retrainer.store.triggers import CheckLeases

        return CheckLeases(self)

    @property
    def decisions(self) -> Any:
        """Trigger-policy decisions (:class:`retrainer.store.decisions.TriggerDecisions`)."""
        from retrainer.store.decisions import TriggerDecisions

        return TriggerDecisions(self)

    def validations(self, source: str, table: str) -> Any:
        """Validation verdicts of one table (:mod:`retrainer.store.validations`)."""
        from retrainer.store.validations import ValidationRecords

        return ValidationRecords(self, source, table)

    def quarantine_log(self, source: str) -> Any:
        """The quarantine log of a data source (:mod:`retrainer.store.quarantine_log`)."""
        from retrainer.store.quarantine_log import QuarantineLog

        return QuarantineLog(self, source)

    @property
    def webhook_deliveries(self) -> Any:
        """Used webhook signatures (:mod:`retrainer.store.webhook_deliveries`)."""
        from retrainer.store.webhook_deliveries import WebhookDeliveries

        return WebhookDeliveries(self)

    @property
    def imports(self) -> Any:
        """One-time imports of file state (:class:`retrainer.store.imports.Imports`)."""
        from retrainer.store.imports import Imports

        return Imports(self)


_STORES: dict[str, Store] = {}
_MIGRATED: set[str] = set()
_LOCK = threading.Lock()


def _cached(url: str, upgrade: bool) -> Store:
    parsed = parse_url(url)
    key = parsed.render_as_string(hide_password=False)
    with _LOCK:
        store = _STORES.get(key)
        if store is None:
            store = _STORES[key] = Store(create_engine(parsed))
        if upgrade and key not in _MIGRATED:
            from retrainer.store.migrate import ensure_current

            ensure_current(store)
            _MIGRATED.add(key)
    return store


def open_store(project: Project) -> Store:
    """The project's operational store (``RETRAINER_DB_URL`` or SQLite in the state dir)."""
    return Store.from_url(store_url(project))


def forget_stores() -> None:
    """Dispose of every cached engine (tests that drop a database; a forked worker)."""
    with _LOCK:
        for store in _STORES.values():
            store.engine.dispose()
        _STORES.clear()
        _MIGRATED.clear()
