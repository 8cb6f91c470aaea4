"""indexes for a run's members by near-duplicate group and by placement

At a million questions the Clusters page counted placed members and read a group's members by
scanning the run's million rows (1.5 to 2.4 s each on SQLite); these make both lookups.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 22:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_cluster_member_run_group", "cluster_member", ["run_id", "group_id"])
    op.create_index(
        "ix_cluster_member_run_placed", "cluster_member", ["run_id", "placed", "cluster_key"]
    )


def downgrade() -> None:
    op.drop_index("ix_cluster_member_run_placed", table_name="cluster_member")
    op.drop_index("ix_cluster_member_run_group", table_name="cluster_member")
