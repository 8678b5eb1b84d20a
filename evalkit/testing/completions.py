"""Scripted benchmark models for the scripted server: ``POST /v1/completions`` (generation, and
``echo`` + ``logprobs`` for log-likelihood), chat answers to benchmark items, and the tokenizer
endpoints vLLM serves with ``--enable-tokenizer-info-endpoint`` (``GET /tokenizer_info``,
``POST /tokenize``, ``POST /detokenize``), so lm-eval's ``local-completions`` model with
``tokenizer_backend=remote`` runs against it with no tokenizer downloaded.

A scenario's ``"bench"`` table holds an answer key and the models that use it::

    {"bench": {
       "items": [{"task": "arith", "q": "Tom has 3 apples …", "a": "#### 7"},
                 {"task": "facts", "q": "Which planet …", "a": "Mars"}, …],
       "models": {"ckpt-a": {"correct": {"arith": 0.9, "*": 0.5}, "seed": 0},
                  "ckpt-b": {"correct": 0.7, "latency": 0.01,
                             "failures": {"rate": 0.1, "status": 503}}}}}

An item is found in a request by its question text ``q``: of the items whose ``q`` occurs in
the prompt (or the chat messages), the one occurring last (few-shot examples come first).
A name may also be a chat model of the scenario: its chat requests that contain no benchmark
item go to its chat script (so one checkpoint can be compared pairwise and benchmarked).
A model *knows* an item with the seeded probability ``correct`` of its task (``"*"``: any
other task) — ``BenchScript.knows`` is the exact rule, so a test can compute the accuracy it
must see. Generation answers ``a`` when the model knows the item, else ``wrong`` (or, by
default, ``a`` with its last number plus one, or "I do not know."). Log-likelihood: the
continuation the model picks gets -0.05 per token and is greedy; when the model does not know
the item, the correct continuation ``a`` gets -6 per token; anything else -2 per token. So
``acc`` (and ``acc_norm``) pick ``a`` exactly for the known items.

The tokenizer is deterministic and lossless: text splits into GPT-2-like pieces (an optional
space and a run of letters, digits or punctuation; whitespace), each piece into UTF-8 chunks of
up to three bytes, one id per chunk; ``<s>`` (1) and ``</s>`` (2) are special.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .scripts import Failures, uniform

if TYPE_CHECKING:
    from .server import ScriptedServer

Reply = tuple[int, Any, dict[str, str]]

# ---- the tokenizer -------------------------------------------------------------------------

SPECIAL = {"<s>": 1, "</s>": 2}
_SPECIAL_IDS = {v: k for k, v in SPECIAL.items()}
_OFFSET = {1: 16, 2: 16 + 256, 3: 16 + 256 + 65536}
_PIECE_RE = re.compile(r"<s>|</s>| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+")


def encode(text: str) -> list[int]:
    ids: list[int] = []
    for piece in _PIECE_RE.findall(text):
        if piece in SPECIAL:
            ids.append(SPECIAL[piece])
            continue
        raw = piece.encode("utf-8")
        for i in range(0, len(raw), 3):
            chunk = raw[i:i + 3]
            ids.append(_OFFSET[len(chunk)] + int.from_bytes(chunk, "big"))
    return ids


def _token_bytes(token: int) -> bytes:
    if token in _SPECIAL_IDS:
        return _SPECIAL_IDS[token].encode()
    for length in (3, 2, 1):
        if token >= _OFFSET[length]:
            value = token - _OFFSET[length]
            if value < 256 ** length:
                return value.to_bytes(length, "big")
    raise ValueError(f"unknown token id {token}")


def decode(tokens: list[int]) -> str:
    return b"".join(_token_bytes(int(t)) for t in tokens).decode("utf-8", errors="replace")


TOKENIZER_INFO = {"tokenizer_class": "EvalkitScriptedTokenizer", "bos_token": "<s>",
                  "eos_token": "</s>", "pad_token": None, "unk_token": None,
                  "model_max_length": 32768, "add_bos_token": False,
                  "chat_template": ("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n"
                                    "{% endfor %}{% if add_generation_prompt %}assistant:"
                                    "{% endif %}")}

# ---- the scripted benchmark model -----------------------------------------------------------

_NUMBER_RE = re.compile(r"-?\d+(?:\.\d+)?")
CHOSEN, OTHER, GOLD_WHEN_WRONG = -0.05, -2.0, -6.0


@dataclass(frozen=True)
class BenchItem:
    q: str
    a: str
    wrong: str | None = None
    task: str = "*"


def wrong_answer(item: BenchItem) -> str:
    """What a model that does not know the item generates."""
    if item.wrong is not None:
        return item.wrong
    found = list(_NUMBER_RE.finditer(item.a))
    if not found:
        return "I do not know."
    last = found[-1]
    number = float(last.group())
    new = str(int(number) + 1) if number.is_integer() and "." not in last.group() else \
        f"{number + 1:g}"
    return item.a[:last.start()] + new + item.a[last.end():]


@dataclass(frozen=True)
class BenchScript:
    """A checkpoint that knows a seeded share of each task's items (module docstring)."""

    name: str
    correct: dict[str, float] = field(default_factory=dict)
    seed: int = 0

    def rate(self, task: str) -> float:
        return float(self.correct.get(task, self.correct.get("*", 0.0)))

    def knows(self, item: BenchItem) -> bool:
        return uniform(self.seed, self.name, item.task, item.q) < self.rate(item.task)

    def generate(self, item: BenchItem | None) -> str:
        if item is None:
            return "I do not know."
        return item.a if self.knows(item) else wrong_answer(item)

    def token_logprob(self, text: str, item: BenchItem | None) -> float:
        """The log-probability of every token of ``text`` (a context and a continuation)."""
        if item is None:
            return OTHER
        knows = self.knows(item)
        chosen = item.a if knows else item.wrong
        if chosen is not None and _ends_with(text, chosen):
            return CHOSEN
        if not knows and _ends_with(text, item.a):
            return GOLD_WHEN_WRONG
        return OTHER


def _ends_with(text: str, answer: str) -> bool:
    answer = answer.strip()
    body = text.rstrip()
    if not answer or not body.endswith(answer):
        return False
    before = body[:len(body) - len(answer)]
    return not before or not (before[-1].isalnum() and answer[0].isalnum())


class AnswerKey:
    """The items, and the one a prompt is about (the last one whose question it contains).

    Questions are looked up by their first words (a question starts a word of the prompt, as
    every task template puts it), so a prompt costs a few dictionary lookups per word even
    with ten thousand items; when that finds nothing, every question is searched."""

    def __init__(self, items: list[BenchItem]) -> None:
        self.items = items
        self._ordered = sorted(items, key=lambda it: len(it.q), reverse=True)
        self._heads: dict[tuple[str, ...], list[BenchItem]] = {}
        for item in self._ordered:
            words = tuple(item.q.split()[:3])
            if words:
                self._heads.setdefault(words, []).append(item)

    def find(self, text: str) -> BenchItem | None:
        words = text.split()
        found = {id(it): it for i in range(len(words)) for n in (1, 2, 3)
                 for it in self._heads.get(tuple(words[i:i + n]), ())}
        return (self._best(text, list(found.values())) if found else None) or \
            self._best(text, self._ordered)

    @staticmethod
    def _best(text: str, items: list[BenchItem]) -> BenchItem | None:
        best: BenchItem | None = None
        best_pos = -1
        for item in sorted(items, key=lambda it: len(it.q), reverse=True):
            pos = text.rfind(item.q)  # longest first: a tie keeps the longer question
            if pos > best_pos:
                best, best_pos = item, pos
        return best


@dataclass
class BenchModels:
    key: AnswerKey
    scripts: dict[str, tuple[BenchScript, Failures, float | None]]

    @classmethod
    def from_scenario(cls, scenario: dict[str, Any]) -> BenchModels:
        spec = scenario.get("bench") or {}
        items = [BenchItem(**it) for it in spec.get("items", [])]
        scripts = {}
        for name, raw in (spec.get("models") or {}).items():
            raw = dict(raw)
            failures = Failures(**raw.pop("failures", {}))
            latency = raw.pop("latency", None)
            correct = raw.pop("correct", {})
            if not isinstance(correct, dict):
                correct = {"*": float(correct)}
            scripts[name] = (BenchScript(name=name, correct=correct, **raw), failures,
                             None if latency is None else float(latency))
        return cls(AnswerKey(items), scripts)


# ---- HTTP ----------------------------------------------------------------------------------

_TOKENIZER_PATHS = ("/tokenizer_info", "/tokenize", "/detokenize")


async def route(server: ScriptedServer, method: str, path: str, body: bytes) -> Reply | None:
    """The reply when this module serves the request, else None (the server goes on)."""
    models: BenchModels | None = server.__dict__.get("_bench_models")
    if models is None:
        models = server.__dict__["_bench_models"] = BenchModels.from_scenario(server.scenario)
    tail = path[3:] if path.startswith("/v1/") else path
    if tail in _TOKENIZER_PATHS:
        return _tokenizer(server, method, tail, body)
    if method != "POST" or not models.scripts or not path.endswith("/completions"):
        return None
    try:
        req = json.loads(body)
        model = req.get("model")
    except (ValueError, AttributeError):
        return None
    if model not in models.scripts:
        return None  # the chat scripts answer (or 404)
    chat = path.endswith("/chat/completions")
    if chat and model in server.models and isinstance(req.get("messages"), list):
        text = "\n".join(str(m.get("content", "")) for m in req["messages"])
        if models.key.find(text) is None:
            return None  # not a benchmark item: the model's chat script answers
    return await _answer(server, models, model, req, body, chat=chat)


def _count(server: ScriptedServer, who: str, key: str, done: bool) -> int:
    with server._lock:
        if not done:
            server.attempts[key] += 1
            server.by_model[who]["requests"] += 1
            return server.attempts[key]
        server.completed[key] += 1
        server.by_model[who]["completed"] += 1
        return server.completed[key]


def _tokenizer(server: ScriptedServer, method: str, tail: str, body: bytes) -> Reply:
    key = "tokenizer:" + hashlib.sha256(tail.encode() + body).hexdigest()
    _count(server, "(tokenizer)", key, done=False)
    if tail == "/tokenizer_info":
        reply: Any = TOKENIZER_INFO
    else:
        try:
            req = json.loads(body) if body else {}
        except ValueError:
            return 400, _error("body must be JSON"), {}
        if tail == "/tokenize":
            text: Any = req.get("prompt")
            if isinstance(req.get("messages"), list):
                text = "".join(f"{m.get('role')}: {m.get('content')}\n" for m in req["messages"])
            if not isinstance(text, str):
                return 400, _error("'prompt' (a string) is required"), {}
            ids = encode(text)
            reply = {"count": len(ids), "max_model_len": 32768, "tokens": ids,
                     "token_strs": None}
        else:
            given = req.get("tokens")
            if not isinstance(given, list):
                return 400, _error("'tokens' (a list) is required"), {}
            try:
                reply = {"prompt": decode(given)}
            except (ValueError, TypeError):
                return 400, _error("unknown token ids"), {}
    _count(server, "(tokenizer)", key, done=True)
    return 200, reply, {}


async def _answer(server: ScriptedServer, models: BenchModels, model: str, req: dict[str, Any],
                  body: bytes, *, chat: bool) -> Reply:
    script, failures, latency = models.scripts[model]
    key = model + ":" + hashlib.sha256(body).hexdigest()
    attempt = _count(server, model, key, done=False)
    wait = server.default_latency if latency is None else latency
    if wait:
        await asyncio.sleep(wait)
    if (failures.dead or attempt <= failures.first
            or (failures.always and uniform(key, "always") < failures.always)
            or (failures.rate and uniform(key, attempt, "fail") < failures.rate)):
        with server._lock:
            server.by_model[model]["errors"] += 1
        return failures.status, _error("scripted failure"), {}
    stop = req.get("stop") or []
    stop = [stop] if isinstance(stop, str) else list(stop)
    max_tokens = req.get("max_tokens") or req.get("max_completion_tokens")
    if chat:
        messages = req.get("messages")
        if not isinstance(messages, list):
            return 400, _error("'messages' (a list) is required"), {}
        text = "\n".join(str(m.get("content", "")) for m in messages)
        answer = _cut(script.generate(models.key.find(text)), stop, max_tokens)
        _count(server, model, key, done=True)
        return 200, {"id": "chatcmpl-" + key[-16:], "object": "chat.completion",
                     "created": int(time.time()), "model": model,
                     "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                                  "message": {"role": "assistant", "content": answer}}],
                     "usage": _usage(text, answer)}, {}
    prompts = _prompts(req.get("prompt"))
    if prompts is None:
        return 400, _error("'prompt' must be a string, a list of strings, a list of token ids "
                           "or a list of such lists"), {}
    choices = []
    for i, text in enumerate(prompts):
        item = models.key.find(text)
        if req.get("echo") and req.get("logprobs") is not None:
            choices.append(_scored(i, text, script.token_logprob(text, item)))
        else:
            answer = _cut(script.generate(item), stop, max_tokens)
            choices.append({"index": i, "text": answer, "logprobs": None,
                            "finish_reason": "stop"})
    _count(server, model, key, done=True)
    return 200, {"id": "cmpl-" + key[-16:], "object": "text_completion",
                 "created": int(time.time()), "model": model, "choices": choices,
                 "usage": _usage("".join(prompts), "")}, {}


def _prompts(raw: Any) -> list[str] | None:
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and raw:
        if all(isinstance(x, str) for x in raw):
            return list(raw)
        if all(isinstance(x, int) for x in raw):
            return [decode(raw)]
        if all(isinstance(x, list) and all(isinstance(t, int) for t in x) for x in raw):
            return [decode(x) for x in raw]
    return None


def _scored(index: int, text: str, lp: float) -> dict[str, Any]:
    """Echo the prompt with ``lp`` per token (none for the first), plus one generated token."""
    ids = encode(text) + [SPECIAL["</s>"]]
    tokens = [_token_bytes(t).decode("utf-8", errors="replace") for t in ids]
    logprobs: list[float | None] = [None] + [lp] * (len(ids) - 1)
    top: list[dict[str, float] | None] = [None]
    for tok in tokens[1:]:
        top.append({tok: lp} if lp == CHOSEN else {tok: lp, " the": CHOSEN})
    offsets, pos = [], 0
    for tok in tokens:
        offsets.append(pos)
        pos += len(tok)
    return {"index": index, "text": text + "</s>", "finish_reason": "length",
            "logprobs": {"tokens": tokens, "token_logprobs": logprobs, "top_logprobs": top,
                         "text_offset": offsets}}


def _cut(text: str, stop: list[str], max_tokens: Any) -> str:
    for s in stop:
        if s and s in text:
            text = text[:text.index(s)]
    if isinstance(max_tokens, int) and max_tokens > 0:
        ids = encode(text)
        if len(ids) > max_tokens:
            text = decode(ids[:max_tokens])
    return text


def _usage(prompt: str, answer: str) -> dict[str, int]:
    p, c = len(encode(prompt)), len(encode(answer))
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


def _error(message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error",
                      "code": "invalid_request_error"}}


# ---- answer keys -----------------------------------------------------------------------------

def items_from_jsonl(path: str | Path, task: str, question: Callable[[dict[str, Any]], str],
                     answer: Callable[[dict[str, Any]], str],
                     wrong: Callable[[dict[str, Any]], str] | None = None,
                     limit: int | None = None) -> list[dict[str, Any]]:
    """Answer-key items (scenario ``bench.items``) from a JSONL file of task documents."""
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            row = json.loads(line)
            item = {"task": task, "q": question(row), "a": answer(row)}
            if wrong is not None:
                item["wrong"] = wrong(row)
            out.append(item)
            if limit is not None and len(out) >= limit:
                break
    return out


def offline_items(folder: str | Path | None = None) -> list[dict[str, Any]]:
    """The answer key of evalkit's shipped ``offline`` suite: arithmetic ("The answer is N."),
    the facts' correct option, and the instruction-following target inside ``<answer>`` tags
    (answered without the tags when the model does not know it)."""
    if folder is None:
        from ..resources import data_dir

        folder = data_dir("suites") / "offline"
    data = Path(folder) / "data"
    return (items_from_jsonl(data / "arith_test.jsonl", "ek_arith", lambda r: r["question"],
                             lambda r: f"The answer is {r['answer']}.")
            + items_from_jsonl(data / "facts_test.jsonl", "ek_facts", lambda r: r["question"],
                               lambda r: r["choices"][r["answer"]])
            + items_from_jsonl(data / "follow_test.jsonl", "ek_follow",
                               lambda r: r["instruction"],
                               lambda r: f"<answer>{r['target']}</answer>",
                               wrong=lambda r: r["target"]))


def expected_accuracy(items: list[dict[str, Any]], model: str, correct: Any, task: str,
                      seed: int = 0, limit: int | None = None) -> float:
    """The accuracy a scripted model must score on ``task`` (its first ``limit`` items)."""
    rates = correct if isinstance(correct, dict) else {"*": float(correct)}
    script = BenchScript(name=model, correct=rates, seed=seed)
    mine = [BenchItem(**it) for it in items if it["task"] == task][:limit]
    return sum(script.knows(it) for it in mine) / len(mine)
