"""Reward models: their specs (``rewardmodelspec``), one score per (reward model, prompt,
response) (``score``), score runs of a checkpoint on a pool with their items (``scorerun``,
``scoreitem``), accuracy on human preference pairs (``rmeval``) and reward model vs LLM
judge reports (``rmjudgereport``).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

S = sa.String
I = sa.Integer  # noqa: E741
F = sa.Float
WHEN = sa.DateTime(timezone=True)


def _col(name: str, kind: object, nullable: bool = False) -> sa.Column:
    return sa.Column(name, kind, nullable=nullable)


def upgrade() -> None:
    op.create_table("rewardmodelspec", _col("spec_hash", S()), _col("name", S()),
                    _col("spec_json", S()), _col("created_at", WHEN),
                    sa.PrimaryKeyConstraint("spec_hash"))
    op.create_index("ix_rewardmodelspec_name", "rewardmodelspec", ["name"])
    op.create_table("score", _col("key", S()), _col("rm_spec", S()), _col("prompt_hash", S()),
                    _col("response_hash", S()), _col("score", F(), True),
                    _col("error", S(), True), _col("latency", F(), True),
                    _col("attempts", I()), _col("created_at", WHEN),
                    sa.PrimaryKeyConstraint("key"))
    op.create_index("ix_score_rm_spec", "score", ["rm_spec"])
    op.create_index("ix_score_prompt_hash", "score", ["prompt_hash"])
    op.create_table("scorerun", _col("id", S()), _col("created_at", WHEN),
                    _col("pool_id", I()), _col("checkpoint", S()),
                    _col("checkpoint_spec", S()), _col("reward_model", S()),
                    _col("rm_spec", S()), _col("samples", I()), _col("summary_json", S()),
                    _col("duration_s", F(), True),
                    sa.ForeignKeyConstraint(["pool_id"], ["pool.id"]),
                    sa.PrimaryKeyConstraint("id"))
    op.create_index("ix_scorerun_pool_id", "scorerun", ["pool_id"])
    op.create_index("ix_scorerun_checkpoint", "scorerun", ["checkpoint"])
    op.create_index("ix_scorerun_reward_model", "scorerun", ["reward_model"])
    op.create_table("scoreitem", _col("run_id", S()), _col("position", I()),
                    _col("sample", I()), _col("item_id", S()), _col("gen_key", S(), True),
                    _col("score_key", S(), True), _col("score", F(), True),
                    _col("status", S()),
                    sa.ForeignKeyConstraint(["run_id"], ["scorerun.id"]),
                    sa.PrimaryKeyConstraint("run_id", "position", "sample"))
    op.create_table("rmeval", _col("id", S()), _col("created_at", WHEN),
                    _col("reward_model", S()), _col("rm_spec", S()), _col("pairs", S()),
                    _col("pairs_hash", S()), _col("n", I()), _col("accuracy", F(), True),
                    _col("summary_json", S()), sa.PrimaryKeyConstraint("id"))
    op.create_index("ix_rmeval_reward_model", "rmeval", ["reward_model"])
    op.create_table("rmjudgereport", _col("id", S()), _col("created_at", WHEN),
                    _col("pool_id", I()), _col("baseline", S()), _col("candidate", S()),
                    _col("reward_model", S()), _col("rm_spec", S()), _col("judge", S()),
                    _col("judge_comparison_id", S()), _col("rm_comparison_id", S()),
                    _col("summary_json", S()),
                    sa.ForeignKeyConstraint(["pool_id"], ["pool.id"]),
                    sa.PrimaryKeyConstraint("id"))
    op.create_index("ix_rmjudgereport_pool_id", "rmjudgereport", ["pool_id"])
    op.create_index("ix_rmjudgereport_reward_model", "rmjudgereport", ["reward_model"])


def downgrade() -> None:
    op.drop_index("ix_rmjudgereport_reward_model", table_name="rmjudgereport")
    op.drop_index("ix_rmjudgereport_pool_id", table_name="rmjudgereport")
    op.drop_table("rmjudgereport")
    op.drop_index("ix_rmeval_reward_model", table_name="rmeval")
    op.drop_table("rmeval")
    op.drop_table("scoreitem")
    op.drop_index("ix_scorerun_reward_model", table_name="scorerun")
    op.drop_index("ix_scorerun_checkpoint", table_name="scorerun")
    op.drop_index("ix_scorerun_pool_id", table_name="scorerun")
    op.drop_table("scorerun")
    op.drop_index("ix_score_prompt_hash", table_name="score")
    op.drop_index("ix_score_rm_spec", table_name="score")
    op.drop_table("score")
    op.drop_index("ix_rewardmodelspec_name", table_name="rewardmodelspec")
    op.drop_table("rewardmodelspec")
