"""The first schema: predictions, labels, ledger, champions, triggers, validation, quarantine.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create every table."""
    op.create_table(
        "predictions",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(200), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("version", sa.String(50), nullable=False),
        sa.Column("variant", sa.String(50), nullable=False),
        sa.Column("entity_key", sa.String(200), nullable=True),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("label", sa.JSON(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_predictions"),
        sa.UniqueConstraint("request_id", name="uq_predictions_request_id"),
    )
    op.create_index("ix_predictions_model_at", "predictions", ["model", "at"])
    op.create_index("ix_predictions_entity_key", "predictions", ["entity_key"])
    op.create_table(
        "labels",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(200), nullable=True),
        sa.Column("entity_key", sa.String(200), nullable=True),
        sa.Column("label", sa.JSON(), nullable=False),
        sa.Column("event_at", When, nullable=True),
        sa.Column("arrived_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_labels"),
        sa.CheckConstraint(
            "request_id IS NOT NULL OR entity_key IS NOT NULL", name="ck_labels_keyed"
        ),
    )
    op.create_index("ix_labels_request_id", "labels", ["request_id"])
    op.create_index("ix_labels_entity_key", "labels", ["entity_key"])
    op.create_table(
        "ledger",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("from_version", sa.String(50), nullable=True),
        sa.Column("to_version", sa.String(50), nullable=True),
        sa.Column("by", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", When, nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger"),
    )
    op.create_index("ix_ledger_model_id", "ledger", ["model", "id"])
    op.create_table(
        "champions",
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("champion", sa.String(50), nullable=True),
        sa.Column("previous", sa.String(50), nullable=True),
        sa.Column("counter", sa.Integer(), nullable=False),
        sa.Column("projected", sa.Integer(), nullable=False),
        sa.Column("record_id", Id, nullable=True),
        sa.Column("updated_at", When, nullable=False),
        sa.PrimaryKeyConstraint("model", name="pk_champions"),
        sa.ForeignKeyConstraint(["record_id"], ["ledger.id"], name="fk_champions_record_id_ledger"),
    )
    op.create_table(
        "trigger_state",
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("trigger", sa.String(100), nullable=False),
        sa.Column("last_retrain_at", When, nullable=True),
        sa.Column("consecutive_breaches", sa.Integer(), nullable=False),
        sa.Column("processed_event_ids", sa.JSON(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=True),
        sa.Column("updated_at", When, nullable=False),
        sa.PrimaryKeyConstraint("model", "trigger", name="pk_trigger_state"),
    )
    op.create_table(
        "trigger_decisions",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("at", When, nullable=False),
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
        sa.PrimaryKeyConstraint("id", name="pk_trigger_decisions"),
    )
    op.create_index("ix_trigger_decisions_model_id", "trigger_decisions", ["model", "id"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("signature", sa.String(128), nullable=False),
        sa.Column("received_at", When, nullable=False),
        sa.Column("expires_at", When, nullable=False),
        sa.PrimaryKeyConstraint("signature", name="pk_webhook_deliveries"),
    )
    op.create_index("ix_webhook_deliveries_expires_at", "webhook_deliveries", ["expires_at"])
    op.create_table(
        "validations",
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("table_name", sa.String(200), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("first_at", When, nullable=False),
        sa.Column("at", When, nullable=False),
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
        sa.PrimaryKeyConstraint("source", "table_name", "day", name="pk_validations"),
    )
    op.create_table(
        "validation_seen",
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("table_name", sa.String(200), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("first_seen_at", When, nullable=False),
        sa.PrimaryKeyConstraint("source", "table_name", "day", name="pk_validation_seen"),
    )
    op.create_table(
        "quarantine_log",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("table_name", sa.String(200), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("by", sa.String(200), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("location", sa.String(), nullable=True),
        sa.Column("at", When, nullable=False),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_quarantine_log"),
    )
    op.create_index("ix_quarantine_log_source_id", "quarantine_log", ["source", "id"])
    op.create_table(
        "imports",
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("at", When, nullable=False),
        sa.PrimaryKeyConstraint("kind", "key", name="pk_imports"),
    )


def downgrade() -> None:
    """Drop every table."""
    for table in (
        "imports",
        "webhook_deliveries",
        "trigger_decisions",
        "quarantine_log",
        "validation_seen",
        "validations",
        "trigger_state",
        "champions",
        "ledger",
        "labels",
        "predictions",
    ):
        op.drop_table(table)
