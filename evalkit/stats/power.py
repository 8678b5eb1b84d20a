"""Power and sample size for a paired win-rate comparison (scores 0 / 0.5 / 1 per prompt).

Two questions, two sets of functions — do not mix them up:

- ``required_prompts`` / ``min_detectable_difference``: *is the win rate different from
  0.5?* — the two-sided (by default) z-test against 0.5 with **no margin**. Right for planning
  a plain A-vs-B comparison; **wrong for the gate**, which asks a one-sided question against
  ``0.5 − margin`` (they give 548 prompts for "detect 0.45 with 30% ties", which has only ~0.53
  power to block a win rate of 0.45 when the margin is 0.02).
- ``required_prompts_margin`` / ``min_detectable_regression`` / ``plan_margin_test``: the
  gate's question — *is the win rate below 0.5 − margin?* — one-sided, margin included, fixed
  n and group-sequential (``evalkit plan`` prints these).

Model: each prompt is a win, tie or loss for the candidate with probabilities
``w1, t, 1 - t - w1``; the win rate is ``W = w1 + t/2`` and the score variance is

    Var(S) = E[S^2] - W^2 = (w1 + t/4) - W^2 = W (1 - W) - t/4
           = (1 - t)/4 - d^2            with d = W - 0.5.

**Against 0.5** (``required_prompts``): the large-sample z-test of the mean score against 0.5
(the normal approximation of the sign test the CLI shows for hard outcomes) rejects when
``|mean - 0.5| > z_{1-a} * sigma0 / sqrt(n)`` with the null variance ``sigma0^2 = (1 - t)/4``
(``a = alpha/2`` two-sided). Under the alternative the mean has sd ``sigma1 / sqrt(n)``,
``sigma1^2 = (1 - t)/4 - d^2``, so (ignoring the far tail)

    power = Phi((d sqrt(n) - z_{1-a} sigma0) / sigma1)
    n     = ((z_{1-a} sigma0 + z_{power} sigma1) / d)^2.

Simulation (tests/test_stats_power.py) gives 0.80 ± 0.02 for this z-test and for the
prompt-level t-test at ``required_prompts``; the exact sign test is slightly conservative
(discreteness), a few points lower at small n, so add ~5-10% prompts when planning for it.

**Against 0.5 − margin, one-sided** (the gate): the gate's t-test blocks when
``mean < θ0 − z_{1-α} s/√n`` with θ0 = 0.5 − margin and s the sample sd, which estimates the
sd *at the true win rate*. For a true win rate ``W1 = 0.5 − regression`` (a drop of
``regression`` below 0.5, deeper than the margin):

    power = Phi((θ0 − W1) √n / sigma(W1) − z_{1-α})
    n     = ((z_{1-α} + z_{power}) sigma(W1) / (θ0 − W1))^2,   sigma(W)^2 = (1-t)/4 − (W−0.5)^2.

Example: margin 0.02, ties 0.3, regression 0.05 (W1 = 0.45): d = 0.03, sigma = 0.415,
n = ((1.645 + 0.842) · 0.415 / 0.03)^2 ≈ 1,185. With several gate rules and Holm or BH, a
regression confined to one rule must beat α/m (their first step): plan with ``alpha / m``.

Ties shrink the variance, so a higher tie rate needs fewer prompts for the same win-rate
difference (but a fixed difference is also harder to reach: |d| <= (1 - t)/2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.stats import norm

from .sequential import SequentialSpec, design_sequential, operating_characteristics


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
    """Prompts needed to detect ``|win rate - 0.5| = difference`` with the given power, by a
    test against 0.5 with no margin (two-sided by default). For the gate's one-sided margin
    test use ``required_prompts_margin``.

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
    """Smallest ``|win rate - 0.5|`` detectable with ``n`` prompts at the given power, by a
    test against 0.5 with no margin (two-sided by default). For what the gate can detect use
    ``min_detectable_regression``.

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


# ---- the gate's question: one-sided, against 0.5 - margin ------------------------------------
def score_sd(win_rate: float, tie_rate: float = 0.0) -> float:
    """Per-prompt score sd at a win rate and tie rate: ``sqrt((1-t)/4 − (W − 0.5)^2)``."""
    return math.sqrt(max(0.0, (1.0 - tie_rate) / 4.0 - (win_rate - 0.5) ** 2))


def _check_margin(regression: float | None, margin: float, tie_rate: float) -> None:
    if not 0.0 <= margin < 0.5:
        raise ValueError("margin must be in [0, 0.5)")
    if regression is not None:
        if regression <= margin:
            raise ValueError("the regression to detect must be larger than the margin")
        if regression > (1.0 - tie_rate) / 2.0 + 1e-12:
            raise ValueError("the regression exceeds (1 - tie_rate)/2, the largest possible")


def required_prompts_margin(regression: float, margin: float = 0.0, *, tie_rate: float = 0.0,
                            alpha: float = 0.05, power: float = 0.8) -> int:
    """Valid prompts the gate's one-sided test (H0: win rate ≥ 0.5 − margin) needs to block a
    true win rate of ``0.5 − regression`` with probability ``power`` at level ``alpha``:
    ``n = ceil(((z_{1-α} + z_power) sigma(W1) / (regression − margin))^2)``."""
    _check(tie_rate, alpha, power)
    _check_margin(regression, margin, tie_rate)
    sd = score_sd(0.5 - regression, tie_rate)
    z = float(norm.ppf(1.0 - alpha) + norm.ppf(power))
    return max(2, math.ceil((z * sd / (regression - margin)) ** 2 - 1e-9))


def min_detectable_regression(n: int, margin: float = 0.0, *, tie_rate: float = 0.0,
                              alpha: float = 0.05, power: float = 0.8) -> float:
    """The smallest drop r below 0.5 (a true win rate of 0.5 − r) that the gate's one-sided
    test against 0.5 − margin blocks with probability ``power`` on ``n`` valid prompts.

    Solves ``(r − margin) √n = (z_{1-α} + z_power) sigma(0.5 − r)`` (a quadratic in
    ``d = r − margin``: with ``c = (z_{1-α} + z_power)/√n`` and ``v = (1-t)/4``,
    ``d = (c sqrt((1 + c²) v − margin²) − c² margin) / (1 + c²)``); the inverse of
    ``required_prompts_margin`` up to rounding n up. ``inf`` when nothing down to a win rate
    of t/2 (every non-tie a loss) is detectable.
    """
    _check(tie_rate, alpha, power)
    _check_margin(None, margin, tie_rate)
    if n < 2:
        return math.inf
    v = (1.0 - tie_rate) / 4.0
    c = float(norm.ppf(1.0 - alpha) + norm.ppf(power)) / math.sqrt(n)
    disc = (1.0 + c * c) * v - margin * margin
    if disc < 0:
        return math.inf
    r = margin + (c * math.sqrt(disc) - c * c * margin) / (1.0 + c * c)
    return math.inf if r > (1.0 - tie_rate) / 2.0 else float(r)


@dataclass(frozen=True)
class PlanSpec:
    """A gate to plan: block a true win rate of ``0.5 − regression`` with ``power`` while
    blocking at most ``alpha`` of runs at ``0.5 − margin``; ``rules`` gate rules share α
    (Holm/BH: plan at α/rules); sequential: ``looks`` and spending ``rho`` (0 looks: fixed)."""

    margin: float = 0.02
    regression: float = 0.05
    tie_rate: float = 0.0
    alpha: float = 0.05
    power: float = 0.8
    rules: int = 1
    looks: int = 0
    rho: float = 1.0


@dataclass(frozen=True)
class SequentialPlan:
    looks: int
    rho: float
    max_n: int  # the most valid prompts a run can take (sd at a win rate of 0.5)
    inflation: float  # max n at the alternative / fixed n
    expected_n_alternative: float  # true win rate 0.5 − regression
    expected_n_threshold: float  # true win rate 0.5 − margin
    expected_n_equal: float  # true win rate 0.5
    look_n: tuple[int, ...]  # valid prompts at each look (at the alternative's sd)


@dataclass(frozen=True)
class Plan:
    spec: PlanSpec
    alpha_per_rule: float
    threshold: float
    alternative: float
    sd: float  # at the alternative
    fixed_n: int
    sequential: SequentialPlan | None


def plan_margin_test(spec: PlanSpec) -> Plan:
    """Prompts for the gate's margin test: fixed n, and the group-sequential design's maximum
    and expected n (exact under the normal approximation, no simulation)."""
    if spec.rules < 1:
        raise ValueError("rules must be >= 1")
    alpha = spec.alpha / spec.rules
    fixed = required_prompts_margin(spec.regression, spec.margin, tie_rate=spec.tie_rate,
                                    alpha=alpha, power=spec.power)
    sd1 = score_sd(0.5 - spec.regression, spec.tie_rate)
    seq = None
    if spec.looks:
        design = design_sequential(SequentialSpec(
            margin=spec.margin, regression=spec.regression, alpha=alpha, power=spec.power,
            looks=spec.looks, rho=spec.rho))
        scale = design.drift / (spec.regression - spec.margin)

        def expected(win_rate: float) -> float:
            oc = operating_characteristics(design, (0.5 - spec.margin - win_rate) * scale)
            return oc.expected_fraction * design.max_prompts(score_sd(win_rate, spec.tie_rate))

        seq = SequentialPlan(
            looks=spec.looks, rho=spec.rho,
            max_n=math.ceil(design.max_prompts(score_sd(0.5, spec.tie_rate)) - 1e-9),
            inflation=design.inflation,
            expected_n_alternative=expected(0.5 - spec.regression),
            expected_n_threshold=expected(0.5 - spec.margin), expected_n_equal=expected(0.5),
            look_n=tuple(math.ceil(t * design.max_prompts(sd1) - 1e-9)
                         for t in design.fractions))
    return Plan(spec=spec, alpha_per_rule=alpha, threshold=0.5 - spec.margin,
                alternative=0.5 - spec.regression, sd=sd1, fixed_n=fixed, sequential=seq)
