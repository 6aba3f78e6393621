"""people change: a person's standing deputy, their leaving and successor, absences, and the log of
registry edits made without a workbook

Revision ID: 0009
Revises: 0008
Created: 2026-12-20 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import store.tables

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # People registered before have no deputy, have not left, and so have no successor.
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("deputy", sqlmodel.sql.sqltypes.AutoString(length=254), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("left_on", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("successor", sqlmodel.sql.sqltypes.AutoString(length=254), server_default="", nullable=False)
        )
    op.create_table(
        "absence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("deputy", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("recorded_by", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("recorded_at", store.tables.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_absence_person"), "absence", ["person"], unique=False)
    op.create_index(op.f("ix_absence_last_day"), "absence", ["last_day"], unique=False)
    op.create_table(
        "registry_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", store.tables.UtcDateTime(timezone=True), nullable=False),
        sa.Column("by", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("what", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("detail", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_registry_change_at"), "registry_change", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_registry_change_at"), table_name="registry_change")
    op.drop_table("registry_change")
    op.drop_index(op.f("ix_absence_last_day"), table_name="absence")
    op.drop_index(op.f("ix_absence_person"), table_name="absence")
    op.drop_table("absence")
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_column("successor")
        batch_op.drop_column("left_on")
        batch_op.drop_column("deputy")
