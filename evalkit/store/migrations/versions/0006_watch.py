"""evalkit watch: the checkpoints it discovered and how far each evaluation got
(``watchedcheckpoint``).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

S = sa.String
WHEN = sa.DateTime(timezone=True)


def _col(name: str, kind: Any, nullable: bool = False) -> sa.Column:
    return sa.Column(name, kind, nullable=nullable)


def upgrade() -> None:
    op.create_table("watchedcheckpoint", _col("name", S()), _col("source", S()),
                    _col("external_id", S()), _col("path", S(), True),
                    _col("parent", S(), True), _col("step", sa.Integer(), True),
                    _col("seq", sa.Integer()), _col("status", S()),
                    _col("plan_json", S(), True), _col("steps_json", S()),
                    _col("attempts", sa.Integer()), _col("next_attempt_at", sa.Float(), True),
                    _col("last_error", S(), True), _col("owner", S(), True),
                    _col("owner_expires", sa.Float(), True), _col("summary", S(), True),
                    _col("decision", S(), True), _col("discovered_at", WHEN),
                    _col("updated_at", WHEN), _col("finished_at", WHEN, True),
                    sa.PrimaryKeyConstraint("name"))
    op.create_index("ix_watchedcheckpoint_status", "watchedcheckpoint", ["status"])


def downgrade() -> None:
    op.drop_index("ix_watchedcheckpoint_status", table_name="watchedcheckpoint")
    op.drop_table("watchedcheckpoint")
