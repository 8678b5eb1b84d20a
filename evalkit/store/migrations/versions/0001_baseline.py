"""The schema of evalkit 0.1.0, the first release: pools, prompts, checkpoints, generations,
judges, judgments, imports, comparisons and their items, judge evaluations, promotions and
gate runs. Stores created by 0.1.0 (without an ``alembic_version`` table) are stamped at this
revision and upgraded from here.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

S = sa.String
WHEN = sa.DateTime(timezone=True)


def _col(name: str, kind: object, nullable: bool = False) -> sa.Column:
    return sa.Column(name, kind, nullable=nullable)


def upgrade() -> None:
    op.create_table("checkpoint", _col("spec_hash", S()), _col("name", S()),
                    _col("spec_json", S()), _col("created_at", WHEN),
                    sa.PrimaryKeyConstraint("spec_hash"))
    op.create_index("ix_checkpoint_name", "checkpoint", ["name"])
    op.create_table("gaterun", _col("id", S()), _col("created_at", WHEN),
                    _col("candidate", S()), _col("baseline", S()), _col("pool", S()),
                    _col("judge", S()), _col("comparison_id", S()), _col("decision", S()),
                    _col("exit_code", sa.Integer()), _col("report_json", S()),
                    sa.PrimaryKeyConstraint("id"))
    op.create_index("ix_gaterun_candidate", "gaterun", ["candidate"])
    op.create_table("generation", _col("key", S()), _col("checkpoint_spec", S()),
                    _col("prompt_hash", S()), _col("sample", sa.Integer()),
                    _col("response", S(), True), _col("error", S(), True),
                    _col("finish_reason", S(), True), _col("prompt_tokens", sa.Integer(), True),
                    _col("completion_tokens", sa.Integer(), True),
                    _col("latency", sa.Float(), True), _col("attempts", sa.Integer()),
                    _col("created_at", WHEN), sa.PrimaryKeyConstraint("key"))
    op.create_index("ix_generation_checkpoint_spec", "generation", ["checkpoint_spec"])
    op.create_index("ix_generation_prompt_hash", "generation", ["prompt_hash"])
    op.create_table("judgespec", _col("spec_hash", S()), _col("name", S()),
                    _col("spec_json", S()), _col("template_text", S()), _col("created_at", WHEN),
                    sa.PrimaryKeyConstraint("spec_hash"))
    op.create_index("ix_judgespec_name", "judgespec", ["name"])
    op.create_table("judgment", _col("key", S()), _col("judge_spec", S()),
                    _col("prompt_hash", S()), _col("gen_first", S()), _col("gen_second", S()),
                    _col("verdict", S(), True), _col("strength", sa.Integer()),
                    _col("preference", sa.Float(), True), _col("raw_output", S(), True),
                    _col("error", S(), True), _col("reasked", sa.Boolean()),
                    _col("latency", sa.Float(), True), _col("prompt_tokens", sa.Integer(), True),
                    _col("completion_tokens", sa.Integer(), True), _col("meta_json", S(), True),
                    _col("created_at", WHEN), sa.PrimaryKeyConstraint("key"))
    op.create_index("ix_judgment_gen_first", "judgment", ["gen_first"])
    op.create_index("ix_judgment_judge_spec", "judgment", ["judge_spec"])
    op.create_index("ix_judgment_prompt_hash", "judgment", ["prompt_hash"])
    op.create_table("pool", _col("id", sa.Integer()), _col("name", S()), _col("version", S()),
                    _col("n_prompts", sa.Integer()), _col("source", S(), True),
                    _col("created_at", WHEN), sa.PrimaryKeyConstraint("id"))
    op.create_index("ix_pool_name", "pool", ["name"])
    op.create_index("ix_pool_version", "pool", ["version"])
    op.create_table("promotion", _col("id", sa.Integer()), _col("pool", S(), True),
                    _col("checkpoint", S()), _col("who", S()), _col("why", S(), True),
                    _col("created_at", WHEN), sa.PrimaryKeyConstraint("id"))
    op.create_index("ix_promotion_pool", "promotion", ["pool"])
    op.create_table("prompt", _col("hash", S()), _col("messages_json", S()),
                    sa.PrimaryKeyConstraint("hash"))
    op.create_table("comparison", _col("id", S()), _col("created_at", WHEN),
                    _col("pool_id", sa.Integer()), _col("baseline", S()), _col("candidate", S()),
                    _col("baseline_spec", S()), _col("candidate_spec", S()), _col("judge", S()),
                    _col("judge_spec", S()), _col("evalkit_version", S()),
                    _col("seed", sa.Integer()), _col("summary_json", S()),
                    _col("duration_s", sa.Float(), True),
                    sa.ForeignKeyConstraint(["pool_id"], ["pool.id"]),
                    sa.PrimaryKeyConstraint("id"))
    op.create_index("ix_comparison_baseline", "comparison", ["baseline"])
    op.create_index("ix_comparison_candidate", "comparison", ["candidate"])
    op.create_index("ix_comparison_pool_id", "comparison", ["pool_id"])
    op.create_table("importrecord", _col("id", sa.Integer()), _col("source", S()),
                    _col("pool_id", sa.Integer()), _col("models_json", S()),
                    _col("judges_json", S()), _col("extra_json", S()), _col("created_at", WHEN),
                    sa.ForeignKeyConstraint(["pool_id"], ["pool.id"]),
                    sa.PrimaryKeyConstraint("id"))
    op.create_index("ix_importrecord_pool_id", "importrecord", ["pool_id"])
    op.create_table("judgeeval", _col("id", S()), _col("created_at", WHEN), _col("judge", S()),
                    _col("judge_spec", S()), _col("labels", S()), _col("pool_id", sa.Integer()),
                    _col("comparison_id", S()), _col("summary_json", S()),
                    sa.ForeignKeyConstraint(["pool_id"], ["pool.id"]),
                    sa.PrimaryKeyConstraint("id"))
    op.create_index("ix_judgeeval_judge", "judgeeval", ["judge"])
    op.create_table("poolitem", _col("pool_id", sa.Integer()), _col("position", sa.Integer()),
                    _col("item_id", S()), _col("prompt_hash", S()), _col("tags_json", S()),
                    _col("reference", S(), True),
                    sa.ForeignKeyConstraint(["pool_id"], ["pool.id"]),
                    sa.ForeignKeyConstraint(["prompt_hash"], ["prompt.hash"]),
                    sa.PrimaryKeyConstraint("pool_id", "position"))
    op.create_index("ix_poolitem_prompt_hash", "poolitem", ["prompt_hash"])
    op.create_table("comparisonitem", _col("comparison_id", S()), _col("position", sa.Integer()),
                    _col("sample", sa.Integer()), _col("item_id", S()), _col("prompt_hash", S()),
                    _col("gen_baseline", S(), True), _col("gen_candidate", S(), True),
                    _col("judgment_cand_first", S(), True),
                    _col("judgment_base_first", S(), True), _col("outcome", S()),
                    _col("strength", sa.Integer()), _col("score", sa.Float(), True),
                    sa.ForeignKeyConstraint(["comparison_id"], ["comparison.id"]),
                    sa.PrimaryKeyConstraint("comparison_id", "position", "sample"))
    op.create_index("ix_comparisonitem_item", "comparisonitem",
                    ["comparison_id", "item_id", "sample"])


def downgrade() -> None:
    for table in ("comparisonitem", "poolitem", "judgeeval", "importrecord", "comparison",
                  "prompt", "promotion", "pool", "judgment", "judgespec", "generation",
                  "gaterun", "checkpoint"):
        op.drop_table(table)
