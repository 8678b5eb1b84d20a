"""Cached generation: each (checkpoint spec, prompt, sample) is requested at most once ever.

A stored success is reused; a stored failure is retried; concurrent asks for the same key share
one request. With ``claims``, a key is claimed in the store first, so concurrent processes on
one store share one request too (evalkit/claims.py). Results go to the store through the
group-commit writer as they complete, ending the claim in the same transaction.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from .backends.checkpoints import CheckpointBackend
from .claims import Claims
from .pools import PoolPrompt
from .singleflight import SingleFlight
from .store.cache import slim_generation
from .store.models import Generation
from .store.writer import BatchWriter


class Generator:
    def __init__(self, backend: CheckpointBackend, writer: BatchWriter,
                 cache: dict[str, dict[str, Any]], claims: Claims | None = None) -> None:
        self.backend = backend
        self.writer = writer
        self.cache = cache
        self.claims = claims
        self._flight: SingleFlight[dict[str, Any]] = SingleFlight()
        self.counts: Counter[str] = Counter()

    def cached(self, prompt: PoolPrompt, sample: int, key: str | None = None
               ) -> dict[str, Any] | None:
        """The stored successful answer, if there is one (counted as cached). ``key``: the
        generation key, when the caller has it already."""
        row = self.cache.get(key or self.backend.key(prompt, sample))
        if row is None or row.get("error") is not None:
            return None
        self.counts["cached"] += 1
        return row

    async def get(self, prompt: PoolPrompt, sample: int,
                  known: dict[str, Any] | None = None) -> dict[str, Any]:
        """The answer: stored, or generated now. ``known``: what ``cached`` just returned."""
        if known is not None:
            return known
        key = self.backend.key(prompt, sample)
        row = self.cache.get(key)
        if row is not None and row.get("error") is None:
            self.counts["cached"] += 1
            return row
        return await self._flight.do(key, lambda: self._generate(key, prompt, sample))

    async def _generate(self, key: str, prompt: PoolPrompt, sample: int) -> dict[str, Any]:
        if self.claims is not None:
            stored = await self.claims.claim_checked(
                "generation", key, getattr(self.backend, "client", None))
            if stored is not None:  # another process generated it meanwhile
                self.cache[key] = slim = slim_generation(stored)
                self.counts["cached"] += 1
                return slim
        try:
            done = await self.backend.answer(prompt, sample)
        except BaseException:
            if self.claims is not None:
                self.writer.release(key)
            raise
        row = {"key": key, "checkpoint_spec": self.backend.config.spec_hash,
               "prompt_hash": prompt.prompt_hash, "sample": sample,
               "response": done.text, "error": done.error,
               "finish_reason": done.finish_reason, "prompt_tokens": done.prompt_tokens,
               "completion_tokens": done.completion_tokens, "latency": done.latency,
               "attempts": done.attempts}
        self.cache[key] = slim = slim_generation(row)  # the run keeps what it reads
        self.writer.add(Generation, row, release=key if self.claims is not None else None)
        self.counts["failed" if done.error else "generated"] += 1
        return slim
