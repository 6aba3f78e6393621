"""cycles: the definitions of recurring assurance cycles (Section 11 audits, annual returns)

Revision ID: 0007
Revises: 0006
Created: 2026-12-18 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import store.tables

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cycle",
        sa.Column("cycle_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("board", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("created_at", store.tables.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", store.tables.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("cycle_id"),
    )


def downgrade() -> None:
    op.drop_table("cycle")
