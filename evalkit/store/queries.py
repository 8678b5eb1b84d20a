"""Reads and writes used by the pipelines and the dashboard. Sessions are context managers;
bulk writes go through SQLAlchemy Core upserts (one transaction per batch)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic_core import PydanticUndefined
from sqlalchemy import Table, text
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from ..pools import PoolPrompt
from .models import (
    Checkpoint,
    Comparison,
    ComparisonItem,
    GateRun,
    Generation,
    ImportRecord,
    JudgeSpec,
    Judgment,
    Pool,
    PoolItem,
    Promotion,
    Prompt,
    utcnow,
)


def _insert(engine: Engine, table: Table):  # type: ignore[no-untyped-def]
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def upsert(engine: Engine, model: type, rows: Sequence[dict[str, Any]], *,
           update: bool = True) -> None:
    """Insert rows, replacing (or keeping, with ``update=False``) rows with the same key."""
    upsert_many(engine, {model: rows}, update=update)


def upsert_many(engine: Engine, batch: Mapping[type, Sequence[dict[str, Any]]], *,
                update: bool = True, release: Sequence[str] = (),
                owner: str | None = None) -> None:
    """Upsert several tables' rows and drop ``owner``'s leases on ``release`` (the keys of
    those rows) in one transaction: a result and the end of its lease are seen together."""
    now = utcnow()
    full: dict[Table, list[dict[str, Any]]] = {}
    for model, rows in batch.items():
        if rows:
            base = _column_defaults(model)
            if "created_at" in base:
                base["created_at"] = now
            table: Table = model.__table__  # type: ignore[attr-defined]
            # one row order for every writer: concurrent transactions lock keys in the same
            # order (no deadlocks on PostgreSQL)
            keys = [c.name for c in table.primary_key.columns]
            full[table] = sorted(({**base, **r} for r in rows),
                                 key=lambda r: tuple(str(r[k]) for k in keys))
    releases = sorted(set(release)) if owner is not None else []
    if not full and not releases:
        return
    if engine.dialect.name == "sqlite":
        _sqlite_upsert(engine, full, update, releases, owner)
        return
    from .leases import release_sql, retrying

    def go() -> None:
        with engine.begin() as conn:
            for table, rows in full.items():
                stmt = _insert(engine, table)
                keys = [c.name for c in table.primary_key.columns]
                if update:
                    cols = {c.name: stmt.excluded[c.name] for c in table.columns
                            if c.name not in keys}
                    stmt = stmt.on_conflict_do_update(index_elements=keys, set_=cols)
                else:
                    stmt = stmt.on_conflict_do_nothing(index_elements=keys)
                conn.execute(stmt, rows)
            for i in range(0, len(releases), 300):
                chunk = releases[i:i + 300]
                conn.exec_driver_sql(release_sql("postgresql", len(chunk)),
                                     (owner, *chunk))
    retrying(go)


def _sqlite_upsert(engine: Engine, full: dict[Table, list[dict[str, Any]]], update: bool,
                   releases: list[str], owner: str | None) -> None:
    """The hot write path on SQLite: one prepared statement per table, executemany, no
    per-row ORM work (6x less CPU than SQLAlchemy's executemany, which matters while
    requests are in flight), in a ``BEGIN IMMEDIATE`` transaction (it waits for the write
    lock; a deferred one could fail at once with 'database is locked'). Datetimes are stored
    the way SQLAlchemy stores them on SQLite (naive UTC text)."""
    from .leases import release_sql

    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            for table, rows in full.items():
                cols = [c.name for c in table.columns]
                keys = [c.name for c in table.primary_key.columns]
                action = "NOTHING"
                if update:
                    action = "UPDATE SET " + ", ".join(f'"{c}"=excluded."{c}"' for c in cols
                                                       if c not in keys)
                names = ", ".join(f'"{c}"' for c in cols)
                marks = ", ".join("?" * len(cols))
                sql = (f'INSERT INTO "{table.name}" ({names}) VALUES ({marks}) '
                       f'ON CONFLICT ({", ".join(keys)}) DO {action}')
                cur.executemany(sql, [tuple(_sqlite_value(r[c]) for c in cols) for r in rows])
            for i in range(0, len(releases), 300):
                chunk = releases[i:i + 300]
                cur.execute(release_sql("sqlite", len(chunk)), (owner, *chunk))
        except BaseException:
            raw.rollback()
            raise
        raw.commit()
    finally:
        raw.close()


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def _column_defaults(model: type) -> dict[str, Any]:
    """Each column's plain default from the model (None where there is none)."""
    out: dict[str, Any] = {}
    for name, info in model.model_fields.items():  # type: ignore[attr-defined]
        default = info.default
        out[name] = None if default is PydanticUndefined else default
    return out


# ---- pools ---------------------------------------------------------------------------------

def save_pool(engine: Engine, name: str, version: str, prompts: Sequence[PoolPrompt],
              source: str | None = None) -> tuple[Pool, bool]:
    """Store one pool version; returns (pool, created). An existing version is reused."""
    with Session(engine) as s:
        found = s.exec(select(Pool).where(Pool.name == name, Pool.version == version)
                       ).first()
        if found is not None:
            return found, False
        pool = Pool(name=name, version=version, n_prompts=len(prompts), source=source)
        s.add(pool)
        s.flush()
        pool_id = pool.id
        prompt_rows = {p.prompt_hash: {"hash": p.prompt_hash,
                                       "messages_json": json.dumps(list(p.messages))}
                       for p in prompts}
        table = Prompt.__table__  # type: ignore[attr-defined]
        stmt = _insert(engine, table).on_conflict_do_nothing(index_elements=["hash"])
        s.connection().execute(stmt, list(prompt_rows.values()))
        s.connection().execute(PoolItem.__table__.insert(), [  # type: ignore[attr-defined]
            {"pool_id": pool_id, "position": i, "item_id": p.id, "prompt_hash": p.prompt_hash,
             "tags_json": json.dumps(p.tags, sort_keys=True), "reference": p.reference}
            for i, p in enumerate(prompts)])
        s.commit()
        s.refresh(pool)
        return pool, True


def find_pool(engine: Engine, name: str, version: str | None = None) -> Pool | None:
    """The named pool's given version, or its latest one."""
    with Session(engine) as s:
        q = select(Pool).where(Pool.name == name)
        if version:
            q = q.where(Pool.version.startswith(version))  # type: ignore[attr-defined]
        row = s.exec(q.order_by(Pool.id.desc())).first()  # type: ignore[union-attr]
        return row


def pool_prompts(engine: Engine, pool_id: int) -> list[PoolPrompt]:
    with Session(engine) as s:
        rows = s.exec(
            select(PoolItem.item_id, PoolItem.tags_json, PoolItem.reference,
                   Prompt.messages_json)
            .join(Prompt, Prompt.hash == PoolItem.prompt_hash)
            .where(PoolItem.pool_id == pool_id).order_by(PoolItem.position)).all()
    return [PoolPrompt(id=r[0], messages=tuple(json.loads(r[3])), tags=json.loads(r[1]),
                       reference=r[2]) for r in rows]


def list_pools(engine: Engine) -> list[Pool]:
    with Session(engine) as s:
        return list(s.exec(select(Pool).order_by(Pool.name, Pool.id)).all())


# ---- specs ---------------------------------------------------------------------------------

def save_checkpoint_spec(engine: Engine, name: str, spec_hash: str, spec: dict) -> None:
    upsert(engine, Checkpoint, [{"spec_hash": spec_hash, "name": name,
                                 "spec_json": json.dumps(spec, sort_keys=True)}], update=False)


def save_judge_spec(engine: Engine, name: str, spec_hash: str, spec: dict,
                    template_text: str) -> None:
    upsert(engine, JudgeSpec, [{"spec_hash": spec_hash, "name": name,
                                "spec_json": json.dumps(spec, sort_keys=True),
                                "template_text": template_text}], update=False)


# ---- cache lookups -------------------------------------------------------------------------

def _chunks(items: Sequence[str], size: int = 500) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def rows_by_key(engine: Engine, model: type, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Stored rows of a table keyed by ``key`` (generations, judgments), by key."""
    table = model.__table__  # type: ignore[attr-defined]
    out: dict[str, dict[str, Any]] = {}
    with engine.connect() as conn:
        for chunk in _chunks(list(keys)):
            for row in conn.execute(sa_select(table).where(table.c.key.in_(chunk))).mappings():
                out[row["key"]] = dict(row)
    return out


def load_generations(engine: Engine, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Stored generations by key (successful and failed ones)."""
    return rows_by_key(engine, Generation, keys)


def generations_by_prompt(engine: Engine, spec_hash: str, prompt_hashes: Sequence[str]
                          ) -> dict[tuple[str, int], dict[str, Any]]:
    """A checkpoint's stored generations for the given prompts, by (prompt hash, sample)."""
    table = Generation.__table__  # type: ignore[attr-defined]
    out: dict[tuple[str, int], dict[str, Any]] = {}
    with engine.connect() as conn:
        for chunk in _chunks(list(prompt_hashes)):
            q = sa_select(table).where(table.c.checkpoint_spec == spec_hash,
                                       table.c.prompt_hash.in_(chunk))
            for row in conn.execute(q).mappings():
                out[(row["prompt_hash"], row["sample"])] = dict(row)
    return out


def known_specs(engine: Engine, checkpoint_specs: Sequence[str], judge_specs: Sequence[str]
                ) -> set[str]:
    """Which of these checkpoint and judge spec hashes are registered (a read: a run whose
    specs are all known writes none)."""
    out: set[str] = set()
    with engine.connect() as conn:
        for model, hashes in ((Checkpoint, checkpoint_specs), (JudgeSpec, judge_specs)):
            t = model.__table__  # type: ignore[attr-defined]
            if hashes:
                out.update(conn.execute(sa_select(t.c.spec_hash).where(
                    t.c.spec_hash.in_(list(hashes)))).scalars())
    return out


def spec_backend(engine: Engine, kind: str, name: str) -> list[dict[str, Any]]:
    """Stored checkpoint (kind='checkpoint') or judge (kind='judge') specs with this name."""
    model = Checkpoint if kind == "checkpoint" else JudgeSpec
    with Session(engine) as s:
        rows = s.exec(select(model).where(model.name == name)).all()
    return [{"spec_hash": r.spec_hash, **json.loads(r.spec_json)} for r in rows]


def imported_judge_names(engine: Engine) -> list[str]:
    with Session(engine) as s:
        rows = s.exec(select(JudgeSpec)).all()
    return sorted({r.name for r in rows if json.loads(r.spec_json).get("backend") == "imported"})


def judgments_for_prompts(engine: Engine, judge_spec: str,
                          prompt_hashes: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Every stored judgment of one judge on the given prompts, by key."""
    table = Judgment.__table__  # type: ignore[attr-defined]
    out: dict[str, dict[str, Any]] = {}
    with engine.connect() as conn:
        for chunk in _chunks(list(prompt_hashes)):
            q = sa_select(table).where(table.c.judge_spec == judge_spec,
                                       table.c.prompt_hash.in_(chunk))
            for row in conn.execute(q).mappings():
                out[row["key"]] = dict(row)
    return out


def judgments_by_key(engine: Engine, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    return rows_by_key(engine, Judgment, keys)


# ---- imports -------------------------------------------------------------------------------

def add_import_record(engine: Engine, record: ImportRecord) -> int:
    with Session(engine) as s:
        s.add(record)
        s.commit()
        s.refresh(record)
        assert record.id is not None
        return record.id


def get_import_record(engine: Engine, import_id: int) -> ImportRecord | None:
    with Session(engine) as s:
        return s.get(ImportRecord, import_id)


def get_pool(engine: Engine, pool_id: int) -> Pool:
    with Session(engine) as s:
        pool = s.get(Pool, pool_id)
        if pool is None:
            raise KeyError(pool_id)
        return pool


# ---- comparisons ---------------------------------------------------------------------------

def save_comparison(engine: Engine, record: dict[str, Any],
                    items: Sequence[dict[str, Any]]) -> None:
    """Store a comparison and its per-prompt items in one transaction. On SQLite the items go
    through the driver's executemany as tuples (half the time of SQLAlchemy's dicts)."""
    table: Table = ComparisonItem.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(Comparison.__table__.insert(), [record])  # type: ignore[attr-defined]
        if not items:
            return
        if engine.dialect.name != "sqlite":
            conn.execute(table.insert(), [{**i, "comparison_id": record["id"]} for i in items])
            return
        cols = [c.name for c in table.columns]
        sql = (f'INSERT INTO "{table.name}" ({", ".join(cols)}) '
               f'VALUES ({", ".join("?" * len(cols))})')
        cid = record["id"]
        conn.connection.cursor().executemany(sql, [
            tuple(cid if c == "comparison_id" else i.get(c) for c in cols) for i in items])


def comparison_items(engine: Engine, comparison_id: str) -> list[dict[str, Any]]:
    table = ComparisonItem.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        q = sa_select(table).where(table.c.comparison_id == comparison_id)
        return [dict(r) for r in conn.execute(q).mappings()]


def comparison_item_verdicts(engine: Engine, comparison_id: str) -> list[dict[str, Any]]:
    """Per prompt and sample: the outcome for the candidate and both positional verdicts."""
    sql = """
        SELECT ci.position, ci.sample, ci.item_id, ci.outcome, ci.strength, ci.score,
               jc.verdict, jc.preference, jb.verdict, jb.preference
        FROM comparisonitem ci
        LEFT JOIN judgment jc ON jc.key = ci.judgment_cand_first
        LEFT JOIN judgment jb ON jb.key = ci.judgment_base_first
        WHERE ci.comparison_id = :cid ORDER BY ci.position, ci.sample"""
    with engine.connect() as conn:
        rows = conn.execute(text(sql), {"cid": comparison_id}).all()
    return [{"position": r[0], "sample": r[1], "item_id": r[2], "outcome": r[3],
             "strength": r[4], "score": r[5], "verdict_candidate_first": r[6],
             "preference_candidate_first": r[7], "verdict_baseline_first": r[8],
             "preference_baseline_first": r[9]} for r in rows]


def list_comparisons(engine: Engine, pool_name: str | None = None) -> list[dict[str, Any]]:
    with Session(engine) as s:
        q = select(Comparison, Pool.name, Pool.version).join(Pool,
                                                              Pool.id == Comparison.pool_id)
        if pool_name:
            q = q.where(Pool.name == pool_name)
        rows = s.exec(q.order_by(Comparison.created_at)).all()
    return [{**r[0].model_dump(), "pool": r[1], "pool_version": r[2]} for r in rows]


def get_comparison(engine: Engine, comparison_id: str) -> dict[str, Any] | None:
    with Session(engine) as s:
        row = s.get(Comparison, comparison_id)
        if row is None:
            matches = s.exec(select(Comparison).where(Comparison.id.startswith(  # type: ignore[attr-defined]
                comparison_id, autoescape=True)).limit(2)).all()
            if len(matches) != 1:
                return None
            row = matches[0]
        return row.model_dump()


def latest_comparison(engine: Engine, pool_name: str) -> dict[str, Any] | None:
    """The comparison stored last in the pool (any version): id, created_at, summary_json."""
    c = Comparison.__table__  # type: ignore[attr-defined]
    p = Pool.__table__  # type: ignore[attr-defined]
    q = (sa_select(c.c.id, c.c.created_at, c.c.summary_json)
         .join(p, p.c.id == c.c.pool_id).where(p.c.name == pool_name)
         .order_by(c.c.created_at.desc()).limit(1))
    with engine.connect() as conn:
        row = conn.execute(q).mappings().first()
    return dict(row) if row is not None else None


def comparison_ids_with_prefix(engine: Engine, prefix: str, limit: int = 10) -> list[str]:
    """Ids of stored comparisons starting with ``prefix`` (``%`` and ``_`` match literally),
    sorted, at most ``limit``."""
    with Session(engine) as s:
        return list(s.exec(select(Comparison.id).where(Comparison.id.startswith(  # type: ignore[attr-defined]
            prefix, autoescape=True)).order_by(Comparison.id).limit(limit)).all())


# ---- leaderboard ---------------------------------------------------------------------------

def latest_pair_comparisons(engine: Engine, pool_name: str, judge: str | None
                            ) -> list[dict[str, Any]]:
    """The most recent comparison of each unordered checkpoint pair in a pool (any version),
    with one judge (or every judge when None). Older re-runs of a pair are superseded."""
    rows = list_comparisons(engine, pool_name)
    latest: dict[tuple[str, frozenset[str]], dict[str, Any]] = {}
    for r in rows:  # ordered by created_at
        if judge is not None and r["judge"] != judge:
            continue
        if r["baseline"] == r["candidate"]:
            continue
        latest[(r["judge"], frozenset((r["baseline"], r["candidate"])))] = r
    return list(latest.values())


def outcome_counts(engine: Engine, comparison_ids: Sequence[str]) -> dict[str, dict[str, float]]:
    """Per comparison, aggregated in SQL: baseline wins, ties, candidate wins (soft scores add
    fractionally), valid n, and invalid/failed counts."""
    table = ComparisonItem.__table__  # type: ignore[attr-defined]
    sql = f"""
        SELECT comparison_id,
               SUM(CASE WHEN score IS NULL THEN 0 WHEN score = 0.5 THEN 0 ELSE 1 - score END),
               SUM(CASE WHEN score = 0.5 THEN 1 ELSE 0 END),
               SUM(CASE WHEN score IS NULL THEN 0 WHEN score = 0.5 THEN 0 ELSE score END),
               SUM(CASE WHEN score IS NULL THEN 0 ELSE 1 END),
               SUM(CASE WHEN outcome = 'invalid' THEN 1 ELSE 0 END),
               SUM(CASE WHEN outcome = 'failed' THEN 1 ELSE 0 END)
        FROM {table.name} WHERE comparison_id IN ({{ids}}) GROUP BY comparison_id"""
    out: dict[str, dict[str, float]] = {}
    with engine.connect() as conn:
        for chunk in _chunks(list(comparison_ids)):
            marks = ", ".join(f":i{k}" for k in range(len(chunk)))
            params = {f"i{k}": v for k, v in enumerate(chunk)}
            for row in conn.execute(text(sql.format(ids=marks)), params):
                out[row[0]] = {"baseline_wins": float(row[1] or 0), "ties": float(row[2] or 0),
                               "candidate_wins": float(row[3] or 0), "n": int(row[4] or 0),
                               "invalid": int(row[5] or 0), "failed": int(row[6] or 0)}
    return out


def average_lengths(engine: Engine, comparison_ids: Sequence[str]) -> dict[str, float]:
    """Mean response length (characters) of each checkpoint over the pools' prompts of the
    given comparisons (sample 0 and up; generations of the checkpoint specs compared)."""
    ids = list(comparison_ids)
    if not ids:
        return {}
    marks = ", ".join(f":i{k}" for k in range(len(ids)))
    params = {f"i{k}": v for k, v in enumerate(ids)}
    sql = f"""
        SELECT ck.name, AVG(LENGTH(g.response)) FROM generation g
        JOIN checkpoint ck ON ck.spec_hash = g.checkpoint_spec
        WHERE g.response IS NOT NULL
          AND g.checkpoint_spec IN (
              SELECT baseline_spec FROM comparison WHERE id IN ({marks})
              UNION SELECT candidate_spec FROM comparison WHERE id IN ({marks}))
          AND g.prompt_hash IN (
              SELECT prompt_hash FROM poolitem WHERE pool_id IN (
                  SELECT pool_id FROM comparison WHERE id IN ({marks})))
        GROUP BY ck.name"""
    with engine.connect() as conn:
        return {r[0]: float(r[1]) for r in conn.execute(text(sql), params)}


# ---- baselines and gate runs ---------------------------------------------------------------

def promote(engine: Engine, checkpoint: str, pool: str | None, who: str,
            why: str | None) -> Promotion:
    with Session(engine) as s:
        row = Promotion(checkpoint=checkpoint, pool=pool, who=who, why=why)
        s.add(row)
        s.commit()
        s.refresh(row)
        return row


def promotions(engine: Engine, pool: str | None = None) -> list[Promotion]:
    """Promotion history, newest first; a pool's own promotions and pool-wide ones."""
    with Session(engine) as s:
        q = select(Promotion)
        if pool is not None:
            q = q.where((Promotion.pool == pool) | (Promotion.pool.is_(None)))  # type: ignore
        return list(s.exec(q.order_by(Promotion.id.desc())).all())  # type: ignore[union-attr]


def save_gate_run(engine: Engine, row: dict[str, Any]) -> None:
    upsert(engine, GateRun, [row])


def previous_comparison(engine: Engine, comparison_id: str) -> dict[str, Any] | None:
    """The latest earlier comparison with the same baseline, pool name and judge, and another
    candidate (e.g. the previous round's candidate against the same baseline)."""
    current = get_comparison(engine, comparison_id)
    if current is None:
        return None
    pool = get_pool(engine, current["pool_id"])
    earlier = [c for c in list_comparisons(engine, pool.name)
               if c["baseline"] == current["baseline"] and c["judge"] == current["judge"]
               and c["candidate"] != current["candidate"]
               and c["created_at"] < current["created_at"]]
    return earlier[-1] if earlier else None


def last_candidate(engine: Engine, pool_name: str, exclude: str) -> str | None:
    """The checkpoint most recently compared as a candidate in a pool (``--against
    previous``)."""
    for c in reversed(list_comparisons(engine, pool_name)):
        if c["candidate"] != exclude:
            return c["candidate"]
    return None


# ---- leaderboard: per-prompt counts for the prompt-cluster bootstrap -----------------------

@dataclass(frozen=True)
class PromptOutcomeCounts:
    """One comparison's valid outcomes on one prompt (all samples and orders summed), from the
    baseline's and candidate's view; soft scores add fractionally as in ``outcome_counts``."""

    comparison_id: str
    prompt_hash: str
    baseline_wins: float
    ties: float
    candidate_wins: float
    n: int


def prompt_outcome_counts(engine: Engine, comparison_ids: Sequence[str],
                          tag: tuple[str, str] | None = None) -> list[PromptOutcomeCounts]:
    """Per (comparison, prompt hash), aggregated in SQL: baseline wins, ties, candidate wins
    and n over the valid (scored) items — the per-prompt split of ``outcome_counts``, so the
    prompt-cluster bootstrap can resample prompts. ``tag=(name, value)`` keeps only the
    prompts whose pool item (in the comparison's own pool version) has that tag value."""
    table = ComparisonItem.__table__  # type: ignore[attr-defined]
    join, where, extra = "", "", {}
    if tag is not None:
        if engine.dialect.name == "postgresql":
            tag_sql = "((pi.tags_json)::json ->> :tag_key)"
            key = tag[0]
        else:
            tag_sql = "json_extract(pi.tags_json, :tag_key)"
            key = '$."' + tag[0].replace('"', '""') + '"'
        join = ("JOIN comparison c ON c.id = ci.comparison_id "
                "JOIN poolitem pi ON pi.pool_id = c.pool_id AND pi.position = ci.position")
        where = f"AND {tag_sql} = :tag_value"
        extra = {"tag_key": key, "tag_value": tag[1]}
    sql = f"""
        SELECT ci.comparison_id, ci.prompt_hash,
               SUM(CASE WHEN ci.score = 0.5 THEN 0 ELSE 1 - ci.score END),
               SUM(CASE WHEN ci.score = 0.5 THEN 1 ELSE 0 END),
               SUM(CASE WHEN ci.score = 0.5 THEN 0 ELSE ci.score END),
               COUNT(*)
        FROM {table.name} ci {join}
        WHERE ci.comparison_id IN ({{ids}}) AND ci.score IS NOT NULL {where}
        GROUP BY ci.comparison_id, ci.prompt_hash"""
    out: list[PromptOutcomeCounts] = []
    with engine.connect() as conn:
        for chunk in _chunks(list(comparison_ids)):
            marks = ", ".join(f":i{k}" for k in range(len(chunk)))
            params = {f"i{k}": v for k, v in enumerate(chunk)}
            for row in conn.execute(text(sql.format(ids=marks)), {**params, **extra}):
                out.append(PromptOutcomeCounts(
                    comparison_id=row[0], prompt_hash=row[1], baseline_wins=float(row[2] or 0),
                    ties=float(row[3] or 0), candidate_wins=float(row[4] or 0), n=int(row[5])))
    return out
