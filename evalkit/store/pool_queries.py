"""Reads and writes of pool curation (``evalkit pool annotate | dedup | sample | hardness |
stats`` and the dashboard's pool page): classifier specs, the prompt-label cache, how a pool
version was derived, and the versions of a pool."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from .models import ClassifierSpec, Pool, PoolDerivation, PromptLabel
from .queries import _chunks, upsert

LABEL_FIELDS = ("topic", "difficulty", "quality", "reason", "language")


@dataclass(frozen=True)
class StoredLabel:
    """One cached classifier answer for one prompt (``status`` labelled or unparsable)."""

    key: str
    prompt_hash: str
    status: str
    topic: str | None
    difficulty: str | None
    quality: str | None
    reason: str | None
    language: str | None
    error: str | None
    raw_output: str | None


@dataclass(frozen=True)
class Derivation:
    """How pool version ``pool_id`` was made from ``parent_id``."""

    pool_id: int
    parent_id: int
    operation: str
    params: dict[str, Any]
    summary: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class PoolVersion:
    id: int
    name: str
    version: str
    n_prompts: int
    source: str | None
    created_at: datetime
    operation: str | None  # how it was derived (None: imported)


# ---- classifier specs and labels -----------------------------------------------------------

def save_classifier_spec(engine: Engine, name: str, spec_hash: str, spec: dict[str, Any],
                         template_text: str, taxonomy: dict[str, Any]) -> None:
    upsert(engine, ClassifierSpec, [{"spec_hash": spec_hash, "name": name,
                                     "spec_json": json.dumps(spec, sort_keys=True),
                                     "template_text": template_text,
                                     "taxonomy_json": json.dumps(taxonomy, sort_keys=True)}],
           update=False)


def classifier_spec(engine: Engine, spec_hash: str) -> dict[str, Any] | None:
    with Session(engine) as s:
        row = s.get(ClassifierSpec, spec_hash)
        return None if row is None else row.model_dump()


def labels_by_key(engine: Engine, keys: Sequence[str]) -> dict[str, StoredLabel]:
    """Cached labels (labelled and unparsable) by cache key."""
    table = PromptLabel.__table__  # type: ignore[attr-defined]
    out: dict[str, StoredLabel] = {}
    with engine.connect() as conn:
        for chunk in _chunks(list(keys)):
            for r in conn.execute(sa_select(table).where(table.c.key.in_(chunk))).mappings():
                out[r["key"]] = _label(r)
    return out


def labels_for_spec(engine: Engine, spec_hash: str, prompt_hashes: Sequence[str]
                    ) -> dict[str, StoredLabel]:
    """One classifier's cached labels of the given prompts, by prompt hash."""
    table = PromptLabel.__table__  # type: ignore[attr-defined]
    out: dict[str, StoredLabel] = {}
    with engine.connect() as conn:
        for chunk in _chunks(list(prompt_hashes)):
            q = sa_select(table).where(table.c.classifier_spec == spec_hash,
                                       table.c.prompt_hash.in_(chunk))
            for r in conn.execute(q).mappings():
                out[r["prompt_hash"]] = _label(r)
    return out


def _label(r: Any) -> StoredLabel:
    return StoredLabel(key=r["key"], prompt_hash=r["prompt_hash"], status=r["status"],
                       topic=r["topic"], difficulty=r["difficulty"], quality=r["quality"],
                       reason=r["reason"], language=r["language"], error=r["error"],
                       raw_output=r["raw_output"])


# ---- derivations ---------------------------------------------------------------------------

def save_derivation(engine: Engine, pool_id: int, parent_id: int, operation: str,
                    params: dict[str, Any], summary: dict[str, Any]) -> None:
    """Record how ``pool_id`` was made (an existing record is kept: the first one counts)."""
    upsert(engine, PoolDerivation, [{
        "pool_id": pool_id, "parent_id": parent_id, "operation": operation,
        "params_json": json.dumps(params, sort_keys=True, default=str),
        "summary_json": json.dumps(summary, sort_keys=True, default=str)}], update=False)


def derivation(engine: Engine, pool_id: int) -> Derivation | None:
    with Session(engine) as s:
        row = s.get(PoolDerivation, pool_id)
    if row is None:
        return None
    return Derivation(pool_id=row.pool_id, parent_id=row.parent_id, operation=row.operation,
                      params=json.loads(row.params_json), summary=json.loads(row.summary_json),
                      created_at=row.created_at)


def lineage(engine: Engine, pool_id: int, limit: int = 50) -> list[Derivation]:
    """The derivations from ``pool_id`` back to an imported version, newest first."""
    out: list[Derivation] = []
    seen = {pool_id}
    current = derivation(engine, pool_id)
    while current is not None and len(out) < limit:
        out.append(current)
        if current.parent_id in seen:
            break
        seen.add(current.parent_id)
        current = derivation(engine, current.parent_id)
    return out


# ---- pool versions -------------------------------------------------------------------------

def pool_versions(engine: Engine, name: str | None = None) -> list[PoolVersion]:
    """Every stored version (of one pool, or of all), oldest first, with how each was made."""
    with Session(engine) as s:
        q = select(Pool, PoolDerivation.operation).join(
            PoolDerivation, col(PoolDerivation.pool_id) == col(Pool.id), isouter=True)
        if name is not None:
            q = q.where(Pool.name == name)
        rows = s.exec(q.order_by(col(Pool.name), col(Pool.id))).all()
    return [PoolVersion(id=int(p.id), name=p.name, version=p.version, n_prompts=p.n_prompts,
                        source=p.source, created_at=p.created_at, operation=op)
            for p, op in rows if p.id is not None]
