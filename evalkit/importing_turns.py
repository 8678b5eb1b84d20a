"""Store MT-Bench's multi-turn conversations (``importers/mt_bench_turns``) so they analyse like
evalkit's own turn-by-turn comparisons (``compare --turns self``).

* The pool (``mt_bench_turns`` by default) holds each question with all its user turns.
* Each imported model's answer to turn k is a generation keyed exactly as evalkit keys turn k
  (the conversation so far, with the model's own earlier answers; evalkit/turns.py), so
  ``compare`` in turn-by-turn mode finds every turn in the store and asks nothing; turn 1 is
  the same generation the turn-1 import stored.
* Each multi-turn judgment (FastChat's ``"turn": 2`` records, both games) is a judgment of the
  imported judge keyed by both whole conversations, as a turn-by-turn compare keys it.
* Every judged pair gets a comparison on that pool, as the turn-1 import does.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.engine import Engine

from .backends.stored import (
    StoredCheckpoint,
    StoredJudge,
    imported_checkpoint_config,
    judgment_key,
    text_generation_key,
)
from .importers.mt_bench_turns import TurnsBundle
from .importing import _verdict
from .pools import pool_version
from .store import queries
from .store.models import Generation, Judgment
from .turns import encode, turn_prompt


def store_turns(engine: Engine, tb: TurnsBundle, *, compare: bool = True) -> dict[str, Any]:
    pool, _ = queries.save_pool(engine, tb.pool_name, pool_version(tb.prompts), tb.prompts,
                                source="import:mt_bench (all turns)")
    by_id = {p.id: p for p in tb.prompts}
    final: dict[tuple[str, str], str] = {}
    rows = []
    for model, convs in tb.answers.items():
        cfg = imported_checkpoint_config(model)
        queries.save_checkpoint_spec(engine, model, cfg.spec_hash, cfg.identity())
        for pid, answers in convs.items():
            prompt = by_id[pid]
            for k, text in enumerate(answers):
                asked = turn_prompt(prompt, answers[:k])
                key = text_generation_key(cfg.spec_hash, asked.prompt_hash, 0, text)
                rows.append({"key": key, "checkpoint_spec": cfg.spec_hash,
                             "prompt_hash": asked.prompt_hash, "sample": 0, "response": text,
                             "finish_reason": "imported", "attempts": 0})
            final[(model, pid)] = key
    queries.upsert(engine, Generation, rows)
    judges = {j.judge: StoredJudge(j.judge) for j in tb.judgments}
    for name, judge in judges.items():
        queries.save_judge_spec(engine, name, judge.spec_hash,
                                {**judge.identity, "source": "mt_bench"}, "")
    judged = []
    for j in tb.judgments:
        prompt = by_id[j.prompt_id]
        first = encode(tb.answers[j.model_first][j.prompt_id])
        second = encode(tb.answers[j.model_second][j.prompt_id])
        label, strength = _verdict(j)
        judged.append({
            "key": judgment_key(judges[j.judge].spec_hash, prompt, first, second),
            "judge_spec": judges[j.judge].spec_hash, "prompt_hash": prompt.prompt_hash,
            "gen_first": final[(j.model_first, j.prompt_id)],
            "gen_second": final[(j.model_second, j.prompt_id)], "verdict": label,
            "strength": strength, "raw_output": j.raw,
            "meta_json": json.dumps({"label": j.label, "strength": j.strength,
                                     "extra": j.extra})})
    queries.upsert(engine, Judgment, judged)
    summary = {"pool": pool.name, "pool_version": pool.version, "prompts": len(tb.prompts),
               "models": sorted(tb.answers), "judges": sorted(judges),
               "judgments": len(tb.judgments), "skipped": dict(tb.skipped), "comparisons": []}
    if compare:
        summary["comparisons"] = _compare(engine, pool, tb)
    return summary


def _compare(engine: Engine, pool: Any, tb: TurnsBundle) -> list[dict[str, Any]]:
    """One turn-by-turn comparison per (judge, pair of models); the baseline is the model
    shown first in the pair's first game (FastChat's model_1)."""
    from .compare import CompareOptions, Comparer, run_until_interrupted

    opener: dict[tuple[str, frozenset[str]], str] = {}
    for j in tb.judgments:
        pair = frozenset((j.model_first, j.model_second))
        if len(pair) == 2:
            opener.setdefault((j.judge, pair), j.model_first)
    prompts = queries.pool_prompts(engine, pool.id)
    hashes = [p.prompt_hash for p in prompts]
    out = []
    for (judge, pair), first in sorted(opener.items(), key=lambda kv: (kv[0][0],
                                                                      sorted(kv[0][1]))):
        candidate = next(m for m in sorted(pair) if m != first)
        comparer = Comparer(engine, pool, prompts, StoredCheckpoint.load(engine, first, hashes),
                            StoredCheckpoint.load(engine, candidate, hashes),
                            StoredJudge(judge),  # type: ignore[arg-type]
                            CompareOptions(turns="self"))
        summary = run_until_interrupted(comparer.run())
        out.append({"comparison_id": summary["comparison_id"], "judge": judge,
                    "baseline": first, "candidate": candidate,
                    "win_rate": summary["overall"]["win_rate"], "n": summary["overall"]["n"]})
    return out
