"""clustering runs, clusters, identities, duplicate groups, members

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 11:27:26.032107
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "cluster_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corpus_id", sa.Integer(), nullable=False),
        sa.Column("encoder_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "running",
                "done",
                "failed",
                "interrupted",
                name="runstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column(
            "params",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("question_count", sa.Integer(), nullable=False),
        sa.Column("cluster_count", sa.Integer(), nullable=False),
        sa.Column("noise_share", sa.Float(), nullable=False),
        sa.Column("group_count", sa.Integer(), nullable=False),
        sa.Column(
            "changes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["corpus_id"],
            ["corpus.id"],
            name=op.f("fk_cluster_run_corpus_id_corpus"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["encoder_id"],
            ["encoder.id"],
            name=op.f("fk_cluster_run_encoder_id_encoder"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cluster_run")),
    )
    with op.batch_alter_table("cluster_run", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cluster_run_corpus_id"), ["corpus_id"], unique=False)

    op.create_table(
        "cluster",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("auto_name", sa.Text(), nullable=False),
        sa.Column(
            "keywords",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "representative_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("change", sa.String(length=10), nullable=False),
        sa.Column(
            "sources",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["representative_id"],
            ["question.id"],
            name=op.f("fk_cluster_representative_id_question"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["cluster_run.id"],
            name=op.f("fk_cluster_run_id_cluster_run"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cluster")),
        sa.UniqueConstraint("run_id", "key", name=op.f("uq_cluster_run_id_key")),
    )
    op.create_table(
        "cluster_identity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corpus_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("created_run_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["corpus_id"],
            ["corpus.id"],
            name=op.f("fk_cluster_identity_corpus_id_corpus"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_run_id"],
            ["cluster_run.id"],
            name=op.f("fk_cluster_identity_created_run_id_cluster_run"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cluster_identity")),
        sa.UniqueConstraint("corpus_id", "key", name=op.f("uq_cluster_identity_corpus_id_key")),
    )
    op.create_table(
        "duplicate_group",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column(
            "canonical_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["canonical_id"],
            ["question.id"],
            name=op.f("fk_duplicate_group_canonical_id_question"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["cluster_run.id"],
            name=op.f("fk_duplicate_group_run_id_cluster_run"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duplicate_group")),
    )
    with op.batch_alter_table("duplicate_group", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_duplicate_group_run_id"), ["run_id"], unique=False)

    op.create_table(
        "cluster_member",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column(
            "question_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("cluster_key", sa.Integer(), nullable=False),
        sa.Column("strength", sa.Float(), nullable=False),
        sa.Column("centrality", sa.Float(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("x", sa.Float(), nullable=False),
        sa.Column("y", sa.Float(), nullable=False),
        sa.Column("nearest_key", sa.Integer(), nullable=True),
        sa.Column("nearest_similarity", sa.Float(), nullable=True),
        sa.Column("placed", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["duplicate_group.id"],
            name=op.f("fk_cluster_member_group_id_duplicate_group"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["question_id"],
            ["question.id"],
            name=op.f("fk_cluster_member_question_id_question"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["cluster_run.id"],
            name=op.f("fk_cluster_member_run_id_cluster_run"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "question_id", name=op.f("pk_cluster_member")),
    )
    with op.batch_alter_table("cluster_member", schema=None) as batch_op:
        batch_op.create_index("ix_cluster_member_run_key", ["run_id", "cluster_key"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("cluster_member", schema=None) as batch_op:
        batch_op.drop_index("ix_cluster_member_run_key")

    op.drop_table("cluster_member")
    with op.batch_alter_table("duplicate_group", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_duplicate_group_run_id"))

    op.drop_table("duplicate_group")
    op.drop_table("cluster_identity")
    op.drop_table("cluster")
    with op.batch_alter_table("cluster_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cluster_run_corpus_id"))

    op.drop_table("cluster_run")
