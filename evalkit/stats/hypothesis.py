"""Hypothesis tests on per-prompt scores (win 1, tie 0.5, loss 0; the prompt is the unit).

- ``sign_test``: exact binomial test on the discordant prompts (ties dropped) — McNemar's exact
  test for a paired comparison.
- ``paired_test``: the sign test and a one-sample t-test of the mean score against 0.5, with the
  one the CLI should show.
- ``noninferiority`` / ``superiority``: one-sided tests of the win rate against 0.5 ∓ margin,
  by the prompt-level t interval or by the paired percentile bootstrap.
- ``holm`` / ``benjamini_hochberg``: multiplicity-adjusted p-values (NaN-tolerant).

Pure numpy/scipy, no I/O; every resampling is seeded. The tails come from ``scipy.special``
(the functions ``scipy.stats.binom`` and ``scipy.stats.t`` call, so the p-values are the same
to the last bit) rather than ``scipy.stats``, which takes ~0.6 s to import.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy.special import stdtr, stdtrit

from .bootstrap import bootstrap_means

Alternative = Literal["two-sided", "greater", "less"]
Method = Literal["t", "bootstrap"]


def sign_test(wins: int, losses: int, *, alternative: Alternative = "two-sided") -> float:
    """Exact sign test (McNemar exact): ``wins ~ Binomial(wins + losses, 1/2)`` under H0.

    Ties are not passed in (they carry no information on direction). ``"greater"`` tests
    H1: the candidate wins more often than it loses. The two-sided p-value doubles the smaller
    tail, capped at 1 (exactly the likelihood-ordering p-value, because Binomial(n, 1/2) is
    symmetric). No discordant outcomes gives p = 1.
    """
    wins, losses = int(wins), int(losses)
    if wins < 0 or losses < 0:
        raise ValueError("wins and losses must be non-negative")
    n = wins + losses
    if n == 0:
        return 1.0
    upper, lower = _binomial_tails(wins, n)
    if alternative == "greater":
        return min(1.0, upper)
    if alternative == "less":
        return min(1.0, lower)
    if alternative == "two-sided":
        return min(1.0, 2.0 * min(upper, lower))
    raise ValueError(f"unknown alternative {alternative!r}")


def _binomial_tails(k: int, n: int) -> tuple[float, float]:
    """``(P(X >= k), P(X <= k))`` for ``X ~ Binomial(n, 1/2)``, ``0 <= k <= n``: the ufuncs
    ``scipy.stats.binom.sf``/``cdf`` evaluate inside the support (Boost's incomplete beta),
    with the support's edges as ``scipy.stats`` sets them."""
    try:
        from scipy.special._ufuncs import _binom_cdf, _binom_sf
    except ImportError:  # a scipy that moved them: the distribution itself (slower to import)
        from scipy.stats import binom

        return float(binom.sf(k - 1, n, 0.5)), float(binom.cdf(k, n, 0.5))
    upper = 1.0 if k <= 0 else float(_binom_sf(k - 1, n, 0.5))
    lower = 1.0 if k >= n else float(_binom_cdf(k, n, 0.5))
    return upper, lower


def t_sf(t_stat: float, df: float) -> float:
    """``P(T > t)`` for Student's t with ``df`` degrees of freedom (``scipy.stats.t.sf``)."""
    return float(stdtr(df, -t_stat))


def t_cdf(t_stat: float, df: float) -> float:
    """``P(T <= t)`` (``scipy.stats.t.cdf``)."""
    return float(stdtr(df, t_stat))


def t_ppf(q: float, df: float) -> float:
    """The ``q`` quantile of Student's t (``scipy.stats.t.ppf``)."""
    return float(stdtrit(df, q))


def _t_pvalue(t_stat: float, df: int, alternative: Alternative) -> float:
    if alternative == "greater":
        return t_sf(t_stat, df)
    if alternative == "less":
        return t_cdf(t_stat, df)
    if alternative == "two-sided":
        return float(min(1.0, 2.0 * t_sf(abs(t_stat), df)))
    raise ValueError(f"unknown alternative {alternative!r}")


def paired_test(scores: np.ndarray, *,
                alternative: Alternative = "two-sided") -> dict[str, Any]:
    """Sign test and t-test of H0: win rate = 0.5 on per-prompt scores.

    A prompt counts as a win if its score is > 0.5, a loss if < 0.5 and a tie if = 0.5 (for
    hard outcomes: win/tie/loss). ``p_sign`` is the exact sign test on wins vs losses.
    ``p_t`` is the one-sample t-test of the mean prompt score against 0.5 (standard error =
    sd/sqrt(n), n-1 df); it uses the size of fractional scores, not just their side of 0.5.
    ``p_t`` is NaN with fewer than 2 prompts or zero spread (unless every score is 0.5: p = 1).

    Which to show: ``recommended`` is ``"sign"`` when every score is 0, 0.5 or 1 (one judged
    sample per prompt: the exact test is valid at any n) and ``"t"`` otherwise (soft or
    multi-sample scores, where the sign test would discard the magnitudes); ``p_value`` is that
    one's p-value.
    """
    scores = np.asarray(scores, dtype=float).ravel()
    n = int(scores.size)
    wins = int(np.count_nonzero(scores > 0.5))
    losses = int(np.count_nonzero(scores < 0.5))
    ties = n - wins - losses
    p_sign = sign_test(wins, losses, alternative=alternative)
    mean = float(scores.mean()) if n else float("nan")
    t_stat = p_t = float("nan")
    if n >= 2:
        sd = float(scores.std(ddof=1))
        if sd > 0:
            t_stat = (mean - 0.5) / (sd / np.sqrt(n))
            p_t = _t_pvalue(t_stat, n - 1, alternative)
        elif mean == 0.5:
            t_stat, p_t = 0.0, 1.0
    hard = bool(np.all(np.isin(scores, (0.0, 0.5, 1.0))))
    recommended = "sign" if hard else "t"
    return {"n": n, "wins": wins, "ties": ties, "losses": losses, "win_rate": mean,
            "alternative": alternative, "p_sign": p_sign, "t_stat": float(t_stat),
            "p_t": float(p_t), "recommended": recommended,
            "p_value": p_sign if hard else float(p_t),
            "method": ("exact sign test (McNemar), ties dropped" if hard else
                       "one-sample t-test of prompt scores vs 0.5")}


def _one_sided(scores: np.ndarray, null: float, *, test: str, margin: float, alpha: float,
               method: Method, n_boot: int, seed: int, success: str) -> dict[str, Any]:
    """Shared engine: H0 win rate <= null vs H1 win rate > null."""
    if not 0.0 < alpha < 1.0:
        raise ValueError("alpha must be in (0, 1)")
    scores = np.asarray(scores, dtype=float).ravel()
    n = int(scores.size)
    out: dict[str, Any] = {"test": test, "n": n, "margin": float(margin),
                           "null_value": float(null), "alpha": float(alpha),
                           "bound_level": 1.0 - alpha, "method": method}
    if n == 0:
        out.update(estimate=float("nan"), se=float("nan"), lower_bound=float("nan"),
                   p_value=float("nan"), decision="not shown")
        return out
    mean = float(scores.mean())
    se = float(scores.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    if method == "t":
        if n > 1 and se > 0:
            lower = mean - t_ppf(1.0 - alpha, n - 1) * se
            p = t_sf((mean - null) / se, n - 1)
        else:  # no spread: the data are a point; reject only if it lies above the null
            lower = mean
            p = 0.0 if (n > 1 and mean > null) else 1.0
        out["method"] = "one-sided t (prompt-level SE)"
    elif method == "bootstrap":
        # Percentile lower bound with the inverted-CDF quantile, so that "bound > null" and
        # "p < alpha" are the same event: the bound at level 1-a exceeds the null exactly when
        # fewer than a*B replicates are <= null; the smallest such a is the p-value.
        # A single prompt has no sampling distribution to resample: p = 1 (never rejects).
        if n > 1:
            reps = bootstrap_means(scores, n_boot, seed)
            lower = float(np.quantile(reps, alpha, method="inverted_cdf"))
            p = float(np.count_nonzero(reps <= null)) / reps.size
        else:
            lower, p = mean, 1.0
        out["method"] = "one-sided paired percentile bootstrap (prompt clusters), inverted"
        out["n_boot"] = int(n_boot)
    else:
        raise ValueError(f"unknown method {method!r}")
    out.update(estimate=mean, se=se, lower_bound=float(lower), p_value=float(p),
               decision=success if p < alpha else "not shown")
    return out


def noninferiority(scores: np.ndarray, margin: float, *, alpha: float = 0.05,
                   method: Method = "t", n_boot: int = 10_000,
                   seed: int = 0) -> dict[str, Any]:
    """One-sided test of H0: win rate <= 0.5 - margin vs H1: win rate > 0.5 - margin.

    ``method="t"``: lower bound ``mean - t_{1-alpha, n-1} * sd/sqrt(n)`` and the t p-value.
    ``method="bootstrap"``: lower bound = the alpha-quantile of the paired (prompt) bootstrap
    replicates of the mean; p-value = share of replicates <= the null value, i.e. the
    smallest alpha at which that percentile bound rises above the null (test inversion).
    Returns estimate, se, lower_bound (at 1 - alpha), p_value and decision
    ("non-inferior" when p < alpha, equivalently lower_bound > 0.5 - margin, else "not shown").
    """
    if not 0.0 <= margin < 0.5:
        raise ValueError("margin must be in [0, 0.5)")
    return _one_sided(scores, 0.5 - margin, test="non-inferiority", margin=margin, alpha=alpha,
                      method=method, n_boot=n_boot, seed=seed, success="non-inferior")


def superiority(scores: np.ndarray, margin: float = 0.0, *, alpha: float = 0.05,
                method: Method = "t", n_boot: int = 10_000, seed: int = 0) -> dict[str, Any]:
    """One-sided test of H0: win rate <= 0.5 + margin vs H1: win rate > 0.5 + margin.

    Same methods and output as ``noninferiority``; decision "superior" or "not shown".
    """
    if not 0.0 <= margin < 0.5:
        raise ValueError("margin must be in [0, 0.5)")
    return _one_sided(scores, 0.5 + margin, test="superiority", margin=margin, alpha=alpha,
                      method=method, n_boot=n_boot, seed=seed, success="superior")


def _finite_view(pvalues: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    p = np.asarray(pvalues, dtype=float)
    flat = p.ravel()
    keep = ~np.isnan(flat)
    vals = flat[keep]
    if np.any((vals < 0) | (vals > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    return p, keep, vals


def holm(pvalues: npt.ArrayLike) -> np.ndarray:
    """Holm step-down adjusted p-values: sorted ascending, ``p~(i) = max_{j<=i} (m-j+1) p(j)``,
    capped at 1. NaNs stay NaN and do not count towards m. Same shape as the input."""
    p, keep, vals = _finite_view(pvalues)
    m = vals.size
    out = np.full(p.size, np.nan)
    if m:
        order = np.argsort(vals, kind="mergesort")
        scaled = (m - np.arange(m)) * vals[order]
        adj = np.minimum(1.0, np.maximum.accumulate(scaled))
        res = np.empty(m)
        res[order] = adj
        out[keep] = res
    return out.reshape(p.shape)


def benjamini_hochberg(pvalues: npt.ArrayLike) -> np.ndarray:
    """Benjamini–Hochberg step-up adjusted p-values (FDR): sorted ascending,
    ``q(i) = min_{j>=i} m p(j) / j``, capped at 1. NaNs stay NaN and do not count towards m."""
    p, keep, vals = _finite_view(pvalues)
    m = vals.size
    out = np.full(p.size, np.nan)
    if m:
        order = np.argsort(vals, kind="mergesort")
        scaled = vals[order] * m / np.arange(1, m + 1)
        adj = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
        res = np.empty(m)
        res[order] = adj
        out[keep] = res
    return out.reshape(p.shape)


def regression_test(scores: np.ndarray, threshold: float) -> dict[str, Any]:
    """One-sided test of H0: win rate ≥ ``threshold`` against H1: win rate < ``threshold``.

    A small p-value says the candidate is *credibly below* the threshold (0.5 − margin): the
    gate's definition of a regression. t-test on prompt scores (standard error sd/√n, n−1 df);
    with zero spread the p-value is 0 when the mean is below the threshold, else 1.
    """
    scores = np.asarray(scores, dtype=float).ravel()
    n = int(scores.size)
    if n == 0:
        return {"n": 0, "estimate": None, "se": None, "p_value": None, "threshold": threshold}
    mean = float(scores.mean())
    sd = float(scores.std(ddof=1)) if n > 1 else 0.0
    if sd == 0 or n < 2:
        p = 0.0 if mean < threshold else 1.0
        se = 0.0
    else:
        se = sd / float(np.sqrt(n))
        p = t_cdf((mean - threshold) / se, n - 1)
    return {"n": n, "estimate": mean, "se": se, "p_value": p, "threshold": threshold,
            "method": "one-sided t-test on prompt scores, H0: win rate >= threshold"}
