"""corpora, questions, encoders, index builds, ingest runs

Revision ID: 0001
Revises:
Create Date: 2026-11-23 10:59:49.298092
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "encoder",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("dimension", sa.Integer(), nullable=False),
        sa.Column("normalize", sa.Boolean(), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=True),
        sa.Column("truncate_dim", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_encoder")),
    )
    op.create_table(
        "corpus",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("uid", sa.String(length=32), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("duplicate_threshold", sa.Float(), nullable=True),
        sa.Column("encoder_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["encoder_id"], ["encoder.id"], name=op.f("fk_corpus_encoder_id_encoder")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_corpus")),
        sa.UniqueConstraint("name", name=op.f("uq_corpus_name")),
        sa.UniqueConstraint("uid", name=op.f("uq_corpus_uid")),
    )
    op.create_table(
        "index_build",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corpus_id", sa.Integer(), nullable=False),
        sa.Column("encoder_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=100), nullable=False),
        sa.Column("vector_count", sa.BigInteger(), nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["corpus_id"],
            ["corpus.id"],
            name=op.f("fk_index_build_corpus_id_corpus"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["encoder_id"],
            ["encoder.id"],
            name=op.f("fk_index_build_encoder_id_encoder"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_index_build")),
    )
    with op.batch_alter_table("index_build", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_index_build_corpus_id"), ["corpus_id"], unique=False)

    op.create_table(
        "ingest_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corpus_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
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
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("rows_added", sa.Integer(), nullable=False),
        sa.Column("rows_existing", sa.Integer(), nullable=False),
        sa.Column("rows_rejected", sa.Integer(), nullable=False),
        sa.Column("vectors_encoded", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["corpus_id"],
            ["corpus.id"],
            name=op.f("fk_ingest_run_corpus_id_corpus"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_run")),
    )
    with op.batch_alter_table("ingest_run", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ingest_run_corpus_id"), ["corpus_id"], unique=False)

    op.create_table(
        "question",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("corpus_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("text_hash", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column(
            "meta",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["corpus_id"],
            ["corpus.id"],
            name=op.f("fk_question_corpus_id_corpus"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_question")),
        sa.UniqueConstraint("corpus_id", "text_hash", name=op.f("uq_question_corpus_id_text_hash")),
    )
    with op.batch_alter_table("question", schema=None) as batch_op:
        batch_op.create_index(
            "ix_question_corpus_external", ["corpus_id", "external_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("question", schema=None) as batch_op:
        batch_op.drop_index("ix_question_corpus_external")

    op.drop_table("question")
    with op.batch_alter_table("ingest_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingest_run_corpus_id"))

    op.drop_table("ingest_run")
    with op.batch_alter_table("index_build", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_index_build_corpus_id"))

    op.drop_table("index_build")
    op.drop_table("corpus")
    op.drop_table("encoder")
