"""Concurrent asks for the same key share one piece of work (one request per content key)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    def __init__(self) -> None:
        self._inflight: dict[str, asyncio.Future[T]] = {}

    async def do(self, key: str, work: Callable[[], Awaitable[T]]) -> T:
        """Run ``work()`` for ``key`` unless it is already running; then wait for that run."""
        running = self._inflight.get(key)
        if running is not None:
            return await running
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._inflight[key] = fut
        try:
            result = await work()
        except BaseException as exc:
            if isinstance(exc, Exception):
                fut.set_exception(exc)
                fut.exception()  # mark retrieved: waiters re-raise it, nobody else must
            else:
                fut.cancel()
            raise
        else:
            fut.set_result(result)
            return result
        finally:
            del self._inflight[key]
