"""Read-only queries behind the dashboard (``dashboard/``).

Every aggregate is computed in SQL (counts, sums, averages, the most common errors), and every
list that can grow with the pool is paged with LIMIT/OFFSET, so a page costs the same on a
store with a million judgments as on a small one. Nothing here writes, except
``ensure_indexes`` (``CREATE INDEX IF NOT EXISTS``, run once when the dashboard opens a store).

SQLite is the target; JSON look-ups (tags, summaries, message text) also have a PostgreSQL
form so a team store works too.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

OUTCOMES = ("win", "tie", "loss", "invalid", "failed")

# Indexes the dashboard relies on beyond the models' own: matching a comparison's prompts to
# the previous comparison's by item id ("prompts that changed outcome": 240 ms -> 2 ms on a
# 1M-judgment store). Candidates to move into the models' ``__table_args__``.
INDEXES: dict[str, str] = {  # the models declare it; stores made before it get it here
    "ix_comparisonitem_item":
        "CREATE INDEX IF NOT EXISTS ix_comparisonitem_item "
        "ON comparisonitem (comparison_id, item_id, sample)",
}

_SCORE_SUMS = """
    SUM(CASE WHEN ci.score IS NULL THEN 0 WHEN ci.score = 0.5 THEN 0 ELSE 1 - ci.score END)
        AS baseline_wins,
    SUM(CASE WHEN ci.score = 0.5 THEN 1 ELSE 0 END) AS ties,
    SUM(CASE WHEN ci.score IS NULL THEN 0 WHEN ci.score = 0.5 THEN 0 ELSE ci.score END)
        AS candidate_wins,
    SUM(CASE WHEN ci.score IS NULL THEN 0 ELSE 1 END) AS n,
    SUM(CASE WHEN ci.outcome = 'invalid' THEN 1 ELSE 0 END) AS invalid,
    SUM(CASE WHEN ci.outcome = 'failed' THEN 1 ELSE 0 END) AS failed"""

# The candidate's view of one positional verdict: +1 win, 0 tie, -1 loss (NULL: invalid or
# failed). Candidate shown first: "A" is a candidate win; baseline shown first: "B" is.
_VIEW_CAND_FIRST = "(CASE jc.verdict WHEN 'A' THEN 1 WHEN 'B' THEN -1 WHEN 'tie' THEN 0 END)"
_VIEW_BASE_FIRST = "(CASE jb.verdict WHEN 'A' THEN -1 WHEN 'B' THEN 1 WHEN 'tie' THEN 0 END)"
_FLIPPED = (f"(CASE WHEN {_VIEW_CAND_FIRST} IS NOT NULL AND {_VIEW_BASE_FIRST} IS NOT NULL "
            f"AND {_VIEW_CAND_FIRST} != {_VIEW_BASE_FIRST} THEN 1 ELSE 0 END)")


# --------------------------------------------------------------------------- dialect helpers

def _pg(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def _json_field(engine: Engine, column: str, *path: str) -> str:
    """SQL for a JSON text field at a fixed (trusted, literal) path."""
    if _pg(engine):
        return f"(({column})::json #>> '{{{','.join(path)}}}')"
    return f"json_extract({column}, '$.{'.'.join(path)}')"


def _json_key(engine: Engine, column: str, param: str) -> str:
    """SQL for a JSON object's value at a key given as a bound parameter (see ``_key_arg``)."""
    if _pg(engine):
        return f"(({column})::json ->> :{param})"
    return f"json_extract({column}, :{param})"


def _key_arg(engine: Engine, key: str) -> str:
    if _pg(engine):
        return key
    return '$."' + key.replace('"', '""') + '"'


def _last_content(engine: Engine, column: str) -> str:
    """The last message's text of a ``messages_json`` column."""
    if _pg(engine):
        return f"(({column})::json -> -1 ->> 'content')"
    return f"json_extract({column}, '$[#-1].content')"


def _materialized(engine: Engine) -> str:
    """``MATERIALIZED`` where the database understands it (keeps a small CTE from being
    flattened into a scan of the big table)."""
    if _pg(engine):
        return "MATERIALIZED"
    import sqlite3

    return "MATERIALIZED" if sqlite3.sqlite_version_info >= (3, 35) else ""


def _like_escape(value: str) -> str:
    return "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _rows(engine: Engine, sql: str, params: dict[str, Any] | None = None
          ) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [{k: _plain(v) for k, v in r.items()}
                for r in conn.execute(text(sql), params or {}).mappings()]


def _plain(value: Any) -> Any:
    """PostgreSQL returns AVG/SUM over integers as Decimal; the pages want floats, as SQLite
    gives (charts, CSV and JSON cannot all take Decimal)."""
    return float(value) if isinstance(value, Decimal) else value


def _in_list(prefix: str, values: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    marks = ", ".join(f":{prefix}{k}" for k in range(len(values)))
    return marks, {f"{prefix}{k}": v for k, v in enumerate(values)}


# --------------------------------------------------------------------------- store

def store_ready(engine: Engine) -> bool:
    """Whether the store has evalkit's tables (an empty or foreign file does not)."""
    try:
        names = set(inspect(engine).get_table_names())
    except SQLAlchemyError:
        return False
    return {"comparison", "comparisonitem", "pool", "poolitem"} <= names


def ensure_indexes(engine: Engine) -> list[str]:
    """Create the dashboard's indexes where missing; returns the names that exist after.
    A read-only store is left as it is (the queries still work, only slower)."""
    done = []
    for name, ddl in INDEXES.items():
        try:
            with engine.begin() as conn:
                conn.execute(text(ddl))
            done.append(name)
        except SQLAlchemyError:
            continue
    return done


# --------------------------------------------------------------------------- pools, judges

def pools_overview(engine: Engine) -> list[dict[str, Any]]:
    """Every pool name with its versions, prompts (latest version) and comparisons."""
    return _rows(engine, """
        SELECT p.name AS pool, COUNT(DISTINCT p.id) AS versions,
               MAX(p.n_prompts) AS prompts, COUNT(c.id) AS comparisons,
               MAX(c.created_at) AS latest
        FROM pool p LEFT JOIN comparison c ON c.pool_id = p.id
        GROUP BY p.name ORDER BY COUNT(c.id) = 0, MAX(c.created_at) DESC, p.name""")


def judges_for_pool(engine: Engine, pool: str) -> list[dict[str, Any]]:
    """Judges with comparisons in the pool, most used first."""
    return _rows(engine, """
        SELECT c.judge AS judge, COUNT(*) AS comparisons, MAX(c.created_at) AS latest
        FROM comparison c JOIN pool p ON p.id = c.pool_id
        WHERE p.name = :pool GROUP BY c.judge ORDER BY COUNT(*) DESC, c.judge""",
                 {"pool": pool})


def tag_names(engine: Engine, pool: str) -> list[str]:
    """Tag names used by the pool's prompts (any version)."""
    if _pg(engine):
        sql = """SELECT DISTINCT k AS name FROM poolitem pi JOIN pool p ON p.id = pi.pool_id,
                 json_object_keys(pi.tags_json::json) AS k WHERE p.name = :pool ORDER BY k"""
    else:
        sql = """SELECT DISTINCT j.key AS name FROM pool p JOIN poolitem pi ON pi.pool_id = p.id,
                 json_each(pi.tags_json) AS j WHERE p.name = :pool ORDER BY j.key"""
    return [r["name"] for r in _rows(engine, sql, {"pool": pool})]


def tag_values(engine: Engine, pool: str, tag: str) -> list[dict[str, Any]]:
    """Values of one tag in the pool's latest version, with prompt counts."""
    value = _json_key(engine, "pi.tags_json", "key")
    return _rows(engine, f"""
        SELECT {value} AS value, COUNT(*) AS prompts FROM poolitem pi
        WHERE pi.pool_id = (SELECT MAX(id) FROM pool WHERE name = :pool)
          AND {value} IS NOT NULL
        GROUP BY {value} ORDER BY {value}""", {"pool": pool, "key": _key_arg(engine, tag)})


# --------------------------------------------------------------------------- comparisons

def comparisons(engine: Engine, pool: str, judge: str | None = None) -> list[dict[str, Any]]:
    """The pool's comparisons (oldest first) with their headline numbers, read from the stored
    summary in SQL (the summary text itself is not loaded)."""
    o = lambda *p: _json_field(engine, "c.summary_json", "overall", *p)  # noqa: E731
    where = "p.name = :pool" + (" AND c.judge = :judge" if judge is not None else "")
    ci_lo = _json_field(engine, "c.summary_json", "overall", "ci", "0")
    ci_hi = _json_field(engine, "c.summary_json", "overall", "ci", "1")
    if not _pg(engine):
        ci_lo = "json_extract(c.summary_json, '$.overall.ci[0]')"
        ci_hi = "json_extract(c.summary_json, '$.overall.ci[1]')"
    rows = _rows(engine, f"""
        SELECT c.id AS id, c.created_at AS created_at, c.baseline AS baseline,
               c.candidate AS candidate, c.judge AS judge, p.version AS pool_version,
               c.evalkit_version AS evalkit_version, c.duration_s AS duration_s,
               {o('n')} AS n, {o('wins')} AS wins, {o('ties')} AS ties,
               {o('losses')} AS losses, {o('invalid')} AS invalid, {o('failed')} AS failed,
               {o('win_rate')} AS win_rate, {ci_lo} AS ci_lo, {ci_hi} AS ci_hi,
               {o('p_value')} AS p_value
        FROM comparison c JOIN pool p ON p.id = c.pool_id
        WHERE {where} ORDER BY c.created_at, c.id""", {"pool": pool, "judge": judge})
    for r in rows:
        for k in ("n", "wins", "ties", "losses", "invalid", "failed"):
            r[k] = None if r[k] is None else int(r[k])
        for k in ("win_rate", "ci_lo", "ci_hi", "p_value", "duration_s"):
            r[k] = None if r[k] is None else float(r[k])
        r["created_at"] = str(r["created_at"])
    return rows


def comparison_record(engine: Engine, comparison_id: str) -> dict[str, Any] | None:
    """One comparison with its parsed summary and its pool's name, version and size."""
    rows = _rows(engine, """
        SELECT c.*, p.name AS pool, p.version AS pool_version, p.n_prompts AS pool_prompts,
               p.source AS pool_source, p.created_at AS pool_created_at
        FROM comparison c JOIN pool p ON p.id = c.pool_id WHERE c.id = :id""",
                 {"id": comparison_id})
    if not rows:
        return None
    row = rows[0]
    row["summary"] = json.loads(row.pop("summary_json") or "{}")
    row["created_at"] = str(row["created_at"])
    return row


def previous_comparison(engine: Engine, comparison_id: str) -> dict[str, Any] | None:
    """The latest earlier comparison with the same baseline in the same pool (by name) and
    with the same judge, e.g. the baseline against the previous candidate."""
    rows = _rows(engine, """
        SELECT c2.id AS id, c2.baseline AS baseline, c2.candidate AS candidate,
               c2.created_at AS created_at
        FROM comparison c JOIN pool p ON p.id = c.pool_id
        JOIN comparison c2 ON c2.baseline = c.baseline AND c2.judge = c.judge
             AND c2.id != c.id AND c2.created_at < c.created_at
        JOIN pool p2 ON p2.id = c2.pool_id AND p2.name = p.name
        WHERE c.id = :id ORDER BY c2.created_at DESC, c2.id DESC LIMIT 1""", {"id": comparison_id})
    if not rows:
        return None
    rows[0]["created_at"] = str(rows[0]["created_at"])
    return rows[0]


def changed_outcomes(engine: Engine, comparison_id: str, previous_id: str, *,
                     limit: int = 50, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Prompts (matched by item id and prompt hash) whose outcome differs between a
    comparison and a previous one; one page of them, and how many there are."""
    join = """
        FROM comparisonitem a
        JOIN comparisonitem b ON b.comparison_id = :prev AND b.item_id = a.item_id
             AND b.sample = a.sample AND b.prompt_hash = a.prompt_hash"""
    where = " WHERE a.comparison_id = :cur AND a.outcome != b.outcome"
    params = {"cur": comparison_id, "prev": previous_id}
    prompt = _last_content(engine, "pr.messages_json")
    with engine.connect() as conn:
        total = int(conn.execute(text(f"SELECT COUNT(*) {join}{where}"), params).scalar() or 0)
    rows = _rows(engine, f"""
        SELECT a.position AS position, a.sample AS sample, a.item_id AS item_id,
               b.outcome AS previous_outcome, a.outcome AS outcome,
               SUBSTR({prompt}, 1, 160) AS prompt
        {join} LEFT JOIN prompt pr ON pr.hash = a.prompt_hash {where}
        ORDER BY a.position, a.sample LIMIT :limit OFFSET :offset""",
                 {**params, "limit": int(limit), "offset": int(offset)})
    return rows, total


# --------------------------------------------------------------------------- leaderboard by tag

def tag_outcome_counts(engine: Engine, comparison_ids: Sequence[str], tag: str, value: str
                       ) -> dict[str, dict[str, float]]:
    """Like ``queries.outcome_counts``, restricted to the prompts whose tag ``tag`` equals
    ``value`` (each comparison's items matched to its own pool version's items by position).

    The few matching pool positions are selected first, then each comparison's items are
    fetched by primary key (comparison_id, position), so the cost follows the number of
    matching prompts, not the size of the comparisons."""
    ids = list(comparison_ids)
    if not ids:
        return {}
    marks, params = _in_list("i", ids)
    tag_sql = _json_key(engine, "pi.tags_json", "key")
    sql = f"""
        WITH sel AS {_materialized(engine)} (
            SELECT pi.pool_id AS pool_id, pi.position AS position FROM poolitem pi
            WHERE pi.pool_id IN (SELECT DISTINCT pool_id FROM comparison WHERE id IN ({marks}))
              AND {tag_sql} = :value)
        SELECT ci.comparison_id AS comparison_id, {_SCORE_SUMS}
        FROM comparison c CROSS JOIN sel CROSS JOIN comparisonitem ci
        WHERE c.id IN ({marks}) AND sel.pool_id = c.pool_id
          AND ci.comparison_id = c.id AND ci.position = sel.position
        GROUP BY ci.comparison_id"""
    out: dict[str, dict[str, float]] = {}
    for r in _rows(engine, sql, {**params, "key": _key_arg(engine, tag), "value": value}):
        out[r["comparison_id"]] = {
            "baseline_wins": float(r["baseline_wins"] or 0), "ties": float(r["ties"] or 0),
            "candidate_wins": float(r["candidate_wins"] or 0), "n": int(r["n"] or 0),
            "invalid": int(r["invalid"] or 0), "failed": int(r["failed"] or 0)}
    return out


# --------------------------------------------------------------------------- samples

@dataclass(frozen=True)
class SampleFilter:
    """Which prompts of a comparison to list. ``outcomes`` empty = all; ``flipped``: only
    prompts whose two orders' verdicts disagree; ``tag``: (name, value); ``search``: text in
    the prompt, either response or the item id (case-insensitive for ASCII)."""

    outcomes: tuple[str, ...] = ()
    flipped: bool = False
    tag: tuple[str, str] | None = None
    search: str = ""


def _sample_where(engine: Engine, f: SampleFilter) -> tuple[str, str, dict[str, Any]]:
    """(extra joins, extra WHERE, params) for a sample filter."""
    joins, where, params = "", "", {}
    outcomes = [o for o in f.outcomes if o in OUTCOMES]
    if outcomes:
        marks, p = _in_list("o", outcomes)
        where += f" AND ci.outcome IN ({marks})"
        params.update(p)
    if f.flipped:
        where += f" AND {_FLIPPED} = 1"
    if f.tag is not None:
        where += f" AND {_json_key(engine, 'pi.tags_json', 'tagkey')} = :tagvalue"
        params.update(tagkey=_key_arg(engine, f.tag[0]), tagvalue=f.tag[1])
    if f.search.strip():
        joins = (" LEFT JOIN generation gb ON gb.key = ci.gen_baseline"
                 " LEFT JOIN generation gc ON gc.key = ci.gen_candidate")
        params["q"] = _like_escape(f.search.strip().lower())
        if _pg(engine):
            prompt_match = "LOWER(p.messages_json) LIKE :q ESCAPE '\\'"
        else:
            prompt_match = ("EXISTS (SELECT 1 FROM json_each(p.messages_json) m WHERE "
                            "LOWER(json_extract(m.value, '$.content')) LIKE :q ESCAPE '\\')")
        where += (f" AND ({prompt_match} OR LOWER(gb.response) LIKE :q ESCAPE '\\'"
                  " OR LOWER(gc.response) LIKE :q ESCAPE '\\'"
                  " OR LOWER(ci.item_id) LIKE :q ESCAPE '\\')")
    return joins, where, params


_SAMPLE_FROM = """
    FROM comparisonitem ci
    JOIN comparison c ON c.id = ci.comparison_id
    LEFT JOIN poolitem pi ON pi.pool_id = c.pool_id AND pi.position = ci.position
    LEFT JOIN prompt p ON p.hash = ci.prompt_hash
    LEFT JOIN judgment jc ON jc.key = ci.judgment_cand_first
    LEFT JOIN judgment jb ON jb.key = ci.judgment_base_first"""


def sample_page(engine: Engine, comparison_id: str, f: SampleFilter = SampleFilter(), *,
                limit: int = 25, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """One page of a comparison's prompts under a filter, and how many match."""
    joins, where, params = _sample_where(engine, f)
    params.update(cid=comparison_id)
    frm = _SAMPLE_FROM + joins + " WHERE ci.comparison_id = :cid" + where
    with engine.connect() as conn:
        total = int(conn.execute(text(f"SELECT COUNT(*) {frm}"), params).scalar() or 0)
    prompt = _last_content(engine, "p.messages_json")
    rows = _rows(engine, f"""
        SELECT ci.position AS position, ci.sample AS sample, ci.item_id AS item_id,
               ci.outcome AS outcome, ci.strength AS strength, ci.score AS score,
               jc.verdict AS verdict_candidate_first, jb.verdict AS verdict_baseline_first,
               {_FLIPPED} AS flipped, pi.tags_json AS tags, SUBSTR({prompt}, 1, 160) AS prompt
        {frm} ORDER BY ci.position, ci.sample LIMIT :limit OFFSET :offset""",
                 {**params, "limit": int(limit), "offset": int(offset)})
    for r in rows:
        r["flipped"] = bool(r["flipped"])
    return rows, total


def sample_facets(engine: Engine, comparison_id: str) -> dict[str, int]:
    """Counts for the sample filters: per outcome, and flipped under order swap."""
    rows = _rows(engine, f"""
        SELECT ci.outcome AS outcome, COUNT(*) AS n, SUM({_FLIPPED}) AS flipped
        {_SAMPLE_FROM} WHERE ci.comparison_id = :cid GROUP BY ci.outcome""",
                 {"cid": comparison_id})
    out = {o: 0 for o in OUTCOMES}
    out["flipped"] = 0
    for r in rows:
        out[r["outcome"]] = int(r["n"])
        out["flipped"] += int(r["flipped"] or 0)
    return out


def sample_detail(engine: Engine, comparison_id: str, position: int, sample: int = 0
                  ) -> dict[str, Any] | None:
    """Everything about one prompt of a comparison: the prompt, both responses and both
    judgments (verdict, rationale, errors)."""
    rows = _rows(engine, """
        SELECT ci.*, c.baseline AS baseline, c.candidate AS candidate,
               pi.tags_json AS tags_json, pi.reference AS reference,
               p.messages_json AS messages_json
        FROM comparisonitem ci JOIN comparison c ON c.id = ci.comparison_id
        LEFT JOIN poolitem pi ON pi.pool_id = c.pool_id AND pi.position = ci.position
        LEFT JOIN prompt p ON p.hash = ci.prompt_hash
        WHERE ci.comparison_id = :cid AND ci.position = :pos AND ci.sample = :sample""",
                 {"cid": comparison_id, "pos": int(position), "sample": int(sample)})
    if not rows:
        return None
    item = rows[0]
    item["messages"] = json.loads(item.pop("messages_json") or "[]")
    item["tags"] = json.loads(item.pop("tags_json") or "{}")
    gens = {}
    for side in ("baseline", "candidate"):
        key = item[f"gen_{side}"]
        found = _rows(engine, """SELECT key, response, error, finish_reason, prompt_tokens,
                                 completion_tokens, latency, attempts
                                 FROM generation WHERE key = :k""", {"k": key}) if key else []
        gens[side] = found[0] if found else None
    item["generations"] = gens
    judgments = []
    for order, col in (("candidate first", "judgment_cand_first"),
                       ("baseline first", "judgment_base_first")):
        key = item[col]
        if not key:
            continue
        found = _rows(engine, """SELECT key, verdict, strength, preference, raw_output, error,
                                 reasked, latency, prompt_tokens, completion_tokens
                                 FROM judgment WHERE key = :k""", {"k": key})
        if found:
            j = found[0]
            j["order"] = order
            j["candidate_view"] = _candidate_view(j["verdict"], order == "candidate first")
            judgments.append(j)
    item["judgments"] = judgments
    return item


def _candidate_view(verdict: str | None, candidate_first: bool) -> str:
    if verdict is None:
        return "failed"
    if verdict in ("tie", "invalid"):
        return verdict
    return "win" if (verdict == "A") == candidate_first else "loss"


# --------------------------------------------------------------------------- provenance

def provenance(engine: Engine, comparison_id: str) -> dict[str, Any] | None:
    """What produced a comparison: judge spec and template, both checkpoints' specs, pool
    version, evalkit version, timings, token counts and failures (all aggregated in SQL)."""
    rec = comparison_record(engine, comparison_id)
    if rec is None:
        return None
    params = {"cid": comparison_id}
    judge = _rows(engine, "SELECT name, spec_json, template_text FROM judgespec "
                          "WHERE spec_hash = :h", {"h": rec["judge_spec"]})
    specs = {}
    for side in ("baseline", "candidate"):
        found = _rows(engine, "SELECT name, spec_json FROM checkpoint WHERE spec_hash = :h",
                      {"h": rec[f"{side}_spec"]})
        specs[side] = found[0] if found else None
    gen_stats = []
    for side in ("baseline", "candidate"):
        r = _rows(engine, f"""
            SELECT COUNT(g.key) AS generations,
                   SUM(CASE WHEN g.error IS NOT NULL THEN 1 ELSE 0 END) AS failed,
                   AVG(g.latency) AS avg_latency_s, MAX(g.latency) AS max_latency_s,
                   SUM(g.prompt_tokens) AS prompt_tokens,
                   SUM(g.completion_tokens) AS completion_tokens,
                   AVG(LENGTH(g.response)) AS avg_length,
                   SUM(CASE WHEN g.finish_reason = 'length' THEN 1 ELSE 0 END) AS truncated
            FROM comparisonitem ci JOIN generation g ON g.key = ci.gen_{side}
            WHERE ci.comparison_id = :cid""", params)[0]
        gen_stats.append({"what": f"{side} generations ({rec[side]})", **r})
    j = _rows(engine, """
        SELECT COUNT(j.key) AS judgments,
               SUM(CASE WHEN j.error IS NOT NULL THEN 1 ELSE 0 END) AS failed,
               SUM(CASE WHEN j.verdict = 'invalid' THEN 1 ELSE 0 END) AS invalid,
               SUM(CASE WHEN j.reasked THEN 1 ELSE 0 END) AS reasked,
               AVG(j.latency) AS avg_latency_s, MAX(j.latency) AS max_latency_s,
               SUM(j.prompt_tokens) AS prompt_tokens,
               SUM(j.completion_tokens) AS completion_tokens
        FROM judgment j WHERE j.key IN (
            SELECT judgment_cand_first FROM comparisonitem WHERE comparison_id = :cid
            UNION SELECT judgment_base_first FROM comparisonitem WHERE comparison_id = :cid)""",
              params)[0]
    outcomes = _rows(engine, """SELECT outcome, COUNT(*) AS items FROM comparisonitem
                                WHERE comparison_id = :cid GROUP BY outcome
                                ORDER BY COUNT(*) DESC""", params)
    errors = _rows(engine, """
        SELECT source, error, COUNT(*) AS count FROM (
            SELECT 'baseline generation' AS source, g.error AS error
              FROM comparisonitem ci JOIN generation g ON g.key = ci.gen_baseline
             WHERE ci.comparison_id = :cid AND g.error IS NOT NULL
            UNION ALL
            SELECT 'candidate generation', g.error
              FROM comparisonitem ci JOIN generation g ON g.key = ci.gen_candidate
             WHERE ci.comparison_id = :cid AND g.error IS NOT NULL
            UNION ALL
            SELECT 'judgment (candidate first)', j.error
              FROM comparisonitem ci JOIN judgment j ON j.key = ci.judgment_cand_first
             WHERE ci.comparison_id = :cid AND j.error IS NOT NULL
            UNION ALL
            SELECT 'judgment (baseline first)', j.error
              FROM comparisonitem ci JOIN judgment j ON j.key = ci.judgment_base_first
             WHERE ci.comparison_id = :cid AND j.error IS NOT NULL
        ) AS e GROUP BY source, error ORDER BY COUNT(*) DESC, source LIMIT 10""", params)
    return {"comparison": rec, "judge": judge[0] if judge else None, "checkpoints": specs,
            "generations": gen_stats, "judgments": {"what": f"judge ({rec['judge']})", **j},
            "outcomes": outcomes, "errors": errors}
