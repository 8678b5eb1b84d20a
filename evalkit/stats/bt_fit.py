"""Bradley–Terry maximum likelihood on aggregated counts: a batched damped-Newton solver,
the existence check for a finite MLE (Zermelo's condition), ratings and predictions.

Model: P(i beats j) = sigmoid(theta_i - theta_j); a tie is half a win for each side.
Ratings: ``base + scale * theta / ln(10)`` (400 points = 10:1 odds). Pure numpy, no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .bt_counts import BattleCounts

__all__ = ["BTFit", "fit_bt", "predicted_win_matrix", "win_probability"]

_LN10 = math.log(10.0)


@dataclass(frozen=True, eq=False)
class BTFit:
    """A Bradley–Terry fit: ``theta`` in log-odds and ``ratings`` on the Elo-like scale."""

    models: tuple[str, ...]
    theta: np.ndarray
    ratings: np.ndarray
    n_battles: np.ndarray
    log_likelihood: float
    anchor: str | None = None
    base_rating: float = 1000.0
    scale: float = 400.0
    l2: float = 0.0
    iterations: int = 0

    def rating(self, name: str) -> float:
        return float(self.ratings[self._index(name)])

    def _index(self, name: str) -> int:
        try:
            return self.models.index(str(name))
        except ValueError:
            raise ValueError(f"unknown model {name!r}; known models: {list(self.models)}") from None


def _sigmoid(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _objective(w: np.ndarray, theta: np.ndarray, l2: np.ndarray) -> np.ndarray:
    """Penalised log-likelihood per batch element: sum W_ij log sigmoid(t_i - t_j) - l2/2 |t|^2."""
    d = theta[:, :, None] - theta[:, None, :]
    ll = -(w * np.logaddexp(0.0, -d)).sum(axis=(1, 2))
    return ll - 0.5 * l2 * (theta * theta).sum(axis=1)


def _newton_batch(w: np.ndarray, theta0: np.ndarray, ref: int, l2: np.ndarray, tol: float,
                  max_iter: int) -> tuple[np.ndarray, int]:
    """Maximise ``_objective`` for each batch element by damped Newton (Armijo backtracking).

    Elements with ``l2 == 0`` keep ``theta[ref]`` fixed (the likelihood is shift-invariant);
    ridge elements solve for all K. The objective is concave, so this converges whenever the
    maximum is finite. Returns theta and the number of iterations of the slowest element."""
    theta = theta0.astype(float, copy=True)
    r, k = theta.shape
    wt = w.transpose(0, 2, 1)
    n = w + wt
    f = _objective(w, theta, l2)
    active = np.arange(r)
    eye = np.eye(k)
    for it in range(1, max_iter + 1):
        th, wa, wta, na, la = theta[active], w[active], wt[active], n[active], l2[active]
        p = _sigmoid(th[:, :, None] - th[:, None, :])
        pt = p.transpose(0, 2, 1)  # P(j beats i) = 1 - p, computed without cancellation
        grad = (wa * pt).sum(axis=2) - (wta * p).sum(axis=2) - la[:, None] * th
        v = na * p * pt
        hess = eye * (v.sum(axis=2) + la[:, None])[:, :, None] - v  # minus the Hessian
        pinned = la == 0
        if pinned.any():
            hess[pinned, ref, :] = 0.0
            hess[pinned, :, ref] = 0.0
            hess[pinned, ref, ref] = 1.0
            grad[pinned, ref] = 0.0
        step = np.linalg.solve(hess, grad[:, :, None])[:, :, 0]
        small = np.abs(step).max(axis=1) <= tol
        slope = (grad * step).sum(axis=1)
        f0 = f[active]
        t = np.ones(active.size)
        pending = ~small
        new_f = f0.copy()
        for _ in range(60):
            if not pending.any():
                break
            idx = np.flatnonzero(pending)
            trial = th[idx] + t[idx, None] * step[idx]
            f_trial = _objective(wa[idx], trial, la[idx])
            ok = f_trial >= f0[idx] + 1e-4 * t[idx] * slope[idx] - 1e-12 * (1.0 + np.abs(f0[idx]))
            new_f[idx[ok]] = f_trial[ok]
            pending[idx[ok]] = False
            t[idx[~ok]] *= 0.5
        theta[active] = th + t[:, None] * step
        f[active] = new_f  # converged elements leave the active set; their f is unused
        active = active[~small]
        if active.size == 0:
            return theta, it
    raise RuntimeError(f"Bradley–Terry Newton solve did not converge in {max_iter} iterations "
                       f"(tol={tol}); raise max_iter or tol")


def _reach(adj: np.ndarray, start: int) -> np.ndarray:
    """Per batch element, the models reachable from ``start`` along edges ``adj[r, i, j]``."""
    seen = np.zeros(adj.shape[:2], dtype=bool)
    seen[:, start] = True
    a = adj.astype(float)
    while True:
        nxt = seen | (np.matmul(seen[:, None, :].astype(float), a)[:, 0, :] > 0)
        if np.array_equal(nxt, seen):
            return seen
        seen = nxt


def _has_finite_mle(w: np.ndarray) -> np.ndarray:
    """Finite MLE exists iff the 'i scored against j' graph is strongly connected (Zermelo)."""
    adj = w > 0
    return _reach(adj, 0).all(axis=1) & _reach(adj.transpose(0, 2, 1), 0).all(axis=1)


def _explain_no_mle(counts: BattleCounts) -> str:
    """A readable reason why the unpenalised MLE does not exist."""
    names = counts.models
    k = len(names)
    met = (counts.wins + counts.wins.T + counts.ties) > 0
    unseen = [names[i] for i in range(k) if not met[i].any()]
    if unseen:
        return (f"model(s) {unseen} have no battles; their ratings are not identifiable. "
                "Remove them or pass l2 > 0 for a ridge-regularised fit")
    comps: list[list[str]] = []
    left = set(range(k))
    while left:
        s = min(left)
        seen = _reach(met[None], s)[0]
        comps.append([names[i] for i in np.flatnonzero(seen)])
        left -= set(np.flatnonzero(seen).tolist())
    if len(comps) > 1:
        return (f"the comparison graph is not connected: groups {comps} were never compared "
                "with each other, so their relative ratings are not identifiable. Add battles "
                "between the groups or pass l2 > 0 for a ridge-regularised fit")
    adj = (counts.effective_wins() > 0)[None]
    best: tuple[int, str] | None = None
    for v in range(k):
        never_lost = _reach(adj.transpose(0, 2, 1), v)[0]  # models with a winning chain to v
        never_won = _reach(adj, v)[0]  # models v has a winning chain to
        for group, what in ((never_lost, "never lost to (or tied with)"),
                            (never_won, "never beat (or tied with)")):
            size = int(group.sum())
            if size < k and (best is None or size < best[0]):
                members = [names[i] for i in np.flatnonzero(group)]
                best = (size, f"model(s) {members} {what} any model outside that group")
    assert best is not None
    return (f"{best[1]}, so the maximum-likelihood rating gap is infinite. Add battles or "
            "pass l2 > 0 for a finite, ridge-shrunk estimate")


def _check_options(scale: float, l2: float, tol: float, max_iter: int) -> None:
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive number; got {scale!r}")
    if not (math.isfinite(l2) and l2 >= 0):
        raise ValueError(f"l2 must be >= 0; got {l2!r}")
    if not (tol > 0) or max_iter < 1:
        raise ValueError("tol must be > 0 and max_iter >= 1")


def _normalise(theta: np.ndarray, ref: int | None) -> np.ndarray:
    """Anchor model at 0 (``ref``) or mean 0, per row."""
    shift = theta[..., ref] if ref is not None else theta.mean(axis=-1)
    return theta - shift[..., None]


def _to_ratings(theta: np.ndarray, base_rating: float, scale: float) -> np.ndarray:
    return base_rating + scale * theta / _LN10


def fit_bt(counts: BattleCounts, *, anchor: str | None = None, base_rating: float = 1000.0,
           scale: float = 400.0, l2: float = 0.0, tol: float = 1e-10,
           max_iter: int = 1000) -> BTFit:
    """Bradley–Terry maximum likelihood on aggregated counts (ties = half a win each side).

    Newton's method with backtracking on the K-1 free log-odds. The default ``l2=0`` is the
    exact MLE and raises ValueError when it does not exist (comparison graph not connected, or
    a group of models that only wins / only loses against the rest); ``l2 > 0`` adds a ridge
    penalty ``l2/2 * sum(theta^2)`` that always gives a finite, shrunk estimate.
    ``anchor`` pins that model at ``base_rating``; otherwise the mean rating is ``base_rating``.
    """
    _check_options(scale, l2, tol, max_iter)
    k = counts.n_models
    if k < 2:
        raise ValueError(f"need battles between at least two models; got {k}")
    ref = counts.index(anchor) if anchor is not None else None
    w = counts.effective_wins()
    if l2 == 0 and not _has_finite_mle(w[None])[0]:
        raise ValueError("Bradley–Terry MLE does not exist: " + _explain_no_mle(counts))
    theta, iters = _newton_batch(w[None], np.zeros((1, k)), ref or 0, np.array([float(l2)]),
                                 tol, max_iter)
    theta = _normalise(theta[0], ref)
    loglik = float(_objective(w[None], theta[None], np.zeros(1))[0])
    return BTFit(models=counts.models, theta=theta, ratings=_to_ratings(theta, base_rating, scale),
                 n_battles=counts.n_battles, log_likelihood=loglik,
                 anchor=None if anchor is None else str(anchor), base_rating=base_rating,
                 scale=scale, l2=float(l2), iterations=iters)


def win_probability(rating_a: float, rating_b: float, scale: float = 400.0) -> float:
    """P(a beats b) (ties as half) for two ratings: 1 / (1 + 10^((b - a) / scale))."""
    x = (float(rating_a) - float(rating_b)) * _LN10 / scale
    return float(_sigmoid(np.array(x)))


def predicted_win_matrix(fit: BTFit) -> np.ndarray:
    """K x K matrix of P(models[i] beats models[j]) under the fit (0.5 on the diagonal)."""
    return _sigmoid(fit.theta[:, None] - fit.theta[None, :])

