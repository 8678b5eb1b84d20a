"""``evalkit pool stats``: what a pool holds — counts per tag (with each tag's source), the
length distribution, the language mix, the duplicate rate and the diversity of its topics.
Pure: prompts in, a frozen record out (dedup runs in memory; nothing is stored).

Diversity is the Shannon entropy of the topic distribution in bits, H = −Σ p log2 p, with
its normalised form H / log2(k) (1 = all k topics equally common) and the effective number of
topics 2^H (docs/curation.md). The topic tag is ``topic``, else ``llm.topic``, else
``category``.
"""

from __future__ import annotations

import math
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..pools import PoolPrompt
from .dedup import DedupConfig, find_duplicates, prompt_text
from .versions import tag_source, topic_tag

QUANTILES = (("min", 0.0), ("p10", 0.1), ("p25", 0.25), ("median", 0.5), ("p75", 0.75),
             ("p90", 0.9), ("max", 1.0))
LANGUAGE_TAGS = ("language", "llm.language")


@dataclass(frozen=True)
class TagCounts:
    name: str
    source: str  # "human" | "classifier"
    values: dict[str, int]
    missing: int
    entropy_bits: float

    @property
    def normalized_entropy(self) -> float | None:
        k = len(self.values)
        return self.entropy_bits / math.log2(k) if k > 1 else None


@dataclass(frozen=True)
class Lengths:
    unit: str
    mean: float
    quantiles: dict[str, float]
    edges: tuple[float, ...]  # histogram bin edges (log-spaced)
    counts: tuple[int, ...]


@dataclass(frozen=True)
class PoolStats:
    prompts: int
    distinct: int
    multi_turn: int
    with_reference: int
    tags: tuple[TagCounts, ...]
    chars: Lengths
    words: Lengths
    language_source: str
    languages: dict[str, int]
    duplicate_rate: float
    exact_duplicates: int
    near_duplicates: int
    duplicate_clusters: int
    dedup_method: str
    topic_tag: str | None
    diversity: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompts": self.prompts, "distinct_prompts": self.distinct,
            "multi_turn": self.multi_turn, "with_reference": self.with_reference,
            "tags": {t.name: {"source": t.source, "values": t.values, "missing": t.missing,
                              "entropy_bits": round(t.entropy_bits, 4),
                              "normalized_entropy": None if t.normalized_entropy is None
                              else round(t.normalized_entropy, 4)} for t in self.tags},
            "length": {u.unit: {"mean": round(u.mean, 1),
                                **{k: round(v, 1) for k, v in u.quantiles.items()},
                                "histogram": {"edges": [round(e, 1) for e in u.edges],
                                              "counts": list(u.counts)}}
                       for u in (self.chars, self.words)},
            "languages": {"source": self.language_source, "counts": self.languages},
            "duplicates": {"rate": round(self.duplicate_rate, 4),
                           "exact": self.exact_duplicates, "near": self.near_duplicates,
                           "clusters": self.duplicate_clusters, "method": self.dedup_method},
            "diversity": self.diversity}


def entropy_bits(counts: Sequence[int]) -> float:
    total = float(sum(counts))
    if total <= 0:
        return 0.0
    p = np.asarray([c for c in counts if c > 0], dtype=float) / total
    return float(-(p * np.log2(p)).sum())


def _lengths(values: Sequence[int], unit: str, bins: int = 20) -> Lengths:
    x = np.asarray(values, dtype=float)
    q = {name: float(np.quantile(x, at)) for name, at in QUANTILES}
    hi = max(float(x.max()), 1.0)
    edges = np.unique(np.round(np.geomspace(1.0, hi + 1.0, bins + 1)))
    counts, _ = np.histogram(np.maximum(x, 1.0), bins=edges)
    return Lengths(unit=unit, mean=float(x.mean()), quantiles=q,
                   edges=tuple(float(e) for e in edges), counts=tuple(int(c) for c in counts))


_SCRIPTS = (("Latin", "LATIN"), ("Cyrillic", "CYRILLIC"), ("Greek", "GREEK"),
            ("Arabic", "ARABIC"), ("Hebrew", "HEBREW"), ("Devanagari", "DEVANAGARI"),
            ("Han", "CJK"), ("Kana", "HIRAGANA"), ("Kana", "KATAKANA"), ("Hangul", "HANGUL"),
            ("Thai", "THAI"))


def script_of(text: str, limit: int = 400) -> str:
    """The writing system of most letters in ``text`` (a language stand-in when the pool
    has no language tag)."""
    seen: Counter[str] = Counter()
    for ch in text[:limit]:
        if not ch.isalpha():
            continue
        name = unicodedata.name(ch, "")
        seen[next((label for label, key in _SCRIPTS if name.startswith(key)), "Other")] += 1
    return seen.most_common(1)[0][0] if seen else "none"


def pool_stats(prompts: Sequence[PoolPrompt], dedup: DedupConfig | None = None) -> PoolStats:
    n = len(prompts)
    names = sorted({k for p in prompts for k in p.tags})
    tags = []
    for name in names:
        c = Counter(p.tags[name] for p in prompts if name in p.tags)
        tags.append(TagCounts(name=name, source=tag_source(name),
                              values=dict(c.most_common()), missing=n - sum(c.values()),
                              entropy_bits=entropy_bits(list(c.values()))))
    texts = [prompt_text(p.messages) for p in prompts]
    lang_tag = next((t for t in LANGUAGE_TAGS if t in names), None)
    if lang_tag is not None:
        languages = Counter(p.tags.get(lang_tag, "(untagged)") for p in prompts)
        language_source = f"tag {lang_tag}"
    else:
        languages = Counter(script_of(t) for t in texts)
        language_source = "writing system (the pool has no language tag)"
    result = find_duplicates(texts, dedup or DedupConfig())
    topic = topic_tag(prompts)
    diversity: dict[str, Any] = {"tag": topic}
    if topic is not None:
        tc = next(t for t in tags if t.name == topic)
        h = tc.entropy_bits
        diversity.update(topics=len(tc.values), entropy_bits=round(h, 4),
                         normalized_entropy=None if tc.normalized_entropy is None
                         else round(tc.normalized_entropy, 4),
                         effective_topics=round(2.0 ** h, 2))
    return PoolStats(
        prompts=n, distinct=len({p.prompt_hash for p in prompts}),
        multi_turn=sum(1 for p in prompts if len(p.messages) > 1),
        with_reference=sum(1 for p in prompts if p.reference), tags=tuple(tags),
        chars=_lengths([len(t) for t in texts], "characters"),
        words=_lengths([len(t.split()) for t in texts], "words"),
        language_source=language_source, languages=dict(languages.most_common()),
        duplicate_rate=result.duplicate_rate, exact_duplicates=result.exact_dropped,
        near_duplicates=len(result.dropped) - result.exact_dropped,
        duplicate_clusters=len(result.clusters), dedup_method=result.config.method,
        topic_tag=topic, diversity=diversity)
