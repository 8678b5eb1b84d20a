"""Leases on requests in flight (cross-process deduplication), and the comparison-item index
for stores made before 0.1.0 added it to the models.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("lease", sa.Column("key", sa.String(), nullable=False),
                    sa.Column("owner", sa.String(), nullable=False),
                    sa.Column("expires_at", sa.Float(), nullable=False),
                    sa.PrimaryKeyConstraint("key"))
    op.create_index("ix_lease_owner", "lease", ["owner"])
    op.execute("CREATE INDEX IF NOT EXISTS ix_comparisonitem_item "
               "ON comparisonitem (comparison_id, item_id, sample)")


def downgrade() -> None:
    op.drop_index("ix_lease_owner", table_name="lease")
    op.drop_table("lease")
