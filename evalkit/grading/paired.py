"""Two checkpoints graded by one grader on one pool: the paired score difference (candidate
minus baseline) overall and per tag value, from their latest stored grade runs.

Prompts are paired by content hash; a prompt counts when both checkpoints have at least one
valid score on it (the per-prompt mean over samples). The interval is the paired percentile
bootstrap over prompts, the test the paired t-test (``stats.grading.score_difference``). Runs
with different grader specs (an edited rubric) are not compared: grade both again.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict
from typing import Any

from sqlalchemy.engine import Engine

from ..errors import ConfigError
from ..stats.grading import score_difference
from ..store import judging_queries, queries


def latest_run(engine: Engine, pool: str, grader: str, checkpoint: str) -> dict[str, Any]:
    runs = [r for r in judging_queries.grade_runs(engine, pool, grader)
            if r["checkpoint"] == checkpoint]
    if not runs:
        raise ConfigError(f"no grade run of '{checkpoint}' by grader '{grader}' on pool "
                          f"'{pool}'; run `evalkit grade {checkpoint} --pool {pool} --grader "
                          f"{grader}`")
    return runs[-1]


def per_prompt(engine: Engine, run_id: str, exclude: frozenset[str] = frozenset()
               ) -> dict[str, float]:
    """Mean valid score per prompt hash of one grade run (``exclude``: item ids left out)."""
    scores: dict[str, list[float]] = defaultdict(list)
    for it in judging_queries.grade_items(engine, run_id):
        if it["status"] == "graded" and it["score"] is not None and it["item_id"] not in exclude:
            scores[it["prompt_hash"]].append(float(it["score"]))
    return {k: sum(v) / len(v) for k, v in scores.items()}


def _block(a: dict[str, float], b: dict[str, float], level: float, n_boot: int,
           seed: int) -> dict[str, Any]:
    d = asdict(score_difference(a, b, level=level, n_boot=n_boot, seed=seed))
    d["ci"] = None if d["n"] == 0 else list(d["ci"])
    for key in ("mean_a", "mean_b", "delta", "se", "p_value"):
        if d[key] != d[key]:  # NaN (no shared prompt) is not JSON
            d[key] = None
    for key in ("a_only", "b_only", "binary"):
        d.pop(key)
    return d


def grade_difference(engine: Engine, pool: str, grader: str, baseline: str, candidate: str,
                     *, level: float = 0.95, n_boot: int = 10_000, seed: int = 0
                     ) -> dict[str, Any]:
    """Candidate minus baseline: overall and per tag value (tags of the candidate's pool
    version)."""
    run_a = latest_run(engine, pool, grader, baseline)
    run_b = latest_run(engine, pool, grader, candidate)
    if run_a["grader_spec"] != run_b["grader_spec"]:
        raise ConfigError(f"the latest grade runs of '{baseline}' and '{candidate}' used "
                          f"different versions of grader '{grader}' (spec {run_a['grader_spec']}"
                          f" vs {run_b['grader_spec']}); grade both again")
    a, b = per_prompt(engine, run_a["id"]), per_prompt(engine, run_b["id"])
    tags: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for p in queries.pool_prompts(engine, run_b["pool_id"]):
        for tag, value in p.tags.items():
            tags[tag][value].add(p.prompt_hash)
    by_tag = {tag: {value: _block({k: v for k, v in a.items() if k in keys},
                                  {k: v for k, v in b.items() if k in keys},
                                  level, n_boot, seed)
                    for value, keys in sorted(values.items())}
              for tag, values in sorted(tags.items())}
    return {"pool": pool, "grader": grader, "grader_spec": run_b["grader_spec"],
            "baseline": baseline, "candidate": candidate,
            "runs": {"baseline": run_a["id"], "candidate": run_b["id"]},
            "overall": _block(a, b, level, n_boot, seed), "by_tag": by_tag}
