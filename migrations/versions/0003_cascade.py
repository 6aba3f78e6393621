"""cascade: each agency's confirmation that the learning reached its staff, and the row's reach

Revision ID: 0003
Revises: 0002
Created: 2026-12-02 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cascade",
        sa.Column("ref", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("agency", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("lead", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True),
        sa.Column("staff_group", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("expected_reach", sa.Integer(), nullable=False),
        sa.Column("reached", sa.Integer(), nullable=True),
        sa.Column("done_on", sa.Date(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.ForeignKeyConstraint(["ref"], ["recommendation.ref"]),
        sa.PrimaryKeyConstraint("ref", "agency"),
    )
    with op.batch_alter_table("cascade", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cascade_status"), ["status"], unique=False)
    with op.batch_alter_table("recommendation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reach_percent", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("cascade_short", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("cascade_overdue", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("cascade_by", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("reach_threshold", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("recommendation", schema=None) as batch_op:
        batch_op.drop_column("reach_threshold")
        batch_op.drop_column("cascade_by")
        batch_op.drop_column("cascade_overdue")
        batch_op.drop_column("cascade_short")
        batch_op.drop_column("reach_percent")
    with op.batch_alter_table("cascade", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cascade_status"))
    op.drop_table("cascade")
