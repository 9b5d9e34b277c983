"""Hourly arrival counts by audience, for the console's overview; filled from what is stored.

Revision ID: e001
Revises: 0003
Create Date: 2026-11-24 02:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e001"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "object_arrivals",
        sa.Column("hour", sa.String(length=13), nullable=False),
        sa.Column("owner_org", sa.Integer(), nullable=False),
        sa.Column("tlp", sa.String(length=20), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("recipient_org", sa.Integer(), nullable=False),
        sa.Column("versions", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "hour",
            "owner_org",
            "tlp",
            "scope",
            "group_id",
            "recipient_org",
            name=op.f("pk_object_arrivals"),
        ),
    )
    op.execute(
        "INSERT INTO object_arrivals "
        "SELECT substr(date_added, 1, 13), owner_org, tlp, scope, coalesce(group_id, 0), 0, "
        "count(*) FROM stix_objects "
        "GROUP BY substr(date_added, 1, 13), owner_org, tlp, scope, coalesce(group_id, 0)"
    )
    op.execute(
        "INSERT INTO object_arrivals "
        "SELECT substr(o.date_added, 1, 13), o.owner_org, o.tlp, o.scope, "
        "coalesce(o.group_id, 0), r.org_id, count(*) "
        "FROM stix_objects o JOIN object_recipients r ON r.object_pk = o.pk "
        "WHERE r.org_id != o.owner_org AND o.scope = 'recipients' "
        "GROUP BY substr(o.date_added, 1, 13), o.owner_org, o.tlp, o.scope, "
        "coalesce(o.group_id, 0), r.org_id"
    )


def downgrade() -> None:
    op.drop_table("object_arrivals")
