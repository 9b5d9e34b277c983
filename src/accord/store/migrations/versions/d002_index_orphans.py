"""Detection: drop observable index rows of versions no longer stored.

Before deletes went through the exchange's indexes, a TAXII DELETE left the index
rows of the deleted versions behind, where they still counted towards a value being
common. Deletes now take them out in the same transaction; this removes what earlier
deletes left.

Revision ID: d002
Revises: d001
Create Date: 2026-11-30 20:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "d002"
down_revision: str | None = "d001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "DELETE FROM observable_index WHERE NOT EXISTS ("
        "SELECT 1 FROM stix_objects WHERE stix_objects.stix_id = observable_index.stix_id"
        " AND stix_objects.modified = observable_index.modified)"
    )


def downgrade() -> None:
    pass  # the rows removed described nothing stored: there is nothing to put back
