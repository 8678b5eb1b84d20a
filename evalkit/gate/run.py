"""``evalkit gate CANDIDATE``: run what is missing (cached), evaluate the policy, report,
store the decision."""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import replace
from typing import Any

from sqlalchemy.engine import Engine

from .. import __version__
from ..compare import CompareOptions, compare_checkpoints, resolve_judge
from ..errors import ConfigError
from ..store import make_engine, queries
from .evaluate import GateResult, evaluate
from .policy import GatePolicy, check_sequential
from .sequential import GateRun, run_sequential_gate


def resolve_baseline(engine: Engine, name: str, pool: str, candidate: str) -> str:
    """'promoted' → the latest promotion for the pool; 'previous' → the last candidate
    compared in the pool; anything else is a checkpoint name."""
    if name == "promoted" or name == "baseline":
        history = queries.promotions(engine, pool)
        if not history:
            raise ConfigError(f"no promoted baseline for pool '{pool}'; run `evalkit baseline "
                              f"promote CHECKPOINT --pool {pool}` or pass --baseline NAME")
        return history[0].checkpoint
    if name == "previous":
        found = queries.last_candidate(engine, pool, exclude=candidate)
        if found is None:
            raise ConfigError(f"no earlier comparison in pool '{pool}' to take the previous "
                              "checkpoint from")
        return found
    return name


def run_gate(config: Any, candidate: str, *, policy: GatePolicy | None = None,
             baseline: str | None = None, pool: str | None = None, judge: str | None = None,
             max_judgments: int | None = None, seed: int = 0, progress: bool = False,
             engine: Engine | None = None, sequential: bool = False,
             exclude_contaminated: str | None = None) -> dict[str, Any]:
    """Run the gate (``sequential``, or ``[gate] sequential``: judge in looks and stop once
    the decision is clear), store the decision and return the report. With
    ``exclude_contaminated`` (a corpus), prompts not clean in its stored scan are left out."""
    policy = policy or config.gate
    if sequential and not policy.sequential:
        policy = replace(policy, sequential=True)
    if policy.sequential:
        check_sequential(policy)
    engine = engine or make_engine(config.store_url)
    pool = pool or policy.pool or config.defaults.pool
    if not pool:
        raise ConfigError("no pool for the gate; set [gate] pool or pass --pool")
    judge = judge or policy.judge
    base = resolve_baseline(engine, baseline or policy.baseline, pool, candidate)
    if base == candidate:
        raise ConfigError(f"the candidate '{candidate}' is its own baseline")
    cap = max_judgments if max_judgments is not None else policy.max_judgments
    drop, why = frozenset(), ""
    if exclude_contaminated:
        from ..contamination.report import pool_exclusion

        drop, why = pool_exclusion(engine, pool, None, exclude_contaminated)
    run = GateRun(config=config, engine=engine, candidate=candidate, baseline=base, pool=pool,
                  judge=judge, policy=policy, cap=cap, seed=seed, progress=progress,
                  exclude_items=drop)
    if policy.sequential:
        result, summary, prompts = run_sequential_gate(run)
    else:
        result, summary, prompts = _run_fixed(run)
    report = {**result.as_dict(), "candidate": candidate, "baseline": base, "pool": pool,
              "pool_version": summary["pool"]["version"], "judge": summary["judge"],
              "comparison_id": summary["comparison_id"], "gate_id": uuid.uuid4().hex[:16],
              "evalkit_version": __version__, "max_judgments": cap,
              **({"excluded": {"items": len(drop), "reason": why}} if drop else {}),
              "failures": summary.get("failures", []),
              "flips": (flips(engine, summary["comparison_id"], prompts)
                        if summary["comparison_id"] else {"against": None, "win_to_loss": []})}
    queries.save_gate_run(engine, {
        "id": report["gate_id"], "candidate": candidate, "baseline": base, "pool": pool,
        "judge": summary["judge"], "comparison_id": summary["comparison_id"] or "",
        "decision": report["decision"], "exit_code": report["exit_code"],
        "report_json": json.dumps(report, default=str)})
    return report


def _run_fixed(run: GateRun) -> tuple[GateResult, dict[str, Any], list[Any]]:
    """Judge the first prompts of the pool (all of them, or as many as the budget allows)."""
    engine, policy = run.engine, run.policy
    limit = None
    if run.cap is not None:
        per_prompt = 2 if resolve_judge(engine, run.config, run.judge).config.both_orders else 1
        limit = max(1, run.cap // per_prompt)
    options = CompareOptions(seed=run.seed, limit=limit, progress=run.progress,
                             ci_level=policy.confidence, exclude_items=run.exclude_items)
    summary = compare_checkpoints(run.config, run.baseline, run.candidate, pool=run.pool,
                                  judge=run.judge, options=options, engine=engine)
    items = queries.comparison_items(engine, summary["comparison_id"])
    pool_row = queries.find_pool(engine, run.pool, summary["pool"]["version"])
    assert pool_row is not None and pool_row.id is not None
    prompts = [p for p in queries.pool_prompts(engine, pool_row.id)
               if p.id not in run.exclude_items][: summary["pool"]["prompts"]]
    by_pos: dict[int, list[float]] = {}
    counts: dict[str, int] = {}
    for it in items:
        counts[it["outcome"]] = counts.get(it["outcome"], 0) + 1
        if it["score"] is not None:
            by_pos.setdefault(it["position"], []).append(it["score"])
    if summary["comparison_id"] is None:  # nothing could be judged, so nothing was stored
        counts = {"failed": summary["overall"]["failed"]}
    scores = [sum(by_pos[i]) / len(by_pos[i]) if i in by_pos else None
              for i in range(len(prompts))]
    bench: list[Any] = []
    if policy.bench:  # [gate.bench.SUITE]: stored benchmark runs, in the same correction
        from .bench_rules import collect

        bench = collect(engine, run.config, policy, run.candidate, run.baseline)
    if policy.grade:  # [gate.grade.GRADER]: paired score differences, in the same correction
        from .grade_rules import collect as collect_grades

        bench += collect_grades(engine, run.config, policy, run.candidate, run.baseline,
                                run.pool, exclude=run.exclude_items, seed=run.seed)
    result = evaluate(policy, scores, [p.tags for p in prompts], counts, seed=run.seed,
                      bench=bench)
    return result, summary, prompts


def flips(engine: Engine, comparison_id: str, prompts: list[Any]) -> dict[str, Any]:
    """Prompts that were wins in the previous comparison against the same baseline and are
    losses now."""
    prev = queries.previous_comparison(engine, comparison_id)
    if prev is None:
        return {"against": None, "win_to_loss": []}
    now = {it["item_id"]: it for it in queries.comparison_items(engine, comparison_id)}
    before = {it["item_id"]: it for it in queries.comparison_items(engine, prev["id"])}
    tags = {p.id: p.tags for p in prompts}
    changed = [{"item_id": k, "tags": tags.get(k, {})} for k in sorted(now)
               if k in before and before[k]["outcome"] == "win" and now[k]["outcome"] == "loss"]
    return {"against": prev["id"], "against_candidate": prev["candidate"],
            "win_to_loss": changed}


def write_reports(report: dict[str, Any], *, markdown_path: str | None = None,
                  junit_path: str | None = None) -> list[str]:
    """Write the Markdown and JUnit reports; the Markdown also goes to $GITHUB_STEP_SUMMARY."""
    from .reports import junit, markdown

    written = []
    md = markdown(report)
    targets = [markdown_path] if markdown_path else []
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        targets.append(os.environ["GITHUB_STEP_SUMMARY"])
    for path in targets:
        mode = "a" if path == os.environ.get("GITHUB_STEP_SUMMARY") else "w"
        with open(path, mode, encoding="utf-8") as fh:
            fh.write(md)
        written.append(path)
    if junit_path:
        with open(junit_path, "w", encoding="utf-8") as fh:
            fh.write(junit(report))
        written.append(junit_path)
    return written
