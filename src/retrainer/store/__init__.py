"""The operational store: SQLite by default, PostgreSQL in production, via SQLAlchemy 2.

It holds what several machines must agree on: the prediction log, arrived labels, the
champion of each model (compare-and-set), the promotion ledger, trigger state, the validation
ledger and the quarantine log. The schema is under Alembic migrations shipped in the package
(applied on first use and by ``retrainer db upgrade``). Each table has one repository module;
nothing else writes SQL.
"""

from retrainer.store.engine import (
    DB_FILENAME,
    DB_URL_ENV,
    Store,
    StoreError,
    forget_stores,
    masked,
    open_store,
    store_url,
)

__all__ = [
    "DB_FILENAME",
    "DB_URL_ENV",
    "Store",
    "StoreError",
    "forget_stores",
    "masked",
    "open_store",
    "store_url",
]
