"""Group-commit writer: rows queue up while one batch commits in a worker thread.

Each completed request is handed over at once and committed within ``linger`` seconds (20 ms by
default), so a crash loses at most the last few milliseconds of completions; under load,
batches grow by themselves and the per-commit cost is shared by many rows. A row handed over
with ``release=key`` ends the writer's ``owner``'s lease on that key in the same transaction
(store/leases.py).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from sqlalchemy.engine import Engine

from .queries import upsert_many


class BatchWriter:
    def __init__(self, engine: Engine, linger: float = 0.02, owner: str | None = None) -> None:
        self.engine = engine
        self.linger = linger
        self.owner = owner  # whose leases ``release`` keys end
        self._pending: dict[type, list[dict[str, Any]]] = defaultdict(list)
        self._releases: list[str] = []
        self._task: asyncio.Task[None] | None = None
        self.rows_written = 0
        self.commits = 0

    def add(self, model: type, row: dict[str, Any], release: str | None = None) -> None:
        self._pending[model].append(row)
        if release is not None:
            self._releases.append(release)
        self._wake()

    def release(self, key: str) -> None:
        """End the lease on ``key`` without a result (the request raised or was cancelled)."""
        self._releases.append(key)
        self._wake()

    def _wake(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        await asyncio.sleep(self.linger)
        while self._pending or self._releases:
            batch, self._pending = self._pending, defaultdict(list)
            releases, self._releases = self._releases, []
            await asyncio.to_thread(self._commit, batch, releases)

    def _commit(self, batch: dict[type, list[dict[str, Any]]],
                releases: list[str] | None = None) -> None:
        upsert_many(self.engine, batch, release=releases or (), owner=self.owner)
        self.rows_written += sum(len(rows) for rows in batch.values())
        self.commits += 1

    async def flush(self) -> None:
        """Wait until everything handed over so far is committed."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)
        if self._pending or self._releases:
            await self._drain()

    def flush_sync(self) -> None:
        """Commit whatever is left, from outside the event loop (after a cancel)."""
        batch, self._pending = self._pending, defaultdict(list)
        releases, self._releases = self._releases, []
        if batch or releases:
            self._commit(batch, releases)
