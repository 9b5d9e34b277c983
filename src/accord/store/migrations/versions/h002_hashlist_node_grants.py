"""Hash lists: lookups granted to peer nodes (by node id).

Revision ID: h002
Revises: h001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "h002"
down_revision: str | None = "h001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hashlist_node_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("list_ref", sa.String(length=128), nullable=False),
        sa.Column("node_id", sa.String(length=32), nullable=False),
        sa.Column("granted_by", sa.Integer(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hashlist_node_grants")),
        sa.UniqueConstraint("list_ref", "node_id", name=op.f("uq_hashlist_node_grants_list_ref")),
    )
    op.create_index(op.f("ix_hashlist_node_grants_list_ref"), "hashlist_node_grants", ["list_ref"])


def downgrade() -> None:
    op.drop_table("hashlist_node_grants")
