"""Sign-in throttling: streaks of failed sign-ins per key, failures per hour.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 22:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "signin_streaks",
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("username", sa.String(length=120), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure", sa.DateTime(timezone=True), nullable=True),
        sa.Column("blocked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("kind", "username", "address", name=op.f("pk_signin_streaks")),
    )
    op.create_table(
        "signin_failure_hours",
        sa.Column("hour", sa.String(length=13), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("hour", name=op.f("pk_signin_failure_hours")),
    )


def downgrade() -> None:
    op.drop_table("signin_failure_hours")
    op.drop_table("signin_streaks")
