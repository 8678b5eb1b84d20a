"""Judging modes: single-answer grading — grader specs (``graderspec``), one grade per
(grader, prompt, reference, response) (``grade``), grade runs of a checkpoint on a pool with
their items (``graderun``, ``gradeitem``). Multi-turn conversations, judge panels and the
style-controlled leaderboard store nothing new (generations, judgments and comparisons).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

S = sa.String
I = sa.Integer  # noqa: E741
F = sa.Float
B = sa.Boolean
WHEN = sa.DateTime(timezone=True)


def _col(name: str, kind: object, nullable: bool = False) -> sa.Column:
    return sa.Column(name, kind, nullable=nullable)


def upgrade() -> None:
    op.create_table("graderspec", _col("spec_hash", S()), _col("name", S()),
                    _col("spec_json", S()), _col("template_text", S()),
                    _col("created_at", WHEN), sa.PrimaryKeyConstraint("spec_hash"))
    op.create_index("ix_graderspec_name", "graderspec", ["name"])
    op.create_table("grade", _col("key", S()), _col("grader_spec", S()),
                    _col("prompt_hash", S()), _col("gen_key", S(), True),
                    _col("score", F(), True), _col("valid", B()), _col("raw_output", S(), True),
                    _col("error", S(), True), _col("reasked", B()), _col("latency", F(), True),
                    _col("prompt_tokens", I(), True), _col("completion_tokens", I(), True),
                    _col("created_at", WHEN), sa.PrimaryKeyConstraint("key"))
    op.create_index("ix_grade_grader_spec", "grade", ["grader_spec"])
    op.create_index("ix_grade_prompt_hash", "grade", ["prompt_hash"])
    op.create_table("graderun", _col("id", S()), _col("created_at", WHEN),
                    _col("pool_id", I()), _col("checkpoint", S()),
                    _col("checkpoint_spec", S()), _col("grader", S()), _col("grader_spec", S()),
                    _col("samples", I()), _col("turns", S()), _col("summary_json", S()),
                    _col("duration_s", F(), True),
                    sa.ForeignKeyConstraint(["pool_id"], ["pool.id"]),
                    sa.PrimaryKeyConstraint("id"))
    op.create_index("ix_graderun_pool_id", "graderun", ["pool_id"])
    op.create_index("ix_graderun_checkpoint", "graderun", ["checkpoint"])
    op.create_index("ix_graderun_grader", "graderun", ["grader"])
    op.create_table("gradeitem", _col("run_id", S()), _col("position", I()),
                    _col("sample", I()), _col("item_id", S()), _col("prompt_hash", S()),
                    _col("gen_key", S(), True), _col("grade_key", S(), True),
                    _col("score", F(), True), _col("status", S()),
                    sa.ForeignKeyConstraint(["run_id"], ["graderun.id"]),
                    sa.PrimaryKeyConstraint("run_id", "position", "sample"))


def downgrade() -> None:
    op.drop_table("gradeitem")
    op.drop_index("ix_graderun_grader", table_name="graderun")
    op.drop_index("ix_graderun_checkpoint", table_name="graderun")
    op.drop_index("ix_graderun_pool_id", table_name="graderun")
    op.drop_table("graderun")
    op.drop_index("ix_grade_prompt_hash", table_name="grade")
    op.drop_index("ix_grade_grader_spec", table_name="grade")
    op.drop_table("grade")
    op.drop_index("ix_graderspec_name", table_name="graderspec")
    op.drop_table("graderspec")
