"""Bootstrap confidence intervals for Bradley–Terry ratings, and ranks by CI. Pure numpy."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .bt_counts import BattleCounts
from .bt_fit import BTFit, _has_finite_mle, _newton_batch, _normalise, _to_ratings, fit_bt

__all__ = ["BTResult", "ModelRating", "bootstrap_bt", "rank_by_ci"]

_BATCH_ELEMENTS = 2_000_000  # rounds x K x K doubles per batched Newton chunk


@dataclass(frozen=True)
class ModelRating:
    """One model's line in a leaderboard."""

    name: str
    rating: float
    ci: tuple[float, float]
    rank: int
    n: float
    ties: float


@dataclass(frozen=True, eq=False)
class BTResult:
    """Bradley–Terry ratings with bootstrap percentile CIs and ranks by CI."""

    models: tuple[str, ...]
    ratings: np.ndarray
    ci: np.ndarray  # shape (K, 2): lo, hi
    ranks: np.ndarray
    n: np.ndarray
    ties: np.ndarray
    method: str
    level: float
    rounds: int
    seed: int
    fit: BTFit
    replicates: np.ndarray = field(repr=False)  # shape (rounds, K): bootstrap ratings
    n_degenerate: int = 0  # rounds whose resample had no finite MLE (fitted with fallback_l2)

    def entries(self) -> tuple[ModelRating, ...]:
        """Per-model records in ``models`` order."""
        return tuple(ModelRating(name=m, rating=float(self.ratings[i]),
                                 ci=(float(self.ci[i, 0]), float(self.ci[i, 1])),
                                 rank=int(self.ranks[i]), n=float(self.n[i]),
                                 ties=float(self.ties[i]))
                     for i, m in enumerate(self.models))

    def leaderboard(self) -> list[ModelRating]:
        """Records sorted by rank, then rating (highest first)."""
        return sorted(self.entries(), key=lambda e: (e.rank, -e.rating, e.name))

    def __getitem__(self, name: str) -> ModelRating:
        return self.entries()[self.fit._index(name)]


def rank_by_ci(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """rank_i = 1 + number of models whose CI lower bound is above model i's upper bound;
    models whose intervals overlap share a rank."""
    lo = np.asarray(lo, dtype=float)
    hi = np.asarray(hi, dtype=float)
    return 1 + (lo[None, :] > hi[:, None]).sum(axis=1)


def bootstrap_bt(counts: BattleCounts, *, rounds: int = 100, seed: int = 0, level: float = 0.95,
                 anchor: str | None = None, base_rating: float = 1000.0, scale: float = 400.0,
                 l2: float = 0.0, fallback_l2: float = 1e-6, tol: float = 1e-10,
                 max_iter: int = 1000) -> BTResult:
    """Bootstrap Bradley–Terry ratings: percentile CIs and ranks by CI.

    Each round is one multinomial draw of ``round(total)`` battles over the (pair, outcome)
    cells with the observed cell frequencies — exactly resampling battles with replacement,
    at a cost independent of the number of battles. With fractional (soft) counts the cells'
    masses are used as probabilities and the draw is rescaled by ``total / round(total)``, so
    each resample keeps the observed total weight and expected cell masses. All rounds are
    refitted in one batched Newton solve, warm-started at the point estimate. A resample with
    no finite MLE (a model lost every resampled battle) is fitted with ridge ``fallback_l2``
    (a very large but finite gap) and counted in ``n_degenerate``.
    """
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1; got {rounds}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1); got {level}")
    if not (math.isfinite(fallback_l2) and fallback_l2 > 0):
        raise ValueError(f"fallback_l2 must be > 0; got {fallback_l2}")
    fit = fit_bt(counts, anchor=anchor, base_rating=base_rating, scale=scale, l2=l2, tol=tol,
                 max_iter=max_iter)
    k = counts.n_models
    ref = counts.index(anchor) if anchor is not None else None
    pin = ref or 0
    i, j, a_wins, ties, b_wins = counts.pairs()
    cells = np.concatenate([a_wins, ties, b_wins])
    total = float(cells.sum())
    n_draw = max(1, int(round(total)))
    probs = cells / total
    weight = total / n_draw
    rng = np.random.default_rng(seed)
    theta0 = fit.theta - fit.theta[pin]
    chunk = max(1, _BATCH_ELEMENTS // (k * k))
    reps = np.empty((rounds, k))
    degenerate = 0
    npair = i.size
    for start in range(0, rounds, chunk):
        r = min(rounds, start + chunk) - start
        draw = rng.multinomial(n_draw, probs, size=r).astype(float) * weight
        aw, t, bw = draw[:, :npair], draw[:, npair:2 * npair], draw[:, 2 * npair:]
        w = np.zeros((r, k, k))
        w[:, i, j] = aw + 0.5 * t
        w[:, j, i] = bw + 0.5 * t
        lam = np.full(r, float(l2))
        if l2 == 0:
            bad = ~_has_finite_mle(w)
            degenerate += int(bad.sum())
            lam[bad] = fallback_l2
        theta, _ = _newton_batch(w, np.repeat(theta0[None], r, axis=0), pin, lam, tol, max_iter)
        reps[start:start + r] = _to_ratings(_normalise(theta, ref), base_rating, scale)
    alpha = (1.0 - level) / 2.0
    ci = np.quantile(reps, [alpha, 1.0 - alpha], axis=0).T
    method = (f"Bradley-Terry MLE (ties = half a win{', ridge l2=' + str(l2) if l2 else ''}), "
              f"{level:.0%} percentile bootstrap over battles ({rounds} multinomial rounds, "
              f"seed {seed}); {'anchor ' + repr(str(anchor)) if anchor is not None else 'mean'}"
              f" = {base_rating:g}, {scale:g} points = 10:1 odds")
    if degenerate:
        method += f"; {degenerate} round(s) without a finite MLE fitted with l2={fallback_l2:g}"
    return BTResult(models=counts.models, ratings=fit.ratings, ci=ci,
                    ranks=rank_by_ci(ci[:, 0], ci[:, 1]), n=counts.n_battles,
                    ties=counts.n_ties, method=method, level=level, rounds=rounds, seed=seed,
                    fit=fit, replicates=reps, n_degenerate=degenerate)

