"""The main pipeline: generate both checkpoints → judge both orders → stats → store.

Generation and judging overlap: a prompt is judged as soon as both of its responses exist.
Every request is cached by content, so re-running resumes, and a crash loses nothing that
completed.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import __version__
from .claims import Claims
from .errors import ConfigError
from .failures import failure_report
from .generate import Generator
from .judging.orders import candidate_first
from .judging.outcomes import OrderVerdict, prompt_outcome
from .judging.parse import Verdict
from .pools import PoolPrompt
from .singleflight import SingleFlight
from .store import cache as cached
from .store import queries
from .store.models import Judgment
from .store.writer import BatchWriter
from .stored_results import StoredResults

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from .backends.checkpoints import CheckpointBackend
    from .judging.pairwise import PairwiseJudge
    from .store.models import Pool


@dataclass(frozen=True)
class CompareOptions:
    samples: int = 1
    seed: int = 0
    n_boot: int = 10_000
    ci_level: float = 0.95
    progress: bool = False
    limit: int | None = None
    # pool positions to run, in this order (``limit`` then keeps the first of them); item
    # positions in the result count from 0 in this order
    positions: tuple[int, ...] | None = None
    save: bool = True  # False: judge and summarise but store no comparison (e.g. a gate look)
    preflight: bool = True  # check each endpoint still needed before the run (preflight.py)
    # item ids left out (e.g. contaminated prompts: --exclude-contaminated), and why
    exclude_items: frozenset[str] = frozenset()
    exclude_reason: str = ""
    # multi-turn prompts: "pool" (earlier assistant turns from the pool) or "self" (each
    # checkpoint answers every user turn after its own earlier answers; turns.py); None: the
    # pool's default ([pools.NAME] turns), else "pool"
    turns: str | None = None

    def __post_init__(self) -> None:  # library callers get the CLI's checks too
        checks = [("samples", self.samples >= 1, "at least 1"),
                  ("limit", self.limit is None or self.limit >= 1, "at least 1"),
                  ("n_boot", self.n_boot >= 100, "at least 100"),
                  ("seed", self.seed >= 0, "at least 0"),
                  ("ci_level", 0 < self.ci_level < 1, "between 0 and 1"),
                  ("turns", self.turns in (None, "pool", "self"), "'pool' or 'self'")]
        for name, ok, expected in checks:
            if not ok:
                raise ConfigError(f"compare option {name}: must be {expected}, got "
                                  f"{getattr(self, name)}")


class Comparer:
    """Compare ``candidate`` against ``baseline`` on one pool version with one judge."""

    def __init__(self, engine: Engine, pool: Pool, prompts: list[PoolPrompt],
                 baseline: CheckpointBackend, candidate: CheckpointBackend,
                 judge: PairwiseJudge, options: CompareOptions = CompareOptions()) -> None:
        self.engine, self.pool, self.judge, self.options = engine, pool, judge, options
        if options.positions is not None:
            if any(not 0 <= i < len(prompts) for i in options.positions) or len(
                    set(options.positions)) != len(options.positions):
                raise ValueError(f"positions must be distinct and lie in [0, {len(prompts)})")
            prompts = [prompts[i] for i in options.positions]
        if options.exclude_items:
            prompts = [p for p in prompts if p.id not in options.exclude_items]
        self.prompts = prompts[: options.limit] if options.limit else prompts
        self.items: list[dict[str, Any]] = []  # per prompt × sample, filled by run()
        self.baseline, self.candidate = baseline, candidate
        self.claims = Claims(engine)  # leases on requests in flight, shared across processes
        self.writer = BatchWriter(engine, owner=str(self.claims.owner))
        self.judgments: dict[str, dict[str, Any]] = {}
        self._judge_flight: SingleFlight[dict[str, Any]] = SingleFlight()
        self.judge_counts: Counter[str] = Counter()
        self.phases: dict[str, float] = {}  # seconds from start to the end of each phase
        # called with the summary before the length-controlled line is joined (the CLI
        # prints its table there); never for a reused comparison
        self.on_table: Callable[[dict[str, Any]], None] | None = None
        self.early: Any = None  # the CLI's reachability.Reachability, read by the preflight

    # ---- pipeline ---------------------------------------------------------------------------
    async def run(self) -> dict[str, Any]:
        self._started = started = time.perf_counter()
        samples = range(self.options.samples)
        jobs = [(i, p, s) for i, p in enumerate(self.prompts) for s in samples]
        cache: dict[str, dict[str, Any]] = {}
        # stored answers and verdicts stream in by chunks while the first prompts run
        stored = StoredResults(self.engine, jobs, self.baseline.key, self.candidate.key,
                               self.judge.spec_hash, cache, self.judgments)
        stored.start()
        specs = asyncio.ensure_future(asyncio.to_thread(self._register_specs))
        self.gen_a = Generator(self.baseline, self.writer, cache, self._claims(self.baseline))
        self.gen_b = Generator(self.candidate, self.writer, cache,
                               self._claims(self.candidate))
        if self.options.preflight:  # each endpoint checked before its first request
            from .preflight import Preflight

            Preflight([("baseline", self.baseline), ("candidate", self.candidate),
                       ("judge", self.judge)], early=self.early).install()
        _warm_on_first_request(self.baseline, self.candidate, self.judge)
        from .judging.panel import PanelJudge
        from .turns import prepare_turns

        self.turns = await prepare_turns(self)  # turn by turn where a prompt needs it
        if isinstance(self.judge, PanelJudge):  # the members' stored verdicts
            await self.judge.prepare([p.prompt_hash for p in self.prompts])
        self.phases["loaded"] = time.perf_counter() - started
        bar = _progress(len(jobs), self.options.progress)
        items: list[dict[str, Any]] = [{} for _ in jobs]
        queue = iter(enumerate(jobs))

        async def worker() -> None:
            # a fixed pool of workers pulls prompts in order: bounded work in flight, and no
            # task per prompt (a 100k-prompt pool costs the same memory as a 100-prompt one)
            for index, job in queue:
                if index >= stored.loaded:
                    await stored.ready(index)
                items[index] = await self._item(*job, keys=(stored.keys_a[index],
                                                             stored.keys_b[index]))
                bar.update(1)

        try:
            await _all([worker() for _ in range(min(self._window(), len(jobs)))])
            await stored.done()
            await specs
            self.phases["requests"] = time.perf_counter() - started
        finally:
            await stored.stop()  # at once unless the run failed midway
            if not specs.done():
                await asyncio.gather(specs, return_exceptions=True)
            bar.close()
            await self.writer.flush()
            await self.claims.aclose()  # after the flush: results first, then the leases
            await self.baseline.aclose()
            await self.candidate.aclose()
            await self.judge.aclose()
        self.phases["flushed"] = time.perf_counter() - started
        self.items = items
        summary = await self._results(items, cache, time.perf_counter() - started,
                                      panel=isinstance(self.judge, PanelJudge))
        self.phases["saved"] = time.perf_counter() - started
        return summary

    async def _results(self, items: list[dict[str, Any]], cache: dict[str, dict[str, Any]],
                       duration: float, panel: bool) -> dict[str, Any]:
        """The summary: the stored one when nothing changed since the pool's latest
        comparison (reuse.py), else computed, and stored when ``options.save``."""
        report = failure_report(items, cache, self.judgments, self.baseline, self.candidate,
                                self.judge)
        failures = [g.as_dict() for g in report.groups]
        fp = None
        if self.options.save and not report.nothing_judged and not panel:
            from . import reuse

            fp = reuse.fingerprint(self, items, failures)
            latest = await asyncio.to_thread(queries.latest_comparison, self.engine,
                                             self.pool.name)
            found = reuse.reusable(latest, fp)
            if found is not None:  # the same summary is stored: say so, write nothing
                self.phases["stats"] = time.perf_counter() - self._started
                return {**found, "requests": self.request_counts(),
                        "duration_s": round(duration, 3), "reused": True}
        from .summary import LengthControlled, summarize

        lc = LengthControlled(items, cache, self.options.seed, self.options.ci_level)
        summary = summarize(self, items, duration)
        if self.turns is not None:
            summary["turns"] = self.turns
        if panel:  # each member's result and their agreement
            summary["panel"] = await asyncio.to_thread(self.judge.summary, items,  # type: ignore[attr-defined]
                                                       self.options.ci_level)
        summary["failures"] = failures
        if fp is not None:
            summary["fingerprint"] = fp
        if report.nothing_judged:  # no result, only reasons: nothing to store or compare to
            summary["comparison_id"] = None
        if self.on_table is not None and summary["comparison_id"] is not None:
            self.on_table(summary)  # the table need not wait for the refits
        summary["overall"]["length_controlled"] = await asyncio.to_thread(lc.result)
        self.phases["stats"] = time.perf_counter() - self._started
        if self.options.save and summary["comparison_id"] is not None:
            await asyncio.to_thread(self._save, summary, items)
        return {**summary, "reused": False}

    async def _item(self, position: int, prompt: PoolPrompt, sample: int,
                    keys: tuple[str, str] | None = None) -> dict[str, Any]:
        item: dict[str, Any] = {"position": position, "sample": sample, "item_id": prompt.id,
                                "prompt_hash": prompt.prompt_hash, "outcome": "failed",
                                "strength": 0, "score": None, "gen_baseline": None,
                                "gen_candidate": None, "judgment_cand_first": None,
                                "judgment_base_first": None}
        key_a, key_b = keys or (None, None)  # the generation keys, when run() has them
        known_a = self.gen_a.cached(prompt, sample, key_a)
        known_b = self.gen_b.cached(prompt, sample, key_b)
        if known_a is not None and known_b is not None:  # a rerun: no tasks, no waits
            base, cand = known_a, known_b
        else:
            base, cand = await asyncio.gather(self.gen_a.get(prompt, sample, known_a),
                                              self.gen_b.get(prompt, sample, known_b))
        item["gen_baseline"], item["gen_candidate"] = base["key"], cand["key"]
        if base["error"] or cand["error"]:
            return item
        orders = self._orders(prompt, cand, base, sample)
        pairs = [(cand, base) if cf else (base, cand) for cf in orders]
        found = [self._judged(prompt, *pair) for pair in pairs]
        missing = [i for i, r in enumerate(found) if r is None]
        fetched = dict(zip(missing, await asyncio.gather(*(
            self._judge(prompt, *pairs[i]) for i in missing)), strict=True)) if missing else {}
        rows = [r if r is not None else fetched[i] for i, r in enumerate(found)]
        for row, cf in zip(rows, orders, strict=True):
            item["judgment_cand_first" if cf else "judgment_base_first"] = row["key"]
        if any(r["verdict"] is None for r in rows):
            return item
        outcome, strength, score = prompt_outcome([
            OrderVerdict(Verdict(r["verdict"], r["strength"]), cf, r.get("preference"))
            for r, cf in zip(rows, orders, strict=True)])
        item.update(outcome=outcome, strength=strength, score=score)
        return item

    def _orders(self, prompt: PoolPrompt, cand: dict[str, Any], base: dict[str, Any],
                sample: int) -> list[bool]:
        """Which orders to judge (True = candidate shown first): both, or with
        ``both_orders = false`` one seeded fair coin per prompt and sample (judging/orders.py).
        A judge that only replays stored verdicts (an imported one) uses the orders it has."""
        if not getattr(self.judge, "stored_only", False):
            if self.judge.config.both_orders:
                return [True, False]
            return [candidate_first(self.options.seed, prompt.prompt_hash, sample)]
        present = [cf for cf in (True, False) if self.judge.key(
            prompt, (cand if cf else base)["response"], (base if cf else cand)["response"]
        ) in self.judgments]
        return present or [True]

    def _judged(self, prompt: PoolPrompt, first: dict[str, Any], second: dict[str, Any]
                ) -> dict[str, Any] | None:
        """The stored verdict on (prompt, first, second), if there is one."""
        row = self.judgments.get(self.judge.key(prompt, first["response"], second["response"]))
        if row is None or row["verdict"] is None:
            return None
        self.judge_counts["cached"] += 1
        return row

    async def _judge(self, prompt: PoolPrompt, first: dict[str, Any],
                     second: dict[str, Any]) -> dict[str, Any]:
        key = self.judge.key(prompt, first["response"], second["response"])
        row = self.judgments.get(key)
        if row is not None and row["verdict"] is not None:
            self.judge_counts["cached"] += 1
            return row
        return await self._judge_flight.do(key, lambda: self._call_judge(key, prompt, first,
                                                                         second))

    async def _call_judge(self, key: str, prompt: PoolPrompt, first: dict[str, Any],
                          second: dict[str, Any]) -> dict[str, Any]:
        claims = self._claims(self.judge)
        if claims is not None:
            stored = await claims.claim_checked("judgment", key,
                                                getattr(self.judge, "client", None))
            if stored is not None:  # another process judged it meanwhile
                self.judgments[key] = slim = cached.slim_judgment(stored)
                self.judge_counts["cached"] += 1
                return slim
        try:
            call = await self.judge.judge(prompt, first["response"], second["response"])
        except BaseException:
            if claims is not None:
                self.writer.release(key)
            raise
        row = {"key": key, "judge_spec": self.judge.spec_hash,
               "prompt_hash": prompt.prompt_hash, "gen_first": first["key"],
               "gen_second": second["key"],
               "verdict": call.verdict.label if call.verdict else None,
               "strength": call.verdict.strength if call.verdict else 0,
               "preference": getattr(call, "preference", None),
               "raw_output": call.raw_output, "error": call.error, "reasked": call.reasked,
               "latency": call.latency, "prompt_tokens": call.prompt_tokens,
               "completion_tokens": call.completion_tokens}
        self.judgments[key] = slim = cached.slim_judgment(row)  # the run keeps what it reads
        self.writer.add(Judgment, row, release=key if claims is not None else None)
        self.judge_counts["failed" if call.error else "judged"] += 1
        return slim

    def _claims(self, source: Any) -> Claims | None:
        """The claims for a request source; None for one that only replays what it has
        (replay files, imported checkpoints and judges): it sends no request to share."""
        from .backends.checkpoints import ReplayCheckpoint
        from .backends.stored import StoredCheckpoint

        if isinstance(source, ReplayCheckpoint | StoredCheckpoint) or getattr(
                source, "stored_only", False):
            return None
        return self.claims

    def _window(self) -> int:
        """Prompts in flight at once. Enough to keep every endpoint busy (a prompt needs one
        slot at each checkpoint, then two at the judge), few enough that generation runs just
        ahead of judging instead of racing it for the CPU (docs/throughput.md)."""
        def slots(ep: Any) -> int:  # every replica has its own max_concurrency
            return ep.max_concurrency * max(1, len(ep.urls))

        gen = max(slots(b.config.endpoint) for b in (self.baseline, self.candidate))
        return 2 * (slots(self.judge.config.endpoint) + gen) + 16

    def _register_specs(self) -> None:
        """Register the specs the run's rows are made under; one read when they are all
        known already (a rerun writes nothing)."""
        known = queries.known_specs(self.engine, [b.config.spec_hash for b in (
            self.baseline, self.candidate)], [self.judge.spec_hash])
        for b in (self.baseline, self.candidate):
            if b.config.spec_hash not in known:
                queries.save_checkpoint_spec(self.engine, b.config.name, b.config.spec_hash,
                                             b.config.identity())
        if self.judge.spec_hash not in known:
            t = self.judge.template
            queries.save_judge_spec(self.engine, self.judge.config.name, self.judge.spec_hash,
                                    self.judge.identity,
                                    json.dumps({"system": t.system, "user": t.user,
                                                "reference_block": t.reference_block}))

    # ---- results ----------------------------------------------------------------------------
    def request_counts(self) -> dict[str, dict[str, int]]:
        return {"baseline": dict(self.gen_a.counts), "candidate": dict(self.gen_b.counts),
                "judge": dict(self.judge_counts)}

    def _save(self, summary: dict[str, Any], items: list[dict[str, Any]]) -> None:
        record = {"id": summary["comparison_id"], "pool_id": self.pool.id,
                  "baseline": self.baseline.config.name,
                  "candidate": self.candidate.config.name,
                  "baseline_spec": self.baseline.config.spec_hash,
                  "candidate_spec": self.candidate.config.spec_hash,
                  "judge": self.judge.config.name, "judge_spec": self.judge.spec_hash,
                  "evalkit_version": __version__, "seed": self.options.seed,
                  "summary_json": json.dumps(summary), "duration_s": summary["duration_s"]}
        queries.save_comparison(self.engine, record, items)


def _progress(total: int, enabled: bool) -> Any:
    if not enabled:  # no bar: tqdm is not even imported
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, unit="prompt", desc="comparing", mininterval=0.5, leave=False)


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


WARM_AFTER = 0.05  # seconds after the first request is let through


def _warm_on_first_request(*sources: Any) -> None:
    """Load the summary's statistics (numpy, scipy.special: 0.3-0.4 s) on a daemon thread
    once the first request is about to go out: the run then waits on the network and the
    import costs nothing, where a rerun that sends nothing never loads them (reuse.py).
    Chains onto the clients' ``gate`` (the preflight's, when it is on)."""
    started: list[bool] = []

    def warm() -> None:
        from .stats import length_controlled_win_rate, paired_test, win_rate_summary  # noqa: F401
        from .summary import summarize  # noqa: F401

    for source in sources:
        client = getattr(source, "client", None)
        if client is None or not hasattr(client, "gate"):
            continue

        async def gate(inner: Any = client.gate) -> None:
            if inner is not None:
                await inner()
            if not started:  # after the first requests are on the wire: they go out first
                started.append(True)
                import threading

                thread = threading.Thread(target=warm, daemon=True, name="evalkit-warm")
                asyncio.get_running_loop().call_later(WARM_AFTER, thread.start)

        client.gate = gate


async def _all(coros: list[Any]) -> None:
    """Run ``coros`` as tasks until all finish; when one raises, cancel the rest (a failed
    preflight, say, stops every worker before the writer's last flush) and re-raise."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise



def compare_checkpoints(config: Any, baseline: str, candidate: str, *, pool: str,
                        judge: str | None = None, pool_version: str | None = None,
                        options: CompareOptions = CompareOptions(),
                        engine: Engine | None = None,
                        on_table: Callable[[dict[str, Any]], None] | None = None,
                        early: Any = None) -> dict[str, Any]:
    """Resolve names (config first, then imported results in the store), run, store, summarise.
    ``config`` is an ``evalkit.config.Config``; ``on_table``: see ``Comparer.on_table``.

    The API keys the run will send are read first, before the store opens; each endpoint is
    checked (``options.preflight``) just before its first request, and not at all when every
    answer it would give is stored (preflight.py); ``early`` is the ``Reachability`` of those
    endpoints when the caller started it sooner (the CLI does, before this module loads)."""
    from .catalog import resolve_pool
    from .preflight import check_keys

    check_keys(config, (baseline, candidate), judge)
    if early is None and options.preflight:
        from .reachability import for_compare

        early = for_compare(config, (baseline, candidate), judge)
    from .store import make_engine

    engine = engine or make_engine(config.store_url)
    pool_row, prompts = resolve_pool(engine, pool, pool_version)
    hashes = [p.prompt_hash for p in prompts]
    base = resolve_checkpoint(engine, config, baseline, hashes)
    cand = resolve_checkpoint(engine, config, candidate, hashes)
    judge_obj = resolve_judge(engine, config, judge)
    from dataclasses import replace

    if options.samples == 1 and max(base.config.samples, cand.config.samples) > 1:
        options = replace(options, samples=max(base.config.samples, cand.config.samples))
    if options.turns is None and pool in getattr(config, "pool_turns", {}):
        options = replace(options, turns=config.pool_turns[pool])  # [pools.NAME] turns
    comparer = Comparer(engine, pool_row, prompts, base, cand, judge_obj, options)
    comparer.on_table = on_table
    comparer.early = early
    return run_until_interrupted(comparer.run())



def resolve_checkpoint(engine: Engine, config: Any, name: str,
                       prompt_hashes: list[str]) -> CheckpointBackend:
    """A configured checkpoint, or one imported into the store."""
    from .backends.checkpoints import make_checkpoint
    from .backends.stored import StoredCheckpoint

    if name in config.checkpoints:
        return make_checkpoint(config.checkpoints[name])
    if any(spec.get("backend") == "imported"
           for spec in queries.spec_backend(engine, "checkpoint", name)):
        return StoredCheckpoint.load(engine, name, prompt_hashes)
    return make_checkpoint(config.checkpoint(name))  # raises the one-line "no checkpoint"


def resolve_judge(engine: Engine, config: Any, name: str | None) -> Any:
    """A configured judge, an imported one (whose verdicts are all in the store), or a
    reward model as a judge (``rm:NAME``, evalkit/judging/reward.py)."""
    from .backends.stored import StoredJudge
    from .judging.pairwise import PairwiseJudge

    wanted = name or getattr(getattr(config, "defaults", None), "judge", None)
    if wanted is not None and wanted.startswith("rm:"):
        from .judging.reward import RewardJudge

        return RewardJudge(engine, config.reward_model(wanted[3:]))
    if name is None and not config.judges:
        imported = queries.imported_judge_names(engine)
        if len(imported) == 1:
            return StoredJudge(imported[0])
    if name is not None and name not in config.judges and any(
            spec.get("backend") == "imported"
            for spec in queries.spec_backend(engine, "judge", name)):
        return StoredJudge(name)
    cfg = config.judge(name)
    if cfg.backend == "panel":  # [judges.NAME] panel = [...] (judging/panel.py)
        from .judging.panel import PanelJudge

        return PanelJudge(engine, cfg, [resolve_judge(engine, config, m) for m in cfg.panel])
    return PairwiseJudge(cfg)


def run_until_interrupted(coro: Any) -> Any:
    """``asyncio.run`` where SIGTERM, like Ctrl-C, cancels the run cleanly (the pipeline's
    ``finally`` blocks commit what completed) and surfaces as ``KeyboardInterrupt``."""
    import signal

    async def main() -> Any:
        task = asyncio.current_task()
        assert task is not None  # asyncio.run runs main() as a task
        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread, or no signal support: run without the handler
        return await coro

    try:
        return asyncio.run(main())
    except asyncio.CancelledError:
        raise KeyboardInterrupt from None
