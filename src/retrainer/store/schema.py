"""The tables of the operational store (SQLAlchemy Core), mirrored by the Alembic migrations.

Every table is written through its repository module in :mod:`retrainer.store` (no ad-hoc
SQL elsewhere). Times are stored in UTC and come back timezone-aware on every backend.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING)


class UTCDateTime(sa.TypeDecorator):
    """A timestamp kept in UTC: naive values are refused, results are always aware."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Normalise to UTC (SQLite keeps no zone: it gets the naive UTC time)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} (the store keeps UTC times)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        """The stored time as an aware UTC datetime."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """The current time (aware, UTC)."""
    return datetime.now(UTC)


Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

predictions = sa.Table(
    "predictions",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("request_id", sa.String(200), nullable=False, unique=True),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("version", sa.String(50), nullable=False),
    sa.Column("variant", sa.String(50), nullable=False),
    sa.Column("entity_key", sa.String(200), nullable=True),
    sa.Column("inputs", sa.JSON(), nullable=False),
    sa.Column("label", sa.JSON(), nullable=True),
    sa.Column("score", sa.Float(), nullable=True),
    sa.Column("latency_ms", sa.Float(), nullable=True),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Index(None, "model", "at"),
    sa.Index(None, "entity_key"),
)

labels = sa.Table(
    "labels",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("request_id", sa.String(200), nullable=True),
    sa.Column("entity_key", sa.String(200), nullable=True),
    sa.Column("label", sa.JSON(), nullable=False),
    sa.Column("event_at", UTCDateTime(), nullable=True),
    sa.Column("arrived_at", UTCDateTime(), nullable=False),
    sa.CheckConstraint("request_id IS NOT NULL OR entity_key IS NOT NULL", name="keyed"),
    sa.Index(None, "request_id"),
    sa.Index(None, "entity_key"),
)

ledger = sa.Table(
    "ledger",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("action", sa.String(20), nullable=False),
    sa.Column("from_version", sa.String(50), nullable=True),
    sa.Column("to_version", sa.String(50), nullable=True),
    sa.Column("by", sa.String(200), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("evidence", sa.JSON(), nullable=False),
    sa.Index(None, "model", "id"),
)

champions = sa.Table(
    "champions",
    metadata,
    sa.Column("model", sa.String(200), primary_key=True),
    sa.Column("champion", sa.String(50), nullable=True),
    sa.Column("previous", sa.String(50), nullable=True),
    sa.Column("counter", sa.Integer(), nullable=False),
    sa.Column("projected", sa.Integer(), nullable=False),
    sa.Column("record_id", Id, sa.ForeignKey("ledger.id"), nullable=True),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

trigger_state = sa.Table(
    "trigger_state",
    metadata,
    sa.Column("model", sa.String(200), primary_key=True),
    sa.Column("trigger", sa.String(100), primary_key=True),
    sa.Column("last_retrain_at", UTCDateTime(), nullable=True),
    sa.Column("consecutive_breaches", sa.Integer(), nullable=False),
    sa.Column("processed_event_ids", sa.JSON(), nullable=False),
    sa.Column("state", sa.JSON(), nullable=True),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

trigger_decisions = sa.Table(
    "trigger_decisions",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("reason", sa.String(100), nullable=False),
    sa.Column("event_id", sa.String(200), nullable=True),
    sa.Column("status", sa.String(30), nullable=False),
    sa.Column("retrain", sa.Boolean(), nullable=False),
    sa.Column("suppressed_by", sa.String(50), nullable=True),
    sa.Column("detail", sa.Text(), nullable=False),
    sa.Column("decision", sa.JSON(), nullable=False),
    sa.Column("flow_run_id", sa.String(100), nullable=True),
    sa.Column("outcome", sa.String(30), nullable=True),
    sa.Column("version", sa.String(50), nullable=True),
    sa.Column("outcome_detail", sa.Text(), nullable=True),
    sa.Index(None, "model", "id"),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("signature", sa.String(128), primary_key=True),
    sa.Column("received_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Index(None, "expires_at"),
)

validations = sa.Table(
    "validations",
    metadata,
    sa.Column("source", sa.String(), primary_key=True),
    sa.Column("table_name", sa.String(200), primary_key=True),
    sa.Column("day", sa.Date(), primary_key=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("first_at", UTCDateTime(), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("suite", sa.String(200), nullable=True),
    sa.Column("rows", sa.BigInteger(), nullable=True),
    sa.Column("errors", sa.Integer(), nullable=True),
    sa.Column("warnings", sa.Integer(), nullable=True),
    sa.Column("fingerprint", sa.String(200), nullable=True),
    sa.Column("mlflow_run_id", sa.String(100), nullable=True),
    sa.Column("reason", sa.Text(), nullable=True),
    sa.Column("by", sa.String(200), nullable=True),
    sa.Column("note", sa.Text(), nullable=True),
    sa.Column("in_place", sa.Boolean(), nullable=True),
    sa.Column("details", sa.JSON(), nullable=True),
)

validation_seen = sa.Table(
    "validation_seen",
    metadata,
    sa.Column("source", sa.String(), primary_key=True),
    sa.Column("table_name", sa.String(200), primary_key=True),
    sa.Column("day", sa.Date(), primary_key=True),
    sa.Column("first_seen_at", UTCDateTime(), nullable=False),
)

quarantine_log = sa.Table(
    "quarantine_log",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(), nullable=False),
    sa.Column("action", sa.String(20), nullable=False),
    sa.Column("table_name", sa.String(200), nullable=False),
    sa.Column("day", sa.Date(), nullable=False),
    sa.Column("reason", sa.Text(), nullable=True),
    sa.Column("by", sa.String(200), nullable=True),
    sa.Column("note", sa.Text(), nullable=True),
    sa.Column("location", sa.String(), nullable=True),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("details", sa.JSON(), nullable=True),
    sa.Index(None, "source", "id"),
)

imports = sa.Table(
    "imports",
    metadata,
    sa.Column("kind", sa.String(50), primary_key=True),
    sa.Column("key", sa.String(), primary_key=True),
    sa.Column("records", sa.Integer(), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
)

rollouts = sa.Table(
    "rollouts",
    metadata,
    sa.Column("model", sa.String(200), primary_key=True),
    sa.Column("revision", sa.Integer(), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("challenger", sa.String(50), nullable=False),
    sa.Column("champion", sa.String(50), nullable=True),
    sa.Column("state", sa.JSON(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

rollout_history = sa.Table(
    "rollout_history",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("revision", sa.Integer(), nullable=False),
    sa.Column("action", sa.String(20), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("state", sa.JSON(), nullable=False),
    sa.Column("analysis", sa.JSON(), nullable=True),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Index(None, "model", "id"),
)
