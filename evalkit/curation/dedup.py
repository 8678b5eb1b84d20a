"""Exact and near-duplicate prompts: normalised text, character shingles, MinHash signatures
with LSH banding, and an exact Jaccard check of every candidate pair. Pure numpy, no I/O.

Method (docs/curation.md, "Dedup"):

1. **Normalise**: Unicode NFKC, case folded, punctuation and symbols to spaces, whitespace
   collapsed. Texts equal after this are *exact* duplicates (case and punctuation changes).
2. **Shingle**: the set of character ``ngram``-grams (5 by default) of each distinct
   normalised text, hashed to 32 bits — vectorised over all texts at once (a rolling
   polynomial hash over the concatenated code points, finalised by splitmix64).
3. **MinHash**: ``num_perm`` random affine maps of the (already mixed) 32-bit shingle hashes,
   the minimum of each over a text's shingles (``np.minimum.reduceat`` over the
   concatenation, in cache-sized chunks).
4. **LSH**: ``bands`` bands of ``num_perm / bands`` rows; texts whose band agrees are
   candidates. Buckets are found by sorting each band's keys, so the cost is
   O(n log n) per band; inside one bucket a text is paired with at most ``max_bucket - 1``
   neighbours (a bucket of thousands of near-identical texts stays linear).
5. **Verify**: candidates whose signatures agree on at least ``threshold - margin`` of the
   rows get their exact Jaccard similarity of shingle sets; pairs at or above ``threshold``
   are near-duplicates. Clusters are the connected components of those pairs (plus exact
   duplicates); the earliest member of a cluster is kept.

With 128 permutations in 32 bands of 4 rows, a pair with Jaccard 0.7 becomes a candidate with
probability 1 − (1 − 0.7⁴)³² = 0.9998 (0.6: 0.989; 0.3: 0.23), so recall is set by the
threshold, and precision by the exact check (it is exact).
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = ["DedupConfig", "DedupResult", "DuplicateCluster", "DuplicatePair",
           "all_pairs_jaccard", "find_duplicates", "normalize_text", "shingle_sets"]

_NON_WORD = re.compile(r"[^\w\s]|_")
_SPACE = re.compile(r"\s+")
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


@dataclass(frozen=True)
class DedupConfig:
    """Settings of near-duplicate detection; ``threshold`` is the Jaccard similarity of
    character ``ngram`` shingle sets at which two texts are duplicates."""

    threshold: float = 0.7
    ngram: int = 5
    num_perm: int = 128
    bands: int = 32
    seed: int = 0
    margin: float = 0.15  # signature agreement this far below the threshold is checked exactly
    max_bucket: int = 64  # inside an LSH bucket, a text is paired with its next max_bucket-1

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold must lie in (0, 1], got {self.threshold}")
        if self.ngram < 1:
            raise ValueError(f"ngram must be at least 1, got {self.ngram}")
        if self.num_perm < 1 or self.bands < 1 or self.num_perm % self.bands:
            raise ValueError(f"num_perm ({self.num_perm}) must be a positive multiple of "
                             f"bands ({self.bands})")
        if self.max_bucket < 2:
            raise ValueError("max_bucket must be at least 2")

    @property
    def rows(self) -> int:
        return self.num_perm // self.bands

    @property
    def method(self) -> str:
        return (f"exact after normalisation, then MinHash ({self.num_perm} permutations, "
                f"{self.bands} bands x {self.rows} rows) on character {self.ngram}-gram "
                f"shingles, candidates checked by exact Jaccard >= {self.threshold:g}")


@dataclass(frozen=True)
class DuplicatePair:
    """Two texts (indices into the input) and the Jaccard similarity of their shingle sets."""

    a: int
    b: int
    jaccard: float


@dataclass(frozen=True)
class DuplicateCluster:
    """Texts that duplicate each other (connected by exact or near-duplicate pairs).
    ``members`` are sorted; the first is the one kept. ``kind`` is ``exact`` when all
    members are equal after normalisation, else ``near``; ``min_jaccard`` is the lowest
    similarity of a pair that links the cluster (1.0 for exact clusters)."""

    members: tuple[int, ...]
    kind: str
    min_jaccard: float

    @property
    def keep(self) -> int:
        return self.members[0]

    @property
    def dropped(self) -> tuple[int, ...]:
        return self.members[1:]


@dataclass(frozen=True)
class DedupResult:
    n: int
    clusters: tuple[DuplicateCluster, ...]
    pairs: tuple[DuplicatePair, ...]  # verified near-duplicate pairs (exact ones left out)
    config: DedupConfig
    candidates: int = 0  # LSH candidate pairs before the exact check
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def dropped(self) -> tuple[int, ...]:
        return tuple(sorted(i for c in self.clusters for i in c.dropped))

    @property
    def keep(self) -> tuple[int, ...]:
        gone = set(self.dropped)
        return tuple(i for i in range(self.n) if i not in gone)

    @property
    def duplicate_rate(self) -> float:
        """Share of texts that repeat an earlier one (what dedup removes)."""
        return len(self.dropped) / self.n if self.n else 0.0

    @property
    def exact_dropped(self) -> int:
        return sum(len(c.dropped) for c in self.clusters if c.kind == "exact")


def normalize_text(text: str) -> str:
    """NFKC, case folded, punctuation/symbols as spaces, whitespace collapsed."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _SPACE.sub(" ", _NON_WORD.sub(" ", folded)).strip()


def _keys(texts: Sequence[str]) -> list[str]:
    """Normalised texts; one that normalises to nothing (only punctuation) keeps its raw
    text, so two different such texts are not duplicates of each other."""
    out = []
    for raw in texts:
        norm = normalize_text(raw)
        out.append(norm if norm else "\x01" + raw.strip())
    return out


# --------------------------------------------------------------------------- shingles

def _splitmix64(x: np.ndarray) -> np.ndarray:
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _shingles(texts: Sequence[str], k: int, chunk: int = 1 << 19
              ) -> tuple[np.ndarray, np.ndarray]:
    """(32-bit shingle hashes of all texts, concatenated; start offsets, one per text plus
    the end). A text shorter than ``k`` characters is one padded shingle. Texts are hashed
    in chunks of about ``chunk`` characters, so the temporaries stay in cache."""
    n = len(texts)
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=n)
    grams_per_text = np.maximum(lengths - k + 1, 1)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(grams_per_text, out=offsets[1:])
    out = np.empty(int(offsets[-1]), dtype=np.uint32)
    pad = "\x00" * k  # a text shorter than k is padded, never runs into the next one
    mult = np.uint64(0x100000001B3)
    lo = 0
    while lo < n:
        hi, size = lo, 0
        while hi < n and (size < chunk or hi == lo):
            size += int(lengths[hi]) + k
            hi += 1
        joined = pad.join(texts[lo:hi]) + pad
        codes = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"),
                              dtype=np.uint32).astype(np.uint64)
        total = len(codes) - k + 1
        with np.errstate(over="ignore"):
            h = codes[:total].copy()
            for j in range(1, k):
                h *= mult
                h += codes[j:j + total]
            h = _splitmix64(h) >> np.uint64(32)
        starts = np.zeros(hi - lo, dtype=np.int64)
        starts[1:] = np.cumsum(lengths[lo:hi - 1] + k)
        counts = grams_per_text[lo:hi]
        base = offsets[lo:hi] - offsets[lo]
        idx = np.repeat(starts - base, counts) + np.arange(int(counts.sum()))
        out[offsets[lo]:offsets[hi]] = h[idx]
        lo = hi
    return out, offsets


def shingle_sets(texts: Sequence[str], ngram: int = 5) -> list[np.ndarray]:
    """Each normalised text's sorted unique shingle hashes (for exact Jaccard)."""
    grams, offsets = _shingles(list(texts), ngram)
    return [np.unique(grams[offsets[i]:offsets[i + 1]]) for i in range(len(texts))]


# --------------------------------------------------------------------------- MinHash / LSH

def _minhash(grams: np.ndarray, offsets: np.ndarray, num_perm: int, seed: int,
             chunk: int = 1 << 15) -> np.ndarray:
    """(n_texts, num_perm) uint32 signatures: the minimum over a text's shingles of
    ``(a * x + b) mod 2**32`` for ``num_perm`` random (odd ``a``, ``b``). The shingle hashes
    ``x`` are already uniformly mixed 32-bit values, so these affine maps act as independent
    random orderings (measured: the agreement of two signatures is an unbiased estimate of
    Jaccard). Whole texts per chunk of about ``chunk`` shingles, into one reused buffer."""
    rng = np.random.default_rng(seed)
    a = (rng.integers(0, 2**31, size=num_perm, dtype=np.uint64) * 2 + 1).astype(np.uint32)
    b = rng.integers(0, 2**32, size=num_perm, dtype=np.uint64).astype(np.uint32)
    x = grams
    n = len(offsets) - 1
    sig = np.empty((n, num_perm), dtype=np.uint32)
    buf = np.empty((num_perm, chunk), dtype=np.uint32)
    lo = 0
    while lo < n:
        hi = max(int(np.searchsorted(offsets, offsets[lo] + chunk, side="right")) - 1, lo + 1)
        s, e = int(offsets[lo]), int(offsets[hi])
        out = buf[:, :e - s] if e - s <= chunk else np.empty((num_perm, e - s), np.uint32)
        np.multiply(a[:, None], x[None, s:e], out=out)
        out += b[:, None]
        sig[lo:hi] = np.minimum.reduceat(out, offsets[lo:hi] - s, axis=1).T
        lo = hi
    return sig


def _band_pairs(sig: np.ndarray, bands: int, rows: int, max_bucket: int,
                seed: int) -> np.ndarray:
    """Candidate pairs (i < j) as uint64 codes ``i * n + j``: texts that agree on a band."""
    n = sig.shape[0]
    rng = np.random.default_rng(seed + 1)
    mults = rng.integers(1, 2**63, size=rows, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    found: list[np.ndarray] = []
    for band in range(bands):
        block = sig[:, band * rows:(band + 1) * rows].astype(np.uint64)
        with np.errstate(over="ignore"):
            keys = _splitmix64((block * mults[None, :]).sum(axis=1, dtype=np.uint64)
                               ^ np.uint64(band))
        order = np.argsort(keys, kind="stable")
        sk = keys[order]
        for d in range(1, max_bucket):
            same = np.flatnonzero(sk[:-d] == sk[d:]) if d < n else np.empty(0, np.int64)
            if same.size == 0:
                break  # runs are contiguous: none at distance d, none further
            i, j = order[same], order[same + d]
            lo, hi = np.minimum(i, j).astype(np.uint64), np.maximum(i, j).astype(np.uint64)
            found.append(lo * np.uint64(n) + hi)
    if not found:
        return np.empty(0, dtype=np.uint64)
    return np.unique(np.concatenate(found))


def _jaccard(x: np.ndarray, y: np.ndarray) -> float:
    inter = np.intersect1d(x, y, assume_unique=True).size
    union = x.size + y.size - inter
    return inter / union if union else 1.0


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:
            self.parent[i], i = root, self.parent[i]
        return root

    def union(self, i: int, j: int) -> None:
        ri, rj = self.find(i), self.find(j)
        if ri != rj:
            self.parent[max(ri, rj)] = min(ri, rj)


def find_duplicates(texts: Sequence[str], config: DedupConfig | None = None) -> DedupResult:
    """Exact and near-duplicate clusters among ``texts`` (raw texts; normalised here)."""
    cfg = config or DedupConfig()
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    norm = _keys(texts)
    first: dict[str, int] = {}
    rep_of = np.empty(len(norm), dtype=np.int64)  # index into ``uniq``
    uniq: list[str] = []
    owners: list[int] = []  # the first original index of each distinct text
    for i, key in enumerate(norm):
        u = first.get(key)
        if u is None:
            u = first[key] = len(uniq)
            uniq.append(key)
            owners.append(i)
        rep_of[i] = u
    timings["normalise"] = time.perf_counter() - t0

    pairs: list[DuplicatePair] = []
    candidates = 0
    uf = _UnionFind(len(uniq))
    if len(uniq) > 1:
        t = time.perf_counter()
        grams, offsets = _shingles(uniq, cfg.ngram)
        timings["shingle"] = time.perf_counter() - t
        t = time.perf_counter()
        sig = _minhash(grams, offsets, cfg.num_perm, cfg.seed)
        timings["minhash"] = time.perf_counter() - t
        t = time.perf_counter()
        codes = _band_pairs(sig, cfg.bands, cfg.rows, cfg.max_bucket, cfg.seed)
        candidates = int(codes.size)
        timings["lsh"] = time.perf_counter() - t
        t = time.perf_counter()
        m = np.uint64(len(uniq))
        ci, cj = (codes // m).astype(np.int64), (codes % m).astype(np.int64)
        agree = np.empty(codes.size, dtype=float)
        for s in range(0, codes.size, 1 << 16):
            e = s + (1 << 16)
            agree[s:e] = (sig[ci[s:e]] == sig[cj[s:e]]).mean(axis=1)
        keep = agree >= cfg.threshold - cfg.margin
        sets: dict[int, np.ndarray] = {}

        def shingle_set(i: int) -> np.ndarray:
            got = sets.get(i)
            if got is None:
                got = sets[i] = np.unique(grams[offsets[i]:offsets[i + 1]])
            return got

        for i, j in zip(ci[keep].tolist(), cj[keep].tolist(), strict=True):
            sim = _jaccard(shingle_set(i), shingle_set(j))
            if sim >= cfg.threshold:
                pairs.append(DuplicatePair(owners[i], owners[j], sim))
                uf.union(i, j)
        timings["verify"] = time.perf_counter() - t

    groups: dict[int, list[int]] = {}
    for i in range(len(norm)):
        groups.setdefault(uf.find(int(rep_of[i])), []).append(i)
    low: dict[int, float] = {}
    for p in pairs:
        root = uf.find(int(rep_of[p.a]))
        low[root] = min(low.get(root, 1.0), p.jaccard)
    clusters = []
    for root, members in groups.items():
        if len(members) < 2:
            continue
        exact = len({int(rep_of[i]) for i in members}) == 1
        clusters.append(DuplicateCluster(tuple(members), "exact" if exact else "near",
                                         1.0 if exact else low.get(root, 1.0)))
    clusters.sort(key=lambda c: c.members[0])
    pairs.sort(key=lambda p: (p.a, p.b))
    return DedupResult(n=len(norm), clusters=tuple(clusters), pairs=tuple(pairs), config=cfg,
                       candidates=candidates, seconds=time.perf_counter() - t0,
                       timings=timings)


def all_pairs_jaccard(texts: Sequence[str], threshold: float, ngram: int = 5
                      ) -> list[DuplicatePair]:
    """Every pair of normalised texts with exact shingle Jaccard >= ``threshold``, by an
    all-pairs sparse intersection count (the reference the MinHash/LSH path is measured
    against; quadratic in the number of texts)."""
    from scipy import sparse

    sets = shingle_sets(_keys(texts), ngram)
    sizes = np.array([s.size for s in sets], dtype=np.int64)
    vocab, cols = np.unique(np.concatenate(sets), return_inverse=True)
    indptr = np.zeros(len(sets) + 1, dtype=np.int64)
    np.cumsum(sizes, out=indptr[1:])
    x = sparse.csr_matrix((np.ones(cols.size, dtype=np.int32), cols, indptr),
                          shape=(len(sets), vocab.size))
    out: list[DuplicatePair] = []
    xt = x.T.tocsc()
    step = 1000
    for s in range(0, len(sets), step):
        inter = (x[s:s + step] @ xt).tocoo()
        i, j, v = inter.row + s, inter.col, inter.data
        upper = i < j
        i, j, v = i[upper], j[upper], v[upper]
        jac = v / (sizes[i] + sizes[j] - v)
        hit = jac >= threshold
        out.extend(DuplicatePair(int(a), int(b), float(c))
                   for a, b, c in zip(i[hit], j[hit], jac[hit], strict=True))
    out.sort(key=lambda p: (p.a, p.b))
    return out


# --------------------------------------------------------------------------- pools

def prompt_text(messages: Sequence[dict]) -> str:
    """The text of a prompt that dedup compares: every turn's content, in order."""
    return "\n".join(str(m.get("content", "")) for m in messages)


@dataclass(frozen=True)
class PoolDedup:
    """``evalkit pool dedup``: the clusters found, as pool item ids, and the new version."""

    pool: str
    source_version: str
    version: str | None  # None: a dry run, or nothing to remove
    created: bool
    prompts: int
    kept: int
    result: DedupResult
    ids: tuple[str, ...]  # the source pool's item ids, by position
    texts: tuple[str, ...]

    def to_dict(self, limit: int | None = None) -> dict[str, object]:
        r = self.result
        clusters = [{"kind": c.kind, "keep": self.ids[c.keep],
                     "drop": [self.ids[i] for i in c.dropped],
                     "min_jaccard": round(c.min_jaccard, 4),
                     "texts": [_clip(self.texts[i]) for i in c.members]}
                    for c in r.clusters[:limit]]
        return {"pool": {"name": self.pool, "source_version": self.source_version,
                         "version": self.version, "created": self.created,
                         "prompts": self.prompts, "kept": self.kept},
                "removed": self.prompts - self.kept, "duplicate_rate": r.duplicate_rate,
                "exact_removed": r.exact_dropped,
                "near_removed": len(r.dropped) - r.exact_dropped,
                "clusters": len(r.clusters), "cluster_list": clusters,
                "method": r.config.method, "threshold": r.config.threshold,
                "ngram": r.config.ngram, "seconds": round(r.seconds, 3)}


def _clip(text: str, limit: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def dedup_pool(engine: Engine, name: str, config: DedupConfig | None = None, *,
               version: str | None = None, into: str | None = None,
               dry_run: bool = False) -> PoolDedup:
    """Find duplicates in pool ``name`` and (unless ``dry_run``) store the version without
    them — the first prompt of each cluster kept — as a new version of ``into`` (default:
    the same pool)."""
    from ..catalog import resolve_pool
    from .versions import store_derived

    cfg = config or DedupConfig()
    pool, prompts = resolve_pool(engine, name, version)
    texts = tuple(prompt_text(p.messages) for p in prompts)
    result = find_duplicates(texts, cfg)
    kept = [prompts[i] for i in result.keep]
    new_version, created = None, False
    if not dry_run and result.clusters:
        params = {"threshold": cfg.threshold, "ngram": cfg.ngram, "num_perm": cfg.num_perm,
                  "bands": cfg.bands, "seed": cfg.seed, "method": cfg.method}
        summary = {"removed": len(result.dropped), "clusters": len(result.clusters),
                   "exact_removed": result.exact_dropped,
                   "removed_ids": [prompts[i].id for i in result.dropped]}
        stored, created = store_derived(engine, into or pool.name, kept, pool, "dedup",
                                        params, summary)
        new_version = stored.version
    return PoolDedup(pool=into or pool.name, source_version=pool.version, version=new_version,
                     created=created, prompts=len(prompts), kept=len(kept), result=result,
                     ids=tuple(p.id for p in prompts), texts=texts)
