"""Pool curation: classifier specs (``classifierspec``), the prompt-label cache
(``promptlabel``) and how a pool version was derived from another (``poolderivation``).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

S = sa.String
WHEN = sa.DateTime(timezone=True)


def _col(name: str, kind: object, nullable: bool = False) -> sa.Column:
    return sa.Column(name, kind, nullable=nullable)


def upgrade() -> None:
    op.create_table("classifierspec", _col("spec_hash", S()), _col("name", S()),
                    _col("spec_json", S()), _col("template_text", S()),
                    _col("taxonomy_json", S()), _col("created_at", WHEN),
                    sa.PrimaryKeyConstraint("spec_hash"))
    op.create_index("ix_classifierspec_name", "classifierspec", ["name"])
    op.create_table("promptlabel", _col("key", S()), _col("classifier_spec", S()),
                    _col("prompt_hash", S()), _col("status", S()),
                    _col("topic", S(), True), _col("difficulty", S(), True),
                    _col("quality", S(), True), _col("reason", S(), True),
                    _col("language", S(), True), _col("error", S(), True),
                    _col("raw_output", S(), True), _col("latency", sa.Float(), True),
                    _col("prompt_tokens", sa.Integer(), True),
                    _col("completion_tokens", sa.Integer(), True), _col("created_at", WHEN),
                    sa.PrimaryKeyConstraint("key"))
    op.create_index("ix_promptlabel_classifier_spec", "promptlabel", ["classifier_spec"])
    op.create_index("ix_promptlabel_prompt_hash", "promptlabel", ["prompt_hash"])
    op.create_table("poolderivation", _col("pool_id", sa.Integer()),
                    _col("parent_id", sa.Integer()), _col("operation", S()),
                    _col("params_json", S()), _col("summary_json", S()),
                    _col("created_at", WHEN),
                    sa.ForeignKeyConstraint(["pool_id"], ["pool.id"]),
                    sa.ForeignKeyConstraint(["parent_id"], ["pool.id"]),
                    sa.PrimaryKeyConstraint("pool_id"))
    op.create_index("ix_poolderivation_parent_id", "poolderivation", ["parent_id"])


def downgrade() -> None:
    op.drop_index("ix_poolderivation_parent_id", table_name="poolderivation")
    op.drop_table("poolderivation")
    op.drop_index("ix_promptlabel_prompt_hash", table_name="promptlabel")
    op.drop_index("ix_promptlabel_classifier_spec", table_name="promptlabel")
    op.drop_table("promptlabel")
    op.drop_index("ix_classifierspec_name", table_name="classifierspec")
    op.drop_table("classifierspec")
