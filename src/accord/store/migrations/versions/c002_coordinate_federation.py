"""Coordination between nodes: contacts' copies, shared request and message ids,
delivery, the outbox of signed coordination messages and the ids already applied.

Revision ID: c002
Revises: c001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c002"
down_revision: str | None = "c001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("coord_contacts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("federation", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("home_node", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("remote_id", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_coord_contacts_home_node"), ["home_node", "remote_id"]
        )
    with op.batch_alter_table("coord_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("uid", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("delivered", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("delivery_error", sa.Text(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_coord_requests_uid"), ["uid"])
    with op.batch_alter_table("coord_checks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("uid", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("origin_node", sa.String(length=32), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_coord_checks_uid"), ["uid"])
    with op.batch_alter_table("coord_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("uid", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_coord_messages_uid"), ["uid"])
    op.create_table(
        "coord_outbox",
        sa.Column("id", _PK, nullable=False),
        sa.Column("node", sa.String(length=32), nullable=False),
        sa.Column("msg_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("request_uid", sa.String(length=64), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coord_outbox")),
        sa.UniqueConstraint("msg_id", name=op.f("uq_coord_outbox_msg_id")),
    )
    op.create_index("ix_coord_outbox_due", "coord_outbox", ["status", "node", "id"])
    op.create_table(
        "coord_fed_seen",
        sa.Column("node", sa.String(length=32), nullable=False),
        sa.Column("msg_id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("node", "msg_id", name=op.f("pk_coord_fed_seen")),
    )


def downgrade() -> None:
    op.drop_table("coord_fed_seen")
    op.drop_index("ix_coord_outbox_due", table_name="coord_outbox")
    op.drop_table("coord_outbox")
    with op.batch_alter_table("coord_messages", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_coord_messages_uid"), type_="unique")
        batch_op.drop_column("uid")
    with op.batch_alter_table("coord_checks", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_coord_checks_uid"), type_="unique")
        batch_op.drop_column("origin_node")
        batch_op.drop_column("uid")
    with op.batch_alter_table("coord_contacts", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_coord_contacts_home_node"), type_="unique")
        batch_op.drop_column("remote_id")
        batch_op.drop_column("home_node")
        batch_op.drop_column("federation")
    with op.batch_alter_table("coord_requests", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_coord_requests_uid"), type_="unique")
        batch_op.drop_column("delivery_error")
        batch_op.drop_column("delivered")
        batch_op.drop_column("uid")
