"""Statistics of single-answer grades (pure numpy/scipy, no I/O): a checkpoint's mean score
with a prompt-clustered interval, and the paired difference between two checkpoints graded
on the same prompts.

* ``mean_score``: the mean of per-prompt mean scores (every prompt weighs the same, however
  many samples it has) with a t-interval over those prompt means — the prompt is the unit of
  resampling (DESIGN §6), so several samples of one prompt do not narrow it.
* ``score_difference``: ``stats.paired.paired_delta`` on the prompts graded validly for both
  checkpoints: the mean of ``d_p = b_p − a_p`` with a paired percentile bootstrap CI (prompts
  resampled, both scores together) and the paired t-test.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import Any

import numpy as np
from scipy.stats import t as _t

from .paired import PairedDelta, paired_delta

CI_METHOD = "t-interval over prompt means (prompt-clustered)"


def prompt_means(values: Iterable[float], clusters: Iterable[Hashable]) -> dict[Hashable, float]:
    groups: dict[Hashable, list[float]] = {}
    for v, c in zip(values, clusters, strict=True):
        groups.setdefault(c, []).append(float(v))
    return {c: float(np.mean(g)) for c, g in groups.items()}


def mean_score(values: Iterable[float], clusters: Iterable[Hashable] | None = None, *,
               level: float = 0.95) -> dict[str, Any]:
    """n (prompts), items, mean, sd of prompt means, se and the t-interval."""
    x = np.asarray(list(values), dtype=float)
    if clusters is None:
        clusters = list(range(x.size))
    units = np.array(list(prompt_means(x, clusters).values())) if x.size else np.zeros(0)
    out: dict[str, Any] = {"n": int(units.size), "items": int(x.size), "mean": None,
                           "sd": None, "se": None, "ci": None, "ci_level": level,
                           "ci_method": CI_METHOD}
    if units.size == 0:
        return out
    out["mean"] = float(units.mean())
    if units.size > 1:
        sd = float(units.std(ddof=1))
        se = sd / float(np.sqrt(units.size))
        half = float(_t.ppf(0.5 + level / 2.0, units.size - 1)) * se
        out.update(sd=sd, se=se, ci=[out["mean"] - half, out["mean"] + half])
    return out


def score_difference(baseline: Mapping[Any, float], candidate: Mapping[Any, float], *,
                     level: float = 0.95, n_boot: int = 10_000, seed: int = 0
                     ) -> PairedDelta:
    """Candidate minus baseline on the prompts both have (per-prompt mean scores by key)."""
    shared = sorted(set(baseline) & set(candidate), key=str)
    return paired_delta(np.array([baseline[k] for k in shared]),
                        np.array([candidate[k] for k in shared]), level=level, n_boot=n_boot,
                        seed=seed)
