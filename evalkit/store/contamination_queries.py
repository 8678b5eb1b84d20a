"""Reads and writes of contamination results: corpora, scans and per-item results. Every
statement is parameterised."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from .models import ContaminationCorpus, ContaminationItem, ContaminationScan

CHUNK = 500


def save_corpus(engine: Engine, row: dict[str, Any]) -> None:
    with Session(engine) as s:
        if s.get(ContaminationCorpus, row["id"]) is None:
            s.add(ContaminationCorpus(**row))
            s.commit()


def get_scan(engine: Engine, scan_id: str) -> dict[str, Any] | None:
    with Session(engine) as s:
        row = s.get(ContaminationScan, scan_id)
        return None if row is None else row.model_dump()


def same_matches(engine: Engine, corpus_id: str, items_hash: str, method: str, n: int,
                 hit_n: int | None, normaliser: str) -> dict[str, Any] | None:
    """A stored scan of the same corpus, items and method (perhaps other thresholds)."""
    with Session(engine) as s:
        q = select(ContaminationScan).where(
            ContaminationScan.corpus_id == corpus_id, ContaminationScan.items_hash == items_hash,
            ContaminationScan.method == method, ContaminationScan.n == n,
            ContaminationScan.normaliser == normaliser)
        for row in s.exec(q.order_by(ContaminationScan.created_at.desc())):  # type: ignore[attr-defined]
            if row.hit_n == hit_n:
                return row.model_dump()
    return None


def save_scan(engine: Engine, scan: dict[str, Any], items: Sequence[dict[str, Any]]) -> None:
    """The scan and its items in one transaction (all or nothing)."""
    with Session(engine) as s:
        if s.get(ContaminationScan, scan["id"]) is not None:
            return
        s.add(ContaminationScan(**scan))
        s.flush()
        for i in range(0, len(items), CHUNK):
            s.add_all(ContaminationItem(scan_id=scan["id"], **it) for it in items[i:i + CHUNK])
            s.flush()
        s.commit()


def scan_items(engine: Engine, scan_id: str) -> list[dict[str, Any]]:
    with Session(engine) as s:
        q = select(ContaminationItem).where(ContaminationItem.scan_id == scan_id)
        return [r.model_dump() for r in s.exec(q.order_by(ContaminationItem.position))]  # type: ignore[arg-type]


def get_corpus(engine: Engine, corpus_id: str) -> dict[str, Any] | None:
    with Session(engine) as s:
        row = s.get(ContaminationCorpus, corpus_id)
        return None if row is None else row.model_dump()


def list_scans(engine: Engine, source: str | None = None) -> list[dict[str, Any]]:
    """Every scan, newest first, with its corpus's name, size and files."""
    sql = ("SELECT s.id, s.created_at, s.source_kind, s.source, s.source_version, s.n, "
           "s.hit_n, s.clean_below, s.dirty_from, s.n_items, s.labels_json, s.corpus_id, "
           "s.corpus_bytes, s.corpus_tokens, s.runner, s.duration_s, s.problems_json, "
           "c.name AS corpus, c.files_json, c.content_hash "
           "FROM contaminationscan s JOIN contaminationcorpus c ON c.id = s.corpus_id")
    params: dict[str, Any] = {}
    if source is not None:
        sql += " WHERE s.source = :source"
        params["source"] = source
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(text(sql), params)]
    rows.sort(key=lambda r: str(r["created_at"]), reverse=True)
    return rows


def find_scans(engine: Engine, source: str, corpus: str, source_version: str | None = None
               ) -> list[dict[str, Any]]:
    """Scans of ``source`` (optionally one version) against a corpus named by its name, its
    id (or a prefix of it), or one of its file paths; newest first."""
    from pathlib import Path

    wanted = str(Path(corpus).expanduser().resolve()) if ("/" in corpus or Path(
        corpus).exists()) else None
    out = []
    for row in list_scans(engine, source):
        if source_version is not None and row["source_version"] != source_version:
            continue
        paths = [f["path"] for f in json.loads(row["files_json"])]
        if corpus in (row["corpus"], row["corpus_id"]) or (
                len(corpus) >= 6 and row["corpus_id"].startswith(corpus)) or (
                wanted is not None and wanted in paths):
            out.append(row)
    return out


def dirtiest(engine: Engine, scan_id: str, limit: int = 20, offset: int = 0
             ) -> list[dict[str, Any]]:
    """Items with a match, the most covered first (then the longest span)."""
    with Session(engine) as s:
        q = (select(ContaminationItem)
             .where(ContaminationItem.scan_id == scan_id, ContaminationItem.covered > 0)
             .order_by(ContaminationItem.fraction.desc(),  # type: ignore[union-attr]
                       ContaminationItem.longest.desc(),  # type: ignore[attr-defined]
                       ContaminationItem.position)
             .offset(offset).limit(limit))
        return [r.model_dump() for r in s.exec(q)]


def pool_comparisons(engine: Engine, pool: str, version: str) -> list[dict[str, Any]]:
    """Comparisons on one pool version, newest first (for clean-vs-full)."""
    sql = ("SELECT c.id, c.created_at, c.baseline, c.candidate, c.judge FROM comparison c "
           "JOIN pool p ON p.id = c.pool_id WHERE p.name = :pool AND p.version = :version")
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(text(sql), {"pool": pool,
                                                                   "version": version})]
    rows.sort(key=lambda r: str(r["created_at"]), reverse=True)
    return rows
