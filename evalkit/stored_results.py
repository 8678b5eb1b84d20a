"""What a compare already has in the store, loaded in chunks while the run goes on.

A run's first request need not wait for every stored row: a worker thread hashes the
generation keys of the run's prompt items and reads their stored answers and the judge's
stored verdicts one chunk of prompts at a time (the first chunk small), handing each chunk to
the event loop as it arrives. Prompt workers take prompts in order and wait only until their
own prompt's chunk is in (``ready``), so requests for the first prompts go out while later
chunks still load — a 100,000-prompt pool spends seconds hashing keys and reading 400,000
rows (docs/throughput.md, "Time to answer").
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.engine import Engine

from .pools import PoolPrompt
from .store import cache as cached

FIRST_CHUNK = 128  # prompt items in the first chunk: requests start after a small read
CHUNK = 4096  # prompt items per later chunk

Job = tuple[int, PoolPrompt, int]  # (position, prompt, sample)


class StoredResults:
    """Streams the stored generations (into ``cache``) and the judge's stored verdicts (into
    ``judgments``) behind ``jobs``, chunk by chunk; ``keys_a``/``keys_b`` get each job's
    generation keys for the two checkpoints. Rows the run itself made first are kept."""

    def __init__(self, engine: Engine, jobs: Sequence[Job], key_a: Callable[..., str],
                 key_b: Callable[..., str], judge_spec: str, cache: dict[str, dict[str, Any]],
                 judgments: dict[str, dict[str, Any]]) -> None:
        self.engine, self.jobs, self.judge_spec = engine, jobs, judge_spec
        self.key_a, self.key_b = key_a, key_b
        self.cache, self.judgments = cache, judgments
        self.keys_a: list[str] = [""] * len(jobs)
        self.keys_b: list[str] = [""] * len(jobs)
        self.loaded = 0  # jobs [0, loaded) have their stored rows in place
        self._more = asyncio.Event()
        self._error: BaseException | None = None
        self._task: asyncio.Future[None] | None = None
        self._stopped = False

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._task = loop.run_in_executor(None, self._load, loop)

    async def ready(self, index: int) -> None:
        """Return once job ``index``'s stored rows are loaded (at once when they are)."""
        while index >= self.loaded:
            if self._error is not None:  # each waiter raises it afresh (no piled-up frames)
                raise self._error.with_traceback(None)
            waiter = self._more
            await waiter.wait()

    async def done(self) -> None:
        """Wait for the whole load (raises what the loading thread raised)."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        if self._error is not None:
            raise self._error.with_traceback(None)

    async def stop(self) -> None:
        """Stop after the chunk in hand (the run failed or was cancelled) and wait for it."""
        self._stopped = True
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    def _load(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            start, size = 0, FIRST_CHUNK
            while start < len(self.jobs) and not self._stopped:
                stop = min(len(self.jobs), start + size)
                part = self.jobs[start:stop]
                ka = [self.key_a(p, s) for _, p, s in part]
                kb = [self.key_b(p, s) for _, p, s in part]
                gens = cached.generation_texts(self.engine, ka + kb)
                verdicts = cached.judgment_verdicts(self.engine, self.judge_spec,
                                                    list({p.prompt_hash for _, p, _ in part}))
                loop.call_soon_threadsafe(self._deliver, start, stop, ka, kb, gens, verdicts)
                start, size = stop, CHUNK
        except BaseException as exc:
            loop.call_soon_threadsafe(self._fail, exc)
            raise

    def _deliver(self, start: int, stop: int, ka: list[str], kb: list[str],
                 gens: dict[str, dict[str, Any]], verdicts: dict[str, dict[str, Any]]) -> None:
        self.keys_a[start:stop], self.keys_b[start:stop] = ka, kb
        for rows, into in ((gens, self.cache), (verdicts, self.judgments)):
            if into:
                for key, row in rows.items():
                    into.setdefault(key, row)
            else:
                into.update(rows)
        self.loaded = stop
        self._wake()

    def _fail(self, exc: BaseException) -> None:
        from sqlalchemy.exc import SQLAlchemyError

        if isinstance(exc, SQLAlchemyError):  # the database's own reason, on one line
            from .errors import StoreError
            from .store.engine import describe

            exc = StoreError(f"cannot read the stored results: {describe(exc)}")
        self._error = exc
        self._wake()

    def _wake(self) -> None:
        waiter, self._more = self._more, asyncio.Event()
        waiter.set()
