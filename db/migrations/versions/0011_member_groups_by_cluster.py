"""a run's members by cluster carry their near-duplicate group in the index

At a million questions the Clusters page listed the near-duplicate groups of a cluster of
119,000 questions by reading each member's row for its group (about 2.5 s on SQLite); with the
group in the (run, cluster) index the lookup reads the index alone.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 02:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_cluster_member_run_key_group", "cluster_member", ["run_id", "cluster_key", "group_id"]
    )
    op.drop_index("ix_cluster_member_run_key", table_name="cluster_member")


def downgrade() -> None:
    op.create_index("ix_cluster_member_run_key", "cluster_member", ["run_id", "cluster_key"])
    op.drop_index("ix_cluster_member_run_key_group", table_name="cluster_member")
