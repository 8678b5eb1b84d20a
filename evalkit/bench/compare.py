"""``evalkit bench compare A B --suite S``: per task, B's paired difference from A on the
documents both answered — a paired bootstrap CI with the document as the unit and McNemar's
exact test for 0/1 metrics (not lm-eval's comparator, whose z-test treats the two runs as
independent samples) — Holm's correction across the suite's tasks, and the documents that
flipped (right for one checkpoint, wrong for the other)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from sqlalchemy.engine import Engine

from .. import stats
from ..errors import ConfigError
from ..store import bench_queries
from ..store.bench_queries import RunRecord, SampleRecord
from .records import resolve_metric
from .suites import Suite


@dataclass(frozen=True)
class Flip:
    doc_id: int
    doc_hash: str
    change: str  # "gained" (B right, A wrong) or "lost"
    target: str
    response_a: str | None
    response_b: str | None
    prompt: str


@dataclass(frozen=True)
class TaskComparison:
    task: str
    metric: str
    higher_is_better: bool
    n: int
    mean_a: float | None
    mean_b: float | None
    delta: float | None
    ci: tuple[float, float] | None
    se: float | None
    p_value: float | None
    p_holm: float | None
    test: str
    binary: bool
    gained: int  # documents B got right and A wrong (0/1 metrics)
    lost: int
    run_a: str
    run_b: str
    same_task_config: bool
    flips: tuple[Flip, ...] = ()
    notes: tuple[str, ...] = ()
    diffs: tuple[float, ...] = field(default=(), repr=False)  # per document, B − A

    @property
    def improved(self) -> float | None:
        """The difference in the direction where positive is better."""
        if self.delta is None:
            return None
        return self.delta if self.higher_is_better else -self.delta


@dataclass(frozen=True)
class BenchComparison:
    suite: str
    baseline: str
    candidate: str
    level: float
    n_boot: int
    seed: int
    ci_method: str
    tasks: tuple[TaskComparison, ...]
    missing: tuple[str, ...]  # tasks without a run of both checkpoints

    def as_dict(self, flips: int | None = None) -> dict[str, Any]:
        tasks = []
        for t in self.tasks:
            d = asdict(t)
            d.pop("diffs")
            d["flips"] = d["flips"][:flips] if flips is not None else d["flips"]
            tasks.append(d)
        return {"suite": self.suite, "baseline": self.baseline, "candidate": self.candidate,
                "ci_level": self.level, "ci_method": self.ci_method, "n_boot": self.n_boot,
                "seed": self.seed, "correction": "holm across tasks", "tasks": tasks,
                "missing": list(self.missing)}


def compare_checkpoints(engine: Engine, suite_name: str, baseline: str, candidate: str, *,
                        suite: Suite | None = None, level: float = 0.95,
                        n_boot: int = 10_000, seed: int = 0,
                        exclude: frozenset[str] = frozenset()) -> BenchComparison:
    """Compare the latest stored runs of every task of the suite on both checkpoints
    (``exclude``: documents ``task:doc_id`` left out, e.g. contaminated ones)."""
    runs_a = bench_queries.latest_runs(engine, baseline, suite_name)
    runs_b = bench_queries.latest_runs(engine, candidate, suite_name)
    for who, runs in ((baseline, runs_a), (candidate, runs_b)):
        if not runs:
            raise ConfigError(f"no stored run of suite '{suite_name}' for checkpoint '{who}'; "
                              f"run `evalkit bench run {who} --suite {suite_name}` first")
    order = [t.name for t in suite.tasks] if suite is not None else sorted(
        set(runs_a) | set(runs_b))
    rows = []
    for task in order:
        if task in runs_a and task in runs_b:
            wanted = None
            if suite is not None and any(t.name == task for t in suite.tasks):
                wanted = suite.task(task).metric
            rows.append(compare_task(engine, task, runs_a[task], runs_b[task], wanted,
                                     level=level, n_boot=n_boot, seed=seed, exclude=exclude))
    missing = tuple(t for t in order if not (t in runs_a and t in runs_b))
    rows = _holm(rows)
    return BenchComparison(suite=suite_name, baseline=baseline, candidate=candidate,
                           level=level, n_boot=n_boot, seed=seed,
                           ci_method=stats.paired.CI_METHOD, tasks=tuple(rows),
                           missing=missing)


def compare_task(engine: Engine, task: str, run_a: RunRecord, run_b: RunRecord,
                 wanted_metric: str | None, *, level: float, n_boot: int, seed: int,
                 exclude: frozenset[str] = frozenset()) -> TaskComparison:
    metric = resolve_metric(wanted_metric or run_a.primary_metric, run_a.metrics,
                            f"task {task}")
    name, filt = metric.split(",", 1)
    a = {(s.doc_id, s.doc_hash): s for s in bench_queries.run_samples(engine, run_a.id, filt)}
    b = {(s.doc_id, s.doc_hash): s for s in bench_queries.run_samples(engine, run_b.id, filt)}
    keys = [k for k in a if k in b]
    left_out = [k for k in keys if f"{task}:{k[0]}" in exclude]
    keys = [k for k in keys if f"{task}:{k[0]}" not in exclude]
    pairs: list[tuple[tuple[int, str], float, float]] = []
    for k in keys:
        x, y = _value(a[k], name), _value(b[k], name)
        if x is not None and y is not None:
            pairs.append((k, x, y))
    notes = []
    if run_a.task_hash != run_b.task_hash:
        notes.append("the two runs used different task configs; paired on the documents "
                     "both have")
    unmatched = len(a) + len(b) - 2 * (len(keys) + len(left_out))
    if left_out:
        notes.append(f"{len(left_out)} documents not clean in the contamination scan were "
                     "left out")
    if unmatched:
        notes.append(f"{unmatched} documents were answered by one checkpoint only (left out)")
    base: dict[str, Any] = {"task": task, "metric": metric, "higher_is_better": run_a.higher_is_better,
                            "run_a": run_a.id, "run_b": run_b.id,
                            "same_task_config": run_a.task_hash == run_b.task_hash}
    if not pairs:
        return TaskComparison(**base, n=0, mean_a=None, mean_b=None, delta=None, ci=None,
                              se=None, p_value=None, p_holm=None, test="no shared documents "
                              "with per-document values", binary=False, gained=0, lost=0,
                              notes=(*notes, f"metric {name} has no per-document values"))
    xa = np.array([x for _, x, _ in pairs])
    xb = np.array([y for _, _, y in pairs])
    res = stats.paired_delta(xa, xb, level=level, n_boot=n_boot, seed=seed)
    flips: list[Flip] = []
    if res.binary:
        for (doc, dh), x, y in pairs:
            if x != y:
                sa, sb = a[(doc, dh)], b[(doc, dh)]
                flips.append(Flip(doc_id=doc, doc_hash=dh, change="gained" if y > x else "lost",
                                  target=sa.target, response_a=sa.response,
                                  response_b=sb.response, prompt=sa.prompt))
        flips.sort(key=lambda f: (f.change != "lost", f.doc_id))
    return TaskComparison(**base, n=res.n, mean_a=res.mean_a, mean_b=res.mean_b,
                          delta=res.delta, ci=res.ci, se=res.se, p_value=res.p_value,
                          p_holm=None, test=res.test, binary=res.binary, gained=res.b_only,
                          lost=res.a_only, flips=tuple(flips), notes=tuple(notes),
                          diffs=tuple((xb - xa).tolist()))


def _value(sample: SampleRecord, metric: str) -> float | None:
    v = sample.metrics.get(metric)
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, int | float) and not math.isnan(v):
        return float(v)
    return None


def _holm(rows: list[TaskComparison]) -> list[TaskComparison]:
    from dataclasses import replace

    ps = [r.p_value if r.p_value is not None else float("nan") for r in rows]
    if not rows:
        return rows
    adj = stats.holm(ps)
    return [replace(r, p_holm=None if math.isnan(p) else float(p)) for r, p in zip(rows, adj,
                                                                                  strict=True)]
