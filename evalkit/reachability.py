"""Is anything listening at the endpoints? Asked before the store loads, answered when needed.

A compare against a stopped server should say so within a second, but the preflight's
``GET /models`` runs only where a request is about to be sent (preflight.py), after the
store and the pool have loaded. So the CLI starts ``Reachability`` as soon as the config is
read: one TCP connect per distinct host and port of the endpoints the run may use, each on
its own daemon thread (a bare connect sends no HTTP request: a rerun whose answers are all
stored still asks the server nothing). The preflight reads the answer when it runs: a refused
connection is reported at once, with the message the full check would give, and without
loading the HTTP client; any other outcome (accepted, a timeout, a name that does not
resolve, no answer yet) leaves the decision to the full check.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from typing import Any
from urllib.parse import urlsplit

TIMEOUT = 1.0  # seconds for a connect; the preflight waits no longer for the answer

REFUSED = "connection refused"


def host_port(url: str) -> tuple[str, int] | None:
    """(host, port) of an http(s) URL; None for anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        return None
    if not parts.hostname or port is None:
        return None
    return parts.hostname, port


class Reachability:
    """TCP connects to ``urls``' hosts, started at construction on daemon threads."""

    def __init__(self, urls: Iterable[str], timeout: float = TIMEOUT) -> None:
        self.timeout = timeout
        self._answers: dict[tuple[str, int], Future[str | None]] = {}
        for url in urls:
            hp = host_port(url)
            if hp is not None and hp not in self._answers:
                fut: Future[str | None] = Future()
                self._answers[hp] = fut
                threading.Thread(target=self._connect, args=(hp, fut), daemon=True,
                                 name="evalkit-reach").start()

    def _connect(self, hp: tuple[str, int], fut: Future[str | None]) -> None:
        try:
            with socket.create_connection(hp, timeout=self.timeout):
                pass
            fut.set_result(None)
        except ConnectionRefusedError:
            fut.set_result(REFUSED)
        except (OSError, ValueError):  # timeouts, names that do not resolve: the full check
            fut.set_result(None)

    async def refused(self, url: str) -> bool:
        """Whether ``url``'s host refused the connection (waits at most ``timeout`` for the
        answer; False when there is none)."""
        fut = self._answers.get(host_port(url) or ("", 0))
        if fut is None:
            return False
        try:
            return await asyncio.wait_for(asyncio.wrap_future(fut), self.timeout) == REFUSED
        except TimeoutError:
            return False


def for_compare(config: Any, checkpoints: Sequence[str], judge: str | None) -> Reachability:
    """The reachability of the configured endpoints a compare of ``checkpoints`` with
    ``judge`` may send to (preflight.configured_endpoints), started now."""
    from .preflight import configured_endpoints

    return Reachability(url for _, ep in configured_endpoints(config, checkpoints, judge)
                        for url in ep.urls)
