"""Sovereign federation: every organisation and group has a home node; peers count refusals.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 02:50:00.000000
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("organisations") as batch:
        batch.add_column(sa.Column("home_node", sa.String(length=32), nullable=True))
    with op.batch_alter_table("sharing_groups") as batch:
        batch.add_column(sa.Column("uuid", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("owner_node", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("members_doc", sa.Text(), nullable=True))
    with op.batch_alter_table("node_keys") as batch:
        batch.add_column(sa.Column("rotation", sa.Text(), nullable=True))
    with op.batch_alter_table("peers") as batch:
        batch.add_column(sa.Column("audience", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("refused", sa.BigInteger(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("last_refusal", sa.Text(), nullable=True))
        batch.add_column(sa.Column("rejected", sa.BigInteger(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("last_rejection", sa.Text(), nullable=True))
    op.create_table(
        "federation_pending",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("peer_id", sa.Integer(), nullable=False),
        sa.Column("stix_id", sa.String(length=300), nullable=False),
        sa.Column("modified", sa.String(length=27), nullable=False),
        sa.Column("doc", sa.Text(), nullable=False),
        sa.Column("meta", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("received", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["peer_id"],
            ["peers.id"],
            name=op.f("fk_federation_pending_peer_id_peers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_pending")),
        sa.UniqueConstraint("peer_id", "stix_id", "modified", name="uq_federation_pending_version"),
    )
    conn = op.get_bind()
    # Organisations learnt from a peer were homed there as far as this node can tell.
    conn.execute(
        sa.text(
            "UPDATE organisations SET home_node = "
            "(SELECT node_id FROM peers WHERE peers.id = organisations.peer_id) "
            "WHERE peer_id IS NOT NULL"
        )
    )
    # Before home nodes, a node could issue tokens and users for another node's
    # organisations: those are revoked and disabled, never honoured again.
    now = datetime.now(UTC)
    remote = "SELECT id FROM organisations WHERE home_node IS NOT NULL"
    conn.execute(
        sa.text(f"UPDATE tokens SET revoked = :now WHERE revoked IS NULL AND org_id IN ({remote})"),
        {"now": now},
    )
    conn.execute(
        sa.text(
            f"UPDATE users SET disabled = :now WHERE disabled IS NULL AND org_id IN ({remote})"
        ),
        {"now": now},
    )
    for (group_id,) in conn.execute(sa.text("SELECT id FROM sharing_groups")).all():
        conn.execute(
            sa.text("UPDATE sharing_groups SET uuid = :u WHERE id = :i"),
            {"u": str(uuid.uuid4()), "i": group_id},
        )
    with op.batch_alter_table("sharing_groups") as batch:
        batch.alter_column("uuid", existing_type=sa.String(length=36), nullable=False)
        batch.create_unique_constraint(batch.f("uq_sharing_groups_uuid"), ["uuid"])


def downgrade() -> None:
    op.drop_table("federation_pending")
    with op.batch_alter_table("peers") as batch:
        for column in ("last_rejection", "rejected", "last_refusal", "refused", "audience"):
            batch.drop_column(column)
    with op.batch_alter_table("sharing_groups") as batch:
        batch.drop_constraint(batch.f("uq_sharing_groups_uuid"), type_="unique")
        for column in ("members_doc", "version", "owner_node", "uuid"):
            batch.drop_column(column)
    with op.batch_alter_table("organisations") as batch:
        batch.drop_column("home_node")
    with op.batch_alter_table("node_keys") as batch:
        batch.drop_column("rotation")
