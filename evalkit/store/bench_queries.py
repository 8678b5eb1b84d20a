"""Reads and writes of benchmark results: the request cache, task runs and their samples.
Parameterised SQL that runs on SQLite and PostgreSQL; rows come back as frozen records."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, text
from sqlalchemy.engine import Engine
from sqlmodel import Session
from sqlmodel import select as orm_select

from .models import BenchRequest, BenchRun, BenchSample
from .queries import upsert_many

_CHUNK = 500


@dataclass(frozen=True)
class RunRecord:
    """A stored task run (``BenchRun``), its JSON columns decoded."""

    id: str
    created_at: datetime
    checkpoint: str
    checkpoint_spec: str
    suite: str
    task: str
    source_hash: str
    task_hash: str
    lm_eval_version: str
    evalkit_version: str
    mode: str
    doc_limit: int | None
    num_fewshot: int | None
    primary_metric: str
    higher_is_better: bool
    n_samples: int
    metrics: dict[str, dict[str, float | None]]
    config: dict[str, Any]
    requests: dict[str, int]
    duration_s: float | None


@dataclass(frozen=True)
class SampleRecord:
    """One document of a run under one filter (``BenchSample``)."""

    run_id: str
    filter_name: str
    doc_id: int
    doc_hash: str
    prompt: str
    response: str | None
    extracted: str | None
    target: str
    metrics: dict[str, Any]


def _run(row: BenchRun) -> RunRecord:
    return RunRecord(
        id=row.id, created_at=row.created_at, checkpoint=row.checkpoint,
        checkpoint_spec=row.checkpoint_spec, suite=row.suite, task=row.task,
        source_hash=row.source_hash, task_hash=row.task_hash,
        lm_eval_version=row.lm_eval_version, evalkit_version=row.evalkit_version,
        mode=row.mode, doc_limit=row.doc_limit, num_fewshot=row.num_fewshot,
        primary_metric=row.primary_metric, higher_is_better=bool(row.higher_is_better),
        n_samples=row.n_samples, metrics=json.loads(row.metrics_json),
        config=json.loads(row.config_json), requests=json.loads(row.requests_json or "{}"),
        duration_s=row.duration_s)


# ---- the request cache -----------------------------------------------------------------------

def request_results(engine: Engine, keys: Sequence[str]) -> dict[str, str]:
    """``key → result_json`` for the keys that are stored."""
    out: dict[str, str] = {}
    stmt = select(BenchRequest.key, BenchRequest.result_json).where(  # type: ignore[call-overload]
        BenchRequest.key.in_(bindparam("keys", expanding=True)))  # type: ignore[attr-defined]
    with engine.connect() as conn:
        for i in range(0, len(keys), _CHUNK):
            for key, raw in conn.execute(stmt, {"keys": list(keys[i:i + _CHUNK])}):
                out[key] = raw
    return out


def save_requests(engine: Engine, rows: Sequence[dict[str, Any]]) -> None:
    """Store answered requests (an answer already stored is kept)."""
    upsert_many(engine, {BenchRequest: list(rows)}, update=False)


def count_requests(engine: Engine, spec_hash: str | None = None) -> int:
    sql = "SELECT COUNT(*) FROM benchrequest" + (
        " WHERE checkpoint_spec = :spec" if spec_hash else "")
    with engine.connect() as conn:
        return int(conn.execute(text(sql), {"spec": spec_hash} if spec_hash else {}).scalar()
                   or 0)


# ---- runs ------------------------------------------------------------------------------------

def save_run(engine: Engine, run: dict[str, Any], samples: Sequence[dict[str, Any]]) -> None:
    """Store a task run and its samples in one transaction (a re-run replaces both)."""
    with engine.begin() as conn:
        conn.execute(delete(BenchSample).where(
            BenchSample.run_id == run["id"]))  # type: ignore[arg-type]
        conn.execute(delete(BenchRun).where(BenchRun.id == run["id"]))  # type: ignore[arg-type]
        conn.execute(BenchRun.__table__.insert(), [run])  # type: ignore[attr-defined]
        for i in range(0, len(samples), 2000):
            conn.execute(BenchSample.__table__.insert(),  # type: ignore[attr-defined]
                         list(samples[i:i + 2000]))


def runs_by_id(engine: Engine, ids: Sequence[str]) -> dict[str, RunRecord]:
    out: dict[str, RunRecord] = {}
    with Session(engine) as s:
        for i in range(0, len(ids), _CHUNK):
            stmt = orm_select(BenchRun).where(
                BenchRun.id.in_(list(ids[i:i + _CHUNK])))  # type: ignore[attr-defined]
            out.update({r.id: _run(r) for r in s.exec(stmt).all()})
    return out


def latest_runs(engine: Engine, checkpoint: str, suite: str) -> dict[str, RunRecord]:
    """The most recent run of each task of ``suite`` on ``checkpoint`` (any spec)."""
    stmt = (orm_select(BenchRun).where(BenchRun.checkpoint == checkpoint)
            .where(BenchRun.suite == suite)
            .order_by(BenchRun.created_at))  # type: ignore[arg-type]
    with Session(engine) as s:
        return {r.task: _run(r) for r in s.exec(stmt).all()}


def run_samples(engine: Engine, run_id: str, filter_name: str | None = None
                ) -> list[SampleRecord]:
    sql = ("SELECT run_id, filter_name, doc_id, doc_hash, prompt, response, extracted, target,"
           " metrics_json FROM benchsample WHERE run_id = :run"
           + (" AND filter_name = :filter" if filter_name is not None else "")
           + " ORDER BY filter_name, doc_id")
    params = {"run": run_id, **({"filter": filter_name} if filter_name is not None else {})}
    with engine.connect() as conn:
        rows = conn.execute(text(sql), params).all()
    return [SampleRecord(run_id=r[0], filter_name=r[1], doc_id=int(r[2]), doc_hash=r[3],
                         prompt=r[4], response=r[5], extracted=r[6], target=r[7],
                         metrics=json.loads(r[8])) for r in rows]


def suites(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(text(
            "SELECT suite FROM benchrun GROUP BY suite ORDER BY MAX(created_at) DESC"))]


def suite_overview(engine: Engine, suite: str) -> list[RunRecord]:
    """The latest run of every (checkpoint, task) of a suite, oldest first."""
    stmt = (orm_select(BenchRun).where(BenchRun.suite == suite)
            .order_by(BenchRun.created_at))  # type: ignore[arg-type]
    with Session(engine) as s:
        latest = {(r.checkpoint, r.task): _run(r) for r in s.exec(stmt).all()}
    return list(latest.values())


def checkpoint_order(engine: Engine, suite: str) -> list[str]:
    """Checkpoints with runs of ``suite``, in the order of their first run."""
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(text(
            "SELECT checkpoint FROM benchrun WHERE suite = :suite GROUP BY checkpoint "
            "ORDER BY MIN(created_at)"), {"suite": suite})]
