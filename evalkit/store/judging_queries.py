"""Store reads and writes of the judging modes (docs/judging-modes.md): the per-battle rows
and response texts of the style-controlled leaderboard, grader specs, grade runs and their
items, and panel judgments' member verdicts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select as sa_select
from sqlalchemy import text
from sqlalchemy.engine import Engine

from .models import ComparisonItem, Generation, Grade, GradeItem, GraderSpec, GradeRun, Judgment
from .queries import _chunks, upsert

# ---- style-controlled leaderboard -----------------------------------------------------------


def item_battles(engine: Engine, comparison_ids: Sequence[str],
                 tag: tuple[str, str] | None = None) -> list[tuple[str, str, float, str, str]]:
    """(comparison id, prompt hash, candidate's score, baseline's generation key, candidate's
    generation key) of every valid item of the comparisons; ``tag=(name, value)`` keeps the
    prompts with that tag value (as ``queries.prompt_outcome_counts``)."""
    table = ComparisonItem.__table__  # type: ignore[attr-defined]
    join, where, extra = "", "", {}
    if tag is not None:
        if engine.dialect.name == "postgresql":
            tag_sql, key = "((pi.tags_json)::json ->> :tag_key)", tag[0]
        else:
            tag_sql, key = "json_extract(pi.tags_json, :tag_key)", '$."' + tag[0].replace(
                '"', '""') + '"'
        join = ("JOIN comparison c ON c.id = ci.comparison_id "
                "JOIN poolitem pi ON pi.pool_id = c.pool_id AND pi.position = ci.position")
        where = f"AND {tag_sql} = :tag_value"
        extra = {"tag_key": key, "tag_value": tag[1]}
    sql = f"""
        SELECT ci.comparison_id, ci.prompt_hash, ci.score, ci.gen_baseline, ci.gen_candidate
        FROM {table.name} ci {join}
        WHERE ci.comparison_id IN ({{ids}}) AND ci.score IS NOT NULL
          AND ci.gen_baseline IS NOT NULL AND ci.gen_candidate IS NOT NULL {where}"""
    out: list[tuple[str, str, float, str, str]] = []
    with engine.connect() as conn:
        for chunk in _chunks(list(comparison_ids)):
            marks = ", ".join(f":i{k}" for k in range(len(chunk)))
            params = {f"i{k}": v for k, v in enumerate(chunk)}
            for row in conn.execute(text(sql.format(ids=marks)), {**params, **extra}):
                out.append((row[0], row[1], float(row[2]), row[3], row[4]))
    return out


def response_texts(engine: Engine, keys: Sequence[str]) -> dict[str, str | None]:
    """Stored response text by generation key."""
    t = Generation.__table__  # type: ignore[attr-defined]
    out: dict[str, str | None] = {}
    with engine.connect() as conn:
        for chunk in _chunks(list(dict.fromkeys(keys))):
            for key, response in conn.execute(sa_select(t.c.key, t.c.response).where(
                    t.c.key.in_(chunk))):
                out[key] = response
    return out


# ---- panels ------------------------------------------------------------------------------------

def panel_members(engine: Engine, keys: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """The member verdicts a panel judgment combined (its ``raw_output``), by judgment key."""
    t = Judgment.__table__  # type: ignore[attr-defined]
    out: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as conn:
        for chunk in _chunks([k for k in dict.fromkeys(keys) if k]):
            for key, raw in conn.execute(sa_select(t.c.key, t.c.raw_output).where(
                    t.c.key.in_(chunk), t.c.verdict.is_not(None))):
                try:
                    out[key] = json.loads(raw or "{}").get("members", [])
                except (ValueError, AttributeError):
                    continue
    return out


# ---- grading -----------------------------------------------------------------------------------

def save_grader_spec(engine: Engine, name: str, spec_hash: str, spec: dict[str, Any],
                     template_text: str) -> None:
    upsert(engine, GraderSpec, [{"spec_hash": spec_hash, "name": name,
                                 "spec_json": json.dumps(spec, sort_keys=True),
                                 "template_text": template_text}], update=False)


def stored_grades(engine: Engine, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Stored grades without an error (a score or an unreadable answer), slim, by key."""
    t = Grade.__table__  # type: ignore[attr-defined]
    out: dict[str, dict[str, Any]] = {}
    with engine.connect() as conn:
        for chunk in _chunks(list(dict.fromkeys(keys))):
            q = sa_select(t.c.key, t.c.score, t.c.valid).where(t.c.key.in_(chunk),
                                                                t.c.error.is_(None))
            for key, score, valid in conn.execute(q):
                out[key] = {"key": key, "score": score, "valid": bool(valid), "error": None}
    return out


def save_grade_run(engine: Engine, record: dict[str, Any], items: Sequence[dict[str, Any]]
                   ) -> None:
    with engine.begin() as conn:
        conn.execute(GradeRun.__table__.insert(), [record])  # type: ignore[attr-defined]
        if items:
            conn.execute(GradeItem.__table__.insert(),  # type: ignore[attr-defined]
                         [{**i, "run_id": record["id"]} for i in items])


def grade_runs(engine: Engine, pool_name: str | None = None, grader: str | None = None
               ) -> list[dict[str, Any]]:
    """Stored grade runs (oldest first) with their pool's name and version."""
    sql = """SELECT r.id, r.created_at, r.checkpoint, r.checkpoint_spec, r.grader,
                    r.grader_spec, r.samples, r.turns, r.summary_json, p.name, p.version, r.pool_id
             FROM graderun r JOIN pool p ON p.id = r.pool_id"""
    cond, params = [], {}
    if pool_name is not None:
        cond.append("p.name = :pool")
        params["pool"] = pool_name
    if grader is not None:
        cond.append("r.grader = :grader")
        params["grader"] = grader
    if cond:
        sql += " WHERE " + " AND ".join(cond)
    sql += " ORDER BY r.created_at"
    keys = ("id", "created_at", "checkpoint", "checkpoint_spec", "grader", "grader_spec",
            "samples", "turns", "summary_json", "pool", "pool_version", "pool_id")
    with engine.connect() as conn:
        return [dict(zip(keys, row, strict=True)) for row in conn.execute(text(sql), params)]


def grade_items(engine: Engine, run_id: str) -> list[dict[str, Any]]:
    t = GradeItem.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        q = sa_select(t).where(t.c.run_id == run_id).order_by(t.c.position, t.c.sample)
        return [dict(r) for r in conn.execute(q).mappings()]
