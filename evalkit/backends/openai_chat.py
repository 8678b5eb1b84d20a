"""An OpenAI-compatible chat-completions client (vLLM, SGLang, TGI, Ollama, llama.cpp, OpenAI).

It speaks HTTP through aiohttp rather than the ``openai`` SDK: at the concurrency evalkit runs
(hundreds of requests in flight), the SDK costs ~3 ms of CPU per request against ~0.2 ms here
(docs/http-client.md). One client serves one model at one or several base URLs (replicas,
balanced by load, each with its own concurrency and circuit breaker: ``balancer.py``).
Transient failures (429, 5xx, timeouts, resets, a malformed or empty answer) are retried with
backoff; other 4xx fail at once; every call returns a ``Completion``, never raises for HTTP
trouble (docs/reliability.md, "Faults and failure reports").
"""

from __future__ import annotations

import asyncio
import errno
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from ..redact import MASK, redact, url_token
from .balancer import Balancer, BreakerPolicy, Replica
from .base import Completion
from .retry import RETRYABLE_STATUS, RetryPolicy

T = TypeVar("T")

CONTENT_FILTERED = "content filtered by the endpoint (finish_reason content_filter)"


class ChatClient:
    """One model behind one or more base URLs, each with its own concurrency budget."""

    def __init__(self, base_url: str | Sequence[str], model: str, *,
                 api_key: str | None = None, max_concurrency: int = 64,
                 timeout: float = 120.0, retry: RetryPolicy | None = None,
                 breaker: BreakerPolicy | None = None) -> None:
        urls = [base_url] if isinstance(base_url, str) else list(base_url)
        replicas = []
        for url in urls:
            clean, token = url_token(url)  # credentials in the URL become the Bearer key
            api_key = api_key or token
            replicas.append(Replica(clean, max_concurrency, breaker or BreakerPolicy()))
        self.balancer = Balancer(replicas)
        self.url = replicas[0].chat_url
        self.model = model
        self.api_key = api_key
        self.timeout = timeout
        self.max_concurrency = max_concurrency
        self.retry = retry or RetryPolicy()
        self._session: Any = None
        # awaited once before the first request (the compare's lazy preflight, preflight.py)
        self.gate: Callable[[], Awaitable[None]] | None = None

    @property
    def replicas(self) -> list[Replica]:
        return self.balancer.replicas

    @property
    def is_ready(self) -> bool:
        """Whether requests go out without waiting: the pool is open, or there is no gate."""
        return self._session is not None or self.gate is None

    async def ready(self) -> None:
        """Await the gate (the preflight) before the first request; at once after it."""
        if not self.is_ready:
            await self.gate()  # type: ignore[misc]  # PreflightError when it cannot serve

    async def _open(self) -> Any:
        await self.ready()
        if self._session is None:
            import aiohttp  # here, not at start-up: a run whose answers are stored needs none

            headers = {"Content-Type": "application/json"}
            if self.api_key:
                headers["Authorization"] = f"Bearer {self.api_key}"
            plain = all(r.chat_url.startswith("http:") for r in self.replicas)
            self._session = aiohttp.ClientSession(
                headers=headers,
                connector=aiohttp.TCPConnector(
                    limit=sum(r.limit for r in self.replicas), limit_per_host=0,
                    ttl_dns_cache=300, ssl=False if plain else None),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def chat(self, messages: list[dict[str, str]], **params: Any) -> Completion:
        """Send one chat request, retrying transient failures; never raises for HTTP trouble."""
        body = json.dumps({"model": self.model, "messages": messages, **params}).encode()
        done, error, attempts, shown = await self.send("/chat/completions", body, _parse_ok)
        if done is not None:
            return self._scrub(replace(done, endpoint=shown))
        return self._scrub(Completion(text=None, error=error, attempts=attempts, endpoint=shown))

    async def send(self, path: str, body: bytes,
                   parse: Callable[[bytes, float, int], tuple[T, str | None]]
                   ) -> tuple[T | None, str, int, str]:
        """POST ``body`` to ``path`` under a replica's base URL with this client's retries,
        balancing, breakers and timeout (chat completions, and the reward-model endpoints of
        ``backends/reward_http.py``). ``parse(raw, latency, attempts)`` reads a 200's body:
        ``(value, None)`` is the answer, ``(value, error)`` asks again (a malformed or empty
        body). Returns (the answer or None, the last error, attempts made, the endpoint of the
        last attempt); never raises for HTTP trouble."""
        session = await self._open()
        error, shown = "no attempt made", self.replicas[0].shown
        attempts = 0
        for attempt in range(1, self.retry.max_retries + 2):
            replica = await self.balancer.acquire()
            if replica is None:  # every circuit is open: fail now, with the reason it opened
                failed, error = self.balancer.last_error()
                return None, error, attempts, failed.shown
            attempts, shown = attempt, replica.shown
            url = replica.chat_url if path == "/chat/completions" else replica.base_url + path
            status, raw, retry_after, latency, outcome, error = await self._attempt(
                session, replica, body, error, url)
            if status == 200:
                value, again = parse(raw, latency, attempts)
                if again is None:
                    return value, error, attempts, shown
                error = again
            elif status != -1:
                error = f"HTTP {status}: {_error_message(raw)}"
                if status not in RETRYABLE_STATUS:
                    break  # 400, 401, 403, 404, 422 …: asking again gives the same answer
            if attempt <= self.retry.max_retries:
                await asyncio.sleep(self.retry.backoff(attempt, retry_after))
        return None, error, attempts, shown

    async def _attempt(self, session: Any, replica: Replica, body: bytes, error: str,
                       url: str | None = None
                       ) -> tuple[int, bytes, str | None, float, str, str]:
        """One POST to one replica: (status or -1, body, Retry-After, latency, the outcome
        for its breaker, the error when there was no HTTP answer)."""
        import aiohttp

        status, raw, retry_after, outcome = -1, b"", None, "cancelled"
        start = time.perf_counter()
        try:
            async with session.post(url or replica.chat_url, data=body) as resp:
                raw = await resp.read()
                status = resp.status
                retry_after = resp.headers.get("Retry-After")
            outcome = "ok"
        except TimeoutError:
            error, outcome = f"timeout after {self.timeout:g}s", "timeout"
        except aiohttp.ClientConnectorError as exc:
            refused = getattr(exc.os_error, "errno", None) == errno.ECONNREFUSED
            error = (f"connection refused: {exc}" if refused else f"cannot connect: {exc}")
            outcome = "unreachable"
        except aiohttp.ClientError as exc:
            error, outcome = f"connection error: {exc or type(exc).__name__}", "transient"
        finally:
            self.balancer.release(replica, outcome, None if outcome == "ok" else error)
        return status, raw, retry_after, time.perf_counter() - start, outcome, error

    def _scrub(self, done: Completion) -> Completion:
        """The key never leaves through what an endpoint sends back: errors are redacted
        (key and URL passwords masked); a text that echoes the key has it masked."""
        key = self.api_key
        if done.error is not None:
            return replace(done, error=redact(done.error, [key]))
        if key and len(key) >= 4 and done.text and key in done.text:
            return replace(done, text=done.text.replace(key, MASK))
        return done


def _error_message(raw: bytes) -> str:
    try:
        data = json.loads(raw)
        err = data.get("error", data)
        msg = err.get("message") if isinstance(err, dict) else err
        return " ".join(str(msg).split())[:300]
    except (ValueError, AttributeError):
        return " ".join(raw[:300].decode("utf-8", "replace").split())


def _parse_ok(raw: bytes, latency: float, attempts: int) -> tuple[Completion, str | None]:
    """A 200's completion, and why to ask again (None: it is the answer): a body that is not
    a chat completion (bad JSON, no choices) or an empty answer is retried; ``content_filter`` is a failure that
    asking again would not change; ``length`` is an answer, kept as cut."""
    try:
        data = json.loads(raw)
        choice = data["choices"][0]
        text = choice["message"].get("content") or ""
        usage = data.get("usage") or {}
        finish = choice.get("finish_reason")
        logprobs = _first_token_logprobs(choice)
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        shown = " ".join(raw[:200].decode("utf-8", "replace").split())
        error = "malformed response: " + (shown or "empty body")
        return Completion(text=None, error=error, latency=latency, attempts=attempts), error
    if finish == "content_filter":
        return Completion(text=None, error=CONTENT_FILTERED, finish_reason=finish,
                          latency=latency, attempts=attempts), None
    if not text.strip() and not logprobs:
        error = f"empty response (finish_reason {finish})"
        return Completion(text=None, error=error, finish_reason=finish, latency=latency,
                          attempts=attempts), error
    return Completion(text=text, finish_reason=finish,
                      prompt_tokens=usage.get("prompt_tokens"),
                      completion_tokens=usage.get("completion_tokens"),
                      latency=latency, attempts=attempts, first_token_logprobs=logprobs), None


def _first_token_logprobs(choice: dict[str, Any]) -> dict[str, float] | None:
    """``{token: logprob}`` of the first generated token's alternatives (OpenAI format)."""
    content = (choice.get("logprobs") or {}).get("content")
    if not content:
        return None
    first = content[0]
    found = {str(t["token"]): float(t["logprob"]) for t in first.get("top_logprobs") or []}
    found.setdefault(str(first.get("token", "")), float(first.get("logprob", -1e9)))
    return found
