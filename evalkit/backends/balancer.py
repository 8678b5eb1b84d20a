"""Several replicas of one endpoint: spread requests by load, take a failing one out.

``Balancer`` hands each request attempt the replica with the fewest requests outstanding among
those with a free slot (each replica has its own ``max_concurrency``) and whose circuit is
closed. Every replica has a ``CircuitBreaker``:

* **closed** — requests flow. ``threshold`` consecutive *unreachable* outcomes open it: a
  connection that cannot be made (refused, DNS, no route), always; a timeout, only while the
  replica has not yet answered once in this run (an endpoint that never answers is as good as
  gone, but one that has answered and is slow on a long generation is not).
* **open** — no request goes there; after ``cooldown`` seconds the next request is let through
  as a **half-open probe**. A probe that gets any HTTP answer closes the circuit again; one that
  cannot connect reopens it with the cooldown doubled (up to ``max_cooldown``).

When no replica can take a request now and none may soon (every circuit open, no probe due),
``acquire`` returns None and the caller fails the request at once with the replica's own last
error: a dead endpoint fails the rest of a run in milliseconds, with the same reason, instead
of retrying each request for tens of seconds. Such rows stay failed and are retried on the
next run. One replica is the same machinery with one entry (no extra cost worth measuring).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ..redact import mask_userinfo

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


@dataclass(frozen=True)
class BreakerPolicy:
    threshold: int = 5  # consecutive unreachable outcomes that open the circuit
    cooldown: float = 1.0  # seconds before the first half-open probe
    max_cooldown: float = 30.0


@dataclass
class CircuitBreaker:
    policy: BreakerPolicy = field(default_factory=BreakerPolicy)
    state: str = CLOSED
    consecutive: int = 0
    answered: bool = False  # some request got an HTTP answer in this run
    open_until: float = 0.0
    cooldown: float = 0.0
    last_error: str | None = None
    opened: int = 0  # times the circuit opened (for reports and tests)

    def due(self, now: float) -> bool:
        """An open circuit whose cooldown is over (the next request may probe it)."""
        return self.state == OPEN and now >= self.open_until

    def record(self, outcome: str, error: str | None, now: float) -> bool:
        """Record one attempt's outcome: ``ok`` (an HTTP answer, whatever its status),
        ``unreachable`` (no connection), ``timeout``, ``transient`` (reset, cut body…) or
        ``cancelled``. Returns True when the state changed."""
        before = self.state
        if outcome == "cancelled":  # no news: a cancelled probe is due again at once
            if self.state == HALF_OPEN:
                self.state, self.open_until = OPEN, now
            return self.state != before
        if error is not None:
            self.last_error = error
        if outcome == "ok":
            self.answered = True
            self.consecutive = 0
            self.state, self.cooldown = CLOSED, 0.0
        elif outcome == "unreachable" or (outcome == "timeout" and not self.answered):
            self.consecutive += 1
            if self.state == HALF_OPEN or (self.state == CLOSED
                                           and self.consecutive >= self.policy.threshold):
                self._open(now)
        elif self.state == HALF_OPEN:  # the probe reached a server that then misbehaved
            self.state = CLOSED
            self.consecutive = 0
        return self.state != before

    def _open(self, now: float) -> None:
        p = self.policy
        self.cooldown = p.cooldown if self.cooldown == 0 else min(p.max_cooldown,
                                                                   2 * self.cooldown)
        self.state, self.open_until = OPEN, now + self.cooldown
        self.opened += 1


class Replica:
    """One base URL: its concurrency, its breaker, its HTTP session and its counters."""

    def __init__(self, base_url: str, limit: int, policy: BreakerPolicy) -> None:
        self.base_url = base_url.rstrip("/")
        self.shown = mask_userinfo(self.base_url)
        self.chat_url = self.base_url + "/chat/completions"
        self.limit = limit
        self.outstanding = 0
        self.started = 0  # attempts sent here
        self.breaker = CircuitBreaker(policy)
        self.session: Any = None


class Balancer:
    """Least-outstanding-requests choice among replicas whose circuit lets them serve."""

    def __init__(self, replicas: list[Replica], clock: Any = time.monotonic) -> None:
        if not replicas:
            raise ValueError("a balancer needs at least one replica")
        self.replicas = replicas
        self.clock = clock
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._turn = 0

    def _pick(self) -> tuple[Replica | None, bool]:
        """(the replica to use now or None, whether waiting may help)."""
        now = self.clock()
        best: Replica | None = None
        hope = False
        n = len(self.replicas)
        start = self._turn % n if n > 1 else 0
        for i in range(n):
            r = self.replicas[(start + i) % n]
            b = r.breaker
            if b.state == CLOSED:
                hope = True
                if r.outstanding < r.limit and (best is None
                                                or r.outstanding < best.outstanding):
                    best = r
            elif b.state == HALF_OPEN:
                hope = True  # a probe is out: its answer may close the circuit
            elif b.due(now):
                if r.outstanding < r.limit:
                    b.state = HALF_OPEN  # this request is the probe
                    return r, True
                hope = True
        if best is not None and n > 1:
            self._turn += 1
        return best, hope

    async def acquire(self) -> Replica | None:
        """A replica with a slot reserved, or None when every circuit is open."""
        while True:
            replica, hope = self._pick()
            if replica is not None:
                replica.outstanding += 1
                replica.started += 1
                return replica
            if not hope:
                return None
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._wake()  # pass the wake-up on
                else:
                    self._remove(waiter)
                raise

    def release(self, replica: Replica, outcome: str, error: str | None = None) -> None:
        """Free the slot and record the attempt's outcome on the replica's breaker."""
        replica.outstanding -= 1
        if replica.breaker.record(outcome, error, self.clock()):
            self._wake(everyone=True)  # capacity changed: everyone looks again
        else:
            self._wake()

    def last_error(self) -> tuple[Replica, str]:
        """The replica that failed last and its error (for requests failed fast)."""
        failed = [r for r in self.replicas if r.breaker.last_error is not None]
        r = max(failed, key=lambda r: r.breaker.open_until) if failed else self.replicas[0]
        return r, r.breaker.last_error or "endpoint unavailable"

    def _wake(self, everyone: bool = False) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                if not everyone:
                    return

    def _remove(self, waiter: asyncio.Future[None]) -> None:
        try:
            self._waiters.remove(waiter)
        except ValueError:
            pass
