"""measures: each recommendation's impact measures, their readings and whether they are on track

Revision ID: 0004
Revises: 0003
Created: 2026-12-09 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "measure",
        sa.Column("ref", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("measure_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("unit", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("direction", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("baseline", sa.Float(), nullable=True),
        sa.Column("baseline_on", sa.Date(), nullable=True),
        sa.Column("target", sa.Float(), nullable=True),
        sa.Column("target_by", sa.Date(), nullable=True),
        sa.Column("reporter", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("every", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("readings", sa.Text(), nullable=False),
        sa.Column("latest_value", sa.Float(), nullable=True),
        sa.Column("latest_on", sa.Date(), nullable=True),
        sa.Column("track", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("expected", sa.Float(), nullable=True),
        sa.Column("reading_due_on", sa.Date(), nullable=True),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["ref"], ["recommendation.ref"]),
        sa.PrimaryKeyConstraint("ref", "measure_id"),
    )
    with op.batch_alter_table("measure", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_measure_reporter"), ["reporter"], unique=False)
        batch_op.create_index(batch_op.f("ix_measure_track"), ["track"], unique=False)
    with op.batch_alter_table("recommendation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("measures_off_track", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("recommendation", schema=None) as batch_op:
        batch_op.drop_column("measures_off_track")
    with op.batch_alter_table("measure", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_measure_track"))
        batch_op.drop_index(batch_op.f("ix_measure_reporter"))
    op.drop_table("measure")
