"""Bradley–Terry ratings for many checkpoints from pairwise battles. Pure numpy, seeded.

Model: P(i beats j) = sigmoid(theta_i - theta_j). A tie counts as half a win for each side
(the logistic likelihood where a tie is two half-weight rows, y=1 and y=0), so a battle's
score s in {0, 0.5, 1} enters the likelihood as s wins and 1 - s losses.

Everything is fitted on *aggregated* counts (``BattleCounts``: wins and ties per ordered pair),
so the cost of a fit does not depend on the number of battles. The bootstrap resamples battles
as one multinomial draw over the (pair, outcome) cells per round — the same distribution as
resampling battles with replacement — and refits all rounds in one batched Newton solve.

Ratings are on an Elo-like scale: ``rating = base + scale * theta / ln(10)``, so a 400-point
gap means 10:1 odds. They are identified by an anchor model (rated exactly ``base``) or, by
default, by a mean rating of ``base``.

``fit_bt_logistic_reference`` is the slow per-battle logistic fit (scipy L-BFGS on the expanded
design matrix), kept as the independent check for tests and the baseline for the benchmark.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "BTFit",
    "BTResult",
    "BattleCounts",
    "ModelRating",
    "aggregate_battles",
    "bootstrap_bt",
    "fit_bt",
    "fit_bt_logistic_reference",
    "predicted_win_matrix",
    "rank_by_ci",
    "win_probability",
]

_LN10 = math.log(10.0)
_OUTCOME_LABELS = {"a": 1.0, "b": 0.0, "tie": 0.5, "1": 1.0, "1.0": 1.0, "0": 0.0, "0.0": 0.0,
                   "0.5": 0.5}
_BATCH_ELEMENTS = 2_000_000  # rounds x K x K doubles per batched Newton chunk


# --------------------------------------------------------------------------- counts


@dataclass(frozen=True, eq=False)
class BattleCounts:
    """Aggregated battles. ``wins[i, j]``: times ``models[i]`` beat ``models[j]``;
    ``ties[i, j]`` (symmetric): ties between them. Counts may be fractional (soft verdicts).
    ``aggregate_battles`` and ``from_pairs`` give sorted names; the arrays are read-only."""

    models: tuple[str, ...]
    wins: np.ndarray
    ties: np.ndarray

    def __post_init__(self) -> None:
        models = tuple(str(m) for m in self.models)
        k = len(models)
        if len(set(models)) != k:
            raise ValueError("BattleCounts: model names must be unique")
        wins = np.array(self.wins, dtype=float, copy=True)
        ties = np.array(self.ties, dtype=float, copy=True)
        for name, arr in (("wins", wins), ("ties", ties)):
            if arr.shape != (k, k):
                raise ValueError(f"BattleCounts: {name} must be {k} x {k} (one row and column "
                                 f"per model); got shape {arr.shape}")
            if not np.all(np.isfinite(arr)) or np.any(arr < 0):
                raise ValueError(f"BattleCounts: {name} must be finite and non-negative")
            if np.any(np.diagonal(arr) != 0):
                raise ValueError(f"BattleCounts: {name} has a model playing itself (diagonal)")
        if not np.allclose(ties, ties.T, rtol=1e-12, atol=0.0):
            raise ValueError("BattleCounts: ties must be symmetric (ties[i, j] == ties[j, i])")
        ties = 0.5 * (ties + ties.T)
        wins.setflags(write=False)
        ties.setflags(write=False)
        object.__setattr__(self, "models", models)
        object.__setattr__(self, "wins", wins)
        object.__setattr__(self, "ties", ties)

    @classmethod
    def from_pairs(cls, rows: Iterable[tuple[str, str, float, float, float]]) -> BattleCounts:
        """From ``(model_a, model_b, a_wins, ties, b_wins)`` rows; repeated pairs are summed."""
        parsed: list[tuple[Any, Any, float, float, float]] = []
        for row in rows:
            a, b, aw, t, bw = row
            if str(a) == str(b):
                raise ValueError(f"BattleCounts.from_pairs: model {a!r} battles itself")
            parsed.append((a, b, float(aw), float(t), float(bw)))
        names, lookup = _sorted_names([r[0] for r in parsed] + [r[1] for r in parsed])
        k = len(names)
        wins = np.zeros((k, k))
        ties = np.zeros((k, k))
        for a, b, aw, t, bw in parsed:
            if min(aw, t, bw) < 0 or not all(map(math.isfinite, (aw, t, bw))):
                raise ValueError(f"BattleCounts.from_pairs: counts for ({a!r}, {b!r}) must be "
                                 "finite and non-negative")
            i, j = lookup[a], lookup[b]
            wins[i, j] += aw
            wins[j, i] += bw
            ties[i, j] += t
            ties[j, i] += t
        return cls(names, wins, ties)

    @property
    def n_models(self) -> int:
        return len(self.models)

    @property
    def total(self) -> float:
        """Total number of battles (ties counted once)."""
        return float(self.wins.sum() + np.triu(self.ties).sum())

    @property
    def n_battles(self) -> np.ndarray:
        """Battles per model."""
        return self.wins.sum(axis=1) + self.wins.sum(axis=0) + self.ties.sum(axis=1)

    @property
    def n_ties(self) -> np.ndarray:
        """Ties per model."""
        return self.ties.sum(axis=1)

    def index(self, name: str) -> int:
        """Position of ``name`` in ``models``; ValueError naming the known models if absent."""
        try:
            return self.models.index(str(name))
        except ValueError:
            raise ValueError(f"unknown model {name!r}; known models: {list(self.models)}") from None

    def pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Compact form over pairs i < j that met: ``(i, j, i_wins, ties, j_wins)``."""
        i, j = np.triu_indices(self.n_models, k=1)
        n = self.wins[i, j] + self.wins[j, i] + self.ties[i, j]
        keep = n > 0
        i, j = i[keep], j[keep]
        return i, j, self.wins[i, j], self.ties[i, j], self.wins[j, i]

    def effective_wins(self) -> np.ndarray:
        """Wins with each tie counted as half a win for both sides."""
        return self.wins + 0.5 * self.ties


def _sorted_names(keys: Sequence[Any]) -> tuple[tuple[str, ...], dict[Any, int]]:
    """Sorted unique names (integer ids numerically, anything else as strings) and a lookup."""
    distinct = list(dict.fromkeys(keys))
    if all(isinstance(k, int | np.integer) and not isinstance(k, bool) for k in distinct):
        as_name = {k: str(int(k)) for k in distinct}
        names = tuple(str(v) for v in sorted({int(k) for k in distinct}))
    else:
        as_name = {k: k.decode() if isinstance(k, bytes) else str(k) for k in distinct}
        names = tuple(sorted(set(as_name.values())))
    pos = {n: i for i, n in enumerate(names)}
    return names, {k: pos[as_name[k]] for k in distinct}


def _hash_lookup(cand: np.ndarray, h: np.ndarray) -> np.ndarray | None:
    """Position of each ``h`` in the small array ``cand`` via a collision-free multiply-shift
    table (O(n), no binary search); positions are only right where ``cand[pos] == h``."""
    bits = max(4, int(math.ceil(math.log2(4 * cand.size))))
    shift = np.uint64(64 - bits)
    for mult in (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93):
        m = np.uint64(mult)
        slots = (cand * m) >> shift
        if np.unique(slots).size == cand.size:
            table = np.zeros(1 << bits, dtype=np.intp)
            table[slots] = np.arange(cand.size)
            return table[(h * m) >> shift]
    return None


def _factorize_strings(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Codes for a fixed-width string array without sorting it: a 64-bit hash of each item's
    bytes, looked up among the distinct hashes, then verified item by item. Returns
    ``(uniques, codes)`` with uniques in first-seen order, or None (caller falls back)."""
    arr = np.ascontiguousarray(arr.ravel())
    n = arr.size
    width = arr.dtype.itemsize
    if n == 0 or width == 0:
        return None
    word = np.uint32 if arr.dtype.kind == "U" else np.uint8
    cols = arr.view(word).reshape(n, width // np.dtype(word).itemsize)
    h = np.zeros(n, dtype=np.uint64)
    for c in range(cols.shape[1]):
        h *= np.uint64(0x100000001B3)  # wraps modulo 2**64
        h += cols[:, c]
    cand = np.unique(h[:4096])
    for _ in range(2):
        pos = _hash_lookup(cand, h)
        if pos is None:
            return None
        miss = cand[pos] != h
        if not miss.any():
            break
        cand = np.union1d(cand, np.unique(h[miss]))
    else:
        return None
    first = np.empty(cand.size, dtype=np.intp)
    first[pos[::-1]] = np.arange(n - 1, -1, -1)
    order = np.argsort(first)
    uniques = arr[first[order]]
    codes = np.empty(cand.size, dtype=np.intp)
    codes[order] = np.arange(cand.size)
    codes = codes[pos]
    if not np.array_equal(uniques[codes], arr):
        return None
    return uniques, codes


def _encode_models(a: Sequence[Any], b: Sequence[Any]) -> tuple[tuple[str, ...], np.ndarray,
                                                                 np.ndarray]:
    """Model names and integer codes for both sides (no sort of the battles: fast at 10^6)."""
    na = len(a)
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        kinds = a.dtype.kind + b.dtype.kind
        if set(kinds) <= set("iu"):
            u, inv = np.unique(np.concatenate([a.ravel(), b.ravel()]), return_inverse=True)
            inv = inv.ravel()
            return tuple(str(x) for x in u.tolist()), inv[:na], inv[na:]
        if kinds in ("UU", "SS"):
            found = _factorize_strings(np.concatenate([a.ravel(), b.ravel()]))
            if found is not None:
                uniques, codes = found
                keys = uniques.tolist()
                names, lookup = _sorted_names(keys)
                remap = np.array([lookup[k] for k in keys], dtype=np.intp)
                codes = remap[codes]
                return names, codes[:na], codes[na:]
    a_list = a.tolist() if isinstance(a, np.ndarray) else list(a)
    b_list = b.tolist() if isinstance(b, np.ndarray) else list(b)
    first: dict[Any, int] = {}
    codes = np.fromiter((first.setdefault(x, len(first)) for x in a_list + b_list),
                        dtype=np.intp, count=len(a_list) + len(b_list))
    keys = list(first)
    names, lookup = _sorted_names(keys)
    remap = np.array([lookup[k] for k in keys], dtype=np.intp)
    codes = remap[codes] if codes.size else codes
    return names, codes[: len(a_list)], codes[len(a_list):]


def _outcome_scores(outcome: Sequence[Any]) -> np.ndarray:
    """Per-battle score for side a: 1 / "a", 0 / "b", 0.5 / "tie"."""
    arr: np.ndarray | None = outcome if isinstance(outcome, np.ndarray) else None
    if arr is None:
        seq = list(outcome)
        if not seq or not isinstance(seq[0], str):
            try:
                arr = np.asarray(seq, dtype=float)
            except (TypeError, ValueError):
                arr = None
        if arr is None:
            arr = np.empty(len(seq), dtype=object)
            arr[:] = seq
    if arr.dtype.kind in "biuf":
        scores = arr.astype(float).ravel()
        bad = ~((scores == 0.0) | (scores == 0.5) | (scores == 1.0))
        if bad.any():
            raise ValueError(f"outcome must be 1 / 'a', 0 / 'b' or 0.5 / 'tie'; got "
                             f"{scores[bad][0]!r} (use BattleCounts.from_pairs for soft counts)")
        return scores
    if arr.dtype.kind in "US":
        flat = arr.ravel()
        scores = np.full(flat.size, np.nan)
        for label in ("a", "b", "tie"):
            scores[flat == (label if arr.dtype.kind == "U" else label.encode())] = (
                _OUTCOME_LABELS[label])
        if not np.isnan(scores).any():
            return scores
    first: dict[Any, int] = {}
    codes = np.fromiter((first.setdefault(x, len(first)) for x in arr.ravel().tolist()),
                        dtype=np.intp, count=arr.size)
    values = np.empty(len(first))
    for key, code in first.items():
        label = str(key).strip().lower()
        if label not in _OUTCOME_LABELS:
            raise ValueError(f"outcome must be 1 / 'a', 0 / 'b' or 0.5 / 'tie'; got {key!r}")
        values[code] = _OUTCOME_LABELS[label]
    return values[codes]


def aggregate_battles(a: Sequence[str | int], b: Sequence[str | int],
                      outcome: Sequence[float | str]) -> BattleCounts:
    """Count wins and ties per ordered pair. ``outcome`` is from a's view: 1 / "a" a wins,
    0 / "b" b wins, 0.5 / "tie". Names become strings, sorted (integer ids numerically)."""
    names, i, j = _encode_models(a, b)
    scores = _outcome_scores(outcome)
    if not (i.size == j.size == scores.size):
        raise ValueError(f"a, b and outcome must have the same length; got {i.size}, {j.size} "
                         f"and {scores.size}")
    self_play = i == j
    if self_play.any():
        raise ValueError(f"a model cannot battle itself: {names[i[self_play][0]]!r}")
    k = len(names)
    tie = scores == 0.5
    win_i = scores == 1.0
    winner = np.where(win_i, i, j)[~tie]
    loser = np.where(win_i, j, i)[~tie]
    wins = np.bincount(winner * k + loser, minlength=k * k).reshape(k, k).astype(float)
    t = np.bincount(i[tie] * k + j[tie], minlength=k * k).reshape(k, k).astype(float)
    return BattleCounts(names, wins, t + t.T)


# --------------------------------------------------------------------------- fitting


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


# --------------------------------------------------------------------------- bootstrap


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


# --------------------------------------------------------------------------- predictions


def win_probability(rating_a: float, rating_b: float, scale: float = 400.0) -> float:
    """P(a beats b) (ties as half) for two ratings: 1 / (1 + 10^((b - a) / scale))."""
    x = (float(rating_a) - float(rating_b)) * _LN10 / scale
    return float(_sigmoid(np.array(x)))


def predicted_win_matrix(fit: BTFit) -> np.ndarray:
    """K x K matrix of P(models[i] beats models[j]) under the fit (0.5 on the diagonal)."""
    return _sigmoid(fit.theta[:, None] - fit.theta[None, :])


# --------------------------------------------------------------------------- reference


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
