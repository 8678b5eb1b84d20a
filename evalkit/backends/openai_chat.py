"""An OpenAI-compatible chat-completions client (vLLM, SGLang, TGI, Ollama, llama.cpp, OpenAI).

It speaks HTTP through aiohttp rather than the ``openai`` SDK: at the concurrency evalkit runs
(hundreds of requests in flight), the SDK costs ~3 ms of CPU per request against ~0.2 ms here
(docs/http-client.md). Concurrency is bounded per endpoint; transient failures (429, 5xx,
timeouts, connection errors) are retried with backoff; every call returns a ``Completion``.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from typing import Any

from ..redact import MASK, redact, url_token
from .base import Completion
from .retry import RETRYABLE_STATUS, RetryPolicy


class ChatClient:
    """One endpoint (base URL + model) with its own concurrency budget."""

    def __init__(self, base_url: str, model: str, *, api_key: str | None = None,
                 max_concurrency: int = 64, timeout: float = 120.0,
                 retry: RetryPolicy | None = None) -> None:
        base_url, token = url_token(base_url)  # credentials in the URL become the Bearer key
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key or token
        self.timeout = timeout
        self.max_concurrency = max_concurrency
        self.retry = retry or RetryPolicy()
        self._sem: asyncio.Semaphore | None = None
        self._session: Any = None
        import aiohttp  # noqa: F401  (imported here, not in the event loop's first request)

    async def _open(self) -> Any:
        if self._session is None:
            import aiohttp

            self._sem = asyncio.Semaphore(self.max_concurrency)
            headers = {"Content-Type": "application/json"}
            if self.api_key:
                headers["Authorization"] = f"Bearer {self.api_key}"
            self._session = aiohttp.ClientSession(
                headers=headers,
                connector=aiohttp.TCPConnector(
                    limit=self.max_concurrency, ttl_dns_cache=300,
                    ssl=None if self.url.startswith("https:") else False),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def chat(self, messages: list[dict[str, str]], **params: Any) -> Completion:
        """Send one chat request, retrying transient failures; never raises for HTTP trouble."""
        import aiohttp

        session = await self._open()
        assert self._sem is not None
        body = json.dumps({"model": self.model, "messages": messages, **params}).encode()
        error = "no attempt made"
        attempts = 0
        for attempt in range(1, self.retry.max_retries + 2):
            attempts = attempt
            retry_after = None
            async with self._sem:
                start = time.perf_counter()
                try:
                    async with session.post(self.url, data=body) as resp:
                        raw = await resp.read()
                        status = resp.status
                        retry_after = resp.headers.get("Retry-After")
                except TimeoutError:
                    status, raw, error = -1, b"", f"timeout after {self.timeout:g}s"
                except aiohttp.ClientError as exc:
                    status, raw, error = -1, b"", f"connection error: {exc}"
                latency = time.perf_counter() - start
            if status == 200:
                return self._scrub(_parse_ok(raw, latency, attempts))
            if status != -1:
                error = f"HTTP {status}: {_error_message(raw)}"
                if status not in RETRYABLE_STATUS:
                    break
            if attempt <= self.retry.max_retries:
                await asyncio.sleep(self.retry.backoff(attempt, retry_after))
        return self._scrub(Completion(text=None, error=error, attempts=attempts))

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
        return str(msg)[:300]
    except (ValueError, AttributeError):
        return raw[:300].decode("utf-8", "replace")


def _parse_ok(raw: bytes, latency: float, attempts: int) -> Completion:
    try:
        data = json.loads(raw)
        choice = data["choices"][0]
        text = choice["message"].get("content") or ""
        usage = data.get("usage") or {}
        return Completion(text=text, finish_reason=choice.get("finish_reason"),
                          prompt_tokens=usage.get("prompt_tokens"),
                          completion_tokens=usage.get("completion_tokens"),
                          latency=latency, attempts=attempts,
                          first_token_logprobs=_first_token_logprobs(choice))
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return Completion(text=None, error="malformed response: "
                          + raw[:200].decode("utf-8", "replace"), latency=latency,
                          attempts=attempts)


def _first_token_logprobs(choice: dict[str, Any]) -> dict[str, float] | None:
    """``{token: logprob}`` of the first generated token's alternatives (OpenAI format)."""
    content = (choice.get("logprobs") or {}).get("content")
    if not content:
        return None
    first = content[0]
    found = {str(t["token"]): float(t["logprob"]) for t in first.get("top_logprobs") or []}
    found.setdefault(str(first.get("token", "")), float(first.get("logprob", -1e9)))
    return found
