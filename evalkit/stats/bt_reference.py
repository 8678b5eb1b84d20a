"""The SLOW per-battle Bradley–Terry reference fit: an independent check for the tests and
the baseline for the benchmarks. Not used by evalkit itself."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .bt_encode import _encode_models, _outcome_scores
from .bt_fit import BTFit, _normalise, _sigmoid, _to_ratings

__all__ = ["fit_bt_logistic_reference"]


def fit_bt_logistic_reference(a: Sequence[str | int], b: Sequence[str | int],
                              outcome: Sequence[float | str], *,
                              weights: Sequence[float] | None = None, anchor: str | None = None,
                              base_rating: float = 1000.0, scale: float = 400.0,
                              gtol: float = 1e-13, max_iter: int = 100_000) -> BTFit:
    """The SLOW reference: per-battle logistic MLE on the expanded battle rows.

    Design matrix with +1 in a's column and -1 in b's (one column dropped for identifiability);
    a win is one row y=1, a loss one row y=0, a tie two half-weight rows (y=1 and y=0); optional
    per-battle ``weights`` multiply the rows. Solved by scipy L-BFGS-B with an analytic gradient
    and tight tolerances. Cost grows with the number of battles; used only as the independent
    check in tests and the baseline in ``bench/stats_speed.py``.
    """
    from scipy import optimize, sparse

    names, ia, ib = _encode_models(a, b)
    scores = _outcome_scores(outcome)
    nb = ia.size
    if not (ib.size == scores.size == nb):
        raise ValueError("a, b and outcome must have the same length")
    w_battle = np.ones(nb) if weights is None else np.asarray(weights, dtype=float)
    if w_battle.shape != (nb,) or np.any(w_battle < 0):
        raise ValueError("weights must be non-negative, one per battle")
    k = len(names)
    ref = 0 if anchor is None else _index_of(names, anchor)
    tie = scores == 0.5
    rows_a = np.concatenate([ia, ia[tie]])
    rows_b = np.concatenate([ib, ib[tie]])
    y = np.concatenate([np.where(tie, 1.0, scores), np.zeros(int(tie.sum()))])
    w = np.concatenate([np.where(tie, 0.5, 1.0) * w_battle, 0.5 * w_battle[tie]])
    m = y.size
    x = sparse.csr_matrix((np.concatenate([np.ones(m), -np.ones(m)]),
                           (np.concatenate([np.arange(m)] * 2), np.concatenate([rows_a, rows_b]))),
                          shape=(m, k))
    free = np.array([c for c in range(k) if c != ref], dtype=np.intp)
    xf = x[:, free].tocsr()
    sign = 2.0 * y - 1.0
    wsum = float(w.sum())

    def nll(params: np.ndarray) -> tuple[float, np.ndarray]:
        z = sign * (xf @ params)
        value = float((w * np.logaddexp(0.0, -z)).sum()) / wsum
        grad = -(xf.T @ (w * sign * _sigmoid(-z))) / wsum
        return value, grad

    res = optimize.minimize(nll, np.zeros(free.size), jac=True, method="L-BFGS-B",
                            options={"maxiter": max_iter, "maxcor": 50, "ftol": 0.0,
                                     "gtol": gtol})
    theta = np.zeros(k)
    theta[free] = res.x
    gnorm = float(np.abs(nll(res.x)[1]).max())
    if gnorm > 1e-7:
        raise RuntimeError(f"reference logistic fit did not converge: {res.message} "
                           f"(max |gradient| {gnorm:.2e})")
    ref_out = None if anchor is None else ref
    theta = _normalise(theta, ref_out)
    n_battles = (np.bincount(ia, weights=w_battle, minlength=k)
                 + np.bincount(ib, weights=w_battle, minlength=k))
    return BTFit(models=names, theta=theta, ratings=_to_ratings(theta, base_rating, scale),
                 n_battles=n_battles, log_likelihood=-float(res.fun) * wsum,
                 anchor=None if anchor is None else str(anchor), base_rating=base_rating,
                 scale=scale, l2=0.0, iterations=int(res.nit))


def _index_of(names: tuple[str, ...], name: str) -> int:
    try:
        return names.index(str(name))
    except ValueError:
        raise ValueError(f"unknown model {name!r}; known models: {list(names)}") from None
