"""evaluation results

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 12:33:24.728628
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "eval_result",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("data_path", sa.Text(), nullable=False),
        sa.Column("data_sha256", sa.String(length=64), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column(
            "metrics",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eval_result")),
    )
    with op.batch_alter_table("eval_result", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_eval_result_data_sha256"), ["data_sha256"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("eval_result", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_eval_result_data_sha256"))

    op.drop_table("eval_result")
