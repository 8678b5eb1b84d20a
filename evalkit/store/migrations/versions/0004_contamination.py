"""Contamination checks: the corpora scanned (``contaminationcorpus``), one row per scan of a
pool's or suite's items against a corpus (``contaminationscan``) and one per item with its
covered fraction, label and matched spans (``contaminationitem``).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

S = sa.String
I = sa.Integer  # noqa: E741
B = sa.BigInteger
WHEN = sa.DateTime(timezone=True)


def _col(name: str, kind: object, nullable: bool = False) -> sa.Column:
    return sa.Column(name, kind, nullable=nullable)


def upgrade() -> None:
    op.create_table("contaminationcorpus", _col("id", S()), _col("name", S()),
                    _col("fmt", S()), _col("field", S()), _col("split", S(), True),
                    _col("files_json", S()), _col("size", B()), _col("content_hash", S()),
                    _col("created_at", WHEN), sa.PrimaryKeyConstraint("id"))
    op.create_index("ix_contaminationcorpus_name", "contaminationcorpus", ["name"])
    op.create_table("contaminationscan", _col("id", S()), _col("created_at", WHEN),
                    _col("corpus_id", S()), _col("source_kind", S()), _col("source", S()),
                    _col("source_version", S()), _col("items_hash", S()), _col("method", S()),
                    _col("n", I()), _col("hit_n", I(), True), _col("normaliser", S()),
                    _col("clean_below", sa.Float()), _col("dirty_from", sa.Float()),
                    _col("n_items", I()), _col("labels_json", S()),
                    _col("corpus_tokens", B()), _col("corpus_bytes", B()),
                    _col("problems_json", S()), _col("runner", S()),
                    _col("duration_s", sa.Float(), True),
                    sa.ForeignKeyConstraint(["corpus_id"], ["contaminationcorpus.id"]),
                    sa.PrimaryKeyConstraint("id"))
    op.create_index("ix_contaminationscan_corpus_id", "contaminationscan", ["corpus_id"])
    op.create_index("ix_contaminationscan_source", "contaminationscan", ["source"])
    op.create_table("contaminationitem", _col("scan_id", S()), _col("position", I()),
                    _col("item_id", S()), _col("item_hash", S()), _col("task", S(), True),
                    _col("tags_json", S()), _col("n_tokens", I()), _col("covered", I()),
                    _col("fraction", sa.Float(), True), _col("longest", I()),
                    _col("hit", sa.Boolean(), True), _col("max_count", B()),
                    _col("label", S()), _col("spans_json", S()), _col("text", S(), True),
                    sa.ForeignKeyConstraint(["scan_id"], ["contaminationscan.id"]),
                    sa.PrimaryKeyConstraint("scan_id", "position"))
    op.create_index("ix_contaminationitem_item_hash", "contaminationitem", ["item_hash"])


def downgrade() -> None:
    op.drop_index("ix_contaminationitem_item_hash", table_name="contaminationitem")
    op.drop_table("contaminationitem")
    op.drop_index("ix_contaminationscan_source", table_name="contaminationscan")
    op.drop_index("ix_contaminationscan_corpus_id", table_name="contaminationscan")
    op.drop_table("contaminationscan")
    op.drop_index("ix_contaminationcorpus_name", table_name="contaminationcorpus")
    op.drop_table("contaminationcorpus")
