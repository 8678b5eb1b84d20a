"""Bradley–Terry with style covariates ("style control"), fitted jointly, with a prompt-cluster
bootstrap. Pure numpy, seeded.

Model, for a battle b between a baseline a and a candidate c on prompt p, with the
candidate's score s_b in [0, 1] (win 1, tie 0.5, loss 0; soft verdicts fractional):

    logit P(c beats a) = theta_c - theta_a + sum_f beta_f * z_bf

where ``z_bf`` is style feature f of the battle (candidate minus baseline, e.g. the normalised
length difference; ``evalkit.style_features``) divided by the feature's root mean square over
all battles — standardised without centring, so swapping the two sides negates it and the fit
has no side advantage. ``beta_f`` is then the log-odds a judge adds per standard deviation of
that feature; ``theta`` is what is left of each checkpoint's strength once style is accounted
for. A feature that never varies (no response has a header) is dropped and reported. Ties are
half a win each way, as in ``bt_fit``; each connected component is centred on its own; a
component without a finite MLE gets the same pseudo-model prior (``prior`` virtual ties per
model) as the plain fit.

The bootstrap resamples **prompts**, like ``bootstrap_bt_prompts``: round r draws prompt
weights ``m_r ~ Multinomial(P, 1/P)``. Two ways to refit a round:

* ``refit``: weighted damped Newton from the point estimate on every battle — exact, cost
  O(battles) per Newton step per round;
* ``one-step``: one Newton step from the point estimate with the round's weighted gradient and
  Hessian, which are sums of per-prompt pieces computed once (``G_p``, ``H_p``), so a round
  costs one product of its weights with those (a matrix product for all rounds) and a small
  solve — independent of the number of battles. At the full-data MLE the per-prompt gradients
  sum to zero, so this is the linearised bootstrap; it agrees with ``refit`` to first order
  (tests compare the two intervals on simulated data).

``auto`` (the default) refits when battles x rounds is at most ``REFIT_BUDGET`` and takes the
one-step otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from .bt_bootstrap import rank_by_ci
from .bt_encode import _encode_models
from .bt_graph import _finite_mle, _pins, components

__all__ = ["StyleBTResult", "StyleBattles", "StyleFit", "bootstrap_style_bt", "fit_style_bt"]

_LN10 = math.log(10.0)
REFIT_BUDGET = 3_000_000  # battles x rounds below which every round is refitted exactly
_MAX_STEP = 8.0
_HALVINGS = 50


@dataclass(frozen=True, eq=False)
class StyleBattles:
    """Battles with their style features. ``baseline[i]``/``candidate[i]`` index ``models``;
    ``prompt[i]`` indexes ``prompts`` (the resampling unit); ``score[i]`` is the candidate's
    score; ``features[i]`` the raw feature differences (candidate minus baseline), one column
    per name in ``names``."""

    models: tuple[str, ...]
    prompts: tuple[str, ...]
    baseline: np.ndarray
    candidate: np.ndarray
    prompt: np.ndarray
    score: np.ndarray
    features: np.ndarray
    names: tuple[str, ...]

    def __post_init__(self) -> None:
        a = np.asarray(self.baseline, dtype=np.intp).ravel()
        c = np.asarray(self.candidate, dtype=np.intp).ravel()
        p = np.asarray(self.prompt, dtype=np.intp).ravel()
        s = np.asarray(self.score, dtype=float).ravel()
        x = np.asarray(self.features, dtype=float).reshape(a.size, -1)
        if not (a.size == c.size == p.size == s.size):
            raise ValueError("StyleBattles: baseline, candidate, prompt and score must have "
                             "the same length")
        if x.shape[1] != len(self.names):
            raise ValueError(f"StyleBattles: {x.shape[1]} feature columns but "
                             f"{len(self.names)} names")
        if a.size and (min(a.min(), c.min()) < 0 or max(a.max(), c.max()) >= len(self.models)
                       or p.min() < 0 or p.max() >= len(self.prompts)):
            raise ValueError("StyleBattles: indices out of range")
        if np.any(a == c):
            raise ValueError(f"StyleBattles: model {self.models[a[a == c][0]]!r} battles itself")
        if not (np.all(np.isfinite(s)) and np.all((s >= 0) & (s <= 1))):
            raise ValueError("StyleBattles: scores must lie in [0, 1]")
        if not np.all(np.isfinite(x)):
            raise ValueError("StyleBattles: features must be finite")
        for name, arr in (("baseline", a), ("candidate", c), ("prompt", p), ("score", s),
                          ("features", x)):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "models", tuple(str(m) for m in self.models))
        object.__setattr__(self, "prompts", tuple(str(q) for q in self.prompts))
        object.__setattr__(self, "names", tuple(self.names))

    @classmethod
    def from_arrays(cls, prompt: Sequence[Any], baseline: Sequence[Any],
                    candidate: Sequence[Any], score: Sequence[float], features: Any,
                    names: Sequence[str]) -> StyleBattles:
        """From one entry per battle: prompt keys and model names (sorted, like
        ``BattleCounts``), the candidate's score and the raw feature differences."""
        names_m, a, c = _encode_models(baseline, candidate)
        keys, p = np.unique(np.asarray(prompt).astype(str), return_inverse=True)
        return cls(names_m, tuple(keys.tolist()), a, c, p.ravel(),
                   np.asarray(score, dtype=float), np.asarray(features, dtype=float),
                   tuple(names))

    @property
    def n(self) -> int:
        return int(self.score.size)


@dataclass(frozen=True, eq=False)
class StyleFit:
    """The joint fit. ``beta``: log-odds per standard deviation of each kept feature
    (``names``); ``rms``: that standard deviation (root mean square of the raw difference);
    ``dropped``: features without variation."""

    models: tuple[str, ...]
    theta: np.ndarray
    ratings: np.ndarray
    names: tuple[str, ...]
    beta: np.ndarray
    rms: np.ndarray
    dropped: tuple[str, ...]
    component: np.ndarray
    on_prior: np.ndarray
    n_battles: np.ndarray
    log_likelihood: float
    iterations: int
    anchor: str | None = None
    base_rating: float = 1000.0
    scale: float = 400.0
    notes: tuple[str, ...] = ()
    phi: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)

    @property
    def n_components(self) -> int:
        return int(self.component.max()) if self.component.size else 0

    def rating(self, name: str) -> float:
        return float(self.ratings[self.models.index(name)])


@dataclass(frozen=True, eq=False)
class StyleBTResult:
    """Style-controlled ratings and coefficients with prompt-cluster bootstrap CIs."""

    fit: StyleFit
    ci: np.ndarray  # (K, 2)
    ranks: np.ndarray
    beta_ci: np.ndarray  # (F, 2), log-odds per sd
    replicates: np.ndarray = field(repr=False)  # (rounds, K) ratings
    beta_replicates: np.ndarray = field(repr=False)  # (rounds, F)
    level: float = 0.95
    rounds: int = 0
    seed: int = 0
    refit: str = "refit"  # how rounds were refitted: "refit" or "one-step"
    n_clusters: int = 0
    n_degenerate: int = 0
    method: str = ""

    def coefficients(self) -> list[dict[str, Any]]:
        """Per kept feature: log-odds per sd with CI, the same in rating points, per unit of the
        raw difference, and the sd."""
        out = []
        points = self.fit.scale / _LN10
        for f, name in enumerate(self.fit.names):
            lo, hi = (float(v) for v in self.beta_ci[f])
            b, rms = float(self.fit.beta[f]), float(self.fit.rms[f])
            out.append({"feature": name, "coef": b, "ci": [lo, hi], "points": b * points,
                        "points_ci": [lo * points, hi * points], "sd": rms,
                        "coef_raw": b / rms, "ci_raw": [lo / rms, hi / rms]})
        return out


# --------------------------------------------------------------------------- the design

@dataclass(frozen=True, eq=False)
class _Design:
    k: int  # real models
    kt: int  # real + pseudo models
    a: np.ndarray  # every row: real battles first, then the prior's virtual ties
    c: np.ndarray
    s: np.ndarray
    z: np.ndarray  # standardised kept features (virtual rows: 0)
    w: np.ndarray  # row weights (real: 1, virtual: prior)
    p: np.ndarray  # prompt index; -1 for virtual rows
    n_real: int
    labels: np.ndarray  # components of the real models
    pins: np.ndarray
    free: np.ndarray  # parameter indices that move (not pinned)

    @property
    def d(self) -> int:
        return self.kt + self.z.shape[1]


def _design(b: StyleBattles, anchor: str | None, prior: float
            ) -> tuple[_Design, np.ndarray, tuple[str, ...], tuple[str, ...], np.ndarray]:
    k = len(b.models)
    rms = np.sqrt(np.mean(b.features ** 2, axis=0)) if b.n else np.zeros(len(b.names))
    keep = np.flatnonzero(rms > 1e-12)
    z = b.features[:, keep] / rms[keep] if keep.size else np.zeros((b.n, 0))
    met = np.zeros((k, k), dtype=bool)
    met[b.baseline, b.candidate] = met[b.candidate, b.baseline] = True
    labels = components(met)
    ref = b.models.index(anchor) if anchor is not None else None
    pins = _pins(labels, ref)
    eff = np.zeros((k, k))
    np.add.at(eff, (b.candidate, b.baseline), b.score)
    np.add.at(eff, (b.baseline, b.candidate), 1.0 - b.score)
    need = ~_finite_mle(eff[None], labels, pins)[0]
    a_rows, c_rows = [b.baseline], [b.candidate]
    kt = k
    for comp in np.flatnonzero(need):
        members = np.flatnonzero(labels == comp + 1)
        a_rows.append(np.full(members.size, kt, dtype=np.intp))
        c_rows.append(members.astype(np.intp))
        kt += 1
    n_virtual = sum(r.size for r in c_rows[1:])
    design = _Design(
        k=k, kt=kt, a=np.concatenate(a_rows), c=np.concatenate(c_rows),
        s=np.concatenate([b.score, np.full(n_virtual, 0.5)]),
        z=np.vstack([z, np.zeros((n_virtual, z.shape[1]))]),
        w=np.concatenate([np.ones(b.n), np.full(n_virtual, float(prior))]),
        p=np.concatenate([b.prompt, np.full(n_virtual, -1, dtype=np.intp)]),
        n_real=b.n, labels=labels, pins=pins,
        free=np.setdiff1d(np.arange(kt + z.shape[1]), pins))
    kept = tuple(b.names[i] for i in keep)
    dropped = tuple(n for i, n in enumerate(b.names) if i not in set(keep.tolist()))
    return design, rms[keep], kept, dropped, need[labels - 1]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _eta(d: _Design, phi: np.ndarray) -> np.ndarray:
    return phi[d.c] - phi[d.a] + d.z @ phi[d.kt:]


def _nll(d: _Design, bw: np.ndarray, phi: np.ndarray) -> float:
    eta = _eta(d, phi)
    return float(np.sum(bw * (np.logaddexp(0.0, eta) - d.s * eta)))


def _grad_hess(d: _Design, bw: np.ndarray, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and Hessian of the weighted negative log-likelihood (row weights ``bw``)."""
    kt, f = d.kt, d.z.shape[1]
    p = _sigmoid(_eta(d, phi))
    r = bw * (p - d.s)
    v = bw * p * (1.0 - p)
    g = np.empty(kt + f)
    g[:kt] = np.bincount(d.c, r, kt) - np.bincount(d.a, r, kt)
    g[kt:] = d.z.T @ r
    h = np.zeros((kt + f, kt + f))
    cross = np.bincount(d.a * kt + d.c, v, kt * kt).reshape(kt, kt)
    h[:kt, :kt] = -(cross + cross.T)
    h[np.arange(kt), np.arange(kt)] = np.bincount(d.a, v, kt) + np.bincount(d.c, v, kt)
    for j in range(f):
        vz = v * d.z[:, j]
        h[:kt, kt + j] = h[kt + j, :kt] = np.bincount(d.c, vz, kt) - np.bincount(d.a, vz, kt)
    h[kt:, kt:] = (d.z * v[:, None]).T @ d.z
    return g, h


def _newton(d: _Design, bw: np.ndarray, phi0: np.ndarray, tol: float, max_iter: int
            ) -> tuple[np.ndarray, int]:
    """Damped Newton on the free parameters (pins stay at their start)."""
    phi = phi0.astype(float, copy=True)
    free = d.free
    f0 = _nll(d, bw, phi)
    for it in range(1, max_iter + 1):
        g, h = _grad_hess(d, bw, phi)
        hf = h[np.ix_(free, free)]
        hf[np.diag_indices_from(hf)] += 1e-12 * (1.0 + np.abs(np.diag(hf)))
        step = np.linalg.solve(hf, g[free])
        big = float(np.abs(step).max()) if step.size else 0.0
        if big > _MAX_STEP:
            step *= _MAX_STEP / big
        slope = float(g[free] @ step)
        if big <= tol or slope <= 1e-15 * (1.0 + abs(f0)):
            phi[free] -= step
            return phi, it
        t = 1.0
        for _ in range(_HALVINGS):
            trial = phi.copy()
            trial[free] -= t * step
            f1 = _nll(d, bw, trial)
            if f1 <= f0 - 1e-4 * t * slope + 1e-13 * (1.0 + abs(f0)):
                phi, f0 = trial, f1
                break
            t *= 0.5
        else:
            return phi, it  # no halving improves: at the numerical optimum
        if t * big <= tol:
            return phi, it
    raise RuntimeError(f"style-controlled Bradley–Terry fit did not converge in {max_iter} "
                       "iterations")


def _normalise(theta: np.ndarray, labels: np.ndarray, ref: int | None) -> np.ndarray:
    """Per row: each component's ratings centred on its mean (or its anchor at 0)."""
    out = np.array(theta, dtype=float, copy=True)
    for comp in np.unique(labels):
        inside = labels == comp
        shift = theta[..., ref] if ref is not None and inside[ref] else theta[..., inside].mean(
            axis=-1)
        out[..., inside] -= np.asarray(shift)[..., None]
    return out


# --------------------------------------------------------------------------- fit

def fit_style_bt(battles: StyleBattles, *, anchor: str | None = None,
                 base_rating: float = 1000.0, scale: float = 400.0, prior: float = 1.0,
                 tol: float = 1e-10, max_iter: int = 200) -> StyleFit:
    """The joint maximum-likelihood fit of ratings and style coefficients."""
    if len(battles.models) < 2 or battles.n == 0:
        raise ValueError("need battles between at least two models")
    if anchor is not None and anchor not in battles.models:
        raise ValueError(f"unknown anchor {anchor!r}; known models: {list(battles.models)}")
    d, rms, names, dropped, on_prior = _design(battles, anchor, prior)
    phi, iters = _newton(d, d.w, np.zeros(d.d), tol, max_iter)
    return _fit_record(battles, d, phi, iters, rms, names, dropped, on_prior, anchor,
                       base_rating, scale, prior)


def _fit_record(b: StyleBattles, d: _Design, phi: np.ndarray, iters: int, rms: np.ndarray,
                names: tuple[str, ...], dropped: tuple[str, ...], on_prior: np.ndarray,
                anchor: str | None, base_rating: float, scale: float, prior: float
                ) -> StyleFit:
    ref = b.models.index(anchor) if anchor is not None else None
    theta = _normalise(phi[:d.k], d.labels, ref)
    n = np.bincount(b.baseline, minlength=d.k) + np.bincount(b.candidate, minlength=d.k)
    notes = []
    if d.labels.max() > 1:
        notes.append(f"the comparison graph has {int(d.labels.max())} connected components; "
                     "ratings are comparable only within a component")
    if on_prior.any():
        flagged = ", ".join(np.array(b.models)[on_prior].tolist())
        notes.append(f"no finite MLE for {flagged}: fitted with {prior:g} virtual tie(s) per "
                     "model against a pseudo-model")
    if dropped:
        notes.append(f"style feature(s) without variation dropped: {', '.join(dropped)}")
    return StyleFit(models=b.models, theta=theta,
                    ratings=base_rating + scale * theta / _LN10, names=names,
                    beta=phi[d.kt:].copy(), rms=rms, dropped=dropped, component=d.labels,
                    on_prior=on_prior, n_battles=n.astype(float),
                    log_likelihood=-_nll(d, d.w, phi), iterations=iters, anchor=anchor,
                    base_rating=base_rating, scale=scale, notes=tuple(notes), phi=phi)


# --------------------------------------------------------------------------- bootstrap

def bootstrap_style_bt(battles: StyleBattles, *, rounds: int = 200, seed: int = 0,
                       level: float = 0.95, anchor: str | None = None,
                       base_rating: float = 1000.0, scale: float = 400.0, prior: float = 1.0,
                       refit: Literal["auto", "refit", "one-step"] = "auto",
                       tol: float = 1e-10, max_iter: int = 200) -> StyleBTResult:
    """Point fit, then ``rounds`` prompt-cluster bootstrap rounds (see the module docstring)."""
    if rounds < 1 or not 0 < level < 1:
        raise ValueError("rounds must be >= 1 and level in (0, 1)")
    if refit not in ("auto", "refit", "one-step"):
        raise ValueError(f"refit must be 'auto', 'refit' or 'one-step'; got {refit!r}")
    if len(battles.models) < 2 or battles.n == 0:
        raise ValueError("need battles between at least two models")
    d, rms, names, dropped, on_prior = _design(battles, anchor, prior)
    phi, iters = _newton(d, d.w, np.zeros(d.d), tol, max_iter)
    fit = _fit_record(battles, d, phi, iters, rms, names, dropped, on_prior, anchor,
                      base_rating, scale, prior)
    how = refit if refit != "auto" else (
        "refit" if battles.n * rounds <= REFIT_BUDGET else "one-step")
    rng = np.random.default_rng(seed)
    n_prompts = len(battles.prompts)
    weights = np.empty((rounds, n_prompts))
    for start in range(0, rounds, 256):
        r = min(rounds, start + 256) - start
        picks = rng.integers(0, n_prompts, size=(r, n_prompts)) + np.arange(r)[:, None] * n_prompts
        weights[start:start + r] = np.bincount(picks.ravel(), minlength=r * n_prompts).reshape(
            r, n_prompts)
    if how == "refit":
        reps, degenerate = _refit_rounds(d, phi, weights, tol, max_iter)
    else:
        reps, degenerate = _one_step_rounds(d, phi, weights, n_prompts)
    ref = battles.models.index(anchor) if anchor is not None else None
    theta = _normalise(reps[:, :d.k], d.labels, ref)
    ratings = base_rating + scale * theta / _LN10
    alpha = (1.0 - level) / 2.0
    ci = np.quantile(ratings, [alpha, 1.0 - alpha], axis=0).T
    betas = reps[:, d.kt:]
    beta_ci = (np.quantile(betas, [alpha, 1.0 - alpha], axis=0).T if betas.shape[1]
               else np.zeros((0, 2)))
    unit = ("each round refitted by weighted Newton from the point estimate" if how == "refit"
            else "each round one Newton step from the point estimate with per-prompt "
                 "gradients and Hessians (linearised bootstrap)")
    method = (f"Bradley-Terry MLE with standardised style covariates ({', '.join(names) or 'none'}"
              f"; ties = half a win), {level:.0%} percentile bootstrap over prompts ({rounds} "
              f"rounds resampling {n_prompts} prompt clusters; {unit}), seed {seed}")
    if degenerate:
        method += f"; {degenerate} round(s) where a checkpoint drew no battle kept it at the estimate"
    return StyleBTResult(fit=fit, ci=ci, ranks=rank_by_ci(ci[:, 0], ci[:, 1], d.labels),
                         beta_ci=beta_ci, replicates=ratings, beta_replicates=betas,
                         level=level, rounds=rounds, seed=seed, refit=how,
                         n_clusters=n_prompts, n_degenerate=degenerate, method=method)


def _refit_rounds(d: _Design, phi: np.ndarray, weights: np.ndarray, tol: float,
                  max_iter: int) -> tuple[np.ndarray, int]:
    reps = np.empty((weights.shape[0], d.d))
    real = d.p >= 0
    degenerate = 0
    for r, w in enumerate(weights):
        bw = d.w.copy()
        bw[real] = w[d.p[real]]
        present = (np.bincount(d.a, bw, d.kt) + np.bincount(d.c, bw, d.kt)) > 0
        if not present.all():  # a model with no battle this round: not identifiable
            degenerate += 1
            reps[r] = phi
            continue
        reps[r], _ = _newton(d, bw, phi, tol, max_iter)
    return reps, degenerate


def _one_step_rounds(d: _Design, phi: np.ndarray, weights: np.ndarray, n_prompts: int
                     ) -> tuple[np.ndarray, int]:
    """phi_r = phi - H_r^-1 g_r with g_r, H_r the round's weighted sums of per-prompt pieces
    (computed once at phi) plus the prior's constant rows."""
    kt, f, dd = d.kt, d.z.shape[1], d.d
    real = np.flatnonzero(d.p >= 0)
    virtual = np.flatnonzero(d.p < 0)
    a, c, p, z = d.a[real], d.c[real], d.p[real], d.z[real]
    prob = _sigmoid(_eta(d, phi)[real])
    r = prob - d.s[real]
    v = prob * (1.0 - prob)
    big_p = n_prompts
    grad = np.zeros((big_p, dd))
    grad[:, :kt] = (np.bincount(p * kt + c, r, big_p * kt)
                    - np.bincount(p * kt + a, r, big_p * kt)).reshape(big_p, kt)
    for j in range(f):
        grad[:, kt + j] = np.bincount(p, r * z[:, j], big_p)
    lo, hi = np.minimum(a, c), np.maximum(a, c)
    codes, q = np.unique(lo * kt + hi, return_inverse=True)
    q = q.ravel()
    pair_v = np.bincount(p * codes.size + q, v, big_p * codes.size).reshape(big_p, codes.size)
    pi, pj = codes // kt, codes % kt
    incidence = np.zeros((codes.size, kt))
    incidence[np.arange(codes.size), pi] = 1.0
    incidence[np.arange(codes.size), pj] = 1.0
    cross = np.zeros((big_p, kt * f))
    bb = np.zeros((big_p, f * f))
    for j in range(f):
        vz = v * z[:, j]
        cross[:, j::f] = (np.bincount(p * kt + c, vz, big_p * kt)
                          - np.bincount(p * kt + a, vz, big_p * kt)).reshape(big_p, kt)
        for m in range(f):
            bb[:, j * f + m] = np.bincount(p, vz * z[:, m], big_p)
    g0 = np.zeros(dd)
    h0 = np.zeros((dd, dd))
    if virtual.size:
        keep = np.zeros(d.w.size)
        keep[virtual] = d.w[virtual]
        g0, h0 = _grad_hess(d, keep, phi)
    free = d.free
    out = np.empty((weights.shape[0], dd))
    degenerate = 0
    chunk = max(1, 4_000_000 // (dd * dd))
    idx = np.arange(kt)
    for start in range(0, weights.shape[0], chunk):
        w = weights[start:start + chunk]
        n = w.shape[0]
        g = w @ grad + g0
        h = np.repeat(h0[None], n, axis=0)
        pv = w @ pair_v
        h[:, pi, pj] -= pv
        h[:, pj, pi] -= pv
        h[:, idx, idx] += pv @ incidence
        hc = (w @ cross).reshape(n, kt, f)
        h[:, :kt, kt:] += hc
        h[:, kt:, :kt] += hc.transpose(0, 2, 1)
        h[:, kt:, kt:] += (w @ bb).reshape(n, f, f)
        hf = h[:, free][:, :, free]
        gf = g[:, free]
        empty = np.diagonal(hf, axis1=1, axis2=2) <= 1e-12
        if empty.any():  # a checkpoint without a battle this round: held at the estimate
            degenerate += int(empty.any(axis=1).sum())
            rows, cols = np.nonzero(empty)
            hf[rows, cols, :] = 0.0
            hf[rows, :, cols] = 0.0
            hf[rows, cols, cols] = 1.0
            gf[rows, cols] = 0.0
        step = np.linalg.solve(hf, gf[:, :, None])[:, :, 0]
        out[start:start + n] = phi
        out[start:start + n, free] -= step
    return out, degenerate
