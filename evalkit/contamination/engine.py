"""The contamination engine: pure functions, text in, matches out (no files, no store).

Normalise, then tokenise (``docs/contamination.md``):

* Unicode NFKC, then ``casefold`` (context-free lower-casing: ``Σ`` is always ``σ``);
* a token is a run of letters, digits and combining marks (``str.isalnum`` or category M);
  everything else — punctuation, symbols, ``_``, whitespace — separates tokens, and each CJK
  ideograph or kana is a token of its own (those scripts put no spaces between words).

Normalising *before* splitting is what catches ``"Hello,world"`` against ``"hello world"``.
The normalised text is UTF-8 in which every separator is a NUL byte; an ASCII chunk (almost
all of a typical corpus) goes straight through one ``bytes.translate``.

Hashing is vectorised with numpy, never a Python loop per token: a token's hash mixes its
bytes read eight at a time from an unaligned 64-bit view, and an n-gram's hash is a
polynomial in its token hashes, taken from one prefix sum for every n at once (all arithmetic
mod 2**64). Corpus n-grams are looked up in a bit table of the item n-grams first (a few per
cent pass), then by binary search in the sorted item hashes, so the cost is per corpus byte,
almost independent of the number of items.

A stream is scanned chunk by chunk; each chunk must end on a token boundary (the readers cut
at a newline) and the last ``N - 1`` token hashes are carried into the next chunk, so an n-gram
that spans a chunk, a gzip member or a shard is found exactly once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .normalise import NORMALISER, normalise, normalise_chunk  # noqa: F401  (re-exported)

U64 = np.uint64
_PAD = b"\0" * 16
_GOLD = U64(0x9E3779B97F4A7C15)
_M1 = U64(0xBF58476D1CE4E5B9)
_M2 = U64(0x94D049BB133111EB)
_Q = 0xD6E8FEB86659FD93  # odd: invertible mod 2**64
_MASKS = np.array([(1 << (8 * i)) - 1 for i in range(8)] + [(1 << 64) - 1], dtype=U64)


# ---- tokens ---------------------------------------------------------------------------------

def _fmix(h: np.ndarray) -> np.ndarray:
    h ^= h >> U64(30)
    h *= _M1
    h ^= h >> U64(27)
    h *= _M2
    h ^= h >> U64(31)
    return h


def token_spans(norm: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Byte offsets (start, end) of the tokens of normalised text."""
    buf = np.frombuffer(norm + _PAD, dtype=np.uint8)
    on = (buf != 0).view(np.int8)
    edges = np.flatnonzero(on[1:] != on[:-1]) + 1
    if on[0]:
        edges = np.concatenate((np.zeros(1, edges.dtype), edges))
    return edges[0::2], edges[1::2]


def token_hashes(norm: bytes) -> np.ndarray:
    """One 64-bit hash per token of normalised text (a token's bytes, eight at a time)."""
    buf = np.frombuffer(norm + _PAD, dtype=np.uint8)
    starts, ends = token_spans(norm)
    if not starts.size:
        return np.zeros(0, dtype=U64)
    words = np.ndarray((len(norm) + 9,), dtype="<u8", buffer=buf, strides=(1,))
    length = ends - starts
    h = words[starts] & _MASKS[np.minimum(length, 8)]
    more = np.flatnonzero(length > 8)
    k = 8
    while more.size:  # tokens longer than 8 bytes: the next 8 bytes, chained
        w = words[starts[more] + k] & _MASKS[np.minimum(length[more] - k, 8)]
        hl = h[more]
        hl ^= hl >> U64(29)
        hl *= _M1
        h[more] = hl ^ w
        k += 8
        more = more[length[more] > k]
    h ^= length.astype(U64) * _GOLD
    return _fmix(h)


def tokenize(text: str) -> list[str]:
    """The normalised tokens of ``text`` (for people and tests; the scan never builds them)."""
    norm = normalise(text)
    starts, ends = token_spans(norm)
    return [norm[s:e].decode("utf-8") for s, e in zip(starts.tolist(), ends.tolist(),
                                                        strict=True)]


# ---- n-grams --------------------------------------------------------------------------------

class _Powers:
    """Q**i and Q**-i mod 2**64, grown on demand."""

    def __init__(self) -> None:
        self.up = np.ones(1, dtype=U64)
        self.down = np.ones(1, dtype=U64)

    def get(self, m: int) -> tuple[np.ndarray, np.ndarray]:
        if m > len(self.up):
            size = max(m, 2 * len(self.up), 1 << 16)
            inv = _Q
            for _ in range(6):  # Newton: the inverse of Q mod 2**64
                inv = (inv * (2 - _Q * inv)) % (1 << 64)
            up = np.full(size, _Q, dtype=U64)
            down = np.full(size, inv, dtype=U64)
            up[0] = down[0] = 1
            self.up, self.down = np.cumprod(up), np.cumprod(down)  # wraps mod 2**64
        return self.up[:m], self.down[:m]


_POWERS = _Powers()


def ngram_hashes(tokens: np.ndarray, n: int, first: int = 0) -> np.ndarray:
    """Hashes of the n-grams of a token-hash sequence that start at ``first`` or later."""
    m = len(tokens)
    if m - first < n:
        return np.zeros(0, dtype=U64)
    up, down = _POWERS.get(m + 1)
    prefix = np.empty(m + 1, dtype=U64)
    prefix[0] = 0
    np.cumsum(tokens * up[:m], out=prefix[1:])
    return _windows(prefix, down, n, first, m - n + 1)


def _windows(prefix: np.ndarray, down: np.ndarray, n: int, first: int, stop: int
             ) -> np.ndarray:
    """Hashes of the windows starting at ``first`` … ``stop - 1``."""
    return (prefix[first + n:stop + n] - prefix[first:stop]) * down[first:stop]


# ---- item n-grams ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Grams:
    """The n-grams of all items for one n: ``keys`` sorted and unique; for every n-gram of
    every item, its key's index, its item and its first token's position in the item."""

    n: int
    keys: np.ndarray
    key_of: np.ndarray
    item: np.ndarray
    pos: np.ndarray


@dataclass(frozen=True)
class ItemIndex:
    """Items turned into n-gram sets (one ``Grams`` per n) and their token counts."""

    ns: tuple[int, ...]
    n_tokens: np.ndarray
    grams: dict[int, Grams]

    @property
    def patterns(self) -> Patterns:
        return Patterns(self.ns, {n: g.keys for n, g in self.grams.items()})


def index_items(texts: Sequence[str], ns: Iterable[int]) -> ItemIndex:
    """Hash every n-gram of every item (all items tokenised in one pass)."""
    ns = tuple(sorted(set(ns)))
    norms = [normalise(t) for t in texts]
    sizes = np.fromiter((len(b) + 1 for b in norms), dtype=np.int64, count=len(norms))
    offsets = np.concatenate((np.zeros(1, np.int64), np.cumsum(sizes)))
    joined = b"\0".join(norms) + b"\0"
    starts, _ = token_spans(joined)
    tokens = token_hashes(joined)
    owner = np.searchsorted(offsets, starts, side="right") - 1
    n_tokens = np.bincount(owner, minlength=len(texts)).astype(np.int64)
    first_token = np.concatenate((np.zeros(1, np.int64), np.cumsum(n_tokens)))
    grams = {}
    for n in ns:
        h = ngram_hashes(tokens, n)
        start = np.arange(len(h))
        ok = owner[start] == owner[start + n - 1] if len(h) else np.zeros(0, bool)
        h, start = h[ok], start[ok]
        item = owner[start]
        keys, key_of = np.unique(h, return_inverse=True)
        grams[n] = Grams(n, keys, key_of.astype(np.int64), item,
                         (start - first_token[item]).astype(np.int64))
    return ItemIndex(ns, n_tokens, grams)


# ---- scanning -------------------------------------------------------------------------------

@dataclass
class Patterns:
    """What a scan looks for: the sorted item n-gram hashes per n. Small and picklable; the
    bit tables that pre-filter lookups are built where the scan runs."""

    ns: tuple[int, ...]
    keys: dict[int, np.ndarray]
    _filters: dict[int, tuple[np.ndarray, U64]] = field(default_factory=dict, repr=False)

    def __getstate__(self) -> dict:
        return {"ns": self.ns, "keys": self.keys, "_filters": {}}

    def __setstate__(self, state: dict) -> None:
        # arrays unpickled from a network frame may be unaligned: numpy would then copy the
        # keys on every search; one aligned copy per worker instead
        state["keys"] = {n: np.array(k, dtype=U64, copy=True) for n, k in state["keys"].items()}
        self.__dict__.update(state)

    def maybe(self, n: int, h: np.ndarray) -> np.ndarray:
        """Positions of the hashes that may be item n-grams (a bit table, about 64 bits per
        key: under 2% false positives, never a false negative)."""
        if n not in self._filters:
            keys = self.keys[n]
            bits = int(min(30, max(16, np.ceil(np.log2(max(1, len(keys)) * 64)))))
            shift = U64(64 - bits)
            table = np.zeros(1 << (bits - 3), dtype=np.uint8)
            slot = keys >> shift
            np.bitwise_or.at(table, slot >> U64(3), np.left_shift(1, slot & U64(7)).astype(
                np.uint8))
            self._filters[n] = (table, shift)
        table, shift = self._filters[n]
        slot = h >> shift
        byte = table[slot >> U64(3)]
        return np.flatnonzero((byte >> (slot & U64(7)).astype(np.uint8)) & np.uint8(1))

    def lookup(self, n: int, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each hash: its index among the sorted keys, and whether it is one."""
        keys = self.keys[n]
        if len(h) > 64:  # sorted needles search far faster (the keys stay in cache)
            order = np.argsort(h)
            at = np.empty(len(h), dtype=np.intp)
            at[order] = np.searchsorted(keys, h[order])
        else:
            at = np.searchsorted(keys, h)
        at = np.minimum(at, len(keys) - 1)
        return at, keys[at] == h

    @property
    def span(self) -> int:
        return max(self.ns)


@dataclass(frozen=True)
class Counts:
    """What a scan of one stream found: per n, the item n-grams seen (index into the sorted
    keys) and how often; the stream's first and last ``N - 1`` token hashes (for joining
    streams scanned apart); its size."""

    found: dict[int, tuple[np.ndarray, np.ndarray]]
    head: np.ndarray
    tail: np.ndarray
    tokens: int
    bytes: int
    invalid_bytes: int = 0


class Scanner:
    """Scans one stream of chunks; ``feed`` chunks in order, each ending on a token boundary."""

    def __init__(self, patterns: Patterns) -> None:
        self.patterns = patterns
        self.keep = patterns.span - 1
        self.counts = {n: np.zeros(len(patterns.keys[n]), dtype=np.int64)
                       for n in patterns.ns}
        self.tail = np.zeros(0, dtype=U64)
        self.head = np.zeros(0, dtype=U64)
        self.tokens = self.bytes = self.invalid = 0

    def feed(self, raw: bytes) -> None:
        norm, bad = normalise_chunk(raw)
        self.bytes += len(raw)
        self.invalid += bad
        self.feed_tokens(token_hashes(norm))

    def feed_tokens(self, tokens: np.ndarray) -> None:
        if not tokens.size:
            return
        if len(self.head) < self.keep:
            self.head = np.concatenate((self.head, tokens[: self.keep - len(self.head)]))
        self.tokens += len(tokens)
        carried = len(self.tail)
        seq = np.concatenate((self.tail, tokens)) if carried else tokens
        count_windows(self.patterns, self.counts, seq, carried)
        self.tail = seq[-self.keep:] if self.keep else seq[:0]

    def result(self) -> Counts:
        found = {}
        for n, c in self.counts.items():
            idx = np.flatnonzero(c)
            found[n] = (idx, c[idx])
        return Counts(found, self.head.copy(), self.tail.copy(), self.tokens, self.bytes,
                      self.invalid)


def count_windows(patterns: Patterns, counts: dict[int, np.ndarray], seq: np.ndarray,
                  carried: int, joint: bool = False) -> None:
    """Count the item n-grams among the windows of ``seq`` that end past its first
    ``carried`` tokens (whose own windows were counted before); with ``joint``, only those
    that also start among them (the windows that span a joint between two streams).

    Only the smallest n looks at every window: an item's larger n-gram starts with one of its
    smaller n-grams, so larger windows are hashed only where a smaller one matched."""
    m = len(seq)
    ns = patterns.ns
    lo = max(0, carried - ns[-1] + 1)

    def stop(n: int) -> int:
        return min(carried, m - n + 1) if joint else m - n + 1

    if stop(ns[0]) <= lo:
        return
    up, down = _POWERS.get(m + 1)
    prefix = np.empty(m + 1, dtype=U64)
    prefix[0] = 0
    np.cumsum(seq * up[:m], out=prefix[1:])
    h = _windows(prefix, down, ns[0], lo, stop(ns[0]))
    maybe = patterns.maybe(ns[0], h)
    at, ok = patterns.lookup(ns[0], h[maybe])
    starts, at = maybe[ok] + lo, at[ok]
    for i, n in enumerate(ns):
        keep = (starts >= max(0, carried - n + 1)) & (starts < stop(n))
        if i:
            s = starts[keep]
            at, ok = patterns.lookup(n, (prefix[s + n] - prefix[s]) * down[s])
            at = at[ok]
        else:
            at = at[keep]
        if at.size:
            np.add.at(counts[n], at, 1)


def merge(patterns: Patterns, parts: Sequence[Counts]) -> Counts:
    """The counts of the concatenation of streams scanned apart, in order: each part's own
    counts plus the n-grams that span a joint (from the parts' heads and tails). Equal to
    scanning the whole stream at once."""
    keep = patterns.span - 1
    counts = {n: np.zeros(len(patterns.keys[n]), dtype=np.int64) for n in patterns.ns}
    tail = np.zeros(0, dtype=U64)
    head = np.zeros(0, dtype=U64)
    tokens = size = bad = 0
    for part in parts:
        for n, (idx, c) in part.found.items():
            counts[n][idx] += c
        if part.tokens and len(tail):  # windows that start in the tail, end in this part
            seam = np.concatenate((tail, part.head))
            count_windows(patterns, counts, seam, len(tail), joint=True)
        if len(head) < keep:
            head = np.concatenate((head, part.head[: keep - len(head)]))
        if part.tokens:
            tail = np.concatenate((tail, part.tail))[-keep:] if keep else tail[:0]
        tokens += part.tokens
        size += part.bytes
        bad += part.invalid_bytes
    found = {}
    for n, c in counts.items():
        idx = np.flatnonzero(c)
        found[n] = (idx, c[idx])
    return Counts(found, head, tail, tokens, size, bad)
