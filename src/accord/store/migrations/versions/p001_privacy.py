"""Privacy: rules per destination, pseudonym keys, the transfer log, retention, purges.

Revision ID: p001
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "p001"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "privacy_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=2), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("basis", sa.String(length=40), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_rules")),
        sa.UniqueConstraint("state", "kind", name=op.f("uq_privacy_rules_state")),
    )
    op.create_table(
        "privacy_keys",
        sa.Column("scope", sa.String(length=80), nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", name=op.f("pk_privacy_keys")),
    )
    op.create_table(
        "privacy_transfers",
        sa.Column("id", _PK, nullable=False),
        sa.Column("destination", sa.String(length=200), nullable=False),
        sa.Column("peer_id", sa.Integer(), nullable=True),
        sa.Column("owner", sa.Integer(), nullable=False),
        sa.Column("stix_id", sa.String(length=100), nullable=False),
        sa.Column("modified", sa.String(length=40), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("basis", sa.String(length=40), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=True),
        sa.Column("redactions", sa.Text(), nullable=False),
        sa.Column("doc", sa.Text(), nullable=True),
        sa.Column("sent", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["peer_id"],
            ["peers.id"],
            name=op.f("fk_privacy_transfers_peer_id_peers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_transfers")),
        sa.UniqueConstraint(
            "destination", "stix_id", "modified", name=op.f("uq_privacy_transfers_destination")
        ),
    )
    op.create_index("ix_privacy_transfers_stix_id", "privacy_transfers", ["stix_id"])
    op.create_table(
        "privacy_retention",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=62), nullable=False),
        sa.Column("tlp", sa.String(length=20), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_retention")),
        sa.UniqueConstraint("type", "tlp", name=op.f("uq_privacy_retention_type")),
    )
    op.create_table(
        "privacy_purges",
        sa.Column("id", _PK, nullable=False),
        sa.Column("stix_id", sa.String(length=100), nullable=False),
        sa.Column("type", sa.String(length=62), nullable=False),
        sa.Column("tlp", sa.String(length=20), nullable=False),
        sa.Column("versions", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("purged", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_purges")),
    )
    op.create_table(
        "privacy_erasures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stix_id", sa.String(length=100), nullable=False),
        sa.Column("owner", sa.Integer(), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("requested", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_erasures")),
        sa.UniqueConstraint("nonce", name=op.f("uq_privacy_erasures_nonce")),
    )
    op.create_table(
        "privacy_erasure_peers",
        sa.Column("erasure_id", sa.Integer(), nullable=False),
        sa.Column("peer_id", sa.Integer(), nullable=False),
        sa.Column("confirmed", sa.DateTime(timezone=True), nullable=True),
        sa.Column("versions", sa.Integer(), nullable=True),
        sa.Column("receipt", sa.Text(), nullable=True),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        sa.ForeignKeyConstraint(
            ["erasure_id"],
            ["privacy_erasures.id"],
            name=op.f("fk_privacy_erasure_peers_erasure_id_privacy_erasures"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["peer_id"],
            ["peers.id"],
            name=op.f("fk_privacy_erasure_peers_peer_id_peers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("erasure_id", "peer_id", name=op.f("pk_privacy_erasure_peers")),
    )
    op.create_table(
        "privacy_erasures_received",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("from_node", sa.String(length=32), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("stix_id", sa.String(length=100), nullable=False),
        sa.Column("versions", sa.Integer(), nullable=False),
        sa.Column("received", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_erasures_received")),
        sa.UniqueConstraint(
            "from_node", "nonce", name=op.f("uq_privacy_erasures_received_from_node")
        ),
    )


def downgrade() -> None:
    op.drop_table("privacy_erasures_received")
    op.drop_table("privacy_erasure_peers")
    op.drop_table("privacy_erasures")
    op.drop_table("privacy_purges")
    op.drop_table("privacy_retention")
    op.drop_index("ix_privacy_transfers_stix_id", table_name="privacy_transfers")
    op.drop_table("privacy_transfers")
    op.drop_table("privacy_keys")
    op.drop_table("privacy_rules")
