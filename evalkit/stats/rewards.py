"""Statistics of reward-model scores (pure numpy/scipy, no I/O): the reward distribution of a
checkpoint, accuracy on preference pairs with an exact binomial interval, and agreement of a
reward model with an LLM judge."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.stats import beta as _beta
from scipy.stats import t as _t

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float] | None:
    """Exact (Clopper–Pearson) interval for a binomial proportion k/n; None when n = 0."""
    if n <= 0:
        return None
    a = (1.0 - level) / 2.0
    lo = 0.0 if k <= 0 else float(_beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k >= n else float(_beta.ppf(1.0 - a, k + 1, n - k))
    return lo, hi


def proportion(k: int, n: int, level: float = 0.95) -> dict[str, Any]:
    """k successes of n with the exact binomial CI."""
    ci = clopper_pearson(k, n, level)
    return {"n": n, "k": k, "rate": k / n if n else None,
            "ci": list(ci) if ci else None, "ci_level": level,
            "ci_method": "exact binomial (Clopper-Pearson)"}


def distribution(values: Sequence[float], clusters: Sequence[Any] | None = None, *,
                 level: float = 0.95) -> dict[str, Any]:
    """A reward distribution: n, mean with a t-interval, sd, quantiles, min and max.

    With ``clusters`` (one label per value, e.g. the prompt of each sample) the interval is
    over cluster means — the unit of resampling is the prompt, so several samples of one
    prompt do not narrow it; quantiles are always over all values."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)] if clusters is None else x
    out: dict[str, Any] = {"n": int(x.size), "ci_level": level}
    if x.size == 0:
        out.update(mean=None, sd=None, se=None, ci=None, quantiles=None, min=None, max=None,
                   ci_method=None)
        return out
    units = x
    if clusters is not None:
        groups: dict[Any, list[float]] = {}
        for v, c in zip(x, clusters, strict=True):
            groups.setdefault(c, []).append(float(v))
        units = np.array([np.mean(g) for g in groups.values()])
    m = float(np.mean(x))
    sd = float(np.std(x, ddof=1)) if x.size > 1 else 0.0
    se = float(np.std(units, ddof=1) / np.sqrt(units.size)) if units.size > 1 else None
    ci = None
    if se is not None:
        half = float(_t.ppf(0.5 + level / 2.0, units.size - 1)) * se
        ci = [m - half, m + half]
    out.update(mean=m, sd=sd, se=se, ci=ci, n_units=int(units.size),
               ci_method=("t-interval over prompt means" if clusters is not None
                          else "t-interval"),
               quantiles={f"p{int(q * 100):02d}": float(np.quantile(x, q)) for q in QUANTILES},
               min=float(x.min()), max=float(x.max()))
    return out


def outcome(delta: float, margin: float) -> str:
    """win / tie / loss for the side whose reward minus the other's is ``delta``."""
    if abs(delta) <= margin:
        return "tie"
    return "win" if delta > 0 else "loss"


def agreement_rate(a: Sequence[str], b: Sequence[str], *, level: float = 0.95
                   ) -> dict[str, Any]:
    """How often two raters give the same label (over pairs where both have one), with the
    exact binomial CI; Cohen's kappa comes from ``reliability.agreement``."""
    from .reliability import agreement

    pairs = [(x, y) for x, y in zip(a, b, strict=True) if x and y]
    same = sum(x == y for x, y in pairs)
    out = proportion(same, len(pairs), level)
    kappa = agreement([x for x, _ in pairs], [y for _, y in pairs], level=level)
    out.update(kappa=_num(kappa["kappa"]), kappa_se=_num(kappa.get("kappa_se")),
               kappa_ci=kappa.get("kappa_ci"), labels=[str(v) for v in kappa["labels"]],
               confusion=kappa["confusion"])
    return out


def _num(v: Any) -> float | None:
    return None if v is None or (isinstance(v, float) and np.isnan(v)) else float(v)
