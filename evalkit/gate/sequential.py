"""The sequential gate: judge the pool in a seeded random order, in batches, and stop as soon as
the group-sequential design (``evalkit.stats.sequential``) decides — regression or pass — or
the pool or budget runs out (inconclusive). Prompts never reached are never generated.

Each batch runs through the compare pipeline without storing a comparison
(``CompareOptions(positions=…, save=False)``); at the end one comparison holding every prompt
judged, in the order judged, is stored (all of it comes from the cache by then).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
from scipy.special import ndtr
from sqlalchemy.engine import Engine

from .. import stats
from .evaluate import EXIT_CODES, GateResult, Rule, _quality_checks
from .policy import GatePolicy


@dataclass(frozen=True)
class GateRun:
    """Everything one gate run needs (names already resolved)."""

    config: Any
    engine: Engine
    candidate: str
    baseline: str
    pool: str
    judge: str | None
    policy: GatePolicy
    cap: int | None  # judge calls
    seed: int = 0
    progress: bool = False
    exclude_items: frozenset[str] = frozenset()  # e.g. contaminated prompts, left out


@dataclass(frozen=True)
class SequentialReport:
    """The design, every look, and why the run stopped."""

    design: stats.SequentialDesign
    looks: tuple[stats.Look, ...]
    stopped: str  # "decided" | "exhausted" | "data"
    available: int  # prompts the pool and the budget allow
    judged: int  # prompts judged (valid or not)
    max_n: int  # valid prompts at the last planned look, at the estimated score sd
    fixed_n: int | None  # what the fixed gate would need for the same guarantee
    order_seed: int

    def as_dict(self) -> dict[str, Any]:
        spec = self.design.spec
        return {
            "design": {"method": "group-sequential, Lan-DeMets error spending (alpha and "
                                 "beta), boundaries by recursive numerical integration",
                       "looks": spec.looks, "spending": f"t^{spec.rho:g}",
                       "alpha": spec.alpha, "power": spec.power, "margin": spec.margin,
                       "threshold": spec.threshold, "regression": spec.regression,
                       "alternative": spec.alternative, "inflation": self.design.inflation},
            "looks": [{"look": lk.look + 1, "n": lk.n, "fraction": lk.fraction,
                       "estimate": lk.estimate, "se": lk.se, "z": _num(lk.z),
                       "z_regression": _num(lk.regression_z), "z_pass": _num(lk.pass_z),
                       "block_below": lk.regression_below, "pass_above": lk.pass_above,
                       "decision": lk.decision} for lk in self.looks],
            "stopped": self.stopped, "available_prompts": self.available,
            "judged_prompts": self.judged, "max_n": self.max_n, "fixed_n": self.fixed_n,
            "saved_fraction": (None if not self.fixed_n or not self.looks
                               else 1 - self.looks[-1].n / self.fixed_n),
            "order_seed": self.order_seed}


def _num(x: float) -> float | None:
    return None if math.isinf(x) else float(x)


class _Batches:
    """Runs batches of pool positions through the compare pipeline; keeps per-prompt scores
    (mean of valid items, None when none) in the order judged, and item counts."""

    def __init__(self, run: GateRun) -> None:
        from ..catalog import resolve_pool

        self.run = run
        self.pool_row, self.prompts = resolve_pool(run.engine, run.pool)
        if run.exclude_items:
            self.prompts = [p for p in self.prompts if p.id not in run.exclude_items]
        self.hashes = [p.prompt_hash for p in self.prompts]
        self.scores: list[float | None] = []
        self.positions: list[int] = []
        self.counts: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()

    def compare(self, positions: list[int], save: bool) -> tuple[dict[str, Any], Any]:
        from ..compare import (
            CompareOptions,
            Comparer,
            resolve_checkpoint,
            resolve_judge,
            run_until_interrupted,
        )

        r = self.run
        base = resolve_checkpoint(r.engine, r.config, r.baseline, self.hashes)
        cand = resolve_checkpoint(r.engine, r.config, r.candidate, self.hashes)
        judge = resolve_judge(r.engine, r.config, r.judge)
        options = CompareOptions(samples=max(base.config.samples, cand.config.samples),
                                 seed=r.seed, ci_level=r.policy.confidence,
                                 n_boot=10_000 if save else 200, progress=r.progress,
                                 positions=tuple(positions), save=save,
                                 turns=getattr(r.config, "pool_turns", {}).get(r.pool))
        comparer = Comparer(r.engine, self.pool_row, self.prompts, base, cand, judge, options)
        return run_until_interrupted(comparer.run()), comparer

    def add(self, positions: list[int]) -> None:
        summary, comparer = self.compare(positions, save=False)
        by_pos: dict[int, list[float]] = {}
        for it in comparer.items:
            self.counts[it["outcome"]] += 1
            if it["score"] is not None:
                by_pos.setdefault(it["position"], []).append(it["score"])
        for local, pos in enumerate(positions):
            got = by_pos.get(local)
            self.scores.append(sum(got) / len(got) if got else None)
            self.positions.append(pos)
        for who, counts in summary["requests"].items():
            for kind, n in counts.items():
                self.requests[f"{who}.{kind}"] += n

    def valid(self) -> np.ndarray:
        return np.array([s for s in self.scores if s is not None], dtype=float)


def run_sequential_gate(run: GateRun) -> tuple[GateResult, dict[str, Any], list[Any]]:
    """Run the looks; returns the result, the stored comparison's summary and the prompts
    judged (for the flips)."""
    policy = run.policy
    batches = _Batches(run)
    per_prompt = 2 if _both_orders(run) else 1
    available = len(batches.prompts)
    if run.cap is not None:
        available = min(available, max(1, run.cap // per_prompt))
    order = [int(i) for i in np.random.default_rng(run.seed).permutation(len(batches.prompts))]
    design = stats.design_sequential(stats.SequentialSpec(
        margin=policy.margin, regression=policy.reference(policy.margin), alpha=policy.alpha,
        power=policy.power, looks=policy.looks, rho=policy.spending))
    looks: list[stats.Look] = []
    stopped, sd = "exhausted", None
    used = 0
    for k in range(policy.looks):
        valid = batches.valid()
        target = stats.look_target(design, k, sd, valid.size, policy.min_valid)
        while valid.size < target and used < available:
            rate = valid.size / len(batches.scores) if batches.scores else 1.0
            take = min(available - used, math.ceil((target - valid.size) / max(rate, 0.25)))
            batches.add(order[used:used + take])
            used += take
            valid = batches.valid()
            if not _data_ok(policy, batches.counts):
                break
        if not _data_ok(policy, batches.counts):
            stopped = "data"
            break
        if valid.size < 2:
            break
        sd = float(valid.std(ddof=1))
        look = stats.analyse_look(design, k, int(valid.size), float(valid.mean()), sd,
                                  exhausted=used >= available)
        looks.append(look)
        if look.decision != "continue":
            stopped = "decided" if look.decision in ("pass", "regression") else "exhausted"
            break
    summary, comparer = batches.compare(order[:used], save=True) if used else (None, None)
    valid = batches.valid()
    sd_hat = float(valid.std(ddof=1)) if valid.size > 1 else None
    ties = _ties(valid)
    try:
        fixed_n: int | None = stats.required_prompts_margin(
            design.spec.regression, policy.margin, tie_rate=ties, alpha=policy.alpha,
            power=policy.power)
    except ValueError:
        fixed_n = None
    report = SequentialReport(
        design=design, looks=tuple(looks), stopped=stopped, available=available, judged=used,
        max_n=stats.look_target(design, policy.looks - 1, sd_hat), fixed_n=fixed_n,
        order_seed=run.seed)
    result = _result(policy, batches, report, valid, ties)
    prompts = [batches.prompts[i] for i in order[:used]]
    return result, summary or _empty_summary(run, batches), prompts


def _data_ok(policy: GatePolicy, counts: Counter[str]) -> bool:
    """The failed and invalid rates are within the policy's limits (min_valid: see
    ``look_target``'s minimum)."""
    return all(c["ok"] for c in _quality_checks(policy, policy.min_valid, dict(counts))[1:])


def _both_orders(run: GateRun) -> bool:
    from ..compare import resolve_judge

    return bool(resolve_judge(run.engine, run.config, run.judge).config.both_orders)


def _ties(valid: np.ndarray) -> float:
    from .evaluate import tie_rate

    return tie_rate(valid)


def _result(policy: GatePolicy, batches: _Batches, report: SequentialReport,
            valid: np.ndarray, ties: float) -> GateResult:
    counts = dict(batches.counts)
    # min_valid: every look waits for it, so only a pool smaller than that can fail it
    checks = _quality_checks(policy, int(valid.size), counts)
    last = report.looks[-1] if report.looks else None
    decision = "inconclusive" if last is None or report.stopped == "data" or not all(
        c["ok"] for c in checks) else (
        last.decision if last.decision in ("pass", "regression") else "inconclusive")
    spec = report.design.spec
    enough = report.available >= report.max_n
    mde: float | None = spec.regression
    if not enough:  # at best what a fixed test on every available prompt could see
        usable = int(report.available * valid.size / max(1, report.judged))
        mde = stats.min_detectable_regression(usable, policy.margin, tie_rate=ties,
                                              alpha=spec.alpha, power=spec.power)
        mde = None if math.isinf(mde) else mde
    rule = Rule(
        name="overall", n=int(valid.size),
        estimate=None if last is None else last.estimate, ci=_ci(policy, valid),
        margin=policy.margin, threshold=spec.threshold, p_value=None, p_adjusted=None,
        verdict=decision, reason=_reason(report, decision),
        bound=None if last is None else last.upper_bound,
        bound_level=None if last is None else float(ndtr(last.regression_z)),
        mde=mde, mde_alpha=spec.alpha, power=spec.power,
        tie_rate=ties, reference=spec.regression, needed_n=report.max_n,
        underpowered=not enough)
    return GateResult(decision=decision, exit_code=EXIT_CODES[decision], rules=[rule],
                      checks=checks, counts=counts, policy=_policy_dict(policy),
                      notes=_notes(report, decision, enough), sequential=report)


def _ci(policy: GatePolicy, valid: np.ndarray) -> list[float] | None:
    if not valid.size:
        return None
    lo, hi, _ = stats.win_rate_interval(valid, policy.confidence)
    return [lo, hi]


def _policy_dict(policy: GatePolicy) -> dict[str, Any]:
    return asdict(replace(policy, sequential=True))


def _reason(report: SequentialReport, decision: str) -> str:
    if not report.looks:
        return "stopped before the first look: the data checks failed"
    lk = report.looks[-1]
    where = f"look {lk.look + 1} of {report.design.spec.looks}, n = {lk.n}"
    if decision == "regression":
        return (f"win rate {lk.estimate:.3f} at or below the regression boundary "
                f"{lk.regression_below:.3f} ({where})")
    if decision == "pass":
        return (f"win rate {lk.estimate:.3f} at or above the pass boundary "
                f"{lk.pass_above:.3f} ({where})")
    if report.stopped == "data":
        return f"stopped at {where}: the data checks failed"
    return (f"the pool ran out at {where} with the win rate {lk.estimate:.3f} between the "
            f"boundaries {lk.regression_below:.3f} and {lk.pass_above:.3f}")


def _notes(report: SequentialReport, decision: str, enough: bool) -> list[str]:
    spec = report.design.spec
    n = report.looks[-1].n if report.looks else 0
    notes = [f"Sequential gate: false-block rate ≤ {spec.alpha:g} at a win rate of "
             f"{spec.threshold:.3f} and miss rate ≤ {1 - spec.power:.2g} at "
             f"{spec.alternative:.3f}, across all {spec.looks} looks."]
    if report.fixed_n and decision in ("pass", "regression"):
        notes.append(f"Decided after {n:,} valid prompts; the fixed gate needs "
                     f"{report.fixed_n:,} for the same guarantee.")
    if not enough:
        notes.append(f"The pool and budget allow {report.available:,} prompts but the design "
                     f"may need up to {report.max_n:,} valid ones: a run that reaches the end "
                     "undecided is inconclusive, not a pass (the table's 'detects' is then "
                     "at best what a fixed test on every available prompt could see).")
    return notes


def _empty_summary(run: GateRun, batches: _Batches) -> dict[str, Any]:
    return {"comparison_id": None, "pool": {"name": run.pool,
                                            "version": batches.pool_row.version,
                                            "prompts": 0},
            "judge": run.judge}
