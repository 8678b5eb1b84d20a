"""Reads and writes of the reward-model tables (``score``, ``scorerun``, ``scoreitem``,
``rmeval``, ``rmjudgereport``, ``rewardmodelspec``), for the reward pipelines and the
dashboard's Rewards page."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine

from .models import (
    Pool,
    PoolItem,
    RewardModelSpec,
    RMEval,
    RMJudgeReport,
    Score,
    ScoreItem,
    ScoreRun,
)
from .queries import upsert

CHUNK = 500


def save_rm_spec(engine: Engine, name: str, spec_hash: str, identity: dict[str, Any]) -> None:
    upsert(engine, RewardModelSpec, [{"spec_hash": spec_hash, "name": name,
                                      "spec_json": json.dumps(identity, sort_keys=True)}],
           update=False)


def stored_scores(engine: Engine, keys: Sequence[str]) -> dict[str, float]:
    """Successful stored scores among ``keys`` (a failed one is asked again)."""
    t = Score.__table__  # type: ignore[attr-defined]
    out: dict[str, float] = {}
    keys = list(dict.fromkeys(keys))
    with engine.connect() as conn:
        for i in range(0, len(keys), CHUNK):
            q = sa_select(t.c.key, t.c.score).where(t.c.key.in_(keys[i:i + CHUNK]),
                                                    t.c.error.is_(None))
            for key, score in conn.execute(q):
                out[key] = float(score)
    return out


def score_rows(engine: Engine, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Stored score rows (successes and failures) by key."""
    t = Score.__table__  # type: ignore[attr-defined]
    out: dict[str, dict[str, Any]] = {}
    keys = list(dict.fromkeys(k for k in keys if k))
    with engine.connect() as conn:
        for i in range(0, len(keys), CHUNK):
            for row in conn.execute(sa_select(t).where(t.c.key.in_(keys[i:i + CHUNK]))):
                out[row.key] = dict(row._mapping)
    return out


def save_score_run(engine: Engine, record: dict[str, Any], items: list[dict[str, Any]]
                   ) -> None:
    from .queries import upsert_many

    upsert_many(engine, {ScoreRun: [record]})
    upsert_many(engine, {ScoreItem: [{"run_id": record["id"], **it} for it in items]})


def _runs(engine: Engine, model: Any, where: Any = None) -> list[dict[str, Any]]:
    t, p = model.__table__, Pool.__table__  # type: ignore[attr-defined]
    q = (sa_select(t, p.c.name.label("pool"), p.c.version.label("pool_version"))
         .join(p, p.c.id == t.c.pool_id).order_by(t.c.created_at, t.c.id))
    if where is not None:
        q = q.where(where)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]


def list_score_runs(engine: Engine, pool: str | None = None) -> list[dict[str, Any]]:
    """Stored score runs, oldest first, with their pool's name and version."""
    p = Pool.__table__  # type: ignore[attr-defined]
    return _runs(engine, ScoreRun, None if pool is None else p.c.name == pool)


def latest_score_runs(engine: Engine, pool: str, reward_model: str) -> list[dict[str, Any]]:
    """The newest score run of each checkpoint on a pool (any version) with one reward
    model, in the order the checkpoints were first scored."""
    latest: dict[str, dict[str, Any]] = {}
    for r in list_score_runs(engine, pool):
        if r["reward_model"] == reward_model:
            latest[r["checkpoint"]] = r  # a newer run replaces, the first place is kept
    return list(latest.values())


def score_run_items(engine: Engine, run_id: str) -> list[dict[str, Any]]:
    """A score run's items with the prompt's tags, in pool order."""
    i, r = ScoreItem.__table__, ScoreRun.__table__  # type: ignore[attr-defined]
    pi = PoolItem.__table__  # type: ignore[attr-defined]
    q = (sa_select(i, pi.c.tags_json).join(r, r.c.id == i.c.run_id)
         .join(pi, (pi.c.pool_id == r.c.pool_id) & (pi.c.position == i.c.position))
         .where(i.c.run_id == run_id).order_by(i.c.position, i.c.sample))
    with engine.connect() as conn:
        return [{**dict(row._mapping), "tags": json.loads(row.tags_json or "{}")}
                for row in conn.execute(q)]


def save_rm_eval(engine: Engine, record: dict[str, Any]) -> None:
    upsert(engine, RMEval, [record])


def list_rm_evals(engine: Engine) -> list[dict[str, Any]]:
    t = RMEval.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(
            sa_select(t).order_by(t.c.created_at, t.c.id))]


def save_rm_judge_report(engine: Engine, record: dict[str, Any]) -> None:
    upsert(engine, RMJudgeReport, [record])


def list_rm_judge_reports(engine: Engine, pool: str | None = None) -> list[dict[str, Any]]:
    p = Pool.__table__  # type: ignore[attr-defined]
    return _runs(engine, RMJudgeReport, None if pool is None else p.c.name == pool)


def reward_model_names(engine: Engine) -> list[str]:
    """Reward models with anything stored (score runs, evaluations, reports)."""
    names: set[str] = set()
    with engine.connect() as conn:
        for model in (ScoreRun, RMEval, RMJudgeReport):
            t = model.__table__  # type: ignore[attr-defined,union-attr]
            names.update(r[0] for r in conn.execute(sa_select(t.c.reward_model).distinct()))
    return sorted(names)
