"""New pool versions made from others (annotate, dedup, sample) and their provenance."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Engine

from ..catalog import store_pool
from ..pools import PoolPrompt
from ..store import pool_queries
from ..store.models import Pool

LLM_PREFIX = "llm."  # tags under this prefix come from a classifier; all others from people


def finite(value: Any) -> Any:
    """``value`` with NaN and infinities as None, recursively (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def human_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """The tags that did not come from a classifier."""
    return {k: v for k, v in tags.items() if not k.startswith(LLM_PREFIX)}


def tag_source(name: str) -> str:
    """``classifier`` for ``llm.`` tags, else ``human`` (a file's or an importer's tags)."""
    return "classifier" if name.startswith(LLM_PREFIX) else "human"


def topic_tag(prompts: Sequence[PoolPrompt], wanted: str | None = None) -> str | None:
    """The tag that holds topics: ``wanted`` (or ``llm.wanted``), else topic, llm.topic,
    category — the first one the pool has."""
    names = {k for p in prompts for k in p.tags}
    for name in ((wanted, f"{LLM_PREFIX}{wanted}") if wanted else
                 ("topic", f"{LLM_PREFIX}topic", "category")):
        if name in names:
            return name
    return None


def store_derived(engine: Engine, name: str, prompts: Sequence[PoolPrompt], parent: Pool,
                  operation: str, params: dict[str, Any], summary: dict[str, Any]
                  ) -> tuple[Pool, bool]:
    """Store ``prompts`` as a version of pool ``name`` made from ``parent`` by ``operation``
    and record how (unchanged content is the existing version; its first record stays)."""
    pool, created = store_pool(engine, name, list(prompts),
                               source=f"{operation} of {parent.name}@{parent.version}")
    assert pool.id is not None and parent.id is not None
    if pool.id != parent.id:
        pool_queries.save_derivation(engine, pool.id, parent.id, operation, params, summary)
    return pool, created
