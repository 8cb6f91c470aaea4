"""analyst edits and pair labels

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 12:14:04.382627
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "cluster_edit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corpus_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("merge", "move", "canonical", name="editkind", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("target_key", sa.Integer(), nullable=True),
        sa.Column(
            "question_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "member_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["corpus_id"],
            ["corpus.id"],
            name=op.f("fk_cluster_edit_corpus_id_corpus"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["question_id"],
            ["question.id"],
            name=op.f("fk_cluster_edit_question_id_question"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cluster_edit")),
    )
    with op.batch_alter_table("cluster_edit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cluster_edit_corpus_id"), ["corpus_id"], unique=False)

    op.create_table(
        "pair_label",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corpus_id", sa.Integer(), nullable=False),
        sa.Column("first_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "second_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "verdict",
            sa.Enum(
                "duplicate",
                "not_duplicate",
                "skipped",
                name="pairverdict",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("similarity", sa.Float(), nullable=False),
        sa.Column("labelled_by", sa.String(length=200), nullable=False),
        sa.Column("labelled_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["corpus_id"],
            ["corpus.id"],
            name=op.f("fk_pair_label_corpus_id_corpus"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["first_id"],
            ["question.id"],
            name=op.f("fk_pair_label_first_id_question"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["second_id"],
            ["question.id"],
            name=op.f("fk_pair_label_second_id_question"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pair_label")),
        sa.UniqueConstraint(
            "corpus_id",
            "first_id",
            "second_id",
            name=op.f("uq_pair_label_corpus_id_first_id_second_id"),
        ),
    )
    with op.batch_alter_table("pair_label", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pair_label_corpus_id"), ["corpus_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("pair_label", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pair_label_corpus_id"))

    op.drop_table("pair_label")
    with op.batch_alter_table("cluster_edit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cluster_edit_corpus_id"))

    op.drop_table("cluster_edit")
