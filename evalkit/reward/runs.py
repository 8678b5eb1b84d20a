"""``evalkit score CKPT --pool P --rm NAME``: every response of a checkpoint on a pool, scored
by a reward model, with the reward distribution overall and per tag.

Responses come from the store (generated first where missing, through the same cached,
claimed generator ``compare`` uses); scores are cached per (reward model, prompt, response),
so a rerun sends nothing, and a later ``compare --judge rm:NAME`` reuses them. A failed
generation or score is a row with its error, reported grouped by cause, left out of the
distribution, and asked again by the next run. The run is stored (``scorerun`` with one
``scoreitem`` per prompt and sample) unless nothing could be scored.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from .. import __version__
from ..claims import Claims
from ..errors import ConfigError
from ..failures import FailureGroup, failure_groups
from ..generate import Generator
from ..pools import PoolPrompt
from ..stats.rewards import distribution
from ..store import cache as cached
from ..store import reward_queries
from ..store.models import Pool
from ..store.writer import BatchWriter
from .scorer import Scorer


@dataclass(frozen=True)
class ScoreOptions:
    samples: int = 1
    limit: int | None = None
    ci_level: float = 0.95
    progress: bool = False
    preflight: bool = True

    def __post_init__(self) -> None:
        if self.samples < 1 or (self.limit is not None and self.limit < 1):
            raise ConfigError("score options: samples and limit must be at least 1")
        if not 0 < self.ci_level < 1:
            raise ConfigError("score options: ci_level must lie between 0 and 1")


@dataclass(frozen=True)
class ScoreItemRecord:
    """One prompt × sample of a score run."""

    position: int
    sample: int
    item_id: str
    gen_key: str | None
    score_key: str | None
    score: float | None
    status: str  # "scored" | "failed_generation" | "failed_score"

    def row(self) -> dict[str, Any]:
        return {"position": self.position, "sample": self.sample, "item_id": self.item_id,
                "gen_key": self.gen_key, "score_key": self.score_key, "score": self.score,
                "status": self.status}


class ScoreRunner:
    def __init__(self, engine: Engine, pool: Pool, prompts: list[PoolPrompt], checkpoint: Any,
                 scorer: Scorer, options: ScoreOptions = ScoreOptions()) -> None:
        self.engine, self.pool, self.checkpoint, self.scorer = engine, pool, checkpoint, scorer
        self.options = options
        self.prompts = prompts[: options.limit] if options.limit else prompts
        self.claims = Claims(engine)
        self.writer = BatchWriter(engine, owner=str(self.claims.owner))

    async def run(self) -> dict[str, Any]:
        from ..backends.checkpoints import ReplayCheckpoint
        from ..backends.stored import StoredCheckpoint

        started = time.perf_counter()
        jobs = [(i, p, s) for i, p in enumerate(self.prompts)
                for s in range(self.options.samples)]
        keys = [self.checkpoint.key(p, s) for _, p, s in jobs]
        cache = await asyncio.to_thread(cached.generation_texts, self.engine, keys)
        replayed = isinstance(self.checkpoint, ReplayCheckpoint | StoredCheckpoint)
        gen = Generator(self.checkpoint, self.writer, cache,
                        None if replayed else self.claims)
        known = [cache.get(k) for k in keys]
        await self.scorer.preload([self.scorer.key(p, row["response"])
                                   for (_, p, _), row in zip(jobs, known, strict=True)
                                   if row is not None])
        items: list[ScoreItemRecord | None] = [None] * len(jobs)
        bar = _progress(len(jobs), self.options.progress)
        queue = iter(enumerate(jobs))

        async def worker() -> None:
            for index, (pos, prompt, sample) in queue:
                row = await gen.get(prompt, sample, gen.cached(prompt, sample, keys[index]))
                items[index] = await self._item(pos, prompt, sample, row)
                bar.update(1)

        try:
            window = 2 * (self.scorer.batch_size * 8 + 64)
            await asyncio.gather(*(worker() for _ in range(min(window, len(jobs)))))
        finally:
            bar.close()
            await self.writer.flush()
            await self.claims.aclose()
            await self.checkpoint.aclose()
            await self.scorer.aclose()
        done = [it for it in items if it is not None]
        summary = self._summary(done, gen, time.perf_counter() - started)
        if summary["score_run_id"] is not None:
            await asyncio.to_thread(self._save, summary, done)
        return summary

    async def _item(self, pos: int, prompt: PoolPrompt, sample: int, row: dict[str, Any]
                    ) -> ScoreItemRecord:
        if row.get("error") is not None or row.get("response") is None:
            return ScoreItemRecord(pos, sample, prompt.id, row.get("key"), None, None,
                                   "failed_generation")
        got = await self.scorer.score(prompt, row["response"])
        return ScoreItemRecord(pos, sample, prompt.id, row["key"], got.key, got.score,
                               "scored" if got.ok else "failed_score")

    def _summary(self, items: list[ScoreItemRecord], gen: Generator, duration: float
                 ) -> dict[str, Any]:
        level = self.options.ci_level
        scored = [it for it in items if it.status == "scored"]

        def block(chosen: list[ScoreItemRecord], total: int) -> dict[str, Any]:
            d = distribution([it.score for it in chosen if it.score is not None],
                             [it.position for it in chosen], level=level)
            return {**d, "failed": total - len(chosen)}

        groups: dict[str, dict[str, list[ScoreItemRecord]]] = defaultdict(
            lambda: defaultdict(list))
        totals: dict[tuple[str, str], int] = defaultdict(int)
        for it in items:
            for tag, value in self.prompts[it.position].tags.items():
                totals[(tag, value)] += 1
                if it.status == "scored":
                    groups[tag][value].append(it)
        for tag, value in totals:
            groups[tag].setdefault(value, [])
        by_tag = {tag: {v: block(groups[tag][v], totals[(tag, v)]) for v in sorted(groups[tag])}
                  for tag in sorted(groups)}
        failures = self._failures(items, gen)
        rm = self.scorer.config
        return {
            "score_run_id": uuid.uuid4().hex[:16] if scored else None,
            "checkpoint": self.checkpoint.config.name,
            "pool": {"name": self.pool.name, "version": self.pool.version,
                     "prompts": len(self.prompts)},
            "reward_model": rm.name, "rm_spec": self.scorer.spec_hash,
            "rm_backend": rm.backend, "samples": self.options.samples,
            "overall": block(scored, len(items)), "by_tag": by_tag,
            "requests": {"checkpoint": dict(gen.counts), "reward_model": self.scorer.summary()},
            "failures": [g.as_dict() for g in failures],
            "duration_s": round(duration, 3), "evalkit_version": __version__,
        }

    def _failures(self, items: list[ScoreItemRecord], gen: Generator) -> list[FailureGroup]:
        gen_rows = {it.gen_key: gen.cache.get(it.gen_key or "", {}).get("error")
                    for it in items if it.status == "failed_generation"}
        score_rows = {it.score_key: self.scorer.failed.get(it.score_key or "", "")
                      for it in items if it.status == "failed_score"}
        groups = [*failure_groups("checkpoint", self.checkpoint,
                                  {k: e for k, e in gen_rows.items() if k and e}),
                  *failure_groups("reward_model", self.scorer,
                                  {k: e for k, e in score_rows.items() if k and e})]
        return sorted(groups, key=lambda g: (-g.count, g.role, g.reason))

    def _save(self, summary: dict[str, Any], items: list[ScoreItemRecord]) -> None:
        from ..store import queries

        c = self.checkpoint.config
        queries.save_checkpoint_spec(self.engine, c.name, c.spec_hash, c.identity())
        record = {"id": summary["score_run_id"], "pool_id": self.pool.id,
                  "checkpoint": c.name, "checkpoint_spec": c.spec_hash,
                  "reward_model": summary["reward_model"], "rm_spec": summary["rm_spec"],
                  "samples": summary["samples"], "summary_json": json.dumps(summary),
                  "duration_s": summary["duration_s"]}
        reward_queries.save_score_run(self.engine, record, [it.row() for it in items])


def _progress(total: int, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, disable=not enabled, unit="response", desc="scoring",
                mininterval=0.5, leave=False)


def score_checkpoint(config: Any, checkpoint: str, *, pool: str, reward_model: str,
                     pool_version: str | None = None, options: ScoreOptions = ScoreOptions(),
                     engine: Engine | None = None) -> dict[str, Any]:
    """Resolve names, run, store, summarise (``config`` is an ``evalkit.config.Config``)."""
    from ..backends.reward_base import make_reward_backend
    from ..catalog import resolve_pool
    from ..compare import resolve_checkpoint, run_until_interrupted
    from ..store import make_engine

    rm = config.reward_model(reward_model)
    engine = engine or make_engine(config.store_url)
    pool_row, prompts = resolve_pool(engine, pool, pool_version)
    ckpt = resolve_checkpoint(engine, config, checkpoint, [p.prompt_hash for p in prompts])
    samples = options.samples
    if samples == 1 and ckpt.config.samples > 1:
        from dataclasses import replace

        options = replace(options, samples=ckpt.config.samples)
    runner = ScoreRunner(engine, pool_row, prompts, ckpt, Scorer(engine, make_reward_backend(rm)),
                         options)
    if options.preflight:
        _preflight(runner)
    return run_until_interrupted(runner.run())


def _preflight(runner: ScoreRunner) -> None:
    """Check the checkpoint's endpoint when some of its responses are still missing."""
    from .. import preflight

    keys = [runner.checkpoint.key(p, s) for p in runner.prompts
            for s in range(runner.options.samples)]
    have = cached.generation_texts(runner.engine, keys)
    if any(k not in have for k in keys):
        preflight.check([("checkpoint", runner.checkpoint)])
