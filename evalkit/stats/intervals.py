"""Confidence interval for a win rate: Agresti–Coull at an effective sample size.

The data are one score per prompt in [0, 1] (win 1, tie 0.5, loss 0, or a mean over samples
and orders; docs/statistics.md). Their mean m is the win rate.

Effective sample size (Korn & Graubard 1998): the number of win/loss prompts that would give
the mean the same variance, ``n_eff = n · m(1 − m) / s²``. A score in [0, 1] has variance at
most m(1 − m), reached only by win/loss data, so ``n_eff = n`` for win/loss prompts and grows
when ties or averaging make the scores less variable. The variance is estimated with two
pseudo-prompts of win/loss variance,

    s² = (Σ (y_i − m)² + 2 · m(1 − m)) / (n + 2),

which leaves win/loss data exactly binomial (n_eff = n), hardly moves s² at ordinary n, and
keeps a sample with no spread (every prompt a tie, or one soft score repeated) from claiming
certainty: it gets n_eff = n(n + 2)/2, a half-width of about 1.4/n — the analogue of the
"rule of three" for an all-win sample. When m is 0 or 1 every score is 0 or 1: n_eff = n.

Interval (Agresti & Coull 1998): add z²/2 wins and z²/2 losses, ñ = n_eff + z²,
p̃ = (m · n_eff + z²/2) / ñ, and take p̃ ± z · sqrt(p̃(1 − p̃)/ñ), clipped to [0, 1]. Chosen by
simulation (bench/interval_coverage.py, docs/statistics.md) over Wilson, Jeffreys,
Clopper–Pearson and the percentile bootstrap: at n = 20 and 50 it keeps ≥ 94% coverage for
rates 0.6, 0.8 and 0.95 with and without ties and for multi-sample means, where Wilson (92.5% at n = 20,
p = 0.95), Jeffreys (88.5% at n = 50, p = 0.95) and the bootstrap (63% at n = 20, p = 0.95;
[1, 1] for 20 wins out of 20) do not; at n = 300 it is within a point of 95%, where
Clopper–Pearson sits at 96–97%. It is never zero-width for a finite sample, and it always
contains m.

Pure numpy and scipy.special; vectorised over any array shape, so a simulation can compute
thousands of intervals at once.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.special import ndtri

METHOD = "Agresti-Coull at the effective sample size n*m(1-m)/s^2 over prompt scores"
PSEUDO_PROMPTS = 2.0

ArrayLike = npt.ArrayLike


def effective_sample_size(mean: ArrayLike, sum_sq: ArrayLike, n: ArrayLike) -> np.ndarray:
    """``n · m(1 − m) / s²`` with ``s² = (sum_sq + 2 m(1 − m)) / (n + 2)``; ``n`` where m(1 − m)
    is 0. ``sum_sq`` is the sum of squared deviations of the prompt scores from their mean."""
    m = np.asarray(mean, dtype=float)
    ss = np.asarray(sum_sq, dtype=float)
    n = np.asarray(n, dtype=float)
    mm = m * (1.0 - m)
    var = (ss + PSEUDO_PROMPTS * mm) / (n + PSEUDO_PROMPTS)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(var > 0, mm / np.where(var > 0, var, 1.0), 1.0)
    return np.where(mm > 0, n * ratio, n)


def agresti_coull(mean: ArrayLike, n_eff: ArrayLike,
                  level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Agresti–Coull interval for a proportion ``mean`` observed on ``n_eff`` (> 0) trials."""
    if not 0.0 < level < 1.0:
        raise ValueError("level must lie strictly between 0 and 1")
    m = np.asarray(mean, dtype=float)
    ne = np.asarray(n_eff, dtype=float)
    z = float(ndtri(0.5 + level / 2.0))
    tilde_n = ne + z * z
    center = (m * ne + z * z / 2.0) / tilde_n
    half = z * np.sqrt(center * (1.0 - center) / tilde_n)
    # the interval always contains m (a property of the method); min/max guard rounding
    lo = np.minimum(np.clip(center - half, 0.0, 1.0), m)
    hi = np.maximum(np.clip(center + half, 0.0, 1.0), m)
    return lo, hi


def win_rate_interval(scores: ArrayLike, level: float = 0.95) -> tuple[float, float, float]:
    """(lower, upper, n_eff) for the mean of prompt scores in [0, 1]; NaNs when empty."""
    y = np.asarray(scores, dtype=float).ravel()
    if y.size == 0:
        return float("nan"), float("nan"), float("nan")
    if not np.all(np.isfinite(y)) or np.any((y < -1e-9) | (y > 1 + 1e-9)):
        raise ValueError("prompt scores must lie in [0, 1]")
    y = np.clip(y, 0.0, 1.0)
    m = float(y.mean())
    dev = y - m
    n_eff = effective_sample_size(m, float(dev @ dev), y.size)
    lo, hi = agresti_coull(m, n_eff, level)
    return float(lo), float(hi), float(n_eff)
