"""Staged rollouts: each model's rollout state, its transitions, and failed predictions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create ``rollouts`` and ``rollout_history``; ``predictions.error``."""
    with op.batch_alter_table("predictions") as batch:
        batch.add_column(sa.Column("error", sa.Text(), nullable=True))
    op.create_table(
        "rollouts",
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("challenger", sa.String(50), nullable=False),
        sa.Column("champion", sa.String(50), nullable=True),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.PrimaryKeyConstraint("model", name="pk_rollouts"),
    )
    op.create_table(
        "rollout_history",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("analysis", sa.JSON(), nullable=True),
        sa.Column("at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rollout_history"),
    )
    op.create_index("ix_rollout_history_model_id", "rollout_history", ["model", "id"])


def downgrade() -> None:
    """Drop them."""
    op.drop_index("ix_rollout_history_model_id", table_name="rollout_history")
    op.drop_table("rollout_history")
    op.drop_table("rollouts")
    with op.batch_alter_table("predictions") as batch:
        batch.drop_column("error")
