"""The pool page's access to the store: pool versions, their provenance, statistics, hardness
and the classifier's reasons for flawed prompts (``evalkit.store.pool_queries``,
``evalkit.curation``), each cached for ``data.TTL`` seconds as plain dicts."""

from __future__ import annotations

from typing import Any

import streamlit as st

from evalkit.store import pool_queries as pq

from . import data


@st.cache_data(ttl=data.TTL, show_spinner=False)
def versions(url: str) -> list[dict[str, Any]]:
    """Every stored pool version, oldest first."""
    try:
        rows = pq.pool_versions(data.engine(url))
    except Exception:  # a store from before the curation tables
        return []
    return [{"id": v.id, "name": v.name, "version": v.version, "prompts": v.n_prompts,
             "source": v.source, "created_at": str(v.created_at)[:19],
             "operation": v.operation or "import"} for v in rows]


@st.cache_data(ttl=data.TTL, show_spinner=False)
def lineage(url: str, pool_id: int) -> list[dict[str, Any]]:
    from evalkit.store import queries

    eng = data.engine(url)
    out = []
    for d in pq.lineage(eng, pool_id):
        parent = queries.get_pool(eng, d.parent_id)
        out.append({"operation": d.operation, "from": f"{parent.name}@{parent.version}",
                    "params": d.params, "summary": d.summary,
                    "created_at": str(d.created_at)[:19]})
    return out


@st.cache_data(ttl=data.TTL, show_spinner="Computing pool statistics…")
def stats(url: str, pool_id: int) -> dict[str, Any]:
    from evalkit.curation.pool_stats import pool_stats
    from evalkit.store import queries

    return pool_stats(queries.pool_prompts(data.engine(url), pool_id)).to_dict()


@st.cache_data(ttl=data.TTL, show_spinner="Measuring hardness…")
def hardness(url: str, name: str, version: str) -> dict[str, Any]:
    """``evalkit pool hardness`` as a dict; ``{"error": …}`` without stored comparisons."""
    from evalkit.curation.hardness import pool_hardness
    from evalkit.errors import EvalkitError

    try:
        return pool_hardness(data.engine(url), name, version=version).to_dict()
    except EvalkitError as exc:
        return {"error": str(exc)}


@st.cache_data(ttl=data.TTL, show_spinner=False)
def flawed(url: str, pool_id: int) -> list[dict[str, Any]]:
    """Prompts the classifier flagged flawed, with its reason (from the label cache of the
    classifier that annotated this version or an ancestor)."""
    from evalkit.store import queries

    eng = data.engine(url)
    spec = next((d.params.get("spec_hash") for d in pq.lineage(eng, pool_id)
                 if d.operation == "annotate"), None)
    if spec is None:
        return []
    prompts = [p for p in queries.pool_prompts(eng, pool_id)
               if p.tags.get("llm.quality") == "flawed"]
    labels = pq.labels_for_spec(eng, spec, [p.prompt_hash for p in prompts])
    return [{"id": p.id, "reason": getattr(labels.get(p.prompt_hash), "reason", None),
             "prompt": p.messages[-1]["content"]} for p in prompts]
