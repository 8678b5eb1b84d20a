"""``evalkit rm-eval NAME --pairs FILE``: can this reward model be trusted? Its accuracy on
human-labelled preference pairs — RewardBench's check: a pair is right when the chosen answer
gets the strictly higher reward (a tie counts as wrong and is reported) — overall and per
subset, each with an exact binomial (Clopper–Pearson) interval.

Every side is scored through the cached scorer (one ``score`` row per reward model, prompt and
answer), so a rerun asks nothing, and a side whose request failed leaves its pair out of the
accuracy (counted as ``failed``, grouped by cause, asked again next time). The result is
stored (``rmeval``) for the dashboard.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from .. import __version__
from ..failures import failure_groups
from ..pools import PoolPrompt
from ..stats.rewards import proportion
from ..store import reward_queries
from .pairs import PreferencePair, Side, pairs_hash, read_pairs
from .scorer import ScoredText, Scorer

WORST = 10  # pairs listed per report where the reward model is most confidently wrong


def _prompt(side: Side) -> PoolPrompt:
    return PoolPrompt(id="pair", messages=side.messages)


async def _score_all(scorer: Scorer, pairs: list[PreferencePair], progress: bool
                     ) -> list[tuple[ScoredText, ScoredText]]:
    from tqdm import tqdm

    sides = [(p.chosen, p.rejected) for p in pairs]
    await scorer.preload([scorer.key(_prompt(s), s.response) for pair in sides for s in pair])
    out: list[tuple[ScoredText, ScoredText] | None] = [None] * len(pairs)
    queue = iter(enumerate(sides))
    bar = tqdm(total=len(pairs), disable=not progress, unit="pair", desc="rm-eval",
               mininterval=0.5, leave=False)

    async def worker() -> None:
        for i, (c, r) in queue:
            got = await asyncio.gather(scorer.score(_prompt(c), c.response),
                                       scorer.score(_prompt(r), r.response))
            out[i] = (got[0], got[1])
            bar.update(1)

    try:
        await asyncio.gather(*(worker() for _ in range(min(len(pairs),
                                                           scorer.batch_size * 16 + 32))))
    finally:
        bar.close()
        await scorer.aclose()
    return [o for o in out if o is not None]


def evaluate(pairs: list[PreferencePair], scores: list[tuple[ScoredText, ScoredText]],
             level: float = 0.95) -> dict[str, Any]:
    """Accuracy overall and per subset from the scored pairs (pure)."""
    subsets: dict[str, list[tuple[PreferencePair, float]]] = defaultdict(list)
    failed: dict[str, int] = defaultdict(int)
    for pair, (c, r) in zip(pairs, scores, strict=True):
        if c.score is None or r.score is None:
            failed[pair.subset] += 1
            continue
        subsets[pair.subset].append((pair, c.score - r.score))

    def block(rows: list[tuple[PreferencePair, float]], n_failed: int) -> dict[str, Any]:
        right = sum(d > 0 for _, d in rows)
        p = proportion(right, len(rows), level)
        return {"n": len(rows), "correct": right, "ties": sum(d == 0 for _, d in rows),
                "failed": n_failed, "accuracy": p["rate"], "ci": p["ci"],
                "mean_margin": (sum(d for _, d in rows) / len(rows)) if rows else None}

    names = sorted(set(subsets) | set(failed))
    all_rows = [row for name in names for row in subsets[name]]
    worst = sorted((row for row in all_rows if row[1] < 0), key=lambda row: row[1])[:WORST]
    return {"overall": block(all_rows, sum(failed.values())),
            "subsets": {name: block(subsets[name], failed[name]) for name in names},
            "ci_level": level, "ci_method": "exact binomial (Clopper-Pearson)",
            "rule": "correct when r(chosen) > r(rejected); a tie counts as wrong",
            "most_wrong": [{"subset": p.subset, "item_id": p.item_id, "margin": d,
                            "prompt": p.chosen.messages[-1]["content"][:500],
                            "chosen": p.chosen.response[:1000],
                            "rejected": p.rejected.response[:1000]} for p, d in worst]}


def run_rm_eval(engine: Engine, config: Any, name: str, files: list[str], *,
                limit: int | None = None, level: float = 0.95, progress: bool = False
                ) -> dict[str, Any]:
    from ..backends.reward_base import make_reward_backend
    from ..compare import run_until_interrupted

    rm = config.reward_model(name)
    pairs = read_pairs(list(files), limit)
    scorer = Scorer(engine, make_reward_backend(rm))
    started = time.perf_counter()
    scores = run_until_interrupted(_score_all(scorer, pairs, progress))
    result = evaluate(pairs, scores, level)
    failed = {k: e for k, e in scorer.failed.items()}
    groups = sorted(failure_groups("reward_model", scorer, failed),
                    key=lambda g: (-g.count, g.reason))
    result.update(reward_model=rm.name, rm_spec=rm.spec_hash, rm_backend=rm.backend,
                  pairs=[str(Path(f)) for f in files], n_pairs=len(pairs), limit=limit,
                  pairs_hash=pairs_hash(pairs), requests=scorer.summary(),
                  failures=[g.as_dict() for g in groups],
                  duration_s=round(time.perf_counter() - started, 3),
                  evalkit_version=__version__)
    result["rm_eval_id"] = None
    if result["overall"]["n"]:
        result["rm_eval_id"] = uuid.uuid4().hex[:16]
        reward_queries.save_rm_eval(engine, {
            "id": result["rm_eval_id"], "reward_model": rm.name, "rm_spec": rm.spec_hash,
            "pairs": ", ".join(result["pairs"]), "pairs_hash": result["pairs_hash"],
            "n": result["overall"]["n"], "accuracy": result["overall"]["accuracy"],
            "summary_json": json.dumps(result)})
    return result
