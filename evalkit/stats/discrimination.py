"""How well each prompt separates checkpoints, from stored pairwise outcomes, and how wide
the win-rate intervals get on a subset of prompts. Pure numpy; input is ``PromptCounts``
(per prompt and checkpoint pair: i wins, ties, j wins). docs/curation.md, "Hardness".

**Discrimination** of a prompt: give each checkpoint its score on that prompt over every pair
it was judged in (wins + ties/2) / battles; the discrimination is twice the standard deviation
of those scores across checkpoints, in [0, 1]. A prompt every checkpoint ties (each answers
it well, or each fails it alike) scores 0: it is *saturated*. With two checkpoints it is
|2·score − 1|, the prompt's decisiveness; with more, a prompt on which A > B > C decisively
scores high while one whose outcomes form a cycle (A > B, B > C, C > A) scores 0, as it
carries no information about the ranking. It does not depend on which checkpoint was the
baseline, and it does not favour prompts a particular checkpoint wins, so selecting on it does
not bias the direction of a comparison.

Why not each prompt's Fisher information in the Bradley–Terry fit: with one shared rating per
checkpoint, a battle's information p(1 − p) does not depend on its outcome, so every prompt
judged on the same pairs has the same information; telling prompts apart needs a per-prompt
discrimination parameter (a 2PL item model), which a handful of pairs per prompt cannot
estimate. The spread of per-checkpoint scores is the moment estimate of the same idea.

**CI width** on a subset: for each compared pair, the house interval (Agresti–Coull at the
effective sample size over prompt scores, ``intervals.py``) on two scales —

- *decisive*: per prompt, the share of its decisive verdicts won (ties left out; the
  quantity the sign test behind compare's p-value uses). Leaving out prompts that only ever
  tie does not change this estimand, so its width is what a smaller pool costs in precision;
- *ties as half*: compare's win rate. Leaving out ties moves this estimand away from 0.5 and
  widens it per prompt, so its width is not comparable between pools of different tie rates;
  it is reported, not optimised.

The width of a set is the mean over pairs that have at least one prompt in it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .bt_counts import PromptCounts
from .intervals import agresti_coull, effective_sample_size

__all__ = ["CIWidths", "PromptDiscrimination", "ci_widths", "prompt_discrimination",
           "without_pair"]


@dataclass(frozen=True)
class PromptDiscrimination:
    """One prompt: ``pairs`` compared checkpoint pairs with a valid outcome on it, ``n``
    valid verdict items (orders and samples), ``decisive`` the share of them not tied,
    ``discrimination`` (see the module), ``saturated`` when it is at most the threshold."""

    key: str
    pairs: int
    n: float
    decisive: float
    discrimination: float
    saturated: bool


def prompt_discrimination(counts: PromptCounts, *, saturated_at: float = 0.1
                          ) -> list[PromptDiscrimination]:
    """Discrimination of every prompt in ``counts`` (in its prompt order)."""
    c = counts.cells  # (prompts, pairs, 3): i wins, ties, j wins
    k = counts.n_models
    q = counts.pair_i.size
    inc_i = np.zeros((q, k))
    inc_j = np.zeros((q, k))
    inc_i[np.arange(q), counts.pair_i] = 1.0
    inc_j[np.arange(q), counts.pair_j] = 1.0
    total = c.sum(axis=2)  # (prompts, pairs)
    points = (c[:, :, 0] + 0.5 * c[:, :, 1]) @ inc_i + (c[:, :, 2] + 0.5 * c[:, :, 1]) @ inc_j
    battles = total @ (inc_i + inc_j)  # (prompts, models)
    played = battles > 0
    share = np.divide(points, battles, out=np.zeros_like(points), where=played)
    m = played.sum(axis=1)
    mean = np.divide(share.sum(axis=1), m, out=np.zeros(len(m)), where=m > 0)
    var = np.divide((((share - mean[:, None]) ** 2) * played).sum(axis=1), m,
                    out=np.zeros(len(m)), where=m > 0)
    disc = np.clip(2.0 * np.sqrt(var), 0.0, 1.0)
    n = total.sum(axis=1)
    decisive = np.divide(c[:, :, 0].sum(axis=1) + c[:, :, 2].sum(axis=1), n,
                         out=np.zeros(len(n)), where=n > 0)
    pairs = (total > 0).sum(axis=1)
    return [PromptDiscrimination(key, int(pairs[p]), float(n[p]), float(decisive[p]),
                                 float(disc[p]), bool(disc[p] <= saturated_at))
            for p, key in enumerate(counts.prompts)]


@dataclass(frozen=True)
class CIWidths:
    """Mean CI width over pairs for the first ``sizes[s]`` prompts of an order: on the
    decisive scale and with ties as half (module docstring)."""

    sizes: np.ndarray
    decisive: np.ndarray
    ties_half: np.ndarray
    level: float

    def at(self, size: int) -> tuple[float, float]:
        """(decisive, ties-as-half) mean width for the first ``size`` prompts."""
        i = int(np.searchsorted(self.sizes, size))
        if i >= self.sizes.size or self.sizes[i] != size:
            raise ValueError(f"size {size} was not computed")
        return float(self.decisive[i]), float(self.ties_half[i])

    def needed(self, width: float) -> int | None:
        """The smallest size whose decisive width is at most ``width`` (None: never)."""
        ok = np.flatnonzero(self.decisive <= width * (1 + 1e-9))
        return int(self.sizes[ok[0]]) if ok.size else None


def _mean_width(cnt: np.ndarray, s1: np.ndarray, s2: np.ndarray, level: float) -> np.ndarray:
    """Per row, the mean over columns (pairs) with cnt > 0 of the interval width."""
    with np.errstate(divide="ignore", invalid="ignore"):
        m = np.where(cnt > 0, s1 / np.where(cnt > 0, cnt, 1), np.nan)
        ss = np.maximum(s2 - cnt * m * m, 0.0)
        n_eff = effective_sample_size(np.nan_to_num(m), np.nan_to_num(ss), np.maximum(cnt, 1))
        lo, hi = agresti_coull(np.nan_to_num(m), np.where(cnt > 0, n_eff, 1.0), level)
        width = np.where(cnt > 0, hi - lo, np.nan)
        have = (cnt > 0).sum(axis=1)
        total = np.nansum(width, axis=1)
    return np.where(have > 0, total / np.maximum(have, 1), np.nan)


def without_pair(counts: PromptCounts, pair: int) -> PromptCounts:
    """``counts`` without pair number ``pair`` (for held-out estimates: choose prompts by
    the other pairs, measure on this one)."""
    keep = np.arange(counts.pair_i.size) != pair
    return PromptCounts(counts.models, counts.prompts, counts.pair_i[keep],
                        counts.pair_j[keep], counts.cells[:, keep])


def ci_widths(counts: PromptCounts, order: Sequence[str], *, sizes: Sequence[int] | None = None,
              level: float = 0.95, pairs: Sequence[int] | None = None) -> CIWidths:
    """Mean per-pair CI widths of the first n prompts of ``order`` (prompt keys; keys without
    outcomes in ``counts`` count towards n and add nothing), for every n in ``sizes``
    (default 1 … len(order)), over every pair or the pair numbers in ``pairs``."""
    index = {key: i for i, key in enumerate(counts.prompts)}
    rows = np.array([index.get(k, -1) for k in order], dtype=np.int64)
    cols = np.arange(counts.pair_i.size) if pairs is None else np.asarray(pairs, dtype=np.intp)
    c = np.zeros((len(order), cols.size, 3))
    have = rows >= 0
    c[have] = counts.cells[rows[have]][:, cols]
    tot = c.sum(axis=2)
    dec = c[:, :, 0] + c[:, :, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.where(dec > 0, c[:, :, 0] / np.where(dec > 0, dec, 1), 0.0)
        z = np.where(tot > 0, (c[:, :, 0] + 0.5 * c[:, :, 1]) / np.where(tot > 0, tot, 1), 0.0)
    pres_y, pres_z = (dec > 0).astype(float), (tot > 0).astype(float)
    chosen = np.arange(1, len(order) + 1) if sizes is None else np.asarray(sizes, dtype=np.int64)
    if chosen.size and (chosen.min() < 1 or chosen.max() > len(order)):
        raise ValueError(f"sizes must lie in 1 … {len(order)}")
    chosen = np.unique(chosen)
    take = chosen - 1

    def curve(v: np.ndarray, pres: np.ndarray) -> np.ndarray:
        cnt = np.cumsum(pres, axis=0)[take]
        s1 = np.cumsum(v * pres, axis=0)[take]
        s2 = np.cumsum(v * v * pres, axis=0)[take]
        return _mean_width(cnt, s1, s2, level)

    return CIWidths(sizes=chosen, decisive=curve(y, pres_y), ties_half=curve(z, pres_z),
                    level=level)
