"""From the n-grams a scan found to per-item results: the fraction of each item's tokens
covered by found n-grams (the Llama 3 report's measure), the longest covered run, the GPT-3
style any-hit test, the matched spans as character offsets in the item's own text, and a
label in the Llama 2 report's classes. Pure: no files, no store.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from .engine import Counts, ItemIndex, normalise, token_spans

LABELS = ("clean", "partial", "dirty", "short")


@dataclass(frozen=True)
class Thresholds:
    """Labels from the covered fraction (Llama 2, appendix A.6): *clean* below
    ``clean_below``, *dirty* from ``dirty_from`` on, *partial* between (in Llama 2's words
    both "not clean" and "not dirty"); an item with fewer tokens than n is *short*
    (it has no n-gram, so the scan cannot tell)."""

    clean_below: float = 0.2
    dirty_from: float = 0.8

    def __post_init__(self) -> None:
        if not 0 < self.clean_below <= self.dirty_from <= 1:
            raise ConfigError("contamination thresholds: need 0 < clean-below <= dirty-from "
                              f"<= 1, got {self.clean_below} and {self.dirty_from}")

    def label(self, fraction: float | None) -> str:
        if fraction is None:
            return "short"
        if fraction >= self.dirty_from:
            return "dirty"
        return "partial" if fraction >= self.clean_below else "clean"


@dataclass(frozen=True)
class ItemMatch:
    """One item's result against one corpus."""

    index: int
    n_tokens: int
    covered: int  # tokens inside at least one found n-gram
    fraction: float | None  # covered / n_tokens; None for a short item
    longest: int  # the longest run of covered tokens
    hit: bool | None  # any ``hit_n``-gram found (GPT-3); None when shorter than hit_n
    max_count: int  # corpus occurrences of the item's most frequent found n-gram
    label: str
    spans: tuple[tuple[int, int], ...]  # covered runs as [start, end) character offsets


def dense(counts: Counts, n: int, size: int) -> np.ndarray:
    out = np.zeros(size, dtype=np.int64)
    idx, c = counts.found[n]
    out[idx] = c
    return out


def score_items(index: ItemIndex, counts: Counts, texts: Sequence[str], n: int,
                hit_n: int | None, thresholds: Thresholds) -> list[ItemMatch]:
    """Per-item results for coverage n-grams of size ``n`` (and the any-hit test)."""
    g = index.grams[n]
    found = dense(counts, n, len(g.keys))[g.key_of]
    hit_mask = found > 0
    n_items = len(index.n_tokens)
    base = np.concatenate((np.zeros(1, np.int64), np.cumsum(index.n_tokens + 1)))
    diff = np.zeros(int(base[-1]) + 1, dtype=np.int64)
    first = base[g.item[hit_mask]] + g.pos[hit_mask]
    np.add.at(diff, first, 1)
    np.add.at(diff, first + n, -1)
    cov = (np.cumsum(diff)[:-1] > 0).view(np.int8)
    covered = np.bincount(np.searchsorted(base, np.flatnonzero(cov), side="right") - 1,
                          minlength=n_items)
    edges = np.flatnonzero(np.diff(cov, prepend=np.int8(0), append=np.int8(0)))
    run_start, run_end = edges[0::2], edges[1::2]
    run_item = np.searchsorted(base, run_start, side="right") - 1
    longest = np.zeros(n_items, dtype=np.int64)
    np.maximum.at(longest, run_item, run_end - run_start)
    max_count = np.zeros(n_items, dtype=np.int64)
    np.maximum.at(max_count, g.item[hit_mask], found[hit_mask])
    hits = _any_hit(index, counts, hit_n, n_items)
    runs: dict[int, list[tuple[int, int]]] = {}
    for item, s, e in zip(run_item.tolist(), run_start.tolist(), run_end.tolist(),
                          strict=True):
        runs.setdefault(item, []).append((s - int(base[item]), e - int(base[item])))
    out = []
    for i in range(n_items):
        nt = int(index.n_tokens[i])
        frac = None if nt < n else float(covered[i]) / nt
        spans = _char_runs(texts[i], runs[i]) if i in runs else ()
        hit = None if hit_n is None or nt < hit_n else bool(hits[i])
        out.append(ItemMatch(i, nt, int(covered[i]), frac, int(longest[i]), hit,
                             int(max_count[i]), thresholds.label(frac), spans))
    return out


def _any_hit(index: ItemIndex, counts: Counts, hit_n: int | None, n_items: int
             ) -> np.ndarray:
    hits = np.zeros(n_items, dtype=bool)
    if hit_n is None:
        return hits
    g = index.grams[hit_n]
    found = dense(counts, hit_n, len(g.keys))[g.key_of] > 0
    hits[g.item[found]] = True
    return hits


# ---- character offsets ----------------------------------------------------------------------

def char_token_spans(text: str) -> tuple[np.ndarray, np.ndarray]:
    """[start, end) character offsets in ``text`` of each of its normalised tokens."""
    norm = normalise(text)
    starts, ends = token_spans(norm)
    if text.isascii():
        return starts, ends
    segments = _segments(text)
    pieces = [normalise(text[a:b]) for a, b in segments]
    if b"".join(pieces) != norm:  # normalisation joined characters across segments
        scale = len(text) / max(1, len(norm))
        return ((starts * scale).astype(np.int64),
                np.minimum(len(text), np.ceil(ends * scale)).astype(np.int64))
    seg_of_byte = np.repeat(np.arange(len(segments)), [len(p) for p in pieces])
    seg = np.array(segments, dtype=np.int64).reshape(-1, 2)
    return seg[seg_of_byte[starts], 0], seg[seg_of_byte[ends - 1], 1]


def _segments(text: str) -> list[tuple[int, int]]:
    """A character with the combining marks (and Hangul vowel/final jamo) that follow it."""
    cuts = [i for i, ch in enumerate(text)
            if i == 0 or (unicodedata.combining(ch) == 0 and not 0x1160 <= ord(ch) <= 0x11FF)]
    return list(zip(cuts, cuts[1:] + [len(text)], strict=True))


def _char_runs(text: str, runs: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    starts, ends = char_token_spans(text)
    return tuple((int(starts[s]), int(ends[e - 1])) for s, e in runs)


def highlight(text: str, spans: Sequence[Sequence[int]], mark: str = "⟦{}⟧") -> str:
    """``text`` with each matched span wrapped in ``mark`` (plain text, no markup)."""
    out, at = [], 0
    for s, e in sorted((int(a), int(b)) for a, b in spans):
        if s < at:
            s = at
        if e <= s:
            continue
        out.append(text[at:s])
        out.append(mark.format(text[s:e]))
        at = e
    out.append(text[at:])
    return "".join(out)
