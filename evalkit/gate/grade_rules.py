"""Grade rules of the gate: ``[gate.grade.GRADER]`` — the candidate's mean score by that
grader may not credibly drop by more than ``tolerance`` score points below the baseline's.

Both checkpoints are graded on the gate's pool (``evalkit grade``; cached, so a rerun asks
nothing), then paired by prompt: ``d_p`` = candidate − baseline of the per-prompt mean score.
The rule tests H0 ``mean(d) ≥ −tolerance`` against a credible drop beyond it (the one-sided
paired t-test) and joins the pairwise and benchmark rules in the same correction, exactly as
a benchmark task does (``gate/bench_rules.py`` judges it). A grading run that could grade
nothing, or no prompt graded validly for both, makes the rule inconclusive.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from ..errors import ConfigError
from .bench_rules import BenchEvidence
from .policy import GatePolicy


def collect(engine: Engine, config: Any, policy: GatePolicy, candidate: str, baseline: str,
            pool: str, *, exclude: frozenset[str] = frozenset(), seed: int = 0
            ) -> list[BenchEvidence]:
    """The evidence for every ``[gate.grade.GRADER]`` rule of ``policy``."""
    from ..grading.paired import per_prompt
    from ..grading.runs import GradeOptions, grade_checkpoint
    from ..stats.grading import score_difference

    out: list[BenchEvidence] = []
    for grader, rule in policy.grade.items():
        name, metric = f"grade:{grader}", f"mean score ({grader})"
        try:
            runs = [grade_checkpoint(config, who, pool=pool, grader=grader,
                                     options=GradeOptions(preflight=False), engine=engine)
                    for who in (baseline, candidate)]
        except ConfigError as exc:
            out.append(BenchEvidence(name, metric, rule.tolerance, problem=str(exc)))
            continue
        if any(r["grade_run_id"] is None for r in runs):
            out.append(BenchEvidence(name, metric, rule.tolerance, problem=(
                "nothing could be graded for " + ", ".join(
                    r["checkpoint"] for r in runs if r["grade_run_id"] is None))))
            continue
        a, b = (per_prompt(engine, r["grade_run_id"], exclude) for r in runs)
        d = score_difference(a, b, level=policy.confidence, seed=seed)
        if d.n == 0:
            out.append(BenchEvidence(name, metric, rule.tolerance,
                                     problem="no prompt graded validly for both checkpoints"))
            continue
        shared = sorted(set(a) & set(b))
        out.append(BenchEvidence(name, metric, rule.tolerance,
                                 diffs=tuple(b[k] - a[k] for k in shared), ci=d.ci))
    return out
