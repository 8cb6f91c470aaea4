"""vectors in the database, corpus revisions, writer locks, run heartbeats

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 11:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "question_vector",
        sa.Column("corpus_id", sa.Integer(), nullable=False),
        sa.Column("encoder_id", sa.Integer(), nullable=False),
        sa.Column("question_id", _BIG_ID, nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["corpus_id"], ["corpus.id"], name=op.f("fk_question_vector_corpus_id_corpus"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["encoder_id"], ["encoder.id"], name=op.f("fk_question_vector_encoder_id_encoder"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["question_id"], ["question.id"],
            name=op.f("fk_question_vector_question_id_question"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "corpus_id", "encoder_id", "question_id", name=op.f("pk_question_vector")
        ),
    )  # fmt: skip
    op.create_table(
        "corpus_lock",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("acquired_at", _TIMESTAMP, nullable=False),
        sa.Column("heartbeat_at", _TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_corpus_lock")),
    )
    op.add_column(
        "corpus", sa.Column("revision", sa.BigInteger(), server_default="0", nullable=False)
    )
    op.add_column(
        "encoder",
        sa.Column("vector_dtype", sa.String(length=10), server_default="float32", nullable=False),
    )
    for table in ("ingest_run", "cluster_run"):
        op.add_column(table, sa.Column("host", sa.String(length=255), nullable=True))
        op.add_column(table, sa.Column("pid", sa.Integer(), nullable=True))
        op.add_column(table, sa.Column("heartbeat_at", _TIMESTAMP, nullable=True))


def downgrade() -> None:
    for table in ("cluster_run", "ingest_run"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("heartbeat_at")
            batch.drop_column("pid")
            batch.drop_column("host")
    with op.batch_alter_table("encoder") as batch:
        batch.drop_column("vector_dtype")
    with op.batch_alter_table("corpus") as batch:
        batch.drop_column("revision")
    op.drop_table("corpus_lock")
    op.drop_table("question_vector")
