"""cycle returns: each agency's return to a period of a cycle, and longer outbox workflow ids

Revision ID: 0008
Revises: 0007
Created: 2026-12-03 13:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import store.tables

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cycle_return",
        sa.Column("workflow_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("cycle_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("period", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("agency", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("board", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("stage", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("ratings", sa.JSON(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("raised", sa.JSON(), nullable=False),
        sa.Column("submitted_at", store.tables.UtcDateTime(timezone=True), nullable=True),
        sa.Column("accepted_at", store.tables.UtcDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", store.tables.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("workflow_id"),
    )
    op.create_index(op.f("ix_cycle_return_cycle_id"), "cycle_return", ["cycle_id"], unique=False)
    op.create_index(op.f("ix_cycle_return_period"), "cycle_return", ["period"], unique=False)
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("workflow_id", type_=sa.String(length=200), existing_type=sa.String(length=100),
                           existing_nullable=False)  # fmt: skip


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("workflow_id", type_=sa.String(length=100), existing_type=sa.String(length=200),
                           existing_nullable=False)  # fmt: skip
    op.drop_index(op.f("ix_cycle_return_period"), table_name="cycle_return")
    op.drop_index(op.f("ix_cycle_return_cycle_id"), table_name="cycle_return")
    op.drop_table("cycle_return")
