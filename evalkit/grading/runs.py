"""``evalkit grade CKPT --pool P --grader NAME``: every response of a checkpoint graded on an
absolute scale, the mean score overall and per tag with a prompt-clustered CI.

Responses come from the store (generated first where missing, through the cached, claimed
generator ``compare`` uses; ``turns = "self"`` answers multi-turn prompts turn by turn and the
grader sees the checkpoint's own conversation). A grade is cached per (grader spec, prompt,
reference, response) and claimed across processes (lease kind ``grade``), so a rerun sends
nothing and two jobs never pay for one grade. An unreadable score is stored as invalid (after
one re-ask) and counted, never coerced; a failed request is a row with its error, reported,
excluded and asked again next run. The run is stored (``graderun`` with one ``gradeitem`` per
prompt and sample) unless nothing could be graded.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from .. import __version__
from ..claims import Claims
from ..errors import ConfigError
from ..failures import failure_groups
from ..generate import Generator
from ..judging.grading import Grader
from ..pools import PoolPrompt
from ..singleflight import SingleFlight
from ..stats.grading import mean_score
from ..store import cache as cached
from ..store import judging_queries
from ..store.models import Grade, Pool
from ..store.writer import BatchWriter


@dataclass(frozen=True)
class GradeOptions:
    samples: int = 1
    limit: int | None = None
    ci_level: float = 0.95
    turns: str | None = None  # "pool" | "self" | None (the pool's default)
    progress: bool = False
    preflight: bool = True

    def __post_init__(self) -> None:
        if self.samples < 1 or (self.limit is not None and self.limit < 1):
            raise ConfigError("grade options: samples and limit must be at least 1")
        if not 0 < self.ci_level < 1:
            raise ConfigError("grade options: ci_level must lie between 0 and 1")
        if self.turns not in (None, "pool", "self"):
            raise ConfigError(f"grade options: turns must be 'pool' or 'self', got "
                              f"{self.turns!r}")


@dataclass(frozen=True)
class GradeItemRecord:
    """One prompt × sample of a grade run."""

    position: int
    sample: int
    item_id: str
    prompt_hash: str
    gen_key: str | None
    grade_key: str | None
    score: float | None
    status: str  # "graded" | "invalid" | "failed_generation" | "failed_grade"

    def row(self) -> dict[str, Any]:
        return {"position": self.position, "sample": self.sample, "item_id": self.item_id,
                "prompt_hash": self.prompt_hash, "gen_key": self.gen_key,
                "grade_key": self.grade_key, "score": self.score, "status": self.status}


class GradeRunner:
    def __init__(self, engine: Engine, pool: Pool, prompts: list[PoolPrompt], checkpoint: Any,
                 grader: Grader, options: GradeOptions = GradeOptions()) -> None:
        self.engine, self.pool, self.checkpoint, self.grader = engine, pool, checkpoint, grader
        self.options = options
        self.prompts = prompts[: options.limit] if options.limit else prompts
        self.claims = Claims(engine)
        self.writer = BatchWriter(engine, owner=str(self.claims.owner))
        self.grades: dict[str, dict[str, Any]] = {}
        self.counts: Counter[str] = Counter()  # grades: cached / graded / invalid / failed
        self.failed: dict[str, str] = {}
        self._flight: SingleFlight[dict[str, Any]] = SingleFlight()

    async def run(self) -> dict[str, Any]:
        from ..backends.checkpoints import ReplayCheckpoint
        from ..backends.stored import StoredCheckpoint
        from ..turns import TurnGenerator, preload, runs_turn_by_turn

        started = time.perf_counter()
        jobs = [(i, p, s) for i, p in enumerate(self.prompts)
                for s in range(self.options.samples)]
        keys = [self.checkpoint.key(p, s) for _, p, s in jobs]
        cache = await asyncio.to_thread(cached.generation_texts, self.engine, keys)
        replayed = isinstance(self.checkpoint, ReplayCheckpoint | StoredCheckpoint)
        gen: Any = Generator(self.checkpoint, self.writer, cache,
                             None if replayed else self.claims)
        mode = self.options.turns or "pool"
        multi = [p for p in self.prompts if runs_turn_by_turn(p, mode)]
        if multi:
            if isinstance(self.checkpoint, ReplayCheckpoint):
                raise ConfigError(f"checkpoint '{self.checkpoint.config.name}' replays one "
                                  "response per prompt; it cannot answer turn by turn")
            gen = TurnGenerator(gen, mode)
            await asyncio.to_thread(preload, self.engine, [gen], multi, self.options.samples)
        t = self.grader.template
        await asyncio.to_thread(judging_queries.save_grader_spec, self.engine,
                                self.grader.config.name, self.grader.spec_hash,
                                self.grader.identity,
                                json.dumps({"system": t.system, "user": t.user,
                                            "rubric": t.rubric,
                                            "reference_block": t.reference_block,
                                            "scale": [t.min_score, t.max_score, t.integer]}))
        items: list[GradeItemRecord | None] = [None] * len(jobs)
        queue = iter(enumerate(jobs))

        async def worker() -> None:
            for index, (pos, prompt, sample) in queue:
                row = await gen.get(prompt, sample, gen.cached(prompt, sample, keys[index]))
                items[index] = await self._item(pos, prompt, sample, row)

        try:
            await self._preload([(p, row["response"]) for (_, p, _), k in zip(jobs, keys,
                                                                               strict=True)
                                 if (row := cache.get(k)) is not None
                                 and not runs_turn_by_turn(p, mode)])
            window = 2 * (self.grader.config.endpoint.max_concurrency
                          + self.checkpoint.config.endpoint.max_concurrency) + 16
            await asyncio.gather(*(worker() for _ in range(min(window, len(jobs)))))
        finally:
            await self.writer.flush()
            await self.claims.aclose()
            await self.checkpoint.aclose()
            await self.grader.aclose()
        done = [it for it in items if it is not None]
        summary = self._summary(done, gen, time.perf_counter() - started, mode if multi
                                else "pool")
        if summary["grade_run_id"] is not None:
            await asyncio.to_thread(self._save, summary, done)
        return summary

    async def _preload(self, pairs: list[tuple[PoolPrompt, str]]) -> None:
        keys = [self.grader.key(p, r) for p, r in pairs]
        if keys:
            self.grades.update(await asyncio.to_thread(judging_queries.stored_grades,
                                                       self.engine, keys))

    async def _item(self, pos: int, prompt: PoolPrompt, sample: int, row: dict[str, Any]
                    ) -> GradeItemRecord:
        if row.get("error") is not None or row.get("response") is None:
            return GradeItemRecord(pos, sample, prompt.id, prompt.prompt_hash, row.get("key"),
                                   None, None, "failed_generation")
        key = self.grader.key(prompt, row["response"])
        got = self.grades.get(key)
        if got is not None:
            self.counts["cached"] += 1
        else:
            got = await self._flight.do(key, lambda: self._grade(key, prompt, row))
        status = ("failed_grade" if got["error"] is not None else
                  "graded" if got["valid"] else "invalid")
        return GradeItemRecord(pos, sample, prompt.id, prompt.prompt_hash, row["key"], key,
                               got["score"] if got["valid"] else None, status)

    async def _grade(self, key: str, prompt: PoolPrompt, gen_row: dict[str, Any]
                     ) -> dict[str, Any]:
        stored = await self.claims.claim("grade", key)
        if stored is not None:  # another process graded it meanwhile
            self.grades[key] = slim = {"key": key, "score": stored["score"],
                                       "valid": bool(stored["valid"]), "error": None}
            self.counts["cached"] += 1
            return slim
        try:
            call = await self.grader.grade(prompt, gen_row["response"])
        except BaseException:
            self.writer.release(key)
            raise
        self.writer.add(Grade, {
            "key": key, "grader_spec": self.grader.spec_hash, "prompt_hash": prompt.prompt_hash,
            "gen_key": gen_row["key"], "score": call.score, "valid": call.score is not None,
            "raw_output": call.raw_output, "error": call.error, "reasked": call.reasked,
            "latency": call.latency, "prompt_tokens": call.prompt_tokens,
            "completion_tokens": call.completion_tokens}, release=key)
        slim = {"key": key, "score": call.score, "valid": call.score is not None,
                "error": call.error}
        if call.error is not None:
            self.counts["failed"] += 1
            self.failed[key] = call.error
        else:
            self.grades[key] = slim
            self.counts["graded" if call.score is not None else "invalid"] += 1
        return slim

    def _summary(self, items: list[GradeItemRecord], gen: Any, duration: float, turns: str
                 ) -> dict[str, Any]:
        level = self.options.ci_level

        def block(chosen: list[GradeItemRecord]) -> dict[str, Any]:
            valid = [it for it in chosen if it.status == "graded"]
            status = Counter(it.status for it in chosen)
            stats = mean_score([it.score for it in valid if it.score is not None],
                               [it.position for it in valid], level=level)
            return {**stats, "graded": status["graded"], "invalid": status["invalid"],
                    "failed": status["failed_generation"] + status["failed_grade"]}

        groups: dict[str, dict[str, list[GradeItemRecord]]] = defaultdict(
            lambda: defaultdict(list))
        for it in items:
            for tag, value in self.prompts[it.position].tags.items():
                groups[tag][value].append(it)
        by_tag = {tag: {v: block(groups[tag][v]) for v in sorted(groups[tag])}
                  for tag in sorted(groups)}
        t = self.grader.template
        graded = any(it.status in ("graded", "invalid") for it in items)
        return {
            "grade_run_id": uuid.uuid4().hex[:16] if graded else None,
            "checkpoint": self.checkpoint.config.name,
            "pool": {"name": self.pool.name, "version": self.pool.version,
                     "prompts": len(self.prompts)},
            "grader": self.grader.config.name, "grader_spec": self.grader.spec_hash,
            "template": t.name, "scale": [t.min_score, t.max_score], "integer": t.integer,
            "samples": self.options.samples, "turns": turns,
            "overall": block(items), "by_tag": by_tag,
            "requests": {"checkpoint": dict(gen.counts), "grader": dict(self.counts)},
            "failures": [g.as_dict() for g in self._failures(items, gen)],
            "duration_s": round(duration, 3), "evalkit_version": __version__,
        }

    def _failures(self, items: list[GradeItemRecord], gen: Any) -> list[Any]:
        gens = {it.gen_key: gen.cache.get(it.gen_key or "", {}).get("error")
                for it in items if it.status == "failed_generation"}
        grades = {it.grade_key: self.failed.get(it.grade_key or "", "")
                  for it in items if it.status == "failed_grade"}
        groups = [*failure_groups("checkpoint", self.checkpoint,
                                  {k: e for k, e in gens.items() if k and e}),
                  *failure_groups("grader", self.grader,
                                  {k: e for k, e in grades.items() if k and e})]
        return sorted(groups, key=lambda g: (-g.count, g.role, g.reason))

    def _save(self, summary: dict[str, Any], items: list[GradeItemRecord]) -> None:
        from ..store import queries

        c = self.checkpoint.config
        queries.save_checkpoint_spec(self.engine, c.name, c.spec_hash, c.identity())
        record = {"id": summary["grade_run_id"], "pool_id": self.pool.id, "checkpoint": c.name,
                  "checkpoint_spec": c.spec_hash, "grader": summary["grader"],
                  "grader_spec": summary["grader_spec"], "samples": summary["samples"],
                  "turns": summary["turns"], "summary_json": json.dumps(summary),
                  "duration_s": summary["duration_s"]}
        judging_queries.save_grade_run(self.engine, record, [it.row() for it in items])


def grade_checkpoint(config: Any, checkpoint: str, *, pool: str, grader: str,
                     pool_version: str | None = None, options: GradeOptions = GradeOptions(),
                     engine: Engine | None = None) -> dict[str, Any]:
    """Resolve names, run, store, summarise (``config`` is an ``evalkit.config.Config``)."""
    from dataclasses import replace

    from ..catalog import resolve_pool
    from ..compare import resolve_checkpoint, run_until_interrupted
    from ..store import make_engine

    grader_obj = Grader(config.grader(grader))
    engine = engine or make_engine(config.store_url)
    pool_row, prompts = resolve_pool(engine, pool, pool_version)
    ckpt = resolve_checkpoint(engine, config, checkpoint, [p.prompt_hash for p in prompts])
    if options.samples == 1 and ckpt.config.samples > 1:
        options = replace(options, samples=ckpt.config.samples)
    if options.turns is None and pool in getattr(config, "pool_turns", {}):
        options = replace(options, turns=config.pool_turns[pool])
    runner = GradeRunner(engine, pool_row, prompts, ckpt, grader_obj, options)
    if options.preflight:
        from .. import preflight

        preflight.check(_needed(engine, runner))
    return run_until_interrupted(runner.run())


def _needed(engine: Engine, runner: GradeRunner) -> list[tuple[str, Any]]:
    """The request sources a grade run still needs: the checkpoint when a response is missing
    (or a prompt runs turn by turn), the grader then or when a grade is missing."""
    from ..turns import runs_turn_by_turn

    o = runner.options
    jobs = [(p, s) for p in runner.prompts for s in range(o.samples)]
    have = cached.generation_texts(engine, [runner.checkpoint.key(p, s) for p, s in jobs])
    if len(have) < len(jobs) or any(runs_turn_by_turn(p, o.turns or "pool")
                                    for p in runner.prompts):
        return [("checkpoint", runner.checkpoint), ("grader", runner.grader)]
    keys = [runner.grader.key(p, have[runner.checkpoint.key(p, s)]["response"])
            for p, s in jobs]
    if len(judging_queries.stored_grades(engine, keys)) < len(set(keys)):
        return [("grader", runner.grader)]
    return []
