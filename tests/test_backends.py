"""Tests for evalkit.backends: the chat client against a real scripted server, retry policy,
and replay files."""

from __future__ import annotations

import asyncio
import json
import random
import socket
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from evalkit.backends.base import Completion
from evalkit.backends.checkpoints import ReplayCheckpoint, load_replay
from evalkit.backends.openai_chat import ChatClient
from evalkit.backends.retry import RetryPolicy, parse_retry_after
from evalkit.config import CheckpointConfig
from evalkit.errors import InputError
from evalkit.pools import PoolPrompt
from evalkit.testing import ChatScript, ScriptedServer

MESSAGES = [{"role": "user", "content": "Name three primes."}]


def fast_retry(max_retries: int = 2, seed: int = 0) -> RetryPolicy:
    return RetryPolicy(max_retries=max_retries, base=0.01, cap=0.05, rng=random.Random(seed))


def chat_once(base_url: str, model: str, *, messages: list[dict[str, str]] = MESSAGES,
              **client_kw: object) -> tuple[Completion, float]:
    """One ChatClient.chat call in a fresh event loop; returns (completion, elapsed seconds)."""

    async def go() -> Completion:
        client = ChatClient(base_url, model, **client_kw)  # type: ignore[arg-type]
        try:
            return await client.chat(messages, max_tokens=100)
        finally:
            await client.aclose()

    start = time.perf_counter()
    result = asyncio.run(go())
    return result, time.perf_counter() - start


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------- ChatClient


def test_success_returns_completion() -> None:
    with ScriptedServer({"latency": 0.02, "models": {"ckpt": {"words": 30}}}) as srv:
        result, _ = chat_once(srv.base_url, "ckpt", api_key="secret", retry=fast_retry())
        assert srv.stats()["requests"] == 1
    text, finish = ChatScript("ckpt", words=30).answer(MESSAGES, 100)
    assert result.ok and result.error is None
    assert result.text == text
    assert result.finish_reason == finish == "stop"
    assert result.prompt_tokens == 3
    assert result.completion_tokens == len(text.split())
    assert result.latency is not None and 0.02 <= result.latency < 2.0
    assert result.attempts == 1


def test_429_with_retry_after_is_retried_and_honoured() -> None:
    scenario = {"models": {"m": {"failures": {"first": 2, "status": 429,
                                              "retry_after": 0.15}}}}
    with ScriptedServer(scenario) as srv:
        # base=5: were Retry-After ignored, full-jitter backoff would wait seconds, not 0.15
        policy = RetryPolicy(max_retries=3, base=5.0, rng=random.Random(1))
        result, elapsed = chat_once(srv.base_url, "m", retry=policy)
        stats = srv.stats()
    assert result.ok, result.error
    assert result.text.startswith("[sim model=m ")
    assert result.attempts == 3
    assert stats["requests"] == 3 and stats["completed"] == 1
    assert stats["by_model"]["m"]["errors"] == 2
    assert 2 * 0.15 <= elapsed < 1.5


def test_persistent_500_gives_error_completion() -> None:
    scenario = {"models": {"m": {"failures": {"dead": True, "status": 500}}}}
    with ScriptedServer(scenario) as srv:
        result, elapsed = chat_once(srv.base_url, "m", retry=fast_retry(max_retries=2))
        assert srv.stats()["requests"] == 3
    assert not result.ok and result.text is None
    assert result.error is not None and result.error.startswith("HTTP 500")
    assert "scripted failure" in result.error
    assert result.attempts == 3
    assert elapsed < 2.0


def test_non_retryable_404_is_not_retried() -> None:
    with ScriptedServer({"models": {"m": {}}}) as srv:
        result, _ = chat_once(srv.base_url, "missing-model", retry=fast_retry(max_retries=5))
    assert result.attempts == 1
    assert result.text is None
    assert result.error is not None and result.error.startswith("HTTP 404")
    assert "missing-model" in result.error


def test_timeout_then_retry_succeeds() -> None:
    scenario = {"models": {"slow": {"failures": {"hang": 2.0}}}}
    with ScriptedServer(scenario) as srv:
        result, elapsed = chat_once(srv.base_url, "slow", timeout=0.3,
                                    retry=fast_retry(max_retries=2))
        stats = srv.stats()
    assert result.ok, result.error
    assert result.attempts == 2
    assert stats["requests"] == 2  # the hung first attempt, then the retry
    assert 0.3 <= elapsed < 1.5  # did not wait for the 2 s hang


def test_timeout_on_every_attempt_reports_timeout() -> None:
    scenario = {"models": {"slow": {"latency": 1.0}}}
    with ScriptedServer(scenario) as srv:
        result, elapsed = chat_once(srv.base_url, "slow", timeout=0.1,
                                    retry=fast_retry(max_retries=1))
    assert result.error == "timeout after 0.1s"
    assert result.attempts == 2
    assert elapsed < 1.0


def test_connection_refused() -> None:
    port = free_port()  # bound then closed: nothing listens there now
    result, elapsed = chat_once(f"http://127.0.0.1:{port}/v1", "m", timeout=2.0,
                                retry=RetryPolicy(max_retries=2, base=0.01))
    assert result.text is None
    assert result.error is not None and result.error.startswith("connection refused")
    assert result.attempts == 3
    assert elapsed < 3.0


def test_concurrency_is_bounded() -> None:
    latency, limit, n = 0.2, 4, 16

    async def go() -> list[Completion]:
        client = ChatClient(srv.base_url, "m", max_concurrency=limit, retry=fast_retry())
        try:
            return await asyncio.gather(*[
                client.chat([{"role": "user", "content": f"prompt {i}"}]) for i in range(n)])
        finally:
            await client.aclose()

    with ScriptedServer({"latency": latency, "models": {"m": {}}}) as srv:
        start = time.perf_counter()
        results = asyncio.run(go())
        elapsed = time.perf_counter() - start
        assert srv.stats()["requests"] == n
    assert all(r.ok and r.attempts == 1 for r in results)
    assert len({r.text for r in results}) == n
    # 16 requests of 0.2 s each, at most 4 at a time: at least 4 waves (0.8 s); if requests
    # ran one at a time it would take 3.2 s
    assert elapsed >= (n / limit) * latency * 0.95
    assert elapsed < n * latency * 0.6


# --------------------------------------------------------------------------- retry policy


def test_parse_retry_after() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("0.25") == 0.25
    assert parse_retry_after("-4") == 0.0
    future = datetime.now(UTC) + timedelta(seconds=30)
    assert 27.0 <= parse_retry_after(format_datetime(future, usegmt=True)) <= 30.0
    past = datetime.now(UTC) - timedelta(seconds=30)
    assert parse_retry_after(format_datetime(past, usegmt=True)) == 0.0
    assert parse_retry_after("soon, maybe") is None
    assert parse_retry_after("") is None
    assert parse_retry_after(None) is None


def test_backoff_bounds() -> None:
    policy = RetryPolicy(base=0.5, cap=4.0, rng=random.Random(1234))
    for attempt in range(1, 10):
        bound = min(4.0, 0.5 * 2 ** (attempt - 1))
        waits = [policy.backoff(attempt) for _ in range(200)]
        assert all(0.0 <= w <= bound for w in waits)
        assert max(waits) > 0.8 * bound  # full jitter spreads over the whole range
    # the same seed gives the same waits
    a = RetryPolicy(rng=random.Random(7))
    b = RetryPolicy(rng=random.Random(7))
    assert [a.backoff(i) for i in range(1, 6)] == [b.backoff(i) for i in range(1, 6)]
    # a Retry-After hint wins over the backoff, capped at max_retry_after
    assert policy.backoff(1, "2.5") == 2.5
    assert RetryPolicy(max_retry_after=10.0).backoff(1, "3600") == 10.0
    assert 0.0 <= policy.backoff(2, "garbage") <= 1.0


# --------------------------------------------------------------------------- replay files


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_load_replay_forms(tmp_path: Path) -> None:
    jsonl = write(tmp_path / "r.jsonl",
                  '{"id": "p1", "response": "one"}\n\n{"id": 2, "response": "two"}\n')
    assert load_replay(jsonl) == {"p1": "one", "2": "two"}
    as_list = write(tmp_path / "r.json", json.dumps(
        [{"id": "p1", "response": "one"}, {"id": "p2", "response": "zwei", "extra": 1}]))
    assert load_replay(as_list) == {"p1": "one", "p2": "zwei"}
    as_object = write(tmp_path / "o.json", json.dumps({"p1": "one", "p3": "drei"}))
    assert load_replay(as_object) == {"p1": "one", "p3": "drei"}


@pytest.mark.parametrize(("name", "content", "line", "field", "fragment"), [
    ("bad.jsonl", '{"id": "a", "response": "x"}\n{"id": "b", "response": \n', 2, None,
     "bad JSON"),
    ("missing.jsonl", '{"id": "a", "response": "x"}\n\n{"id": "b"}\n', 3, "response",
     "missing field"),
    ("type.jsonl", '{"id": "a", "response": 5}\n', 1, "response", "expected a string, got int"),
    ("idtype.jsonl", '{"id": [1], "response": "x"}\n', 1, "id", "expected a string, got list"),
    ("dup.jsonl", '{"id": "a", "response": "x"}\n{"id": "a", "response": "y"}\n', 2, "id",
     "duplicate id 'a'"),
    ("notobj.jsonl", '{"id": "a", "response": "x"}\n["a", "x"]\n', 2, None,
     "expected a JSON object"),
    ("latin1.jsonl", b'{"id": "a", "response": "x"}\n{"id": "b", "response": "caf\xe9"}\n', 2,
     None, "not valid UTF-8"),
    ("bad.json", '[\n  {"id": "a", "response": "x"},\n  {"id": "b" "response": "y"}\n]\n', 3,
     None, "bad JSON"),
])
def test_load_replay_errors(tmp_path: Path, name: str, content: str | bytes, line: int,
                            field: str | None, fragment: str) -> None:
    path = write(tmp_path / name, content)
    with pytest.raises(InputError) as info:
        load_replay(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:{line}: ")
    assert info.value.line == line and info.value.field == field
    if field:
        assert f"field '{field}'" in message
    assert fragment in message


def test_load_replay_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="replay file not found"):
        load_replay(tmp_path / "nope.jsonl")


def test_replay_checkpoint_answers_and_missing_id(tmp_path: Path) -> None:
    path = write(tmp_path / "r.jsonl", '{"id": "p1", "response": "the answer"}\n')
    ckpt = ReplayCheckpoint(CheckpointConfig(name="replayed", backend="replay", path=str(path)))
    present = PoolPrompt(id="p1", messages=({"role": "user", "content": "q1"},))
    missing = PoolPrompt(id="p2", messages=({"role": "user", "content": "q2"},))

    async def go() -> tuple[Completion, Completion]:
        return await ckpt.answer(present, 0), await ckpt.answer(missing, 0)

    hit, miss = asyncio.run(go())
    assert hit == Completion(text="the answer", finish_reason="replay", latency=0.0)
    assert miss.text is None and not miss.ok
    assert miss.error == f"{path}: no response for prompt id 'p2'"
    assert ckpt.key(present, 0) != ckpt.key(present, 1)
    assert ckpt.key(present, 0) == ckpt.key(present, 0)


# --------------------------------------------------------------------------- answer rules


@pytest.mark.parametrize(("failures", "attempts", "error", "finish"), [
    ({"faults": {"rate": 1.0, "kinds": ["empty_content"]}}, 3, "empty response "
     "(finish_reason stop)", None),
    ({"faults": {"rate": 1.0, "kinds": ["empty_choices"]}}, 3, "malformed response: ", None),
    ({"faults": {"rate": 1.0, "kinds": ["malformed_json"]}}, 3, "malformed response: ", None),
    ({"faults": {"rate": 1.0, "kinds": ["truncated_body"]}}, 3, "connection error: ", None),
    ({"faults": {"rate": 1.0, "kinds": ["reset"]}}, 3, "connection error: ", None),
    ({"faults": {"rate": 1.0, "kinds": ["503"]}}, 3, "HTTP 503: injected fault 503", None),
    ({"content_filter": 1.0}, 1, "content filtered by the endpoint (finish_reason "
     "content_filter)", "content_filter"),
    ({"length": 1.0}, 1, None, "length"),
])
def test_answer_rules(failures: dict, attempts: int, error: str | None,
                      finish: str | None) -> None:
    """Transient trouble is retried (then fails with its reason); a content filter fails at
    once; an answer cut by ``length`` is an answer."""
    with ScriptedServer({"models": {"m": {"failures": failures}}}) as srv:
        result, _ = chat_once(srv.base_url, "m", timeout=2.0, retry=fast_retry(max_retries=2))
        assert srv.stats()["requests"] == attempts
    assert result.attempts == attempts and result.finish_reason == finish
    assert result.endpoint == srv.base_url
    if error is None:
        assert result.ok and result.text
    else:
        assert result.text is None and result.error is not None
        assert result.error.startswith(error), result.error


def test_non_retryable_statuses_fail_without_backoff() -> None:
    for status in (400, 401, 403, 404, 422):
        scenario = {"models": {"m": {"failures": {"dead": True, "status": status}}}}
        with ScriptedServer(scenario) as srv:
            policy = RetryPolicy(max_retries=5, base=5.0)  # a backoff would take seconds
            result, elapsed = chat_once(srv.base_url, "m", retry=policy)
            assert srv.stats()["requests"] == 1
        assert result.attempts == 1 and result.error.startswith(f"HTTP {status}")
        assert elapsed < 1.0


def test_unreachable_endpoint_opens_the_breaker_and_fails_the_rest_fast() -> None:
    port = free_port()

    async def go() -> list[Completion]:
        client = ChatClient(f"http://127.0.0.1:{port}/v1", "m", max_concurrency=8,
                            retry=RetryPolicy(max_retries=6, base=0.5))
        try:
            return await asyncio.gather(*[client.chat([{"role": "user", "content": str(i)}])
                                          for i in range(50)])
        finally:
            await client.aclose()

    start = time.perf_counter()
    results = asyncio.run(go())
    elapsed = time.perf_counter() - start
    # without the breaker: 50 requests x 7 attempts with 0.5 s-based backoff, tens of seconds
    assert elapsed < 3.0
    assert all(r.error is not None and r.error.startswith("connection refused") for r in results)
    assert sum(r.attempts for r in results) < 20  # most never sent an attempt
