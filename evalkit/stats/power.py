"""Power and sample size for a paired win-rate comparison (scores 0 / 0.5 / 1 per prompt).

Model: each prompt is a win, tie or loss for the candidate with probabilities
``w1, t, 1 - t - w1``; the win rate is ``W = w1 + t/2`` and the score variance is

    Var(S) = E[S^2] - W^2 = (w1 + t/4) - W^2 = W (1 - W) - t/4
           = (1 - t)/4 - d^2            with d = W - 0.5.

The planned test is the large-sample z-test of the mean score against 0.5 (the normal
approximation of the sign test the CLI shows for hard outcomes): reject when
``|mean - 0.5| > z_{1-a} * sigma0 / sqrt(n)`` with the null variance ``sigma0^2 = (1 - t)/4``
(``a = alpha/2`` two-sided). Under the alternative the mean has sd ``sigma1 / sqrt(n)``,
``sigma1^2 = (1 - t)/4 - d^2``, so (ignoring the far tail)

    power = Phi((d sqrt(n) - z_{1-a} sigma0) / sigma1)
    n     = ((z_{1-a} sigma0 + z_{power} sigma1) / d)^2.

Simulation (tests/test_stats_power.py) gives 0.80 ± 0.02 for this z-test and for the
prompt-level t-test at ``required_prompts``; the exact sign test is slightly conservative
(discreteness), a few points lower at small n, so add ~5-10% prompts when planning for it.

Ties shrink the variance, so a higher tie rate needs fewer prompts for the same win-rate
difference (but a fixed difference is also harder to reach: |d| <= (1 - t)/2).
"""

from __future__ import annotations

import math

from scipy.stats import norm


def _check(tie_rate: float, alpha: float, power: float) -> None:
    if not 0.0 <= tie_rate < 1.0:
        raise ValueError("tie_rate must be in [0, 1)")
    if not 0.0 < alpha < 1.0:
        raise ValueError("alpha must be in (0, 1)")
    if not 0.0 < power < 1.0:
        raise ValueError("power must be in (0, 1)")


def _z_alpha(alpha: float, two_sided: bool) -> float:
    return float(norm.ppf(1.0 - (alpha / 2.0 if two_sided else alpha)))


def required_prompts(difference: float, *, tie_rate: float = 0.0, alpha: float = 0.05,
                     power: float = 0.8, two_sided: bool = True) -> int:
    """Prompts needed to detect ``|win rate - 0.5| = difference`` with the given power.

    ``n = ceil(((z_{1-a} sigma0 + z_power sigma1) / d)^2)`` with ``sigma0^2 = (1-t)/4`` and
    ``sigma1^2 = (1-t)/4 - d^2`` (see the module docstring). Requires
    ``0 < difference <= (1 - tie_rate)/2``.
    """
    _check(tie_rate, alpha, power)
    d = abs(float(difference))
    if d == 0.0:
        raise ValueError("difference must be non-zero")
    if d > (1.0 - tie_rate) / 2.0 + 1e-12:
        raise ValueError("difference exceeds (1 - tie_rate)/2, the largest possible")
    sigma0 = math.sqrt((1.0 - tie_rate) / 4.0)
    sigma1 = math.sqrt(max(0.0, (1.0 - tie_rate) / 4.0 - d * d))
    za = _z_alpha(alpha, two_sided)
    zb = float(norm.ppf(power))
    n = ((za * sigma0 + zb * sigma1) / d) ** 2
    return max(1, math.ceil(n - 1e-9))


def min_detectable_difference(n: int, *, tie_rate: float = 0.0, alpha: float = 0.05,
                              power: float = 0.8, two_sided: bool = True) -> float:
    """Smallest ``|win rate - 0.5|`` detectable with ``n`` prompts at the given power.

    Solves ``d sqrt(n) = z_{1-a} sigma0 + z_power sqrt(sigma0^2 - d^2)`` for d in closed form
    (a quadratic: with ``A = z_{1-a} sigma0 / sqrt(n)`` and ``B = z_power / sqrt(n)``,
    ``d = (A + B sqrt((1 + B^2) sigma0^2 - A^2)) / (1 + B^2)``); the inverse of
    ``required_prompts`` up to rounding n up. Returns ``inf`` when no difference up to the
    largest possible, ``(1 - tie_rate)/2``, reaches the power with n prompts.
    """
    _check(tie_rate, alpha, power)
    if n < 1:
        raise ValueError("n must be >= 1")
    var0 = (1.0 - tie_rate) / 4.0
    root_n = math.sqrt(n)
    a = _z_alpha(alpha, two_sided) * math.sqrt(var0) / root_n
    b = float(norm.ppf(power)) / root_n
    disc = (1.0 + b * b) * var0 - a * a
    if disc < 0:
        return math.inf
    d = (a + b * math.sqrt(disc)) / (1.0 + b * b)
    if d > (1.0 - tie_rate) / 2.0 or d <= 0:
        return math.inf
    return float(d)
