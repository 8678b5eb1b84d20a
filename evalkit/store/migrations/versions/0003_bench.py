"""Benchmarks through lm-eval: the request cache keyed by checkpoint spec (``benchrequest``),
one row per task run (``benchrun``) and one per document and filter (``benchsample``).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

S = sa.String
WHEN = sa.DateTime(timezone=True)


def _col(name: str, kind: object, nullable: bool = False) -> sa.Column:
    return sa.Column(name, kind, nullable=nullable)


def upgrade() -> None:
    op.create_table("benchrequest", _col("key", S()), _col("checkpoint_spec", S()),
                    _col("method", S()), _col("result_json", S()), _col("created_at", WHEN),
                    sa.PrimaryKeyConstraint("key"))
    op.create_index("ix_benchrequest_checkpoint_spec", "benchrequest", ["checkpoint_spec"])
    op.create_table("benchrun", _col("id", S()), _col("created_at", WHEN),
                    _col("checkpoint", S()), _col("checkpoint_spec", S()), _col("suite", S()),
                    _col("task", S()), _col("source_hash", S()), _col("task_hash", S()),
                    _col("lm_eval_version", S()), _col("evalkit_version", S()),
                    _col("mode", S()), _col("doc_limit", sa.Integer(), True),
                    _col("num_fewshot", sa.Integer(), True), _col("primary_metric", S()),
                    _col("higher_is_better", sa.Boolean()), _col("n_samples", sa.Integer()),
                    _col("metrics_json", S()), _col("config_json", S()),
                    _col("requests_json", S()), _col("duration_s", sa.Float(), True),
                    sa.PrimaryKeyConstraint("id"))
    for column in ("checkpoint", "checkpoint_spec", "suite", "task"):
        op.create_index(f"ix_benchrun_{column}", "benchrun", [column])
    op.create_table("benchsample", _col("run_id", S()), _col("filter_name", S()),
                    _col("doc_id", sa.Integer()), _col("doc_hash", S()), _col("prompt", S()),
                    _col("response", S(), True), _col("extracted", S(), True),
                    _col("target", S()), _col("metrics_json", S()),
                    sa.ForeignKeyConstraint(["run_id"], ["benchrun.id"]),
                    sa.PrimaryKeyConstraint("run_id", "filter_name", "doc_id"))
    op.create_index("ix_benchsample_doc_hash", "benchsample", ["doc_hash"])


def downgrade() -> None:
    op.drop_index("ix_benchsample_doc_hash", table_name="benchsample")
    op.drop_table("benchsample")
    for column in ("checkpoint", "checkpoint_spec", "suite", "task"):
        op.drop_index(f"ix_benchrun_{column}", table_name="benchrun")
    op.drop_table("benchrun")
    op.drop_index("ix_benchrequest_checkpoint_spec", table_name="benchrequest")
    op.drop_table("benchrequest")
