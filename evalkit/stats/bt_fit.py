"""Bradley–Terry maximum likelihood on aggregated counts: a batched damped-Newton solver,
connected components, the existence check for a finite MLE (Zermelo's condition), the prior
used when there is none, ratings and predictions.

Model: P(i beats j) = sigmoid(theta_i - theta_j); a tie is half a win for each side.
Ratings: ``base + scale * theta / ln(10)`` (400 points = 10:1 odds). Pure numpy, no I/O.

**Components.** Ratings are identified only up to a shift within each connected component of
the comparison graph (models linked by battles). Each component is centred on its own (mean
rating ``base``, or the anchor at ``base`` in the anchor's component); ratings in different
components are not comparable.

**The prior when no finite MLE exists.** Within a component the MLE is finite iff the "scored
against" graph is strongly connected; otherwise (a model that lost, or won, every battle) the
likelihood keeps growing as a gap goes to infinity. ``fit_bt(..., on_no_mle="prior")`` and the
bootstrap then give that component a **pseudo-model** — a virtual average opponent with a free
rating — and ``prior`` virtual *tied* battles (default one: half a win each way) between it and
every model of the component. Why this prior:

- it is a fixed, small amount of information per model — one battle, whatever the number of
  opponents (virtual ties on every compared pair would give a checkpoint compared with 20
  others ten virtual wins, and make a resample where it lost everything look like the data);
  a model that lost all n of its battles ends about log(2n) log-odds below the pseudo-model,
  as if it had won half a battle: finite, monotone in n, and beyond a model that won one;
- the pseudo-model's rating is fitted, so the prior is invariant to shifts, to the anchor and
  to relabelling (a ridge shrinks towards an arbitrary zero and, when weak, leaves gaps of
  thousands of points with a nearly singular Hessian — the old fallback's failure to
  converge); there is one per component, so it never links components;
- with it, every model is tied both ways to the pseudo-model, so the component's graph is
  strongly connected, the penalised likelihood is strictly concave with a finite maximum, and
  Newton always converges. This is the "virtual draw" of Coulom's Bayesian Elo / WHR.

It is used only where the MLE does not exist (other components and rounds keep the exact MLE);
such fits are flagged (``BTFit.on_prior``, ``BTFit.notes``) and bootstrap rounds fitted with it
are counted. The pseudo-model is never reported or used to centre ratings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from .bt_counts import BattleCounts
from .bt_graph import _explain_no_mle, _finite_mle, _met, _pins, _sub_counts, components

__all__ = ["BTFit", "fit_bt", "predicted_win_matrix", "win_probability"]

_LN10 = math.log(10.0)
DEFAULT_PRIOR = 1.0  # virtual tied battles per model vs a pseudo-model, only without an MLE
_MAX_STEP = 8.0  # largest Newton step per iteration, log-odds (~1400 rating points)
_HALVINGS = 60  # backtracking steps before an element is declared at its numerical optimum


@dataclass(frozen=True, eq=False)
class BTFit:
    """A Bradley–Terry fit: ``theta`` in log-odds and ``ratings`` on the Elo-like scale.

    ``component[i]`` (1, 2, …; largest first) is model i's connected component of the
    comparison graph: ratings compare only within one. ``on_prior[i]`` is True where model i's
    component had no finite MLE and was fitted with ``prior`` virtual ties per model against a
    pseudo-model (see the module docstring); ``notes`` say why."""

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
    component: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    on_prior: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    prior: float = 0.0
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        k = len(self.models)
        if np.size(self.component) == 0:
            object.__setattr__(self, "component", np.ones(k, dtype=np.intp))
        if np.size(self.on_prior) == 0:
            object.__setattr__(self, "on_prior", np.zeros(k, dtype=bool))

    @property
    def n_components(self) -> int:
        return int(self.component.max()) if self.component.size else 0

    @property
    def finite_mle(self) -> bool:
        """True when every rating is the exact (or ridge) estimate, no prior needed."""
        return not bool(self.on_prior.any())

    def components(self) -> tuple[tuple[str, ...], ...]:
        """Model names per component, component 1 first."""
        return tuple(tuple(m for m, c in zip(self.models, self.component, strict=True)
                           if c == label) for label in range(1, self.n_components + 1))

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


def _newton_batch(w: np.ndarray, theta0: np.ndarray, pins: np.ndarray, l2: np.ndarray,
                  tol: float, max_iter: int) -> tuple[np.ndarray, int]:
    """Maximise ``_objective`` for each batch element by damped Newton.

    Elements with ``l2 == 0`` keep ``theta[pins]`` at their starting values (one pin per
    connected component: the likelihood is shift-invariant within each); ridge elements solve
    for all K. Step control: a step is capped at ``_MAX_STEP`` log-odds per coordinate, then
    halved until it satisfies Armijo's condition. An element stops when its step is below
    ``tol``, when its Newton decrement is below the objective's rounding level (the last full
    step is taken: Newton's error after it is the square of this one), or when no halving
    improves the objective (it is at its numerical optimum). The objective is concave, so this
    converges whenever the maximum is finite — which the callers guarantee (finite MLE, prior
    or ridge). Returns theta and the number of iterations of the slowest element."""
    theta = theta0.astype(float, copy=True)
    r, k = theta.shape
    pins = np.asarray(pins, dtype=np.intp)
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
        diag = v.sum(axis=2) + la[:, None]
        diag = np.where(diag > 0, diag * (1.0 + 1e-12), 1.0)  # an isolated row: step 0
        hess = eye * diag[:, :, None] - v  # minus the Hessian
        pinned = la == 0
        if pinned.any() and pins.size:
            h = hess[pinned]
            h[:, pins, :] = 0.0
            h[:, :, pins] = 0.0
            h[:, pins, pins] = 1.0
            hess[pinned] = h
            g = grad[pinned]
            g[:, pins] = 0.0
            grad[pinned] = g
        step = np.linalg.solve(hess, grad[:, :, None])[:, :, 0]
        big = np.abs(step).max(axis=1)
        step *= np.minimum(1.0, _MAX_STEP / np.maximum(big, 1e-300))[:, None]
        slope = (grad * step).sum(axis=1)  # >= 0: an ascent direction
        f0 = f[active]
        done = (big <= tol) | (slope <= 1e-15 * (1.0 + np.abs(f0)))
        t = np.ones(active.size)
        new_f = f0.copy()
        pending = np.ones(active.size, dtype=bool)
        for _ in range(_HALVINGS):
            idx = np.flatnonzero(pending)
            if idx.size == 0:
                break
            trial = th[idx] + t[idx, None] * step[idx]
            f_trial = _objective(wa[idx], trial, la[idx])
            ok = f_trial >= f0[idx] + 1e-4 * t[idx] * slope[idx] - 1e-13 * (1.0 + np.abs(f0[idx]))
            new_f[idx[ok]] = f_trial[ok]
            pending[idx[ok]] = False
            t[idx[~ok]] *= 0.5
        t[pending] = 0.0  # no halving improved: at the numerical optimum already
        stalled = t * np.abs(step).max(axis=1) <= tol  # no (measurable) progress left
        theta[active] = th + t[:, None] * step
        f[active] = new_f
        active = active[~(done | stalled)]
        if active.size == 0:
            return theta, it
    raise RuntimeError(f"Bradley–Terry Newton solve did not converge in {max_iter} iterations "
                       f"(tol={tol}); raise max_iter or tol")


def _solve(w: np.ndarray, theta0: np.ndarray, labels: np.ndarray, pins: np.ndarray,
           l2: float, need: np.ndarray, prior: float, tol: float, max_iter: int
           ) -> tuple[np.ndarray, int]:
    """Fit every batch element of ``w`` (r, K, K); ``need[r, c]`` gives component c of element
    r a pseudo-model (index K + c) with ``prior`` virtual ties to each of its models. Returns
    theta (r, K) — unnormalised, pins at ``theta0`` — and the iterations of the slowest."""
    r, k = theta0.shape
    lam = np.full(r, float(l2))
    if not need.any():
        return _newton_batch(w, theta0, pins, lam, tol, max_iter)
    n_comp = need.shape[1]
    member = labels[None, :] == np.arange(1, n_comp + 1)[:, None]  # (C, K)
    ties = 0.5 * prior * need[:, :, None] * member[None]  # (r, C, K)
    aug = np.zeros((r, k + n_comp, k + n_comp))
    aug[:, :k, :k] = w
    aug[:, k:, :k] = ties
    aug[:, :k, k:] = ties.transpose(0, 2, 1)
    start = np.concatenate([theta0, theta0 @ (member / member.sum(axis=1, keepdims=True)).T],
                           axis=1)
    theta, iters = _newton_batch(aug, start, pins, lam, tol, max_iter)
    return theta[:, :k], iters


def _check_options(scale: float, l2: float, tol: float, max_iter: int,
                   prior: float = DEFAULT_PRIOR) -> None:
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive number; got {scale!r}")
    if not (math.isfinite(l2) and l2 >= 0):
        raise ValueError(f"l2 must be >= 0; got {l2!r}")
    if not (math.isfinite(prior) and prior > 0):
        raise ValueError(f"prior must be > 0 (virtual tied battles per model); got {prior!r}")
    if not (tol > 0) or max_iter < 1:
        raise ValueError("tol must be > 0 and max_iter >= 1")


def _normalise(theta: np.ndarray, ref: int | None, labels: np.ndarray | None = None
               ) -> np.ndarray:
    """Per component (all one when ``labels`` is None): the anchor ``ref`` at 0 in its
    component, every other component at mean 0; per row."""
    if labels is None:
        labels = np.ones(theta.shape[-1], dtype=np.intp)
    out = np.array(theta, dtype=float, copy=True)
    for c in np.unique(labels):
        inside = labels == c
        if ref is not None and inside[ref]:
            shift = theta[..., ref]
        else:
            shift = theta[..., inside].mean(axis=-1)
        out[..., inside] -= np.asarray(shift)[..., None]
    return out


def _to_ratings(theta: np.ndarray, base_rating: float, scale: float) -> np.ndarray:
    return base_rating + scale * theta / _LN10


def fit_bt(counts: BattleCounts, *, anchor: str | None = None, base_rating: float = 1000.0,
           scale: float = 400.0, l2: float = 0.0, tol: float = 1e-10, max_iter: int = 1000,
           on_no_mle: Literal["raise", "prior"] = "raise",
           prior: float = DEFAULT_PRIOR) -> BTFit:
    """Bradley–Terry maximum likelihood on aggregated counts (ties = half a win each side).

    Damped Newton on the free log-odds (one fixed per connected component). The default
    ``l2=0`` is the exact MLE. When it does not exist (comparison graph not connected, or a
    group of models that only wins / only loses against the rest of its component):
    ``on_no_mle="raise"`` raises ValueError saying why; ``on_no_mle="prior"`` rates each
    component on its own and gives each component without a finite MLE the pseudo-model prior
    (``prior`` virtual ties per model; see the module docstring), flagged in ``on_prior`` and
    ``notes``.
    ``l2 > 0`` adds a ridge penalty ``l2/2 * sum(theta^2)`` instead (always finite, shrunk).
    ``anchor`` pins that model at ``base_rating``; otherwise each component's mean rating is
    ``base_rating``.
    """
    _check_options(scale, l2, tol, max_iter, prior)
    if on_no_mle not in ("raise", "prior"):
        raise ValueError(f"on_no_mle must be 'raise' or 'prior'; got {on_no_mle!r}")
    k = counts.n_models
    if k < 2:
        raise ValueError(f"need battles between at least two models; got {k}")
    ref = counts.index(anchor) if anchor is not None else None
    met = _met(counts)
    labels = components(met)
    pins = _pins(labels, ref)
    w = counts.effective_wins()
    need = np.zeros((1, int(labels.max())), dtype=bool)
    notes: list[str] = []
    if labels.max() > 1:
        notes.append(f"the comparison graph has {int(labels.max())} connected components; "
                     "ratings are comparable only within a component")
    if l2 == 0:
        ok = _finite_mle(w[None], labels, pins)[0]
        if on_no_mle == "raise" and (labels.max() > 1 or not ok.all()):
            raise ValueError("Bradley–Terry MLE does not exist: " + _explain_no_mle(counts))
        need[0] = ~ok
        for c in np.flatnonzero(~ok):
            members = np.flatnonzero(labels == c + 1)
            why = _explain_no_mle(_sub_counts(counts, members)).split(". ")[0]
            notes.append(f"component {c + 1}: no finite MLE ({why}); fitted with {prior:g} "
                         "virtual tie(s) per model against a pseudo-model")
    on_prior = need[0][labels - 1]
    theta, iters = _solve(w[None], np.zeros((1, k)), labels, pins, l2, need, prior, tol,
                          max_iter)
    theta = _normalise(theta[0], ref, labels)
    loglik = float(_objective(w[None], theta[None], np.zeros(1))[0])
    return BTFit(models=counts.models, theta=theta, ratings=_to_ratings(theta, base_rating, scale),
                 n_battles=counts.n_battles, log_likelihood=loglik,
                 anchor=None if anchor is None else str(anchor), base_rating=base_rating,
                 scale=scale, l2=float(l2), iterations=iters, component=labels,
                 on_prior=on_prior, prior=float(prior) if on_prior.any() else 0.0,
                 notes=tuple(notes))


def win_probability(rating_a: float, rating_b: float, scale: float = 400.0) -> float:
    """P(a beats b) (ties as half) for two ratings: 1 / (1 + 10^((b - a) / scale))."""
    x = (float(rating_a) - float(rating_b)) * _LN10 / scale
    return float(_sigmoid(np.array(x)))


def predicted_win_matrix(fit: BTFit) -> np.ndarray:
    """K x K matrix of P(models[i] beats models[j]) under the fit (0.5 on the diagonal).
    Entries across components are meaningless (their ratings are separately centred)."""
    return _sigmoid(fit.theta[:, None] - fit.theta[None, :])
