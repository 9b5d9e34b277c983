"""Hash lists: the entry index, opinion and sighting links, grants, holds, activity.

Revision ID: h001
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "h001"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "hashlist_entries",
        sa.Column("id", _BIG, nullable=False),
        sa.Column("stix_id", sa.String(length=128), nullable=False),
        sa.Column("modified", sa.String(length=27), nullable=False),
        sa.Column("list_ref", sa.String(length=128), nullable=False),
        sa.Column("owner_org", sa.Integer(), nullable=False),
        sa.Column("signal", sa.String(length=8), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hashlist_entries")),
    )
    op.create_index(op.f("ix_hashlist_entries_stix_id"), "hashlist_entries", ["stix_id"])
    op.create_index(op.f("ix_hashlist_entries_list_ref"), "hashlist_entries", ["list_ref"])
    op.create_table(
        "hashlist_links",
        sa.Column("id", _BIG, nullable=False),
        sa.Column("stix_id", sa.String(length=128), nullable=False),
        sa.Column("modified", sa.String(length=27), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hashlist_links")),
    )
    op.create_index(op.f("ix_hashlist_links_stix_id"), "hashlist_links", ["stix_id"])
    op.create_index(op.f("ix_hashlist_links_target"), "hashlist_links", ["target"])
    op.create_table(
        "hashlist_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("list_ref", sa.String(length=128), nullable=False),
        sa.Column("grantee_org", sa.Integer(), nullable=False),
        sa.Column("granted_by", sa.Integer(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hashlist_grants")),
        sa.UniqueConstraint("list_ref", "grantee_org", name=op.f("uq_hashlist_grants_list_ref")),
    )
    op.create_index(op.f("ix_hashlist_grants_list_ref"), "hashlist_grants", ["list_ref"])
    op.create_table(
        "hashlist_holds",
        sa.Column("entry_ref", sa.String(length=128), nullable=False),
        sa.Column("list_ref", sa.String(length=128), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("released", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("entry_ref", name=op.f("pk_hashlist_holds")),
    )
    op.create_table(
        "hashlist_activity",
        sa.Column("id", _BIG, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("list_ref", sa.String(length=128), nullable=False),
        sa.Column("entry_ref", sa.String(length=128), nullable=True),
        sa.Column("org", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hashlist_activity")),
    )
    op.create_index("ix_hashlist_activity_list_at", "hashlist_activity", ["list_ref", "at"])
    op.create_index("ix_hashlist_activity_org_kind_at", "hashlist_activity", ["org", "kind", "at"])


def downgrade() -> None:
    for table in (
        "hashlist_activity",
        "hashlist_holds",
        "hashlist_grants",
        "hashlist_links",
        "hashlist_entries",
    ):
        op.drop_table(table)
