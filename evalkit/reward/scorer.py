"""Reward-model scores of (prompt, response) pairs: cached, shared, batched, never lost.

* **Cached**: a score is stored once per (reward model spec, prompt, response)
  (``score_key``); a stored success is reused by every later run, command and checkpoint
  that meets the same text; a stored failure is asked again.
* **Shared**: concurrent asks for one key in a run share one request (``SingleFlight``);
  with ``claims``, processes on one store share it too — a key is claimed in the lease table
  first (``evalkit/claims.py``, kind ``score``) and a process that finds it claimed waits for
  the row.
* **Batched**: asks queue up and go to the backend ``batch_size`` at a time (a partial batch
  waits ``linger`` seconds for company); batches run concurrently, bounded by the backend
  (the HTTP client's ``max_concurrency``, one forward pass at a time for ``hf``).
* **Never lost**: each result goes to the store through the group-commit writer as it comes
  back, ending its claim in the same transaction; failures are rows with their error.

A configuration problem the backend finds (``ConfigError``: a multi-logit head with no
``label_index``) stops the run with that one line.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from ..backends.reward_base import RewardBackend, RewardInput, RewardScore
from ..claims import Claims
from ..hashing import content_hash
from ..pools import PoolPrompt
from ..singleflight import SingleFlight
from ..store import reward_queries
from ..store.models import Score
from ..store.writer import BatchWriter


def score_key(rm_spec: str, prompt_hash: str, response: str) -> str:
    """Key of one score: the reward model's identity, the prompt and the response text."""
    return content_hash([rm_spec, prompt_hash, content_hash(response)])


@dataclass(frozen=True)
class ScoredText:
    """What the scorer answers for one (prompt, response): the score or the error."""

    key: str
    score: float | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class Scorer:
    def __init__(self, engine: Engine, backend: RewardBackend, *, claims: bool = True,
                 linger: float = 0.005) -> None:
        self.engine = engine
        self.backend = backend
        self.config = backend.config
        self.spec_hash = backend.config.spec_hash
        self.batch_size = backend.config.batch_size
        self.linger = linger
        self.claims = Claims(engine) if claims else None
        self.writer = BatchWriter(engine, owner=str(self.claims.owner) if self.claims else None)
        self.cache: dict[str, float] = {}  # successful scores by key
        self.counts: Counter[str] = Counter()  # cached / scored / failed
        self.failed: dict[str, str] = {}  # key -> error, for the failure report
        self.failed_at: dict[str, str] = {}  # key -> endpoint where it failed
        self._flight: SingleFlight[ScoredText] = SingleFlight()
        self._queue: list[tuple[str, RewardInput, asyncio.Future[RewardScore]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._registered = False
        self.requests = 0  # batches sent to the backend

    def key(self, prompt: PoolPrompt, response: str) -> str:
        return score_key(self.spec_hash, prompt.prompt_hash, response)

    async def preload(self, keys: list[str]) -> None:
        """Read the stored scores among ``keys`` in one go (instead of one claim each)."""
        await asyncio.to_thread(self._register)
        self.cache.update(await asyncio.to_thread(reward_queries.stored_scores, self.engine,
                                                  [k for k in keys if k not in self.cache]))

    def _register(self) -> None:
        if not self._registered:
            reward_queries.save_rm_spec(self.engine, self.config.name, self.spec_hash,
                                        self.config.identity())
            self._registered = True

    async def score(self, prompt: PoolPrompt, response: str) -> ScoredText:
        key = self.key(prompt, response)
        if key in self.cache:
            self.counts["cached"] += 1
            return ScoredText(key, self.cache[key])
        return await self._flight.do(key, lambda: self._fresh(key, prompt, response))

    async def _fresh(self, key: str, prompt: PoolPrompt, response: str) -> ScoredText:
        if not self._registered:
            await asyncio.to_thread(self._register)
        if self.claims is not None:
            stored = await self.claims.claim("score", key)
            if stored is not None:  # another process scored it meanwhile
                self.cache[key] = float(stored["score"])
                self.counts["cached"] += 1
                return ScoredText(key, self.cache[key])
        try:
            done = await self._enqueue(key, RewardInput(tuple(prompt.messages), response))
        except BaseException:
            if self.claims is not None:
                self.writer.release(key)
            raise
        self.writer.add(Score, {"key": key, "rm_spec": self.spec_hash,
                                "prompt_hash": prompt.prompt_hash,
                                "response_hash": content_hash(response), "score": done.score,
                                "error": done.error, "latency": done.latency,
                                "attempts": done.attempts},
                        release=key if self.claims is not None else None)
        if done.error is not None:
            self.counts["failed"] += 1
            self.failed[key] = done.error
            if done.endpoint is not None:
                self.failed_at[key] = done.endpoint
            return ScoredText(key, None, done.error)
        assert done.score is not None
        self.cache[key] = done.score
        self.counts["scored"] += 1
        return ScoredText(key, done.score)

    # ---- batching -------------------------------------------------------------------------
    def _enqueue(self, key: str, item: RewardInput) -> asyncio.Future[RewardScore]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[RewardScore] = loop.create_future()
        self._queue.append((key, item, fut))
        if len(self._queue) >= self.batch_size:
            self._send_queued()
        elif self._timer is None:
            self._timer = loop.call_later(self.linger, self._send_queued)
        return fut

    def _send_queued(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._queue:
            batch, self._queue = self._queue[:self.batch_size], self._queue[self.batch_size:]
            task = asyncio.get_running_loop().create_task(self._send(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send(self, batch: list[tuple[str, RewardInput, asyncio.Future[RewardScore]]]
                    ) -> None:
        live = [entry for entry in batch if not entry[2].done()]  # not cancelled meanwhile
        if not live:
            return
        self.requests += 1
        try:
            results = await self.backend.score([item for _, item, _ in live])
        except BaseException as exc:
            for _, _, fut in live:
                if not fut.done():
                    if isinstance(exc, Exception):
                        fut.set_exception(exc)
                        fut.exception()  # retrieved: each waiter re-raises it
                    else:
                        fut.cancel()
            if not isinstance(exc, Exception):
                raise
            return
        for (_, _, fut), result in zip(live, results, strict=True):
            if not fut.done():
                fut.set_result(result)

    async def aclose(self) -> None:
        """Send what is queued, store every result, drop the leases, close the backend."""
        try:
            if self._queue:
                self._send_queued()
            if self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)
            await self.writer.flush()
            if self.claims is not None:
                await self.claims.aclose()
        finally:
            await self.backend.aclose()

    def summary(self) -> dict[str, Any]:
        return {**dict(self.counts), "requests": self.requests}
