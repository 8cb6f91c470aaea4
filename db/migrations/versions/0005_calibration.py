"""threshold calibration

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 12:37:58.430714
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "threshold_calibration",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corpus_id", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("target_precision", sa.Float(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("positives", sa.Integer(), nullable=False),
        sa.Column("negatives", sa.Integer(), nullable=False),
        sa.Column("cv_precision", sa.Float(), nullable=False),
        sa.Column("cv_recall", sa.Float(), nullable=False),
        sa.Column(
            "knots_x",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "knots_y",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["corpus_id"],
            ["corpus.id"],
            name=op.f("fk_threshold_calibration_corpus_id_corpus"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_threshold_calibration")),
    )
    with op.batch_alter_table("threshold_calibration", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_threshold_calibration_corpus_id"), ["corpus_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("threshold_calibration", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_threshold_calibration_corpus_id"))

    op.drop_table("threshold_calibration")
