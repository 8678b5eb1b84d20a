"""Claims on requests in flight, shared by every process on one store (docs/reliability.md).

Before a generation or judgment request is sent, its content key is claimed in the store's
``lease`` table. Claims are group-committed like the BatchWriter's rows: the claims of every
request that became ready within ``linger`` seconds go to the store in one transaction on a
worker thread, so a run pays one small transaction per batch, not per request. The answer per
key is one of:

* ``None`` — the claim is ours: send the request, then hand the row to the BatchWriter with
  ``release=key`` (the lease ends in the transaction that stores the result);
* a stored row — another process finished the request since this run loaded its cache;
* nothing yet — a live owner holds the key. The key waits; all waiting keys are asked again
  together (one transaction per poll, the poll interval backing off from 50 ms to 1 s while
  nothing changes) until the result row appears, or the lease is released without a result
  (a failed request: the key is ours now) or expires, or its owner's process is gone.

A heartbeat renews this run's leases every ``ttl / 4`` seconds while it holds any, so only a
run that stopped (killed, frozen, on a host that went away) loses them.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy.engine import Engine

from .store.leases import Acquired, LeaseStore, new_owner

log = logging.getLogger(__name__)

DEFAULT_TTL = 60.0  # seconds; EVALKIT_LEASE_TTL overrides


def lease_ttl() -> float:
    raw = os.environ.get("EVALKIT_LEASE_TTL", "")
    try:
        value = float(raw) if raw else DEFAULT_TTL
    except ValueError:
        value = DEFAULT_TTL
    return value if value > 0 else DEFAULT_TTL


Slot = tuple[str, str]  # (kind, key): kind is 'generation' or 'judgment'


class Claims:
    """One run's claims on request keys (one lease owner)."""

    def __init__(self, engine: Engine, *, ttl: float | None = None, linger: float = 0.02,
                 poll: tuple[float, float] = (0.05, 1.0)) -> None:
        self.owner = new_owner()
        self.ttl = ttl if ttl is not None else lease_ttl()
        self.store = LeaseStore(engine, self.owner, self.ttl)
        self.linger, (self.poll_min, self.poll_max) = linger, poll
        self._pending: dict[Slot, asyncio.Future[dict[str, Any] | None]] = {}
        self._waiting: dict[Slot, asyncio.Future[dict[str, Any] | None]] = {}
        self._drainer: asyncio.Task[None] | None = None
        self._poller: asyncio.Task[None] | None = None
        self._beat: asyncio.Task[None] | None = None
        # one thread runs this run's lease transactions in order, so the final release can
        # never be overtaken by a claim still in flight
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="evalkit-leases")
        self._used = False
        self.counts = {"claimed": 0, "shared": 0, "waited": 0, "transactions": 0}

    async def claim(self, kind: str, key: str) -> dict[str, Any] | None:
        """None when this run now holds ``key``; else the result row another process stored."""
        slot = (kind, key)
        fut = self._pending.get(slot) or self._waiting.get(slot)
        if fut is not None:  # asked twice at once (a checkpoint compared with itself)
            return await asyncio.shield(fut)
        fut = asyncio.get_running_loop().create_future()
        self._pending[slot] = fut
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain())
        return await fut

    async def claim_checked(self, kind: str, key: str, client: Any) -> dict[str, Any] | None:
        """``claim`` while ``client``'s preflight (``ChatClient.ready``) runs alongside, so
        the first request waits for the longer of the two, not their sum. A failed check
        cancels the claim (a lease it got is released, as for any cancelled claim) and
        raises; so does a failed claim, the other way round."""
        ready = getattr(client, "ready", None)
        if ready is None or client.is_ready:
            return await self.claim(kind, key)
        check = asyncio.ensure_future(ready())
        claim = asyncio.ensure_future(self.claim(kind, key))
        try:
            await asyncio.wait((check, claim), return_when=asyncio.FIRST_EXCEPTION)
            for task in (check, claim):  # the preflight's reason first when both failed
                if task.done() and not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
            await check
            return await claim
        finally:
            for task in (check, claim):
                if not task.done():
                    task.cancel()

    async def _drain(self) -> None:
        await asyncio.sleep(self.linger)
        while self._pending:
            batch, self._pending = self._pending, {}
            await self._ask(batch, first=True)

    async def _ask(self, batch: dict[Slot, asyncio.Future[dict[str, Any] | None]],
                   first: bool = False) -> int:
        """Claim ``batch`` in one transaction; resolve what it decided. Returns how many keys
        it resolved; the rest wait for the next poll."""
        keys: dict[str, list[str]] = defaultdict(list)
        for kind, key in batch:
            keys[kind].append(key)
        self._used = True
        try:
            got: Acquired = await self._run(self.store.acquire, keys)
        except Exception as exc:
            for fut in batch.values():
                if not fut.done():
                    fut.set_exception(exc)
                    fut.exception()  # retrieved: the awaiting request re-raises it
            return len(batch)
        self.counts["transactions"] += 1
        resolved = 0
        orphans = []
        for slot, fut in batch.items():
            key = slot[1]
            if fut.done():  # the request was cancelled while its claim was in flight
                if key in got.claimed:
                    orphans.append(key)
                continue
            if key in got.claimed:
                fut.set_result(None)
                self.counts["claimed"] += 1
                self._start_heartbeat()
            elif key in got.done:
                fut.set_result(got.done[key])
                self.counts["shared"] += 1
            else:
                if first:
                    self.counts["waited"] += 1
                self._waiting[slot] = fut
                continue
            resolved += 1
        if self._waiting and (self._poller is None or self._poller.done()):
            self._poller = asyncio.create_task(self._poll())
        if orphans:
            await self._run(self.store.release, orphans)
        return resolved

    async def _poll(self) -> None:
        delay = self.poll_min
        while self._waiting:
            await asyncio.sleep(delay)
            batch, self._waiting = self._waiting, {}
            resolved = await self._ask(batch)
            delay = self.poll_min if resolved else min(2 * delay, self.poll_max)

    def _start_heartbeat(self) -> None:
        if self._beat is None or self._beat.done():
            self._beat = asyncio.create_task(self._heartbeat())

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.ttl / 4)
            try:
                await self._run(self.store.renew)
            except Exception as exc:  # a missed beat only shortens the lease; try again
                log.warning("could not renew request leases: %s", exc)

    async def aclose(self) -> None:
        """Stop polling and renewing, and drop every lease this run still holds (requests
        cancelled in flight). Call it after the writer's last flush: a lease dropped before
        its result is stored would let another process request the key again."""
        for task in (self._drainer, self._poller, self._beat):
            if task is not None and not task.done():
                task.cancel()
        for fut in [*self._pending.values(), *self._waiting.values()]:
            if not fut.done():
                fut.cancel()
        self._pending, self._waiting = {}, {}
        try:
            if self._used:
                await self._run(self.store.release)
        finally:
            self._thread.shutdown(wait=False)

    def _run(self, fn: Any, *args: Any) -> asyncio.Future[Any]:
        return asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)
