"""cluster edits remember their run and what they replaced, so that they can be undone

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 17:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("cluster_edit", sa.Column("run_id", sa.Integer(), nullable=True))
    op.add_column(
        "cluster_edit",
        sa.Column(
            "undo",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
    )


def downgrade() -> None:
    with op.batch_alter_table("cluster_edit", schema=None) as batch_op:
        batch_op.drop_column("undo")
        batch_op.drop_column("run_id")
