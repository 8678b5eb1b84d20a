"""The win rate over prompt clusters, its interval, and the prompt bootstrap. Pure numpy, seeded.

The unit is the prompt: a prompt's judge orders and repeated samples are folded into one score
in [0, 1] before anything else (``cluster_scores``), so the interval and any resampling respect
the pairing (docs/statistics.md).

``win_rate_summary`` reports the Agresti–Coull interval at the effective sample size
(``intervals.py``): unlike the percentile bootstrap it keeps its coverage at small n and near
0 or 1, and it never returns a zero-width interval ([1, 1] for 20 wins out of 20). The
percentile bootstrap (``method="percentile-bootstrap"``), BCa and ``bootstrap_means`` stay
available for other statistics and for reproducing older comparisons.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .intervals import METHOD as _INTERVAL_METHOD
from .intervals import win_rate_interval

_MAX_CATEGORIES = 256
_BOOT_METHOD = "paired percentile bootstrap (prompt clusters)"


def cluster_scores(clusters: Sequence[Sequence[float]]) -> np.ndarray:
    """One score per prompt: the mean of its valid item scores (ties 0.5); empty ones dropped."""
    return np.array([float(np.mean(c)) for c in clusters if len(c)], dtype=float)


def bootstrap_means(scores: np.ndarray, n_boot: int = 10_000, seed: int = 0) -> np.ndarray:
    """``n_boot`` bootstrap replicates of the mean of ``scores`` (prompts resampled).

    When the scores take few distinct values (win/tie/loss give three) the replicates are drawn
    as multinomial counts over those values — the same distribution as resampling rows, at a
    cost that does not grow with the number of prompts.
    """
    scores = np.asarray(scores, dtype=float)
    n = scores.size
    if n == 0:
        return np.full(n_boot, np.nan)
    rng = np.random.default_rng(seed)
    values, counts = np.unique(scores, return_counts=True)
    if values.size <= _MAX_CATEGORIES:
        draws = rng.multinomial(n, counts / n, size=n_boot)
        return draws @ values / n
    out = np.empty(n_boot)
    chunk = max(1, 2_000_000 // n)
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        idx = rng.integers(0, n, size=(stop - start, n))
        out[start:stop] = scores[idx].mean(axis=1)
    return out


def percentile_ci(replicates: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    alpha = (1 - level) / 2
    lo, hi = np.quantile(replicates, [alpha, 1 - alpha])
    return float(lo), float(hi)


def win_rate_summary(scores: np.ndarray, *, level: float = 0.95, n_boot: int = 10_000,
                     seed: int = 0, method: str = "agresti-coull") -> dict[str, Any]:
    """Win rate (mean prompt score), its standard error and a CI over prompt clusters.

    ``method="agresti-coull"`` (default): ``intervals.win_rate_interval``, with ``n_eff`` the
    effective sample size; it needs no resampling, so ``n_boot`` is reported as 0.
    ``method="percentile-bootstrap"``: the paired percentile bootstrap with ``n_boot``
    resamples and ``seed`` (evalkit's earlier default; too narrow at small n and near 0 or 1).
    """
    if method not in ("agresti-coull", "percentile-bootstrap"):
        raise ValueError(f"unknown interval method {method!r}")
    scores = np.asarray(scores, dtype=float)
    n = int(scores.size)
    boot = method == "percentile-bootstrap"
    out: dict[str, Any] = {
        "n": n, "win_rate": None, "se": None, "ci": None, "ci_level": level,
        "ci_method": _BOOT_METHOD if boot else _INTERVAL_METHOD,
        "n_boot": int(n_boot) if boot else 0, "n_eff": None}
    if n == 0:
        return out
    out["win_rate"] = float(scores.mean())
    # one prompt has no standard error: None, as for none (a NaN here made the stored
    # comparison summary invalid JSON for SQLite's json_extract, breaking the dashboard)
    out["se"] = float(scores.std(ddof=1) / np.sqrt(n)) if n > 1 else None
    if boot:
        out["ci"] = list(percentile_ci(bootstrap_means(scores, n_boot, seed), level))
    else:
        lo, hi, n_eff = win_rate_interval(scores, level)
        out.update(ci=[lo, hi], n_eff=n_eff)
    return out


def bca_ci(scores: np.ndarray, *, level: float = 0.95, n_boot: int = 10_000,
           seed: int = 0) -> tuple[float, float]:
    """Bias-corrected and accelerated (BCa, Efron 1987) bootstrap interval for the mean.

    The bias correction is ``z0 = Phi^-1(share of replicates below the estimate)``, counting
    replicates equal to it as half (they are common when scores take three values); replicates
    come from ``bootstrap_means`` with the same seed. For the mean, the jackknife acceleration has
    a closed form: the leave-one-out means differ from the full mean by ``(x_i - m)/(n - 1)``,
    so ``a = sum (x_i - m)^3 / (6 * (sum (x_i - m)^2)^1.5)`` (O(n)). The endpoints are the
    replicate quantiles at ``Phi(z0 + (z0 + z) / (1 - a (z0 + z)))`` for ``z = Phi^-1(alpha/2)``
    and ``Phi^-1(1 - alpha/2)``. All scores equal gives ``(m, m)``; no scores gives NaNs.
    """
    from scipy.stats import norm

    scores = np.asarray(scores, dtype=float).ravel()
    n = scores.size
    if n == 0:
        return float("nan"), float("nan")
    mean = float(scores.mean())
    dev = scores - mean
    ss = float(np.sum(dev * dev))
    if n == 1 or ss == 0.0 or np.all(scores == scores[0]):
        return mean, mean
    reps = bootstrap_means(scores, n_boot, seed)
    below = float(np.count_nonzero(reps < mean)) + 0.5 * float(np.count_nonzero(reps == mean))
    share = min(max(below / reps.size, 0.5 / reps.size), 1.0 - 0.5 / reps.size)
    z0 = float(norm.ppf(share))
    accel = float(np.sum(dev ** 3)) / (6.0 * ss ** 1.5)
    alpha = (1.0 - level) / 2.0
    probs = []
    for z in (norm.ppf(alpha), norm.ppf(1.0 - alpha)):
        shifted = z0 + z
        denom = 1.0 - accel * shifted
        # a (z0 + z) >= 1 only for absurd skew at tiny n; fall back to the extreme replicate.
        probs.append(float(norm.cdf(z0 + shifted / denom)) if denom > 0 else
                     (0.0 if z < 0 else 1.0))
    lo, hi = np.quantile(reps, probs)
    return float(lo), float(hi)
