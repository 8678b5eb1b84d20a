"""Benchmark rules of the gate: ``[gate.bench.SUITE]`` — no task of the suite may drop by
more than its tolerance.

For each task, the candidate's and the baseline's latest stored runs (``evalkit bench``) are
paired by document: ``d_i`` = candidate − baseline on document i, signed so that positive is
better. The rule tests H0 ``mean(d) ≥ −tolerance`` against H1 ``mean(d) < −tolerance`` (a
one-sided paired t-test, the document as the unit): a regression is a *credible* drop beyond
the tolerance. Its p-value joins the pairwise rules' in the same correction (Holm or BH), and
the bound it reports is the one-sided upper bound of the mean difference at the level that
matches the corrected test — below ``−tolerance`` exactly when the rule blocks. A task without
a stored run of both checkpoints is inconclusive: the gate reads benchmark results, it does
not run lm-eval (``evalkit bench run CKPT --suite SUITE`` does).

Tolerances: ``[gate.bench.SUITE] tasks = { NAME = 0.0 }`` per task, else ``tolerance`` there,
else the suite's own (``suite.toml``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy.engine import Engine

from .. import stats
from ..errors import ConfigError
from .evaluate import Rule
from .policy import GatePolicy


@dataclass(frozen=True)
class BenchEvidence:
    """One task's paired differences (positive = better), or why there are none."""

    name: str  # "bench:SUITE/TASK"
    metric: str | None
    tolerance: float
    diffs: tuple[float, ...] = ()
    ci: tuple[float, float] | None = None  # paired bootstrap CI of the mean difference
    problem: str | None = None

    @property
    def p_value(self) -> float | None:
        if self.problem is not None or not self.diffs:
            return None
        return float(stats.regression_test(np.array(self.diffs), -self.tolerance)["p_value"])


def collect(engine: Engine, config: Any, policy: GatePolicy, candidate: str, baseline: str,
            *, level: float | None = None) -> list[BenchEvidence]:
    """The evidence for every ``[gate.bench.SUITE]`` rule of ``policy``."""
    from ..bench.compare import compare_checkpoints
    from ..bench.suites import load_suite

    out: list[BenchEvidence] = []
    for suite_name, rules in policy.bench.items():
        suite = load_suite(suite_name, getattr(config, "path", None))
        unknown = sorted(set(rules.tasks) - {t.name for t in suite.tasks})
        if unknown:
            raise ConfigError(f"gate.bench.{suite_name}.tasks: '{unknown[0]}' is not a task of "
                              f"suite {suite.name} ({suite.path})")

        def tol(task: str, rules: Any = rules, suite: Any = suite) -> float:
            if task in rules.tasks:
                return float(rules.tasks[task])
            return suite.tolerance_for(task) if rules.tolerance is None else rules.tolerance

        try:
            result = compare_checkpoints(engine, suite.name, baseline, candidate, suite=suite,
                                         level=level or policy.confidence)
        except ConfigError as exc:
            out += [BenchEvidence(f"bench:{suite.name}/{t.name}", None, tol(t.name),
                                  problem=str(exc)) for t in suite.tasks]
            continue
        done = {t.task: t for t in result.tasks}
        for t in suite.tasks:
            name = f"bench:{suite.name}/{t.name}"
            c = done.get(t.name)
            if c is None or not c.diffs:
                why = (f"no stored run of {t.name} for both {baseline} and {candidate} (run "
                       f"`evalkit bench run CKPT --suite {suite.name}`)" if c is None else
                       f"no per-document values of {c.metric} to pair")
                out.append(BenchEvidence(name, None if c is None else c.metric, tol(t.name),
                                         problem=why))
                continue
            sign = 1.0 if c.higher_is_better else -1.0
            ci = None if c.ci is None else tuple(sorted((sign * c.ci[0], sign * c.ci[1])))
            out.append(BenchEvidence(name, c.metric, tol(t.name),
                                     diffs=tuple(sign * x for x in c.diffs),
                                     ci=ci))  # type: ignore[arg-type]
    return out


def judge(policy: GatePolicy, evidence: list[BenchEvidence], adjusted: list[float],
          first_step: float) -> list[Rule]:
    """One ``Rule`` per task; ``adjusted``: the corrected p-values of the tested ones, in
    order (those with a p-value)."""
    from scipy.stats import t as student

    alpha = policy.alpha
    rules: list[Rule] = []
    pending = iter(adjusted)
    for ev in evidence:
        base: dict[str, Any] = {"name": ev.name, "margin": ev.tolerance,
                                "threshold": -ev.tolerance, "ci": None if ev.ci is None
                                else list(ev.ci), "power": policy.power}
        p = ev.p_value
        if p is None:
            rules.append(Rule(**base, n=0, estimate=None, p_value=None, p_adjusted=None,
                              verdict="inconclusive", reason=ev.problem or "no data"))
            continue
        p_adj = float(next(pending))
        d = np.array(ev.diffs)
        n, mean = int(d.size), float(d.mean())
        se = float(d.std(ddof=1) / math.sqrt(n)) if n > 1 else 0.0
        alpha_eff = min(alpha * p / p_adj if p_adj > 0 and p > 0 else first_step, alpha)
        bound = mean + (float(student.isf(alpha_eff, n - 1)) * se if se > 0 else 0.0)
        mde = stats.min_detectable_drop(d, ev.tolerance, alpha=first_step, power=policy.power)
        seen = ("this run could not plan a detectable drop (no spread)" if mde is None else
                f"detects a drop of {mde:.3f} or more with {policy.power:.0%} power")
        if p_adj < alpha:
            verdict, reason = "regression", (
                f"{ev.metric} credibly dropped by more than {ev.tolerance:g}: upper bound "
                f"{bound:+.4f} at {1 - alpha_eff:.2%} (p_adj = {p_adj:.3g} < {alpha:.3g})")
        else:
            verdict, reason = "pass", (
                f"{ev.metric} not credibly below −{ev.tolerance:g} (mean difference "
                f"{mean:+.3f}, upper bound {bound:+.3f} at {1 - alpha_eff:.2%}, p_adj = "
                f"{p_adj:.3g}); {seen}")
        rules.append(Rule(**base, n=n, estimate=mean, p_value=p, p_adjusted=p_adj,
                          verdict=verdict, reason=reason, bound=bound,
                          bound_level=1 - alpha_eff, mde=mde, mde_alpha=first_step))
    return rules
