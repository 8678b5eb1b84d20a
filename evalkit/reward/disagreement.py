"""``evalkit rm-vs-judge A B --rm NAME --judge J``: where a reward model and an LLM judge part
ways on the same A-vs-B comparison — where reward hacking hides.

Both verdicts come from stored comparisons of B (candidate) against A (baseline) on the same
pool version: the newest one judged by J (it must exist: the LLM judge is the expensive
part), and the newest one judged by ``rm:NAME`` with the reward model's current spec (run
now when missing; it reuses J's comparison's responses, so it only scores). Per prompt and
sample, each gives an outcome for the candidate — win, tie or loss — and the report has
(definitions in docs/reward-models.md):

* ``agreement``: the share of items with the same outcome (over items both judged), with its
  exact binomial CI, and Cohen's kappa with its large-sample CI (three classes);
* ``decisive_agreement``: the same over items neither called a tie;
* ``confusion``: RM outcome (rows) × judge outcome (columns);
* ``disagreements``: items the two decide in opposite directions — the reward model prefers
  one answer, the judge the other — sorted by how strongly the reward model prefers its side
  (``|Δ|``, the reward difference, also shown in reward-sd units), with the judge's strength
  as tie-break; each with the prompt and both answers.

The report is stored (``rmjudgereport``) for the dashboard.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy.engine import Engine

from ..errors import ConfigError
from ..stats.rewards import agreement_rate
from ..store import queries, reward_queries

FLIP = {"win": "loss", "loss": "win", "tie": "tie"}


@dataclass(frozen=True)
class ItemPair:
    """One prompt × sample as both judges saw it (candidate's view)."""

    position: int
    sample: int
    item_id: str
    rm_outcome: str
    judge_outcome: str
    delta: float | None  # r(candidate) − r(baseline)
    judge_strength: float  # 1 or 2 for hard verdicts; 2|score − 0.5| for soft ones
    gen_baseline: str | None
    gen_candidate: str | None


def find_comparison(engine: Engine, pool: str, pool_version: str | None, baseline: str,
                    candidate: str, judge: str, judge_spec: str | None = None
                    ) -> tuple[dict[str, Any], bool] | None:
    """The newest stored comparison of the two checkpoints by ``judge`` (either orientation;
    True when it is reversed), on ``pool_version`` when given."""
    for row in reversed(queries.list_comparisons(engine, pool)):
        if row["judge"] != judge or (judge_spec and row["judge_spec"] != judge_spec):
            continue
        if pool_version and not row["pool_version"].startswith(pool_version):
            continue
        if (row["baseline"], row["candidate"]) == (baseline, candidate):
            return row, False
        if (row["baseline"], row["candidate"]) == (candidate, baseline):
            return row, True
    return None


def _items(engine: Engine, comparison_id: str, reversed_: bool) -> dict[tuple[str, int], Any]:
    out = {}
    for it in queries.comparison_items(engine, comparison_id):
        outcome = FLIP.get(it["outcome"], it["outcome"]) if reversed_ else it["outcome"]
        score = it["score"]
        if reversed_ and score is not None:
            score = 1.0 - score
        out[(it["item_id"], it["sample"])] = {**it, "outcome": outcome, "score": score}
    return out


def pair_items(engine: Engine, judge_comp: tuple[dict[str, Any], bool],
               rm_comp: tuple[dict[str, Any], bool]) -> list[ItemPair]:
    """Match the two comparisons' items by (item id, sample)."""
    from ..judging.reward import rewards_of

    judged = _items(engine, judge_comp[0]["id"], judge_comp[1])
    scored = _items(engine, rm_comp[0]["id"], rm_comp[1])
    keys = [k for it in scored.values()
            for k in (it["judgment_cand_first"], it["judgment_base_first"]) if k]
    verdicts = queries.judgments_by_key(engine, keys)
    out = []
    for (item_id, sample), r in sorted(scored.items(), key=lambda kv: (kv[1]["position"],
                                                                        kv[0][1])):
        j = judged.get((item_id, sample))
        if j is None:
            continue
        delta = None
        cand_first = r["judgment_cand_first"] is not None
        row = verdicts.get(r["judgment_cand_first"] or r["judgment_base_first"] or "")
        rewards = rewards_of(row.get("raw_output") if row else None)
        if rewards is not None:
            first, second = rewards
            delta = (first - second) if cand_first else (second - first)
            if rm_comp[1]:
                delta = -delta
        score = j["score"]
        strength = (float(j["strength"] or 0) if j["strength"] else
                    (abs(score - 0.5) * 2 if score is not None else 0.0))
        out.append(ItemPair(r["position"], sample, item_id, r["outcome"], j["outcome"],
                            delta, strength, r["gen_baseline"], r["gen_candidate"]))
    return out


def report(items: list[ItemPair], *, level: float = 0.95, top: int = 20) -> dict[str, Any]:
    """Agreement figures and the strongest disagreements (pure: no store)."""
    valid = [it for it in items if it.rm_outcome in FLIP and it.judge_outcome in FLIP]
    overall = agreement_rate([it.rm_outcome for it in valid],
                             [it.judge_outcome for it in valid], level=level)
    decisive = [it for it in valid if "tie" not in (it.rm_outcome, it.judge_outcome)]
    dec = agreement_rate([it.rm_outcome for it in decisive],
                         [it.judge_outcome for it in decisive], level=level)
    deltas = np.array([it.delta for it in valid if it.delta is not None], dtype=float)
    sd = float(np.std(deltas, ddof=1)) if deltas.size > 1 else 0.0
    opposite = [it for it in valid if {it.rm_outcome, it.judge_outcome} == {"win", "loss"}]
    opposite.sort(key=lambda it: (-(abs(it.delta) if it.delta is not None else 0.0),
                                  -it.judge_strength, it.position, it.sample))
    labels = ("win", "tie", "loss")
    confusion = {r: {j: sum(1 for it in valid if it.rm_outcome == r and it.judge_outcome == j)
                     for j in labels} for r in labels}
    return {
        "n": len(valid), "excluded": len(items) - len(valid),
        "agreement": {k: overall[k] for k in ("n", "k", "rate", "ci", "ci_level",
                                               "ci_method")},
        "kappa": overall["kappa"], "kappa_ci": overall["kappa_ci"],
        "decisive_agreement": {k: dec[k] for k in ("n", "k", "rate", "ci")},
        "confusion": confusion, "delta_sd": sd, "opposite": len(opposite),
        "disagreements": [{"position": it.position, "sample": it.sample,
                           "item_id": it.item_id, "rm_outcome": it.rm_outcome,
                           "judge_outcome": it.judge_outcome, "delta": it.delta,
                           "delta_sd_units": (it.delta / sd if sd and it.delta is not None
                                              else None),
                           "judge_strength": it.judge_strength,
                           "gen_baseline": it.gen_baseline, "gen_candidate": it.gen_candidate}
                          for it in opposite[:top]],
    }


def rm_vs_judge(config: Any, engine: Engine, baseline: str, candidate: str, *, pool: str,
                reward_model: str, judge: str, pool_version: str | None = None,
                top: int = 20, level: float = 0.95, progress: bool = False) -> dict[str, Any]:
    from ..compare import CompareOptions, compare_checkpoints
    from ..judging.reward import PREFIX, judge_spec_hash

    rm = config.reward_model(reward_model)
    found = find_comparison(engine, pool, pool_version, baseline, candidate, judge)
    if found is None:
        raise ConfigError(f"no stored comparison of {candidate} vs {baseline} on pool '{pool}' "
                          f"judged by '{judge}'; run `evalkit compare {baseline} {candidate} "
                          f"--pool {pool} --judge {judge}` first")
    comp, _ = found
    version = comp["pool_version"]
    summary = json.loads(comp["summary_json"])
    rm_found = find_comparison(engine, pool, version, baseline, candidate, PREFIX + rm.name,
                               judge_spec_hash(rm))
    ran = False
    if rm_found is None:
        options = CompareOptions(samples=int(summary.get("samples") or 1), seed=comp["seed"],
                                 progress=progress, limit=summary["pool"]["prompts"])
        done = compare_checkpoints(config, baseline, candidate, pool=pool,
                                   judge=PREFIX + rm.name, pool_version=version,
                                   options=options, engine=engine)
        if done["comparison_id"] is None:
            lines = "; ".join(f["message"] for f in done.get("failures", []))
            raise ConfigError(f"the reward model could not score the comparison: {lines}")
        rm_found = (queries.get_comparison(engine, done["comparison_id"]) or {}, False)
        ran = True
    out = report(pair_items(engine, found, rm_found), level=level, top=top)
    _attach_texts(engine, out, comp)
    out.update(baseline=baseline, candidate=candidate, reward_model=rm.name,
               rm_spec=rm.spec_hash, judge=judge, pool={"name": pool, "version": version},
               judge_comparison_id=comp["id"], rm_comparison_id=rm_found[0]["id"],
               rm_comparison_ran=ran, tie_margin=rm.tie_margin, temperature=rm.temperature)
    out["report_id"] = uuid.uuid4().hex[:16]
    reward_queries.save_rm_judge_report(engine, {
        "id": out["report_id"], "pool_id": comp["pool_id"], "baseline": baseline,
        "candidate": candidate, "reward_model": rm.name, "rm_spec": rm.spec_hash,
        "judge": judge, "judge_comparison_id": comp["id"],
        "rm_comparison_id": rm_found[0]["id"], "summary_json": json.dumps(out)})
    return out


def _attach_texts(engine: Engine, out: dict[str, Any], comp: dict[str, Any]) -> None:
    """The prompt and both answers of each listed disagreement (kept in the report)."""
    rows = out["disagreements"]
    gens = queries.load_generations(engine, [k for d in rows for k in (
        d["gen_baseline"], d["gen_candidate"]) if k])
    prompts = queries.pool_prompts(engine, comp["pool_id"])
    for d in rows:
        p = prompts[d["position"]] if d["position"] < len(prompts) else None
        d["prompt"] = [dict(m) for m in p.messages] if p else []
        d["tags"] = dict(p.tags) if p else {}
        d["baseline_response"] = (gens.get(d["gen_baseline"] or "") or {}).get("response")
        d["candidate_response"] = (gens.get(d["gen_candidate"] or "") or {}).get("response")
