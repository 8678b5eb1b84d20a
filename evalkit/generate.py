"""Cached generation: each (checkpoint spec, prompt, sample) is requested at most once ever.

A stored success is reused; a stored failure is retried; concurrent asks for the same key share
one request. Results go to the store through the group-commit writer as they complete.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from .backends.checkpoints import CheckpointBackend
from .pools import PoolPrompt
from .singleflight import SingleFlight
from .store.models import Generation
from .store.writer import BatchWriter


class Generator:
    def __init__(self, backend: CheckpointBackend, writer: BatchWriter,
                 cache: dict[str, dict[str, Any]]) -> None:
        self.backend = backend
        self.writer = writer
        self.cache = cache
        self._flight: SingleFlight[dict[str, Any]] = SingleFlight()
        self.counts: Counter[str] = Counter()

    async def get(self, prompt: PoolPrompt, sample: int) -> dict[str, Any]:
        key = self.backend.key(prompt, sample)
        row = self.cache.get(key)
        if row is not None and row.get("error") is None:
            self.counts["cached"] += 1
            return row
        return await self._flight.do(key, lambda: self._generate(key, prompt, sample))

    async def _generate(self, key: str, prompt: PoolPrompt, sample: int) -> dict[str, Any]:
        done = await self.backend.answer(prompt, sample)
        row = {"key": key, "checkpoint_spec": self.backend.config.spec_hash,
               "prompt_hash": prompt.prompt_hash, "sample": sample,
               "response": done.text, "error": done.error,
               "finish_reason": done.finish_reason, "prompt_tokens": done.prompt_tokens,
               "completion_tokens": done.completion_tokens, "latency": done.latency,
               "attempts": done.attempts}
        self.cache[key] = row
        self.writer.add(Generation, row)
        self.counts["failed" if done.error else "generated"] += 1
        return row
