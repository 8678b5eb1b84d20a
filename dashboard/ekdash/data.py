"""The pages' access to the store: one engine per store URL (``st.cache_resource``), every
query result cached for ``TTL`` seconds (``st.cache_data``). Queries live in
``evalkit.store.dashboard_queries``; ratings come from ``evalkit.leaderboard`` and
``evalkit.stats``. Nothing here loads a whole table."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import streamlit as st

from evalkit.store import dashboard_queries as dq

TTL = 60  # seconds a query result is reused; new comparisons show up within a minute
BT_ROUNDS = 200
BT_SEED = 0


# --------------------------------------------------------------------------- the store URL

def normalize_url(raw: str) -> str:
    """A SQLAlchemy URL from a URL or a SQLite file path (as ``evalkit --db`` takes)."""
    return raw if "://" in raw else f"sqlite:///{Path(raw).expanduser().resolve()}"


def store_url(argv: Sequence[str] | None = None, environ: dict[str, str] | None = None
              ) -> str | None:
    """``--db`` after ``--`` on the ``streamlit run`` command line, else ``EVALKIT_DB``."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--db")
    ns, _ = parser.parse_known_args(list(sys.argv[1:] if argv is None else argv))
    raw = ns.db or (os.environ if environ is None else environ).get("EVALKIT_DB")
    return normalize_url(raw) if raw else None


def sqlite_file(url: str) -> Path | None:
    """The file behind a SQLite URL (None for other databases and in-memory stores)."""
    if not url.startswith("sqlite"):
        return None
    path = url.split("///", 1)[-1] if "///" in url else ""
    return Path(path) if path and path != ":memory:" else None


@st.cache_resource(show_spinner=False)
def engine(url: str) -> Any:
    """The store's engine, opened once per URL (never creates tables)."""
    from evalkit.store import make_engine

    eng = make_engine(url, create=False)
    if dq.store_ready(eng):
        dq.ensure_indexes(eng)
    return eng


# --------------------------------------------------------------------------- cached queries

@st.cache_data(ttl=TTL, show_spinner=False)
def store_ready(url: str) -> bool:
    return dq.store_ready(engine(url))


@st.cache_data(ttl=TTL, show_spinner=False)
def pools(url: str) -> list[dict[str, Any]]:
    return dq.pools_overview(engine(url))


@st.cache_data(ttl=TTL, show_spinner=False)
def judges(url: str, pool: str) -> list[dict[str, Any]]:
    return dq.judges_for_pool(engine(url), pool)


@st.cache_data(ttl=TTL, show_spinner=False)
def comparisons(url: str, pool: str, judge: str) -> list[dict[str, Any]]:
    return dq.comparisons(engine(url), pool, judge)


@st.cache_data(ttl=TTL, show_spinner=False)
def comparison(url: str, comparison_id: str) -> dict[str, Any] | None:
    return dq.comparison_record(engine(url), comparison_id)


@st.cache_data(ttl=TTL, show_spinner=False)
def previous(url: str, comparison_id: str) -> dict[str, Any] | None:
    return dq.previous_comparison(engine(url), comparison_id)


@st.cache_data(ttl=TTL, show_spinner=False)
def changed(url: str, comparison_id: str, previous_id: str, limit: int, offset: int
            ) -> tuple[list[dict[str, Any]], int]:
    return dq.changed_outcomes(engine(url), comparison_id, previous_id, limit=limit,
                               offset=offset)


@st.cache_data(ttl=TTL, show_spinner=False)
def tag_options(url: str, pool: str) -> list[tuple[str, str, int]]:
    """(tag, value, prompts) for every tag value of the pool's latest version."""
    out = []
    for name in dq.tag_names(engine(url), pool):
        for row in dq.tag_values(engine(url), pool, name):
            out.append((name, str(row["value"]), int(row["prompts"])))
    return out


@st.cache_data(ttl=TTL, show_spinner=False)
def samples(url: str, comparison_id: str, outcomes: tuple[str, ...], flipped: bool,
            tag: tuple[str, str] | None, search: str, limit: int, offset: int
            ) -> tuple[list[dict[str, Any]], int]:
    f = dq.SampleFilter(outcomes=outcomes, flipped=flipped, tag=tag, search=search)
    return dq.sample_page(engine(url), comparison_id, f, limit=limit, offset=offset)


@st.cache_data(ttl=TTL, show_spinner=False)
def facets(url: str, comparison_id: str) -> dict[str, int]:
    return dq.sample_facets(engine(url), comparison_id)


@st.cache_data(ttl=TTL, show_spinner=False)
def detail(url: str, comparison_id: str, position: int, sample: int) -> dict[str, Any] | None:
    return dq.sample_detail(engine(url), comparison_id, position, sample)


@st.cache_data(ttl=TTL, show_spinner=False)
def provenance(url: str, comparison_id: str) -> dict[str, Any] | None:
    return dq.provenance(engine(url), comparison_id)


# --------------------------------------------------------------------------- ratings

@st.cache_data(ttl=TTL, show_spinner=False)
def leaderboard(url: str, pool: str, judge: str) -> dict[str, Any]:
    """``evalkit.leaderboard.build_leaderboard``; ``{"error": …}`` when it cannot be built."""
    from evalkit.errors import EvalkitError
    from evalkit.leaderboard import build_leaderboard

    try:
        return build_leaderboard(engine(url), pool, judge, rounds=BT_ROUNDS, seed=BT_SEED)
    except EvalkitError as exc:
        return {"error": str(exc)}


@st.cache_data(ttl=TTL, show_spinner=False)
def tag_leaderboard(url: str, pool: str, judge: str, tag: str, value: str) -> dict[str, Any]:
    """The leaderboard on the prompts whose ``tag`` is ``value``: the same comparisons, their
    outcome counts restricted in SQL, then Bradley–Terry with the same prompt-cluster
    bootstrap (``build_leaderboard(..., tag=(tag, value))``)."""
    from evalkit.errors import EvalkitError
    from evalkit.leaderboard import build_leaderboard

    try:
        board = build_leaderboard(engine(url), pool, judge, rounds=BT_ROUNDS, seed=BT_SEED,
                                  tag=(tag, value))
    except EvalkitError as exc:
        return {"error": str(exc)}
    return {**board, "tag": [tag, value]}


# --------------------------------------------------------------------------- trajectories

def chains(comps: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """For each checkpoint, the longest chain of comparisons ending with it as candidate in
    which each comparison's baseline is the previous one's candidate and comes later in time
    (multi-round RLHF: r1 vs sft, r2 vs r1, …). ``comps`` is in time order; a re-run of a
    step replaces the older one; a chain never revisits a checkpoint."""
    best: dict[str, list[dict[str, Any]]] = {}
    for c in comps:
        if c["baseline"] == c["candidate"]:
            continue
        chain = best.get(c["baseline"], [])
        seen = {x["baseline"] for x in chain} | {x["candidate"] for x in chain}
        chain = [*chain, c] if c["candidate"] not in seen else [c]
        if len(chain) >= len(best.get(c["candidate"], [])):
            best[c["candidate"]] = chain
    return best
