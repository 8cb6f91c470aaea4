"""clusters at several levels: coarse topics above the topics, each cluster with its parent

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "cluster", sa.Column("level", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column("cluster", sa.Column("parent_key", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cluster", schema=None) as batch_op:
        batch_op.drop_column("parent_key")
        batch_op.drop_column("level")
