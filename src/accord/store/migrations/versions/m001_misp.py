"""MISP: sharing groups linked by UUID, and the feeds a node pulls with their cursors.

Revision ID: m001
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "m001"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "misp_sharing_groups",
        sa.Column("uuid", sa.String(36), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["sharing_groups.id"],
            name="fk_misp_sharing_groups_group_id_sharing_groups",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("uuid", name="pk_misp_sharing_groups"),
    )
    op.create_table(
        "misp_feeds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("distribution", sa.Integer(), nullable=False),
        sa.Column("tlp", sa.String(20), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=False),
        sa.Column("last_pulled", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name="fk_misp_feeds_org_id_organisations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_misp_feeds"),
        sa.UniqueConstraint("name", name="uq_misp_feeds_name"),
    )


def downgrade() -> None:
    op.drop_table("misp_feeds")
    op.drop_table("misp_sharing_groups")
