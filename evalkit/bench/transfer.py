"""The transfer check: does a benchmark gain come with a gain where it matters?

Along a chain of checkpoints (the trajectory: each one compared with the one before it on a
held-out pool), each step shows the checkpoint's paired benchmark deltas against the previous
checkpoint beside its pairwise win rate against it, both with CIs. The rule (docs/benchmarks.md):

- a task *gained* when its paired delta is positive and significant after Holm's correction
  across the suite's tasks (``p_holm < 1 − level``);
- the pairwise result is a *gain* when the win rate's CI lies above 0.5, a *loss* when it
  lies below, else *flat*;
- a step with a benchmark gain and a pairwise loss is flagged ``benchmark gain, pairwise
  loss``; with a benchmark gain and a flat pairwise result, ``possible benchmark
  overfitting`` — the benchmark moved, the held-out preference did not.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.engine import Engine

from ..errors import ConfigError
from ..store import bench_queries, queries
from .compare import BenchComparison, compare_checkpoints
from .suites import Suite

OVERFIT = "possible benchmark overfitting"
OVERFIT_LOSS = "benchmark gain, pairwise loss"


@dataclass(frozen=True)
class Pairwise:
    comparison_id: str
    win_rate: float
    ci: tuple[float, float]
    n: int
    judge: str
    reversed: bool  # stored as previous-vs-this the other way round; shown from this side

    @property
    def direction(self) -> str:
        if self.ci[0] > 0.5:
            return "gain"
        if self.ci[1] < 0.5:
            return "loss"
        return "flat"


@dataclass(frozen=True)
class TransferStep:
    previous: str
    checkpoint: str
    pairwise: Pairwise | None
    bench: BenchComparison | None
    gained: tuple[str, ...]  # tasks with a credible gain
    lost: tuple[str, ...]
    flag: str | None
    note: str


@dataclass(frozen=True)
class TransferReport:
    suite: str
    pool: str
    judge: str | None
    chain: tuple[str, ...]
    level: float
    steps: tuple[TransferStep, ...]

    def as_dict(self) -> dict[str, Any]:
        steps = []
        for s in self.steps:
            steps.append({"previous": s.previous, "checkpoint": s.checkpoint,
                          "pairwise": None if s.pairwise is None else {
                              **asdict(s.pairwise), "direction": s.pairwise.direction},
                          "tasks": [] if s.bench is None else [
                              {k: v for k, v in asdict(t).items() if k not in ("diffs",
                                                                               "flips")}
                              for t in s.bench.tasks],
                          "gained": list(s.gained), "lost": list(s.lost), "flag": s.flag,
                          "note": s.note})
        return {"suite": self.suite, "pool": self.pool, "judge": self.judge,
                "chain": list(self.chain), "ci_level": self.level, "steps": steps,
                "rule": "flag a step whose benchmark gain (paired delta > 0, Holm p < "
                        f"{1 - self.level:.2g}) comes without a pairwise gain (win rate CI not "
                        "above 0.5)"}


def flag_for(gained: tuple[str, ...], pairwise: str | None) -> str | None:
    """The transfer rule: a credible benchmark gain with a pairwise loss, or with a flat
    pairwise result (``pairwise``: "gain", "flat", "loss", None when not compared)."""
    if not gained or pairwise in (None, "gain"):
        return None
    return OVERFIT_LOSS if pairwise == "loss" else OVERFIT


def chain_from_comparisons(comps: list[dict[str, Any]]) -> list[str]:
    """The longest chain of comparisons in time order in which each baseline is the previous
    comparison's candidate (r1 vs sft, r2 vs r1, …), ending with the latest candidate that has
    the longest chain; a chain never revisits a checkpoint."""
    best: dict[str, list[str]] = {}
    for c in comps:  # oldest first
        base, cand = c["baseline"], c["candidate"]
        if base == cand:
            continue
        prefix = best.get(base, [base])
        chain = [*prefix, cand] if cand not in prefix else [base, cand]
        if len(chain) >= len(best.get(cand, [])):
            best[cand] = chain
    if not best:
        return []
    return max(best.values(), key=len)


def transfer(engine: Engine, suite_name: str, pool: str, *, chain: list[str] | None = None,
             judge: str | None = None, suite: Suite | None = None, level: float = 0.95,
             n_boot: int = 10_000, seed: int = 0) -> TransferReport:
    comps = [c for c in queries.list_comparisons(engine, pool)
             if judge is None or c["judge"] == judge]
    if chain is None:
        chain = chain_from_comparisons(comps)
        if not chain:
            raise ConfigError(f"no comparisons in pool '{pool}' to take a chain from; run "
                              f"`evalkit compare PREVIOUS NEXT --pool {pool}` for each step "
                              "or pass --chain A,B,C")
    if len(chain) < 2:
        raise ConfigError("--chain needs at least two checkpoints")
    with_runs = set(bench_queries.checkpoint_order(engine, suite_name))
    steps = []
    for prev, cur in zip(chain, chain[1:], strict=False):
        pw = _pairwise(comps, prev, cur)
        bench = None
        notes = []
        if prev in with_runs and cur in with_runs:
            bench = compare_checkpoints(engine, suite_name, prev, cur, suite=suite,
                                        level=level, n_boot=n_boot, seed=seed)
        else:
            lacking = [c for c in (prev, cur) if c not in with_runs]
            notes.append(f"no run of suite {suite_name} for {', '.join(lacking)}")
        if pw is None:
            notes.append(f"no comparison of {cur} with {prev} in pool {pool}")
        alpha = 1 - level
        gained = tuple(t.task for t in (bench.tasks if bench else ())
                       if t.improved is not None and t.improved > 0 and t.p_holm is not None
                       and t.p_holm < alpha)
        lost = tuple(t.task for t in (bench.tasks if bench else ())
                     if t.improved is not None and t.improved < 0 and t.p_holm is not None
                     and t.p_holm < alpha)
        flag = flag_for(gained, None if pw is None else pw.direction)
        if flag:
            notes.insert(0, f"{', '.join(gained)} improved, but the win rate against {prev} is "
                            f"{pw.win_rate:.3f} [{pw.ci[0]:.3f}, {pw.ci[1]:.3f}]"
                         if pw is not None else "")
        steps.append(TransferStep(previous=prev, checkpoint=cur, pairwise=pw, bench=bench,
                                  gained=gained, lost=lost, flag=flag, note="; ".join(notes)))
    return TransferReport(suite=suite_name, pool=pool, judge=judge, chain=tuple(chain),
                          level=level, steps=tuple(steps))


def _pairwise(comps: list[dict[str, Any]], prev: str, cur: str) -> Pairwise | None:
    """The latest comparison of ``cur`` against ``prev`` (either way round)."""
    found = None
    for c in comps:  # oldest first: the last match is the latest
        if {c["baseline"], c["candidate"]} == {prev, cur}:
            found = c
    if found is None:
        return None
    overall = json.loads(found["summary_json"]).get("overall", {})
    rate, ci = overall.get("win_rate"), overall.get("ci")
    if rate is None or not ci:
        return None
    flipped = found["candidate"] == prev
    if flipped:
        rate, ci = 1 - rate, [1 - ci[1], 1 - ci[0]]
    return Pairwise(comparison_id=found["id"], win_rate=float(rate),
                    ci=(float(ci[0]), float(ci[1])), n=int(overall.get("n", 0)),
                    judge=found["judge"], reversed=flipped)
