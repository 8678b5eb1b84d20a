"""Store an ``ImportBundle`` (AlpacaEval, Arena-Hard, MT-Bench results) and read it back.

Imported models become checkpoints with backend ``imported`` (their answers are stored
generations), imported annotators become judges with backend ``imported`` (their verdicts are
stored judgments, soft preferences unrounded), so `evalkit compare`, the leaderboard and the
dashboard treat them like evalkit's own results. Every judged pair gets a comparison record
at import time; no request is ever made for imported data.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from sqlalchemy.engine import Engine

from .backends.stored import (
    StoredCheckpoint,
    StoredJudge,
    imported_checkpoint_config,
    judgment_key,
    text_generation_key,
)
from .errors import InputError
from .importers.bundle import ImportBundle, ImportedJudgment
from .pools import PoolPrompt, pool_version
from .store import queries
from .store.models import Generation, ImportRecord, Judgment


def store_bundle(engine: Engine, bundle: ImportBundle, *, compare: bool = True
                 ) -> dict[str, Any]:
    """Store prompts, answers and verdicts; then record one comparison per judged pair."""
    if not bundle.prompts:
        raise InputError(f"nothing to import from {bundle.source}: no prompts")
    pool, _ = queries.save_pool(engine, bundle.pool_name, pool_version(bundle.prompts),
                                bundle.prompts, source=f"import:{bundle.source}")
    by_id = {p.id: p for p in bundle.prompts}
    gen_keys: dict[tuple[str, str], str] = {}
    rows = []
    for model, answers in bundle.outputs.items():
        cfg = imported_checkpoint_config(model)
        queries.save_checkpoint_spec(engine, model, cfg.spec_hash, cfg.identity())
        for pid, text in answers.items():
            prompt = _prompt(by_id, pid, f"outputs of {model}")
            key = text_generation_key(cfg.spec_hash, prompt.prompt_hash, 0, text)
            gen_keys[(model, pid)] = key
            rows.append({"key": key, "checkpoint_spec": cfg.spec_hash,
                         "prompt_hash": prompt.prompt_hash, "sample": 0, "response": text,
                         "finish_reason": "imported", "attempts": 0})
    queries.upsert(engine, Generation, rows)

    judges = {j.judge: StoredJudge(j.judge) for j in bundle.judgments}
    for name, judge in judges.items():
        queries.save_judge_spec(engine, name, judge.spec_hash,
                                {**judge.identity, "source": bundle.source}, "")
    order: list[str] = []
    judgment_rows = []
    for j in bundle.judgments:
        prompt = _prompt(by_id, j.prompt_id, f"judgment by {j.judge}")
        first = bundle.answer(j.model_first, j.prompt_id)
        second = bundle.answer(j.model_second, j.prompt_id)
        key = judgment_key(judges[j.judge].spec_hash, prompt, first, second)
        order.append(key)
        label, strength = _verdict(j)
        judgment_rows.append({
            "key": key, "judge_spec": judges[j.judge].spec_hash,
            "prompt_hash": prompt.prompt_hash, "gen_first": gen_keys[(j.model_first, j.prompt_id)],
            "gen_second": gen_keys[(j.model_second, j.prompt_id)], "verdict": label,
            "strength": strength, "preference": j.preference, "raw_output": j.raw,
            "meta_json": json.dumps({"label": j.label, "strength": j.strength,
                                     "extra": j.extra})})
    queries.upsert(engine, Judgment, judgment_rows)
    record = queries.add_import_record(engine, ImportRecord(
        source=bundle.source, pool_id=pool.id, models_json=json.dumps(sorted(bundle.outputs)),
        judges_json=json.dumps(sorted(judges)),
        extra_json=json.dumps({"bundle": bundle.extra, "judgments": order})))
    summary = {"import_id": record, "source": bundle.source, "pool": pool.name,
               "pool_version": pool.version, "prompts": len(bundle.prompts),
               "models": sorted(bundle.outputs), "judges": sorted(judges),
               "judgments": len(bundle.judgments), "comparisons": []}
    if compare:
        summary["comparisons"] = _compare_judged_pairs(engine, pool, bundle)
    return summary


def load_bundle(engine: Engine, import_id: int) -> ImportBundle:
    """Read an import back out of the store, as it went in."""
    rec = queries.get_import_record(engine, import_id)
    if rec is None:
        raise InputError(f"no import with id {import_id}")
    prompts = queries.pool_prompts(engine, rec.pool_id)
    by_hash = {p.prompt_hash: p for p in prompts}
    outputs: dict[str, dict[str, str]] = {}
    names: dict[str, tuple[str, str]] = {}
    hashes = list(by_hash)
    for model in json.loads(rec.models_json):
        stored = StoredCheckpoint.load(engine, model, hashes)
        answers = outputs.setdefault(model, {})
        for (phash, _), row in sorted(stored.by_prompt.items(),
                                      key=lambda kv: prompts.index(by_hash[kv[0][0]])):
            answers[by_hash[phash].id] = row["response"]
            names[row["key"]] = (model, by_hash[phash].id)
    extra = json.loads(rec.extra_json)
    rows = queries.judgments_by_key(engine, extra["judgments"])
    judge_names = {StoredJudge(n).spec_hash: n for n in json.loads(rec.judges_json)}
    judgments = []
    for key in extra["judgments"]:
        row = rows[key]
        meta = json.loads(row["meta_json"] or "{}")
        model_first, pid = names[row["gen_first"]]
        model_second, _ = names[row["gen_second"]]
        judgments.append(ImportedJudgment(
            judge=judge_names[row["judge_spec"]], prompt_id=pid, model_first=model_first,
            model_second=model_second, label=meta.get("label"),
            strength=meta.get("strength", 0), preference=row["preference"],
            raw=row["raw_output"], extra=meta.get("extra", {})))
    pool = queries.get_pool(engine, rec.pool_id)
    return ImportBundle(source=rec.source, pool_name=pool.name, prompts=prompts,
                        outputs=outputs, judgments=judgments, extra=extra["bundle"])


def _prompt(by_id: dict[str, PoolPrompt], pid: str, what: str) -> PoolPrompt:
    if pid not in by_id:
        raise InputError(f"{what}: prompt id '{pid}' is not among the imported prompts")
    return by_id[pid]



def _verdict(j: ImportedJudgment) -> tuple[str, int]:
    """A positional label for the store: the given one, or read off a soft preference."""
    label = j.label
    if label is None:
        pref = 0.5 if j.preference is None else j.preference
        label = "B" if pref > 0.5 else "A" if pref < 0.5 else "tie"
    if label in ("A", "B"):
        return label, j.strength if j.strength in (1, 2) else 1
    return (label if label in ("tie", "invalid") else "invalid"), 0


def _compare_judged_pairs(engine: Engine, pool: Any, bundle: ImportBundle) -> list[dict]:
    """One comparison per (judge, pair of models); the baseline is AlpacaEval's reference or
    Arena-Hard's baseline (see below)."""
    from .compare import CompareOptions, Comparer, run_until_interrupted

    firsts: dict[tuple[str, frozenset[str]], Counter[str]] = {}
    opener: dict[tuple[str, frozenset[str]], str] = {}
    for j in bundle.judgments:
        pair = frozenset((j.model_first, j.model_second))
        if len(pair) == 2:
            firsts.setdefault((j.judge, pair), Counter())[j.model_first] += 1
            opener.setdefault((j.judge, pair), j.model_first)
    prompts = queries.pool_prompts(engine, pool.id)
    hashes = [p.prompt_hash for p in prompts]
    out = []
    for (judge, pair), counts in sorted(firsts.items(), key=lambda kv: (kv[0][0],
                                                                       sorted(kv[0][1]))):
        # shown first more often; on a tie (both orders judged, as in Arena-Hard's two games)
        # the model shown first in the pair's first judgment (the baseline in game 1)
        baseline = max(sorted(pair), key=lambda m: (counts[m], m == opener[(judge, pair)]))
        candidate = next(m for m in sorted(pair) if m != baseline)
        comparer = Comparer(engine, pool, prompts, StoredCheckpoint.load(engine, baseline, hashes),
                            StoredCheckpoint.load(engine, candidate, hashes), StoredJudge(judge),
                            CompareOptions())
        summary = run_until_interrupted(comparer.run())
        out.append({"comparison_id": summary["comparison_id"], "judge": judge,
                    "baseline": baseline, "candidate": candidate,
                    "win_rate": summary["overall"]["win_rate"], "n": summary["overall"]["n"]})
    return out
