"""Fast encoding of battle rows for Bradley–Terry: model names to integer codes without sorting
a million strings, and outcome labels to scores. Pure numpy."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

_OUTCOME_LABELS = {"a": 1.0, "b": 0.0, "tie": 0.5, "1": 1.0, "1.0": 1.0, "0": 0.0, "0.0": 0.0,
                   "0.5": 0.5}


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
        h += cols[:, c].astype(np.uint64)
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
