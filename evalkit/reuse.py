"""A rerun that changes nothing stores nothing: it returns the comparison it would duplicate.

A comparison's summary is a function of what went into it: evalkit's version, the pool
version and the prompts taken, both checkpoint specs, the judge's spec, template and orders,
the options (samples, seed, resamples, CI level, limit, positions, exclusions, turns), every
prompt item (its stored generation and judgment keys, outcome, strength and score — the
judgment keys hash both responses, which the length-controlled statistic reads) and the
failures behind them. ``fingerprint`` hashes all of that; when the latest comparison stored in
the pool carries the same one, its summary is what this run would compute, so the run reuses
it ("reused": true) instead of storing a duplicate. Only the latest in the pool is reused, so
``comparisons``, the leaderboard, ``--against previous`` and the gate's flips read the store
exactly as if the duplicate had been written. A panel judge's summary also depends on its
members' stored verdicts, which the items do not carry: its comparisons are never reused.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from . import __version__
from .hashing import canonical_json

ITEM_FIELDS = ("position", "sample", "item_id", "prompt_hash", "gen_baseline", "gen_candidate",
               "judgment_cand_first", "judgment_base_first", "outcome", "strength", "score")


def fingerprint(comparer: Any, items: list[dict[str, Any]],
                failures: list[dict[str, Any]]) -> str:
    """The hash of everything the summary of a ``Comparer``'s run depends on (not for a panel
    judge: see the module docstring)."""
    o, judge = comparer.options, comparer.judge
    head = {"evalkit": __version__,
            "pool": [comparer.pool.id, comparer.pool.name, comparer.pool.version,
                     len(comparer.prompts)],
            "baseline": [comparer.baseline.config.name, comparer.baseline.config.spec_hash],
            "candidate": [comparer.candidate.config.name, comparer.candidate.config.spec_hash],
            "judge": [judge.config.name, judge.spec_hash, judge.template.name,
                      judge.config.both_orders],
            "options": [o.samples, o.seed, o.n_boot, o.ci_level, o.limit,
                        list(o.positions) if o.positions is not None else None,
                        sorted(o.exclude_items), o.exclude_reason, o.turns],
            "turns": comparer.turns, "failures": failures}
    digest = hashlib.sha256(canonical_json(head).encode())
    rows = [[it[f] for f in ITEM_FIELDS] for it in items]
    digest.update(json.dumps(rows, separators=(",", ":")).encode())
    return digest.hexdigest()[:32]


def reusable(latest: dict[str, Any] | None, fp: str) -> dict[str, Any] | None:
    """The stored summary of ``latest`` (the pool's latest comparison row, or None) when it
    has fingerprint ``fp``; else None."""
    if latest is None:
        return None
    summary: dict[str, Any] = json.loads(latest["summary_json"])
    return summary if summary.get("fingerprint") == fp else None
