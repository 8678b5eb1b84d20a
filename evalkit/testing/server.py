"""A scripted OpenAI-compatible HTTP server on 127.0.0.1, for demos, tests and smoke tests.

It speaks enough of the OpenAI API for evalkit and most clients: ``POST /v1/chat/completions``
and ``GET /v1/models``, plus ``GET /_evalkit/stats`` (request counters) and
``POST /_evalkit/reset``. A scenario with a ``"bench"`` table adds benchmark models with a
known accuracy per task, ``POST /v1/completions`` (echo and logprobs, for lm-eval's
log-likelihoods) and vLLM's tokenizer endpoints (``evalkit.testing.completions``); one with a
``"rewards"`` table adds scripted reward models behind vLLM's ``/classify`` and ``/pooling``
and TEI's ``/predict`` (``evalkit.testing.rewards``). Models are
scripted (``evalkit.testing.scripts``); a scenario is a dict (or a JSON file)::

    {"latency": 0.05,
     "models": {
       "ckpt-a": {"kind": "chat", "words": 60},
       "ckpt-b": {"kind": "chat", "failures": {"first": 1, "status": 429, "retry_after": 0.01}},
       "judge":  {"kind": "judge", "strengths": {"ckpt-a": 0.0, "ckpt-b": 0.4}, "tie_prob": 0.1}}}

``"api_key": "sk-…"`` makes every ``/v1`` request need ``Authorization: Bearer sk-…``; a wrong
or missing key gets a 401 whose message quotes the header it got (as careless servers do), so
tests can check that evalkit redacts keys echoed back to it. ``"list_models": false`` answers
``GET /v1/models`` with a 404, as some servers do.

Faults (``evalkit.testing.scripts.Failures``/``FaultMix``): a model's ``"failures"`` holds the
old knobs (``first``, ``rate``, ``always``, ``status``, ``retry_after``, ``dead``, ``hang``), the
deterministic ``content_filter`` and ``length`` fractions, and ``faults``, a seeded
per-attempt mix of every kind of transient trouble; a top-level ``"faults"`` applies to every
model that has none of its own::

    {"faults": {"rate": 0.3, "seed": 7, "kinds": ["429", "429_retry_after", "500", "502",
                "503", "timeout", "reset", "malformed_json", "empty_choices",
                "empty_content", "truncated_body"]},
     "models": {"ckpt-a": {"failures": {"length": 0.05, "content_filter": 0.02}}, …}}

``stats()`` counts the faults injected per kind (``faults``), how many of those requests were
answered later (``faults_survived``) and the deterministic answers served (``scripted``), and
when the first chat request and the first ``GET /v1/models`` arrived since the last reset
(``first_request_at``: ``{"chat": unix time, "models": unix time}``, for start-up benchmarks).

Run it in-process (``with ScriptedServer(scenario) as srv: srv.base_url``) or as its own
process: ``python -m evalkit.testing serve scenario.json --port 8000``.

The HTTP layer is a small asyncio HTTP/1.1 implementation (keep-alive, Content-Length bodies)
so it needs nothing beyond the standard library and serves thousands of concurrent requests.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from typing import Any

from . import completions, rewards
from .scripts import ChatScript, Failures, FaultMix, JudgeScript, build_script, uniform

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
            429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
            503: "Service Unavailable"}


@dataclass(frozen=True)
class _Raw:
    """A reply that is not plain JSON: raw bytes (``cut``: send only that many, then close),
    a dropped connection (``reset``), or no answer until the client leaves (``hang`` s)."""

    body: bytes = b""
    cut: int | None = None
    reset: bool = False
    hang: float = 0.0


class ScriptedServer:
    """Serve a scenario of scripted models over HTTP on ``host:port`` (port 0 = any free)."""

    def __init__(self, scenario: dict[str, Any], host: str = "127.0.0.1", port: int = 0):
        self.scenario = scenario
        self.host, self.port = host, port
        self.default_latency = float(scenario.get("latency", 0.0))
        self.api_key: str | None = scenario.get("api_key")
        self.list_models = bool(scenario.get("list_models", True))
        faults = scenario.get("faults")
        default_faults = FaultMix(**faults) if faults else None
        self.models: dict[str, tuple[ChatScript | JudgeScript, Failures, float]] = {}
        for name, spec in scenario.get("models", {}).items():
            script, failures = build_script(name, spec)
            if failures.faults is None and default_faults is not None:
                failures = replace(failures, faults=default_faults)
            latency = float(spec.get("latency", self.default_latency))
            self.models[name] = (script, failures, latency)
        self._lock = threading.Lock()
        self.reset()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self._ready = threading.Event()
        self._start_error: OSError | None = None

    def add_model(self, name: str, spec: dict[str, Any]) -> None:
        """Serve (or re-script) model ``name`` from now on, as a scenario entry would: it
        appears in ``GET /v1/models`` (a server that gains a checkpoint mid-test)."""
        script, failures = build_script(name, spec)
        faults = self.scenario.get("faults")
        if failures.faults is None and faults:
            failures = replace(failures, faults=FaultMix(**faults))
        entry = (script, failures, float(spec.get("latency", self.default_latency)))
        self.models = {**self.models, name: entry}  # swapped whole: readers never see it torn

    def remove_model(self, name: str) -> None:
        """Stop serving ``name`` (it leaves ``GET /v1/models``; requests for it get a 404)."""
        self.models = {k: v for k, v in self.models.items() if k != name}

    # ---- counters -------------------------------------------------------------------------
    def reset(self) -> None:
        with self._lock:
            self.attempts: Counter[str] = Counter()
            self.completed: Counter[str] = Counter()
            self.by_model: dict[str, Counter[str]] = defaultdict(Counter)
            self.injected: list[tuple[str, str]] = []  # (fault kind, request key)
            self.scripted: Counter[str] = Counter()
            self.first: dict[str, float] = {}  # route -> wall-clock time of its first request

    def stats(self) -> dict[str, Any]:
        with self._lock:
            faults: Counter[str] = Counter()
            survived: Counter[str] = Counter()
            for kind, key in self.injected:
                faults[kind] += 1
                survived[kind] += key in self.completed
            return {
                "requests": sum(self.attempts.values()),
                "completed": sum(self.completed.values()),
                "completed_repeats": sum(c - 1 for c in self.completed.values() if c > 1),
                "by_model": {m: dict(c) for m, c in self.by_model.items()},
                "faults": dict(faults), "faults_survived": dict(survived),
                "scripted": dict(self.scripted),
                "first_request_at": dict(self.first),
            }

    # ---- lifecycle ------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> ScriptedServer:
        self._thread = threading.Thread(target=self._run, name="evalkit-scripted", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("scripted server did not start within 10 s")
        if self._start_error is not None:
            raise self._start_error
        return self

    def stop(self) -> None:
        if self._loop and self._server and self._thread and self._thread.is_alive():
            # Close the listener *and* every open (keep-alive) connection, so clients see the
            # server go away instead of hanging on a socket nobody serves any more.
            try:
                asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(5)
            except Exception:  # best effort: the loop is stopped below anyway
                pass
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread:
            self._thread.join(5)

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self.serve())
        except OSError as exc:  # e.g. the port is taken: report it from start()
            self._start_error = exc
            self._ready.set()
            self._loop.close()
            return
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    async def serve(self) -> None:
        """Start listening on the running loop (port 0 picks a free port)."""
        self._server = await asyncio.start_server(
            self._handle, self.host, self.port, backlog=4096, limit=2**24)
        self.port = self._server.sockets[0].getsockname()[1]

    # ---- HTTP -----------------------------------------------------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line.strip():
                    break
                method, target = line.decode("latin-1").split(" ")[:2]
                headers: dict[str, str] = {}
                while True:
                    raw = await reader.readline()
                    if raw in (b"\r\n", b"\n", b""):
                        break
                    key, _, value = raw.decode("latin-1").partition(":")
                    headers[key.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
                status, payload, extra = await self._route(method, target.split("?")[0], body,
                                                           headers.get("authorization"))
                if isinstance(payload, _Raw) and (payload.reset or payload.hang):
                    if payload.hang:  # no answer: wait until the client gives up
                        await asyncio.wait_for(reader.read(), payload.hang)
                    writer.transport.abort()
                    break
                data = payload.body if isinstance(payload, _Raw) else json.dumps(
                    payload).encode()
                head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}",
                        "Content-Type: application/json", f"Content-Length: {len(data)}"]
                head += [f"{k}: {v}" for k, v in extra.items()]
                cut = payload.cut if isinstance(payload, _Raw) else None
                writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + data[:cut])
                await writer.drain()
                if cut is not None or headers.get("connection", "").lower() == "close":
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ValueError, TimeoutError):
            pass
        finally:
            writer.close()

    async def _route(self, method: str, path: str, body: bytes, auth: str | None = None
                     ) -> tuple[int, Any, dict[str, str]]:
        if (self.api_key is not None and path.startswith("/v1/")
                and auth != f"Bearer {self.api_key}"):
            return 401, _error(f"invalid API key: got Authorization {auth!r}",
                               "invalid_api_key"), {}
        if "bench" in self.scenario:  # benchmark models, completions, tokenizer: completions.py
            reply = await completions.route(self, method, path, body)
            if reply is not None:
                return reply
        if "rewards" in self.scenario:  # reward models: /classify, /pooling, /predict
            reply = await rewards.route(self, method, path, body)
            if reply is not None:
                return reply
        if path.endswith("/chat/completions") and method == "POST":
            self.first.setdefault("chat", time.time())
            return await self._chat(body)
        if path.endswith("/models") and method == "GET":
            self.first.setdefault("models", time.time())
        if path.endswith("/models") and method == "GET" and self.list_models:
            return 200, {"object": "list", "data": [
                {"id": m, "object": "model", "owned_by": "evalkit-scripted"}
                for m in self.models]}, {}
        if path == "/_evalkit/stats":
            return 200, self.stats(), {}
        if path == "/_evalkit/reset" and method == "POST":
            self.reset()
            return 200, {"ok": True}, {}
        return 404, _error(f"no route {method} {path}", "not_found"), {}

    async def _chat(self, body: bytes) -> tuple[int, Any, dict[str, str]]:
        try:
            req = json.loads(body)
            model, messages = req["model"], req["messages"]
        except (ValueError, KeyError, TypeError):
            return 400, _error("body must be JSON with 'model' and 'messages'", "invalid"), {}
        if model not in self.models:
            return 404, _error(f"model '{model}' does not exist", "model_not_found"), {}
        script, failures, latency = self.models[model]
        key = model + ":" + hashlib.sha256(body).hexdigest()
        with self._lock:
            self.attempts[key] += 1
            attempt = self.attempts[key]
            self.by_model[model]["requests"] += 1
        if failures.hang and attempt == 1:
            await asyncio.sleep(failures.hang)
        if latency:
            await asyncio.sleep(latency)
        fault = failures.faults.pick(key, attempt) if failures.faults else None
        if fault is not None:
            with self._lock:
                self.by_model[model]["errors"] += 1
                self.injected.append((fault, key))
            return _fault(fault, failures.faults, model, key)
        if (failures.dead or attempt <= failures.first
                or (failures.always and uniform(key, "always") < failures.always)
                or (failures.rate and uniform(key, attempt, "fail") < failures.rate)):
            with self._lock:
                self.by_model[model]["errors"] += 1
            extra = {}
            if failures.retry_after is not None:
                extra["Retry-After"] = f"{failures.retry_after:g}"
            return failures.status, _error("scripted failure", "server_error"), extra
        logprobs = None
        if isinstance(script, JudgeScript) and req.get("logprobs"):
            soft = script.soft_verdict(messages)
            text, finish = ("?", "stop") if soft is None else (soft[0], "length")
            if soft is not None:
                p_b = min(max(soft[1], 1e-12), 1 - 1e-12)
                top = [{"token": "A", "logprob": math.log(1 - p_b)},
                       {"token": "B", "logprob": math.log(p_b)}]
                logprobs = {"content": [{"token": text, "logprob": max(t["logprob"]
                                                                         for t in top),
                                         "top_logprobs": top}]}
        elif isinstance(script, JudgeScript):
            text, finish = script.verdict(messages), "stop"
        else:
            text, finish = script.answer(messages, req.get("max_tokens"))
        if failures.content_filter and uniform(key, "content_filter") < failures.content_filter:
            text, finish = "", "content_filter"
        elif failures.length and uniform(key, "length") < failures.length:
            words = text.split()
            text, finish = " ".join(words[: max(1, len(words) // 2)]), "length"
        if finish in ("content_filter", "length"):
            with self._lock:
                self.scripted[finish] += 1
        with self._lock:
            self.completed[key] += 1
            self.by_model[model]["completed"] += 1
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages)
        completion_tokens = len(text.split())
        return 200, {
            "id": "chatcmpl-" + key[-16:], "object": "chat.completion",
            "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "finish_reason": finish, "logprobs": logprobs,
                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        }, {}


def _fault(kind: str, mix: FaultMix | None, model: str, key: str
           ) -> tuple[int, Any, dict[str, str]]:
    """The reply that injects one fault of ``kind`` (see ``FaultMix``)."""
    assert mix is not None
    if kind.startswith("429") or kind in ("500", "502", "503"):
        extra = {"Retry-After": f"{mix.retry_after:g}"} if kind == "429_retry_after" else {}
        status = int(kind[:3])
        return status, _error(f"injected fault {kind}", "server_error"), extra
    if kind == "timeout":
        return 200, _Raw(hang=mix.hang), {}
    if kind == "reset":
        return 200, _Raw(reset=True), {}
    body = {"id": "chatcmpl-" + key[-16:], "object": "chat.completion", "model": model,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": ""}}]}
    if kind == "empty_choices":
        body["choices"] = []
    data = json.dumps(body).encode()
    if kind == "malformed_json":
        return 200, _Raw(body=b'{"id": "chatcmpl-' + key[-16:].encode() + b'", "choices": [{'
                         + b"<html>502 upstream</html>"), {}
    if kind == "truncated_body":
        return 200, _Raw(body=data, cut=len(data) // 2), {}
    return 200, body, {}  # empty_content (or empty_choices)


def _error(message: str, code: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": code, "code": code}}
