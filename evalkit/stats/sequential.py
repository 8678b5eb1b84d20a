"""Group-sequential test of "the candidate regressed" with error spending. Pure numpy/scipy.

The question, as in the fixed gate: is the win rate W below the threshold ``θ0 = 0.5 − margin``?
At look k, on the n_k prompts judged so far (mean x̄_k, sample sd s_k), the studentised
statistic is ``Z_k = (θ0 − x̄_k) / (s_k / √n_k)`` (large = evidence of a regression). Under the
normal approximation ``(Z_1 … Z_K)`` is multivariate normal with ``Cov(Z_j, Z_k) = √(t_j/t_k)``
and ``E[Z_k] = μ √t_k``, where ``t_k = I_k / I_max`` is the information fraction
(``I = n/σ²``) and ``μ = (θ0 − W) √I_max``.

The design (Lan & DeMets error spending, both errors):

- ``α(t) = α·t^ρ`` is the false-block probability spent by information t, under W = θ0;
  the regression boundary ``b_k`` spends ``α(t_k) − α(t_{k−1})``;
- ``β(t) = β·t^ρ`` is the miss probability spent, under W = θ1 = 0.5 − regression
  (drift ``μ = η``); the pass boundary ``a_k`` spends ``β(t_k) − β(t_{k−1})``;
- the maximum information (the drift η at t = 1) is the one at which the two boundaries
  meet at the last look, so the final look always decides.

Block at the first look with ``Z_k ≥ b_k``, pass at the first with ``Z_k ≤ a_k``. Across all
looks the false-block probability at W = θ0 is α and the miss probability at W = θ1 is β. The
crossing probabilities come from the recursive numerical integration of Armitage, McPherson
and Rowe (Jennison & Turnbull 2000, ch. 19): the sub-density of the score ``S_k = Z_k √t_k`` on
the continuation region is carried from look to look by a Gaussian convolution, on a Simpson
grid. ``operating_characteristics`` uses the same recursion at any true drift (expected sample
size, block and pass probabilities) without simulation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.optimize import brentq
from scipy.special import ndtr, ndtri

_GRID = 241  # Simpson points per look (odd)
_SPAN = 8.5  # standard deviations of the score kept on each side of its means
_INF = 40.0  # a boundary this far out never stops (no error spent at that look)


@dataclass(frozen=True)
class SequentialSpec:
    """What the sequential gate must guarantee.

    False-block probability ≤ ``alpha`` when the win rate is ``0.5 − margin`` (the threshold);
    miss probability ≤ ``1 − power`` when it is ``0.5 − regression``; ``looks`` equally spaced
    in information; spending ``t^rho`` (1: Pocock-like, stops early; 3: O'Brien–Fleming-like,
    small maximum n).
    """

    margin: float = 0.02
    regression: float = 0.05
    alpha: float = 0.05
    power: float = 0.8
    looks: int = 10
    rho: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.margin < 0.5:
            raise ValueError("margin must be in [0, 0.5)")
        if not self.margin < self.regression < 0.5:
            raise ValueError("regression must exceed the margin and stay below 0.5")
        if not 0.0 < self.alpha < 0.5 or not 0.5 < self.power < 1.0:
            raise ValueError("alpha must be in (0, 0.5) and power in (0.5, 1)")
        if not 1 <= self.looks <= 100:
            raise ValueError("looks must be between 1 and 100")
        if not 0.25 <= self.rho <= 10:
            raise ValueError("rho must be between 0.25 and 10")

    @property
    def threshold(self) -> float:
        return 0.5 - self.margin

    @property
    def alternative(self) -> float:
        return 0.5 - self.regression

    @property
    def effect(self) -> float:
        """θ0 − θ1: how far below the threshold the win rate of interest lies."""
        return self.regression - self.margin


@dataclass(frozen=True)
class SequentialDesign:
    """Boundaries on the Z scale at the planned information fractions."""

    spec: SequentialSpec
    fractions: tuple[float, ...]
    regression_z: tuple[float, ...]  # b_k: block when Z_k >= b_k
    pass_z: tuple[float, ...]  # a_k: pass when Z_k <= a_k
    drift: float  # η: E[Z] at t = 1 when the win rate is the alternative

    @property
    def inflation(self) -> float:
        """Maximum n over the fixed-n test's n (same α, power, effect)."""
        return (self.drift / _fixed_drift(self.spec)) ** 2

    def max_prompts(self, sd: float) -> float:
        """Prompts at t = 1 when the per-prompt score sd is ``sd``: ``(η sd / effect)²``."""
        return (self.drift * sd / self.spec.effect) ** 2


@dataclass(frozen=True)
class OperatingCharacteristics:
    """Exact (normal-approximation) behaviour of a design at one true drift."""

    drift: float
    p_regression: float
    p_pass: float
    expected_fraction: float  # E[information fraction at the stop]; × max n = expected n
    stop_probabilities: tuple[float, ...]


@dataclass(frozen=True)
class Look:
    """One analysis: n valid prompts, the statistic, the boundaries and what was decided."""

    look: int  # 0-based
    n: int
    fraction: float  # information fraction the boundaries were computed for
    estimate: float
    se: float
    z: float
    threshold: float
    regression_z: float
    pass_z: float
    decision: str  # "regression" | "pass" | "continue" | "inconclusive"

    @property
    def regression_below(self) -> float:
        """The win rate at or below which this look blocks: ``θ0 − b·se``."""
        return self.threshold - _finite(self.regression_z) * self.se

    @property
    def pass_above(self) -> float:
        """The win rate at or above which this look passes: ``θ0 − a·se``."""
        return self.threshold - _finite(self.pass_z) * self.se

    @property
    def upper_bound(self) -> float:
        """``x̄ + b·se``: below the threshold exactly when this look blocks."""
        return self.estimate + _finite(self.regression_z) * self.se


@dataclass(frozen=True)
class SequentialResult:
    decision: str  # "regression" | "pass" | "inconclusive"
    looks: tuple[Look, ...]

    @property
    def n(self) -> int:
        return self.looks[-1].n if self.looks else 0


def _finite(z: float) -> float:
    return float(np.clip(z, -_INF, _INF))


def _fixed_drift(spec: SequentialSpec) -> float:
    return float(ndtri(1.0 - spec.alpha) + ndtri(spec.power))


def _spent(total: float, rho: float, t: float) -> float:
    return total * min(1.0, max(0.0, t)) ** rho


# ---- the recursion ------------------------------------------------------------------------
class _Density:
    """Sub-density of the score S = Z √t on the continuation region, for several drifts."""

    def __init__(self, x: np.ndarray, wf: np.ndarray, t: float) -> None:
        self.x, self.wf, self.t = x, wf, t  # wf[d, i]: Simpson weight × density at x[i]

    def cross(self, drifts: np.ndarray, t: float, z: float, upper: bool) -> np.ndarray:
        """P(continue so far and Z at t is ≥ z (upper) or ≤ z), per drift."""
        d = t - self.t
        arg = (z * math.sqrt(t) - self.x[None, :] - drifts[:, None] * d) / math.sqrt(d)
        return np.sum(self.wf * ndtr(-arg if upper else arg), axis=1)


def _first_cross(drifts: np.ndarray, t: float, z: float, upper: bool) -> np.ndarray:
    arg = z - drifts * math.sqrt(t)
    return ndtr(-arg if upper else arg)


def _crossing(prev: _Density | None, drifts: np.ndarray, t: float, z: float,
              upper: bool) -> np.ndarray:
    if prev is None:
        return _first_cross(drifts, t, z, upper)
    return prev.cross(drifts, t, z, upper)


def _advance(prev: _Density | None, drifts: np.ndarray, t: float, lo_z: float,
             hi_z: float) -> _Density:
    """The sub-density at t on the continuation region (lo_z, hi_z) on the Z scale."""
    root = math.sqrt(t)
    lo = max(lo_z * root, min(0.0, float(drifts.min())) * t - _SPAN * root)
    hi = min(hi_z * root, max(0.0, float(drifts.max())) * t + _SPAN * root)
    if hi <= lo:
        return _Density(np.array([lo]), np.zeros((drifts.size, 1)), t)
    x = np.linspace(lo, hi, _GRID)
    w = np.ones(_GRID)
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    w *= (hi - lo) / (_GRID - 1) / 3.0
    if prev is None:
        dens = np.exp(-0.5 * ((x[None, :] - drifts[:, None] * t) / root) ** 2)
        dens /= root * math.sqrt(2 * math.pi)
    else:
        d = t - prev.t
        sd = math.sqrt(d)
        diff = x[None, :, None] - prev.x[None, None, :] - drifts[:, None, None] * d
        kernel = np.exp(-0.5 * (diff / sd) ** 2) / (sd * math.sqrt(2 * math.pi))
        dens = np.einsum("dij,dj->di", kernel, prev.wf)
    return _Density(x, dens * w[None, :], t)


def _crossing_at(prev: _Density | None, drifts: np.ndarray, t: float, *, upper: bool
                 ) -> Callable[[float], float]:
    """z ↦ P(cross at or above z) at the threshold drift (upper), or z ↦ P(cross at or below
    −z) at the alternative drift: both decreasing in z, for ``_solve``."""
    if upper:
        return lambda z: float(_crossing(prev, drifts, t, z, True)[0])
    return lambda z: float(_crossing(prev, drifts, t, -z, False)[1])


def _solve(g: Callable[[float], float], target: float, lo: float, hi: float) -> float:
    """The z where the decreasing crossing probability ``g(z)`` equals ``target`` (+inf when
    nothing is to be spent)."""
    if target <= 1e-13:
        return math.inf
    if g(lo) <= target:
        return lo
    if g(hi) >= target:
        return hi
    return float(brentq(lambda z: g(z) - target, lo, hi, xtol=1e-7))


def _boundaries(spec: SequentialSpec, fractions: tuple[float, ...], drift: float,
                *, truncated: bool = False) -> tuple[list[float], list[float], float]:
    """Boundaries at ``fractions`` for the drift η. The last look spends all the α left. A
    planned design forces the boundaries to meet there; a ``truncated`` one (the pool ran out)
    keeps the gap between them (inconclusive). Returns (a, b, gap) with gap = a_K − b_K before
    forcing (> 0 when the boundaries met at or before the last look)."""
    drifts = np.array([0.0, drift])
    beta = 1.0 - spec.power
    prev: _Density | None = None
    a_list: list[float] = []
    b_list: list[float] = []
    t_prev = 0.0
    last = len(fractions) - 1
    for k, t in enumerate(fractions):
        spent = _spent(spec.alpha, spec.rho, t_prev)
        a_inc = (spec.alpha if k == last else _spent(spec.alpha, spec.rho, t)) - spent
        b_inc = _spent(beta, spec.rho, t) - _spent(beta, spec.rho, t_prev)
        centre = drift * math.sqrt(t)
        b = _solve(_crossing_at(prev, drifts, t, upper=True), a_inc, -_INF, _INF)
        a = -_solve(_crossing_at(prev, drifts, t, upper=False), b_inc, -centre - _INF,
                    -centre + _INF)
        if k < last and a >= b:  # the boundaries meet early: too much information planned
            a_list.append(b)
            b_list.append(b)
            return a_list, b_list, 1.0 + a - b
        gap = a - b
        a_list.append(b if (k == last and (not truncated or a >= b)) else a)
        b_list.append(b)
        if k < last:
            prev = _advance(prev, drifts, t, a, b)
            t_prev = t
    return a_list, b_list, gap


@lru_cache(maxsize=64)
def design_sequential(spec: SequentialSpec) -> SequentialDesign:
    """Boundaries and maximum information for ``spec`` (cached: specs are frozen)."""
    fractions = tuple((k + 1) / spec.looks for k in range(spec.looks))
    fixed = _fixed_drift(spec)
    if spec.looks == 1:
        return SequentialDesign(spec, fractions, (float(ndtri(1 - spec.alpha)),),
                                (float(ndtri(1 - spec.alpha)),), fixed)

    def gap(eta: float) -> float:
        return _boundaries(spec, fractions, eta)[2]

    lo, hi = fixed, fixed * 1.5
    while gap(hi) < 0:
        lo, hi = hi, hi * 1.5
    eta = float(brentq(gap, lo, hi, xtol=1e-6))
    a, b, _ = _boundaries(spec, fractions, eta)
    return SequentialDesign(spec, fractions, tuple(b), tuple(a), eta)


def final_look_boundaries(design: SequentialDesign, look: int, fraction: float
                          ) -> tuple[float, float]:
    """(a, b) for an unplanned last look ``look`` (0-based) at information ``fraction`` — the
    pool or the budget ran out: b spends all the α left; a spends β(fraction) as planned, so a
    run that ends between them is inconclusive. (The fraction is rounded to 0.001.)"""
    low = 1e-3 if look == 0 else design.fractions[look - 1] + 1e-3
    return _final(design, look, round(max(fraction, low), 3))


@lru_cache(maxsize=4096)
def _final(design: SequentialDesign, look: int, fraction: float) -> tuple[float, float]:
    fractions = design.fractions[:look] + (fraction,)
    a, b, _ = _boundaries(design.spec, fractions, design.drift, truncated=True)
    return a[-1], b[-1]


def operating_characteristics(design: SequentialDesign, drift: float
                              ) -> OperatingCharacteristics:
    """P(block), P(pass) and E[fraction at stop] at a true drift (η = the alternative, 0 = the
    threshold; see ``drift_of``)."""
    drifts = np.array([float(drift)])
    prev: _Density | None = None
    up = down = expected = 0.0
    stops = []
    for k, t in enumerate(design.fractions):
        a, b = design.pass_z[k], design.regression_z[k]
        p_up = float(_crossing(prev, drifts, t, b, True)[0])
        p_down = float(_crossing(prev, drifts, t, min(a, b), False)[0])
        up, down = up + p_up, down + p_down
        stops.append(p_up + p_down)
        expected += t * (p_up + p_down)
        if k + 1 < len(design.fractions):
            prev = _advance(prev, drifts, t, a, b)
    return OperatingCharacteristics(float(drift), up, down, expected, tuple(stops))


def drift_of(design: SequentialDesign, win_rate: float, sd: float, max_n: float) -> float:
    """The drift μ = (θ0 − W) √n_max / sd of a true win rate, for a run whose t = 1 is at
    ``max_n`` prompts."""
    return (design.spec.threshold - win_rate) * math.sqrt(max_n) / sd


# ---- running a design on data ---------------------------------------------------------------
def look_target(design: SequentialDesign, look: int, sd: float | None, done: int = 0,
                minimum: int = 1) -> int:
    """Valid prompts to have at look ``look`` (0-based): its planned information fraction of
    the maximum n at the score sd estimated so far (before any data: no ties, the largest sd
    near the threshold), at least ``minimum`` and at least one more than ``done``."""
    theta = design.spec.threshold
    if sd is None or not sd > 0:
        sd = math.sqrt(theta * (1.0 - theta))
    n = math.ceil(design.fractions[look] * design.max_prompts(sd) - 1e-9)
    return max(n, minimum, done + 1)


def analyse_look(design: SequentialDesign, look: int, n: int, mean: float, sd: float, *,
                 exhausted: bool = False) -> Look:
    """Analyse look ``look`` on ``n`` valid prompts with score mean and sd (ddof 1).
    ``exhausted``: no more prompts will come (pool or budget): this look is the last one, it
    spends all the α left, and a value between the boundaries is inconclusive."""
    spec = design.spec
    se = sd / math.sqrt(n) if n > 0 else math.inf
    if se > 0:
        z = (spec.threshold - mean) / se
    else:
        z = math.inf if mean < spec.threshold else -math.inf if mean > spec.threshold else 0.0
    last = len(design.fractions) - 1
    fraction = design.fractions[look] if look <= last else 1.0
    if exhausted or look > last:
        planned = design.fractions[look] if look <= last else 1.0
        if sd > 0:
            fraction = min(planned, n / design.max_prompts(sd))
        a, b = (design.pass_z[last], design.regression_z[last]) if (
            look >= last and fraction >= 1.0) else final_look_boundaries(
            design, min(look, last), fraction)
    else:
        a, b = design.pass_z[look], design.regression_z[look]
    decision = ("regression" if z >= b else "pass" if z <= a else
                "inconclusive" if exhausted else "continue")
    return Look(look, n, fraction, mean, se, z, spec.threshold, b, a, decision)


def run_sequential(design: SequentialDesign, scores: np.ndarray, *, minimum: int = 1
                   ) -> SequentialResult:
    """Run the design on a stream of valid per-prompt scores in the order they would be
    judged (a simulation, or a replay); the stream's end is the end of the pool."""
    x = np.asarray(scores, dtype=float).ravel()
    c1 = np.concatenate(([0.0], np.cumsum(x)))
    c2 = np.concatenate(([0.0], np.cumsum(x * x)))
    looks: list[Look] = []
    done, sd = 0, None
    for k in range(len(design.fractions)):
        target = look_target(design, k, sd, done, minimum)
        n = min(target, x.size)
        if n < 1:
            break
        mean = c1[n] / n
        sd = math.sqrt(max(0.0, (c2[n] - n * mean * mean) / (n - 1))) if n > 1 else 0.0
        look = analyse_look(design, k, n, mean, sd, exhausted=n >= x.size)
        looks.append(look)
        done = n
        if look.decision != "continue":
            break
    decision = looks[-1].decision if looks else "inconclusive"
    return SequentialResult(decision, tuple(looks))
