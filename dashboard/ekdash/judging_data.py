"""The judging modes' access to the store, cached for ``data.TTL`` seconds: the
style-controlled leaderboard (``build_leaderboard(..., style_control=True)``), grade runs
(``evalkit grade``) and the paired score difference between two graded checkpoints. Results
are plain dicts (cache-safe); a store from before these tables shows nothing."""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from . import data


@st.cache_data(ttl=data.TTL, show_spinner=False)
def style_leaderboard(url: str, pool: str, judge: str, tag: str | None = None,
                      value: str | None = None) -> dict[str, Any]:
    from evalkit.errors import EvalkitError
    from evalkit.leaderboard import build_leaderboard

    try:
        return build_leaderboard(data.engine(url), pool, judge, rounds=data.BT_ROUNDS,
                                 seed=data.BT_SEED, style_control=True,
                                 tag=None if tag is None or value is None else (tag, value))
    except (EvalkitError, ValueError) as exc:
        return {"error": str(exc)}


@st.cache_data(ttl=data.TTL, show_spinner=False)
def grade_runs(url: str) -> list[dict[str, Any]]:
    from evalkit.store import judging_queries

    try:
        rows = judging_queries.grade_runs(data.engine(url))
    except Exception:  # a store from before the grade tables: nothing to show
        return []
    return [{**{k: v for k, v in r.items() if k != "summary_json"},
             "created_at": str(r["created_at"])[:19], "summary": json.loads(r["summary_json"])}
            for r in rows]


@st.cache_data(ttl=data.TTL, show_spinner=False)
def grade_difference(url: str, pool: str, grader: str, baseline: str,
                     candidate: str) -> dict[str, Any]:
    from evalkit.errors import EvalkitError
    from evalkit.grading.paired import grade_difference as diff

    try:
        return diff(data.engine(url), pool, grader, baseline, candidate)
    except EvalkitError as exc:
        return {"error": str(exc)}
