"""``evalkit pool hardness``: which prompts still separate checkpoints, from the comparisons
stored for a pool (the latest one per checkpoint pair with one judge, any pool version: a
prompt is matched by its content hash). The measure and the CI-width figures are in
``evalkit.stats.discrimination``; docs/curation.md, "Hardness".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from ..stats.bt_counts import PromptCounts
from ..stats.discrimination import CIWidths, ci_widths, prompt_discrimination
from .versions import topic_tag

SATURATED_AT = 0.1


@dataclass(frozen=True)
class PromptHardness:
    """One pool prompt: ``measured`` when some stored comparison judged it validly."""

    id: str
    prompt_hash: str
    topic: str | None
    measured: bool
    discrimination: float | None
    decisive: float | None
    pairs: int
    n: float
    saturated: bool

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "topic": self.topic, "measured": self.measured,
                "discrimination": self.discrimination, "decisive": self.decisive,
                "pairs": self.pairs, "n": self.n, "saturated": self.saturated}


@dataclass(frozen=True)
class HardnessReport:
    pool: str
    version: str
    judge: str
    topic_tag: str | None
    saturated_at: float
    comparisons: tuple[dict[str, str], ...]  # {"id", "baseline", "candidate"}
    prompts: tuple[PromptHardness, ...]  # most discriminative first; unmeasured last
    counts: PromptCounts

    @property
    def measured(self) -> int:
        return sum(p.measured for p in self.prompts)

    @property
    def saturated(self) -> int:
        return sum(p.saturated for p in self.prompts)

    @property
    def checkpoints(self) -> tuple[str, ...]:
        return self.counts.models

    def by_hash(self) -> dict[str, PromptHardness]:
        return {p.prompt_hash: p for p in self.prompts}

    def widths(self, order: Sequence[str], sizes: Sequence[int] | None = None) -> CIWidths:
        """Mean per-pair CI widths of prefixes of ``order`` (prompt hashes)."""
        return ci_widths(self.counts, list(dict.fromkeys(order)), sizes=sizes)

    def to_dict(self, top: int | None = None) -> dict[str, Any]:
        from .versions import finite

        return finite(self._dict(top))

    def _dict(self, top: int | None) -> dict[str, Any]:
        measured = [p for p in self.prompts if p.measured]
        discs = [p.discrimination or 0.0 for p in measured]
        return {"pool": {"name": self.pool, "version": self.version,
                         "prompts": len(self.prompts)},
                "judge": self.judge, "checkpoints": list(self.checkpoints),
                "comparisons": list(self.comparisons), "measured": self.measured,
                "unmeasured": len(self.prompts) - self.measured,
                "saturated": self.saturated, "saturated_at": self.saturated_at,
                "mean_discrimination": sum(discs) / len(discs) if discs else None,
                "topic_tag": self.topic_tag,
                "by_topic": self.by_topic(),
                "method": "2 x standard deviation across checkpoints of each checkpoint's "
                          "score on the prompt (wins + ties/2 over its battles); saturated "
                          f"when <= {self.saturated_at:g}",
                "prompts": [p.as_dict() for p in self.prompts[:top]]}

    def by_topic(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for p in self.prompts:
            if p.topic is None:
                continue
            row = out.setdefault(p.topic, {"prompts": 0, "measured": 0, "saturated": 0,
                                           "sum": 0.0})
            row["prompts"] += 1
            row["measured"] += p.measured
            row["saturated"] += p.saturated
            row["sum"] += p.discrimination or 0.0
        return {t: {"prompts": r["prompts"], "measured": r["measured"],
                    "saturated": r["saturated"],
                    "mean_discrimination": r["sum"] / r["measured"] if r["measured"] else None}
                for t, r in sorted(out.items())}


def pool_hardness(engine: Engine, name: str, *, version: str | None = None,
                  judge: str | None = None, saturated_at: float = SATURATED_AT,
                  topic: str | None = None) -> HardnessReport:
    """Discrimination of every prompt of pool ``name`` (latest or given version)."""
    from ..catalog import resolve_pool
    from ..leaderboard import choose_judge
    from ..store import queries

    pool, prompts = resolve_pool(engine, name, version)
    judge = choose_judge(engine, pool.name, judge)
    comparisons = queries.latest_pair_comparisons(engine, pool.name, judge)
    sides = {c["id"]: (c["baseline"], c["candidate"]) for c in comparisons}
    rows = queries.prompt_outcome_counts(engine, list(sides))
    if not rows:
        from ..errors import ConfigError

        raise ConfigError(f"the comparisons of pool '{pool.name}' with judge '{judge}' have "
                          "no valid judgments yet")
    counts = PromptCounts.from_rows(
        (r.prompt_hash, *sides[r.comparison_id], r.baseline_wins, r.ties, r.candidate_wins)
        for r in rows)
    scores = {d.key: d for d in prompt_discrimination(counts, saturated_at=saturated_at)}
    tag = topic_tag(prompts, topic)
    out = []
    for p in prompts:
        d = scores.get(p.prompt_hash)
        value = None if tag is None else p.tags.get(tag)
        if d is None:
            out.append(PromptHardness(p.id, p.prompt_hash, value, False, None, None, 0, 0.0,
                                      False))
        else:
            out.append(PromptHardness(p.id, p.prompt_hash, value, True, d.discrimination,
                                      d.decisive, d.pairs, d.n, d.saturated))
    out.sort(key=lambda h: (not h.measured, -(h.discrimination or 0.0)))
    return HardnessReport(
        pool=pool.name, version=pool.version, judge=judge, topic_tag=tag,
        saturated_at=saturated_at,
        comparisons=tuple({"id": c["id"], "baseline": c["baseline"],
                           "candidate": c["candidate"]} for c in comparisons),
        prompts=tuple(out), counts=counts)
