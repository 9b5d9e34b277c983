"""Norms implementation reports: reports, versions, draft answers.

Revision ID: n001
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "n001"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "norm_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=2), nullable=False),
        sa.Column("report_key", sa.String(length=36), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_norm_reports_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_norm_reports")),
        sa.UniqueConstraint("org_id", name="uq_norm_reports_org_id"),
        sa.UniqueConstraint("report_key", name=op.f("uq_norm_reports_report_key")),
    )
    op.create_table(
        "norm_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published", sa.DateTime(timezone=True), nullable=True),
        sa.Column("scope", sa.String(length=16), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("stix_id", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["norm_reports.id"],
            name=op.f("fk_norm_versions_report_id_norm_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_norm_versions")),
        sa.UniqueConstraint("report_id", "number", name="uq_norm_versions_report_id_number"),
    )
    op.create_table(
        "norm_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("item", sa.String(length=20), nullable=False),
        sa.Column("measures", sa.Text(), nullable=False),
        sa.Column("challenges", sa.Text(), nullable=False),
        sa.Column("documents", sa.JSON(), nullable=False),
        sa.Column("tlp", sa.String(length=20), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["norm_versions.id"],
            name=op.f("fk_norm_answers_version_id_norm_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_norm_answers")),
        sa.UniqueConstraint("version_id", "item", name="uq_norm_answers_version_id_item"),
    )


def downgrade() -> None:
    op.drop_table("norm_answers")
    op.drop_table("norm_versions")
    op.drop_table("norm_reports")
