"""evalkit's store as lm-eval's request cache, keyed by the checkpoint's identity.

lm-eval's own response cache (``use_cache``) is keyed by the request alone, without the model
(EleutherAI/lm-evaluation-harness#2715): run two checkpoints with one cache file and the second
gets the first one's answers. evalkit leaves it off. ``CachedLM`` wraps the lm-eval model
instead: before a request is sent it looks up ``key = hash(checkpoint spec, mode, method,
request arguments)`` in the ``benchrequest`` table and sends only what is missing; every answer
is written as it arrives (lm-eval reports each one through its ``cache_hook``) by a background
writer that commits within ``LINGER`` seconds. So a rerun of the same checkpoint makes no
request at all, a run killed midway resumes where it stopped, and two checkpoints never see
each other's answers.

The inner lm-eval model is built only when a request is missing: a remote tokenizer's
``/tokenizer_info`` handshake is a request too.
"""

from __future__ import annotations

import hashlib
import json
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lm_eval.api.model import LM
from sqlalchemy.engine import Engine

LINGER = 0.05  # seconds an answer may wait before it is committed
METHODS = ("loglikelihood", "loglikelihood_rolling", "generate_until")


def _jsonable(obj: Any) -> Any:
    prompt = getattr(obj, "prompt", None)  # lm-eval's JsonChatStr
    if isinstance(prompt, str):
        return {"chat": prompt}
    raise TypeError(f"cannot key a request argument of type {type(obj).__name__}")


def request_key(spec_hash: str, mode: str, method: str, args: Sequence[Any],
                occurrence: int = 0) -> str:
    """The cache key of one request of one checkpoint (``occurrence``: the n-th identical
    sampled request of a call, so repeats of a sampling task keep distinct answers)."""
    body = json.dumps([spec_hash, mode, method, list(args), occurrence], sort_keys=True,
                      ensure_ascii=False, default=_jsonable)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()[:40]


def _decode(method: str, raw: str) -> Any:
    value = json.loads(raw)
    if method == "loglikelihood":
        return (float(value[0]), bool(value[1]))
    return value


@dataclass(frozen=True)
class CacheCounts:
    cached: int = 0
    sent: int = 0


class RequestCache:
    """The ``benchrequest`` rows of one checkpoint: bulk lookups, and a background writer."""

    def __init__(self, engine: Engine, spec_hash: str, mode: str) -> None:
        self.engine, self.spec_hash, self.mode = engine, spec_hash, mode
        self._queue: queue.Queue[tuple[str, str, Any] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()  # cuts the linger short at the end of a run
        self._error: BaseException | None = None
        self.written = 0

    def key(self, method: str, args: Sequence[Any], occurrence: int = 0) -> str:
        return request_key(self.spec_hash, self.mode, method, args, occurrence)

    def lookup(self, method: str, keys: Sequence[str]) -> dict[str, Any]:
        from ..store.bench_queries import request_results

        return {k: _decode(method, raw)
                for k, raw in request_results(self.engine, list(dict.fromkeys(keys))).items()}

    def put(self, key: str, method: str, result: Any) -> None:
        if self._error is not None:
            raise self._error
        if self._thread is None:
            self._thread = threading.Thread(target=self._drain, name="evalkit-bench-cache",
                                            daemon=True)
            self._thread.start()
        self._queue.put((key, method, result))

    def close(self) -> None:
        """Commit everything handed over; raise what the writer met."""
        if self._thread is not None:
            self._closing.set()
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        if self._error is not None:
            raise self._error

    def _drain(self) -> None:
        from ..store.bench_queries import save_requests

        done = False
        while not done:
            first = self._queue.get()
            batch = [] if first is None else [first]
            done = first is None
            if not done:
                self._closing.wait(LINGER)
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    done = True
                else:
                    batch.append(item)
            if not batch:
                continue
            rows = [{"key": k, "checkpoint_spec": self.spec_hash, "method": m,
                     "result_json": json.dumps(r)} for k, m, r in batch]
            try:
                save_requests(self.engine, rows)
                self.written += len(rows)
            except BaseException as exc:  # reported by put() or close()
                self._error = exc
                return


class _Hook:
    """lm-eval's cache hook: each answer as the inner model completes it."""

    def __init__(self, cache: RequestCache, wanted: dict[str, str],
                 known: dict[tuple[Any, ...], str]) -> None:
        self.cache, self.wanted = cache, wanted  # key → method, for requests in flight
        self.known = known  # hashable request arguments → key, computed already

    def add_partial(self, attr: str, req: Any, res: Any) -> None:
        if res is None or attr not in METHODS:
            return
        try:
            key = self.known.get(tuple(req)) or self.cache.key(attr, list(req))
        except TypeError:  # unhashable (generation settings) or unserialisable arguments
            try:
                key = self.cache.key(attr, list(req))
            except TypeError:
                return
        if self.wanted.pop(key, None) is not None:
            self.cache.put(key, attr, res)


class CachedLM(LM):
    """An lm-eval model that answers from the store and sends only what it lacks to ``inner``
    (built by ``make_inner`` on the first miss). ``chat_lm``: the model lm-eval asks to
    format chat prompts (a chat-completions model builds it without any request)."""

    def __init__(self, cache: RequestCache, make_inner: Callable[[], LM], *,
                 chat_lm: LM | None = None, progress: bool = False) -> None:
        super().__init__()
        self.progress = progress
        self.cache = cache
        self._make_inner = make_inner
        self._inner: LM | None = None
        self._chat_lm = chat_lm
        self.cached = 0
        self.sent = 0

    @property
    def inner(self) -> LM:
        if self._inner is None:
            self._inner = self._make_inner()
        return self._inner

    # -- what lm-eval asks besides requests
    def apply_chat_template(self, chat_history: list[dict[str, str]],
                            add_generation_prompt: bool = True) -> Any:
        lm = self._chat_lm or self.inner
        return lm.apply_chat_template(chat_history, add_generation_prompt)

    @property
    def tokenizer_name(self) -> str:
        lm = self._chat_lm or self._inner
        return "" if lm is None else str(getattr(lm, "tokenizer_name", "") or "")

    def chat_template(self, chat_template: bool | str = False) -> str | None:
        return ""

    # -- requests
    def loglikelihood(self, requests: list[Any], disable_tqdm: bool = False) -> list[Any]:
        return self._answer("loglikelihood", requests)

    def loglikelihood_rolling(self, requests: list[Any], disable_tqdm: bool = False
                              ) -> list[Any]:
        return self._answer("loglikelihood_rolling", requests)

    def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> list[Any]:
        return self._answer("generate_until", requests)

    def _answer(self, method: str, requests: list[Any]) -> list[Any]:
        keys: list[str] = []
        seen: dict[str, int] = {}
        for req in requests:
            args = list(req.args)
            sampled = method == "generate_until" and bool(
                isinstance(args[-1], dict) and args[-1].get("do_sample"))
            base = self.cache.key(method, args)
            occurrence = seen.get(base, 0) if sampled else 0
            seen[base] = seen.get(base, 0) + 1
            keys.append(base if occurrence == 0 else self.cache.key(method, args, occurrence))
        found = self.cache.lookup(method, keys)
        todo: dict[str, Any] = {}
        for key, req in zip(keys, requests, strict=True):
            if key not in found and key not in todo:
                todo[key] = req
        self.cached += len(requests) - sum(1 for k in keys if k in todo)
        if todo:
            wanted = {k: method for k in todo}
            known = {}
            for k, req in todo.items():
                try:
                    known[tuple(req.args)] = k
                except TypeError:  # a dict among the arguments: keyed on arrival instead
                    break
            inner = self.inner
            inner.set_cache_hook(_Hook(self.cache, wanted, known))  # type: ignore[arg-type]
            try:
                results = getattr(inner, method)(list(todo.values()),
                                                 disable_tqdm=not self.progress)
            finally:
                self.sent += len(todo) - len(wanted)
            for key, res in zip(todo, results, strict=True):
                if key in wanted:  # the model did not report it through the hook
                    wanted.pop(key)
                    self.sent += 1
                    self.cache.put(key, method, res)
                found[key] = res
        return [found[k] for k in keys]
