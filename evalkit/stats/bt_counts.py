"""Bradley–Terry input: battles aggregated to counts per ordered pair (``BattleCounts``) and,
for the prompt-cluster bootstrap, per prompt and pair (``PromptCounts``).

Fitting and bootstrapping work on these counts, never on battle rows, so their cost does not
depend on the number of battles. Pure numpy, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .bt_encode import _encode_models, _outcome_scores, _sorted_names

__all__ = ["BattleCounts", "PromptCounts", "aggregate_battles"]



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



# --------------------------------------------------------------------------- per prompt


@dataclass(frozen=True, eq=False)
class PromptCounts:
    """Battle counts per prompt: the input of the prompt-cluster bootstrap.

    ``cells[p, q] = (i wins, ties, j wins)`` for prompt ``prompts[p]`` and pair ``q`` between
    ``models[pair_i[q]]`` (i) and ``models[pair_j[q]]`` (j), summed over everything judged on
    that prompt for that pair (repeated samples, both orders). Counts may be fractional (soft
    verdicts). Pairs are stored once each with ``pair_i < pair_j`` (a pair given the other way
    round has its cells swapped); ``totals()`` is the matching ``BattleCounts``. Arrays are
    read-only.
    """

    models: tuple[str, ...]
    prompts: tuple[str, ...]
    pair_i: np.ndarray
    pair_j: np.ndarray
    cells: np.ndarray  # shape (prompts, pairs, 3)

    def __post_init__(self) -> None:
        models = tuple(str(m) for m in self.models)
        prompts = tuple(str(p) for p in self.prompts)
        k = len(models)
        if len(set(models)) != k:
            raise ValueError("PromptCounts: model names must be unique")
        if len(set(prompts)) != len(prompts):
            raise ValueError("PromptCounts: prompt keys must be unique")
        i = np.asarray(self.pair_i, dtype=np.intp).ravel()
        j = np.asarray(self.pair_j, dtype=np.intp).ravel()
        cells = np.array(self.cells, dtype=float, copy=True)
        if i.shape != j.shape or cells.shape != (len(prompts), i.size, 3):
            raise ValueError(f"PromptCounts: cells must be (prompts, pairs, 3) = "
                             f"({len(prompts)}, {i.size}, 3); got {cells.shape}")
        if i.size and (min(i.min(), j.min()) < 0 or max(i.max(), j.max()) >= k):
            raise ValueError("PromptCounts: pair indices must index models")
        if np.any(i == j):
            raise ValueError(f"PromptCounts: model {models[i[i == j][0]]!r} battles itself")
        if not np.all(np.isfinite(cells)) or np.any(cells < 0):
            raise ValueError("PromptCounts: counts must be finite and non-negative")
        swap = i > j
        i, j = np.where(swap, j, i), np.where(swap, i, j)
        cells[:, swap] = cells[:, swap][:, :, ::-1]
        if np.unique(i * k + j).size != i.size:
            raise ValueError("PromptCounts: each pair must appear once (merge repeated pairs)")
        for arr in (i, j, cells):
            arr.setflags(write=False)
        object.__setattr__(self, "models", models)
        object.__setattr__(self, "prompts", prompts)
        object.__setattr__(self, "pair_i", i)
        object.__setattr__(self, "pair_j", j)
        object.__setattr__(self, "cells", cells)

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str, str, float, float, float]]
                  ) -> PromptCounts:
        """From ``(prompt, model_a, model_b, a_wins, ties, b_wins)`` rows; rows with the same
        prompt and pair (in either order) are summed."""
        parsed: list[tuple[Any, Any, Any, float, float, float]] = []
        for p, a, b, aw, t, bw in rows:
            if str(a) == str(b):
                raise ValueError(f"PromptCounts.from_rows: model {a!r} battles itself")
            aw, t, bw = float(aw), float(t), float(bw)
            if min(aw, t, bw) < 0 or not all(map(math.isfinite, (aw, t, bw))):
                raise ValueError(f"PromptCounts.from_rows: counts for ({a!r}, {b!r}) on prompt "
                                 f"{p!r} must be finite and non-negative")
            parsed.append((p, a, b, aw, t, bw))
        names, lookup = _sorted_names([r[1] for r in parsed] + [r[2] for r in parsed])
        # prompts and pairs in sorted order, so the result (and every seeded bootstrap over
        # it) does not depend on the order the rows came in (SQLite and PostgreSQL differ)
        prompts = sorted({str(r[0]) for r in parsed})
        p_index = {p: n for n, p in enumerate(prompts)}
        k = len(names)
        oriented = []
        for p, a, b, aw, t, bw in parsed:
            ia, ib = lookup[a], lookup[b]
            if ia > ib:
                ia, ib, aw, bw = ib, ia, bw, aw
            oriented.append((p, ia * k + ib, aw, t, bw))
        pair_index = {code: q for q, code in enumerate(sorted({o[1] for o in oriented}))}
        entries = [(p_index[str(p)], pair_index[code], aw, t, bw)
                   for p, code, aw, t, bw in oriented]
        cells = np.zeros((len(prompts), len(pair_index), 3))
        for row, q, aw, t, bw in entries:
            cells[row, q] += (aw, t, bw)
        codes = np.fromiter(pair_index, dtype=np.intp, count=len(pair_index))
        return cls(names, tuple(prompts), codes // max(k, 1), codes % max(k, 1), cells)

    @classmethod
    def from_battles(cls, prompt: Sequence[Any], a: Sequence[str | int], b: Sequence[str | int],
                     outcome: Sequence[float | str]) -> PromptCounts:
        """Count battles per prompt and pair (vectorised). ``outcome`` is from a's view, as in
        ``aggregate_battles``; prompts are sorted keys (cluster ids: prompt hashes)."""
        names, i, j = _encode_models(a, b)
        scores = _outcome_scores(outcome)
        prompt_keys, p = np.unique(np.asarray(prompt).astype(str), return_inverse=True)
        p = p.ravel()
        if not (i.size == j.size == scores.size == p.size):
            raise ValueError(f"prompt, a, b and outcome must have the same length; got {p.size},"
                             f" {i.size}, {j.size} and {scores.size}")
        if np.any(i == j):
            raise ValueError(f"a model cannot battle itself: {names[i[i == j][0]]!r}")
        k = len(names)
        lo, hi = np.minimum(i, j), np.maximum(i, j)
        s_lo = np.where(i == lo, scores, 1.0 - scores)
        codes, q = np.unique(lo * k + hi, return_inverse=True)
        cell = np.where(s_lo == 1.0, 0, np.where(s_lo == 0.5, 1, 2))
        flat = (p * codes.size + q.ravel()) * 3 + cell
        cells = np.bincount(flat, minlength=prompt_keys.size * codes.size * 3).astype(float)
        return cls(names, tuple(prompt_keys.tolist()), codes // k, codes % k,
                   cells.reshape(prompt_keys.size, codes.size, 3))

    @property
    def n_models(self) -> int:
        return len(self.models)

    @property
    def n_prompts(self) -> int:
        return len(self.prompts)

    def totals(self) -> BattleCounts:
        """All prompts summed: the ``BattleCounts`` a point fit uses."""
        k = self.n_models
        s = self.cells.sum(axis=0)
        wins = np.zeros((k, k))
        ties = np.zeros((k, k))
        wins[self.pair_i, self.pair_j] = s[:, 0]
        wins[self.pair_j, self.pair_i] = s[:, 2]
        ties[self.pair_i, self.pair_j] = s[:, 1]
        ties[self.pair_j, self.pair_i] = s[:, 1]
        return BattleCounts(self.models, wins, ties)

    def effective(self) -> np.ndarray:
        """(prompts, 2 x pairs): each pair's effective wins for i, then for j (ties = half)."""
        half = 0.5 * self.cells[:, :, 1]
        return np.concatenate([self.cells[:, :, 0] + half, self.cells[:, :, 2] + half], axis=1)
