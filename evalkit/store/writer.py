"""Group-commit writer: rows queue up while one batch commits in a worker thread.

Each completed request is handed over at once and committed within ``linger`` seconds (20 ms by
default), so a crash loses at most the last few milliseconds of completions; under load,
batches grow by themselves and the per-commit cost is shared by many rows.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from sqlalchemy.engine import Engine

from .queries import upsert


class BatchWriter:
    def __init__(self, engine: Engine, linger: float = 0.02) -> None:
        self.engine = engine
        self.linger = linger
        self._pending: dict[type, list[dict[str, Any]]] = defaultdict(list)
        self._task: asyncio.Task[None] | None = None
        self.rows_written = 0
        self.commits = 0

    def add(self, model: type, row: dict[str, Any]) -> None:
        self._pending[model].append(row)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        await asyncio.sleep(self.linger)
        while self._pending:
            batch, self._pending = self._pending, defaultdict(list)
            await asyncio.to_thread(self._commit, batch)

    def _commit(self, batch: dict[type, list[dict[str, Any]]]) -> None:
        for model, rows in batch.items():
            upsert(self.engine, model, rows)
            self.rows_written += len(rows)
        self.commits += 1

    async def flush(self) -> None:
        """Wait until everything handed over so far is committed."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)
        if self._pending:
            await self._drain()

    def flush_sync(self) -> None:
        """Commit whatever is left, from outside the event loop (after a cancel)."""
        batch, self._pending = self._pending, defaultdict(list)
        if batch:
            self._commit(batch)
