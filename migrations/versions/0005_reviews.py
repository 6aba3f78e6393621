"""reviews: the reviews recommendations come from, as records, and each recommendation's review_ref

Revision ID: 0005
Revises: 0004
Created: 2026-12-16 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import store.tables

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "review",
        sa.Column("review_ref", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("board", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("notified_on", sa.Date(), nullable=True),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.Column("commissioned_on", sa.Date(), nullable=True),
        sa.Column("concluded_on", sa.Date(), nullable=True),
        sa.Column("published_on", sa.Date(), nullable=True),
        sa.Column("themes", sa.Text(), nullable=False),
        sa.Column("created_at", store.tables.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", store.tables.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("review_ref"),
    )
    # Recommendations started before reviews were records belong to none: the column is nullable.
    with op.batch_alter_table("recommendation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("review_ref", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_recommendation_review_ref"), ["review_ref"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("recommendation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recommendation_review_ref"))
        batch_op.drop_column("review_ref")
    op.drop_table("review")
