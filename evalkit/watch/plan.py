"""The evaluation of one new checkpoint, as steps made of evalkit's own library functions.

In order: the contamination-excluded comparisons (``[watch.plan] exclude_contaminated``), the
comparisons against the previous checkpoint and the promoted baseline on every pool with every
judge, the benchmark suites, then the gate. The full comparisons come after the clean-only
variants so the latest comparison of each pair — what the leaderboard and trajectory read — is
the full one; the comparison the gate makes itself (same pool, judge and baseline, no cap) is
not run twice.

A step ends ``done``, ``skipped`` (nothing to do, with the reason), ``failed`` (worth another
try later: an endpoint down, nothing judged) or ``error`` (bad configuration: retrying will
not help). Steps done are never run again, so a checkpoint is finished, not restarted.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from ..errors import ConfigError, EvalkitError, InputError
from .config import WatchConfig
from .state import Planned

DONE, SKIPPED, FAILED, ERROR = "done", "skipped", "failed", "error"


@dataclass(frozen=True)
class Step:
    id: str
    kind: str  # compare | bench | gate
    pool: str | None = None
    judge: str | None = None
    against: str | None = None  # previous | promoted
    baseline: str | None = None
    corpus: str | None = None  # a clean-only comparison: prompts not clean in this corpus out
    suite: str | None = None
    skip: str | None = None  # why the step has nothing to do


@dataclass(frozen=True)
class StepResult:
    status: str
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def record(self) -> dict[str, Any]:
        return {"status": self.status, "result": self.result, "error": self.error}


@dataclass(frozen=True)
class Context:
    """What every step of one checkpoint's plan needs."""

    config: Any  # evalkit.config.Config, with the watched checkpoints added
    watch: WatchConfig
    engine: Engine
    candidate: str
    planned: Planned


def pools(config: Any) -> tuple[str, ...]:
    watch: WatchConfig = config.watch
    found = watch.plan.pools or tuple(p for p in (config.gate.pool, config.defaults.pool) if p)
    if not found:
        raise ConfigError(f"{config.where}: watch.plan.pools: no pool to evaluate on; set "
                          "[watch.plan] pools, [gate] pool or [defaults] pool")
    return found[:1] if not watch.plan.pools else found


def gate_pool(config: Any) -> str:
    return config.gate.pool or config.defaults.pool or pools(config)[0]


def judge_name(config: Any, judge: str | None) -> str | None:
    try:
        return str(config.judge(judge).name)
    except ConfigError:
        return judge


def gate_baseline(ctx: Context) -> str | None:
    wanted = ctx.config.gate.baseline
    if wanted in ("promoted", "baseline"):
        return ctx.planned.promoted.get(gate_pool(ctx.config))
    if wanted == "previous":
        return ctx.planned.previous
    return str(wanted)


def build(ctx: Context) -> list[Step]:
    cfg, plan, cand = ctx.config, ctx.watch.plan, ctx.candidate
    steps: list[Step] = []
    covered = None  # (pool, judge, baseline) of the comparison the gate makes itself
    base = gate_baseline(ctx) if plan.gate else None
    policy = cfg.gate
    if (base is not None and base != cand and not policy.sequential
            and policy.max_judgments is None and not plan.gate_exclude_contaminated):
        covered = (gate_pool(cfg), judge_name(cfg, policy.judge), base)
    for corpus in (*plan.exclude_contaminated, None):
        for pool in pools(cfg):
            for judge in plan.judges:
                for against in plan.against:
                    steps.append(_compare(ctx, pool, judge, against, corpus, covered))
    steps += [Step(f"bench/{s}", "bench", suite=s) for s in plan.bench]
    if plan.gate:
        skip = None
        if base is None:
            skip = ("no promoted baseline for pool " + gate_pool(cfg) + " (evalkit baseline "
                    "promote CHECKPOINT)" if policy.baseline in ("promoted", "baseline")
                    else "no previous checkpoint (the first of its chain)")
        elif base == cand:
            skip = f"{cand} is the gate's baseline itself"
        steps.append(Step("gate", "gate", pool=gate_pool(cfg), judge=policy.judge,
                          baseline=base, skip=skip))
    return steps


def _compare(ctx: Context, pool: str, judge: str | None, against: str, corpus: str | None,
             covered: tuple[str, str | None, str] | None) -> Step:
    base = (ctx.planned.previous if against == "previous"
            else ctx.planned.promoted.get(pool))
    prefix = f"clean/{corpus}/" if corpus else "compare/"
    step_id = f"{prefix}{pool}/{judge or 'default'}/{against}"
    skip = None
    if base is None:
        skip = ("no previous checkpoint (the first of its chain)" if against == "previous"
                else f"no promoted baseline for pool {pool}")
    elif base == ctx.candidate:
        skip = f"{base} is its own baseline"
    elif (against == "promoted" and "previous" in ctx.watch.plan.against
          and base == ctx.planned.previous):
        skip = f"the promoted baseline is the previous checkpoint ({base})"
    elif corpus is None and covered == (pool, judge_name(ctx.config, judge), base):
        skip = "the gate makes this comparison"
    return Step(step_id, "compare", pool=pool, judge=judge, against=against, baseline=base,
                corpus=corpus, skip=skip)


def run(ctx: Context, step: Step) -> StepResult:
    """Run one step; evalkit's errors become a result (configuration: ``error``; anything
    else — endpoints, the store — ``failed``, to try again later)."""
    if step.skip:
        return StepResult(SKIPPED, {"reason": step.skip, "baseline": step.baseline})
    try:
        if step.kind == "compare":
            return _run_compare(ctx, step)
        if step.kind == "bench":
            return _run_bench(ctx, step)
        return _run_gate(ctx, step)
    except (ConfigError, InputError) as exc:
        return StepResult(ERROR, error=str(exc))
    except EvalkitError as exc:
        return StepResult(FAILED, error=str(exc))
    except Exception as exc:  # a bug or a transient fault: reported, tried again later
        return StepResult(FAILED, error=f"{type(exc).__name__}: {exc}")


def _run_compare(ctx: Context, step: Step) -> StepResult:
    from ..compare import CompareOptions, compare_checkpoints

    assert step.pool is not None and step.baseline is not None
    options = CompareOptions()
    if step.corpus:
        from ..contamination.report import pool_exclusion

        drop, why = pool_exclusion(ctx.engine, step.pool, None, step.corpus)
        options = CompareOptions(exclude_items=drop, exclude_reason=why)
    summary = compare_checkpoints(ctx.config, step.baseline, ctx.candidate, pool=step.pool,
                                  judge=step.judge, options=options, engine=ctx.engine)
    if summary["comparison_id"] is None:
        return StepResult(FAILED, error=_nothing_judged(summary))
    return StepResult(DONE, comparison_result(summary, step.against, step.corpus))


def comparison_result(summary: dict[str, Any], against: str | None,
                      corpus: str | None = None) -> dict[str, Any]:
    o = summary["overall"]
    out = {"comparison_id": summary["comparison_id"], "baseline": summary["baseline"],
           "against": against, "pool": summary["pool"]["name"], "judge": summary["judge"],
           "n": o["n"], "win_rate": o["win_rate"], "ci": o["ci"], "failed": o["failed"]}
    if corpus:
        out["clean_only"] = corpus
    return out


def _nothing_judged(summary: dict[str, Any]) -> str:
    reasons = "; ".join(g["message"] for g in summary.get("failures") or [])
    return "nothing could be judged" + (f": {reasons}" if reasons else "")


def _run_bench(ctx: Context, step: Step) -> StepResult:
    os.environ.setdefault("TQDM_DISABLE", "1")
    from ..bench.runner import RunOptions, run_suite
    from ..bench.suites import load_suite

    assert step.suite is not None
    suite = load_suite(step.suite, ctx.config.path)
    options = RunOptions(limit=ctx.watch.plan.bench_limit)
    report = run_suite(ctx.config, ctx.candidate, suite, options, engine=ctx.engine)
    result: dict[str, Any] = {"suite": suite.name,
                              "tasks": {r.task: r.value for r in report.results},
                              "skipped": [s.task for s in report.skipped]}
    baselines = {b for b in (ctx.planned.previous, *ctx.planned.promoted.values())
                 if b is not None and b != ctx.candidate}
    for name in sorted(b for b in baselines if b in ctx.config.checkpoints):
        run_suite(ctx.config, name, suite, options, engine=ctx.engine)  # cached when done
    return StepResult(DONE, result)


def _run_gate(ctx: Context, step: Step) -> StepResult:
    from ..gate.run import run_gate, write_reports

    report = run_gate(ctx.config, ctx.candidate, baseline=step.baseline, pool=step.pool,
                      judge=step.judge, engine=ctx.engine,
                      exclude_contaminated=ctx.watch.plan.gate_exclude_contaminated)
    if report["comparison_id"] is None:
        return StepResult(FAILED, error=_nothing_judged(report))
    folder = Path(ctx.watch.report_dir)
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / safe_name(ctx.candidate)
    write_reports(report, markdown_path=str(stem) + ".md")
    Path(str(stem) + ".json").write_text(json.dumps(report, indent=2, default=str) + "\n",
                                         encoding="utf-8")
    from ..store import queries

    row = queries.get_comparison(ctx.engine, report["comparison_id"])
    role = ("promoted" if step.baseline == ctx.planned.promoted.get(step.pool or "")
            else "previous" if step.baseline == ctx.planned.previous else None)
    comparison = comparison_result(json.loads(row["summary_json"]), role) if row else {}
    return StepResult(DONE, {"gate_id": report["gate_id"], "decision": report["decision"],
                             "exit_code": report["exit_code"], "baseline": report["baseline"],
                             "pool": report["pool"], "comparison": comparison,
                             "markdown": str(stem) + ".md", "json": str(stem) + ".json"})


def safe_name(name: str) -> str:
    """A checkpoint name as a file name (no folders, nothing hidden)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).lstrip(".") or "checkpoint"
