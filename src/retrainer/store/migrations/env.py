"""Alembic environment: runs on the connection :func:`retrainer.store.migrate.upgrade` passes."""

from __future__ import annotations

from alembic import context

from retrainer.store.schema import metadata

# any constant: serialises concurrent migrations of one PostgreSQL database
_PG_MIGRATION_LOCK = 0x7265747261696E  # "retrain"


def run_migrations() -> None:
    """Migrate on the given connection (offline SQL generation is not supported)."""
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through retrainer.store.migrate.upgrade")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        transaction_per_migration=False,
    )
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})")
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
