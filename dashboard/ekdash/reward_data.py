"""The Rewards page's access to the store (``evalkit.store.reward_queries``): score runs with
their reward distributions, reward-model evaluations on preference pairs and reward model vs
judge reports, each cached for ``data.TTL`` seconds. Results are plain dicts (cache-safe)."""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from evalkit.store import reward_queries as rq

from . import data


def _safe(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except Exception:  # a store from before the reward tables: nothing to show
        return []


@st.cache_data(ttl=data.TTL, show_spinner=False)
def score_runs(url: str) -> list[dict[str, Any]]:
    rows = _safe(rq.list_score_runs, data.engine(url))
    return [{**{k: v for k, v in r.items() if k != "summary_json"},
             "created_at": str(r["created_at"])[:19],
             "summary": json.loads(r["summary_json"])} for r in rows]


@st.cache_data(ttl=data.TTL, show_spinner=False)
def run_scores(url: str, run_id: str) -> list[dict[str, Any]]:
    """One score run's scored items: position, sample, item id, score and tags."""
    return [{"position": r["position"], "sample": r["sample"], "item_id": r["item_id"],
             "score": r["score"], "tags": r["tags"]}
            for r in rq.score_run_items(data.engine(url), run_id) if r["status"] == "scored"]


@st.cache_data(ttl=data.TTL, show_spinner=False)
def rm_evals(url: str) -> list[dict[str, Any]]:
    rows = _safe(rq.list_rm_evals, data.engine(url))
    return [{**{k: v for k, v in r.items() if k != "summary_json"},
             "created_at": str(r["created_at"])[:19],
             "summary": json.loads(r["summary_json"])} for r in rows]


@st.cache_data(ttl=data.TTL, show_spinner=False)
def reports(url: str) -> list[dict[str, Any]]:
    rows = _safe(rq.list_rm_judge_reports, data.engine(url))
    return [{**{k: v for k, v in r.items() if k != "summary_json"},
             "created_at": str(r["created_at"])[:19],
             "summary": json.loads(r["summary_json"])} for r in rows]
