"""Scripted reward models for the scripted server: vLLM's ``POST /classify`` and
``POST /pooling`` and text-embeddings-inference's ``POST /predict``, in their real shapes
(docs/reward-models.md), with rewards that are a pure function of (model, text), so a test
knows every score, accuracy and win rate in advance.

A scenario's ``"rewards"`` table::

    {"rewards": {
       "tei": "rm",                    # the model /predict serves (default: the first)
       "models": {
         "rm": {"rule": "markers", "share": {"base": 0.3, "cand": 0.8}, "seed": 0},
         "hh": {"rule": "chosen", "chosen": ["<sha256[:16] of a response>", …],
                "accuracy": 0.7},
         "noise": {"rule": "hash", "num_labels": 3, "reward_index": 2,
                   "latency": 0.01, "failures": {"first": 1, "status": 503}}}}}

Rules (``RewardScript.reward``; the response is the text after the last ``Assistant:`` —
or the second text of a pair):

* ``markers``: the response of a scripted checkpoint carries ``[sim model=M prompt=H]``;
  its reward is 1 when ``uniform(seed, M, H) < share[M]`` else 0 (no marker: ``default``);
* ``chosen``: a response whose ``response_hash`` is listed gets +1 with probability
  ``accuracy`` (decided by ``uniform(seed, hash)``) and −1 otherwise; any other response 0 —
  so on preference pairs whose chosen responses are listed, the accuracy is known;
* ``hash``: ``4 * uniform(seed, name, text) - 2`` (any text, for throughput and batching).

A head with ``num_labels`` > 1 puts the reward at ``reward_index`` and decoys elsewhere; a
``token_level`` model answers ``/pooling`` with one value per whitespace token (the last is
the reward). Activations are applied as the servers do when the request does not turn them
off (vLLM ``use_activation``, TEI ``raw_scores``), so a client that forgets gets other
numbers. ``failures`` and ``latency`` work as for chat models.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .scripts import MARKER_RE, Failures, FaultMix, uniform

if TYPE_CHECKING:
    from .server import ScriptedServer

Reply = tuple[int, Any, dict[str, str]]
PATHS = ("/classify", "/pooling", "/predict")
_ASSISTANT = re.compile(r"(?:^|\n)\s*(?:<\|)?[Aa]ssistant(?:\|>)?:?\s")


def response_hash(response: str) -> str:
    """How a ``chosen`` rule names a response."""
    return hashlib.sha256(response.strip().encode()).hexdigest()[:16]


def response_of(text: str) -> str:
    """The response inside a rendered conversation: what follows its last assistant tag."""
    found = list(_ASSISTANT.finditer(text))
    return text[found[-1].end():] if found else text


@dataclass(frozen=True)
class RewardScript:
    name: str
    rule: str = "hash"
    seed: int = 0
    share: dict[str, float] = field(default_factory=dict)
    default: float = 0.0
    chosen: frozenset[str] = frozenset()
    accuracy: float = 1.0
    num_labels: int = 1
    reward_index: int = 0
    token_level: bool = False
    labels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "chosen", frozenset(self.chosen))
        object.__setattr__(self, "labels", tuple(self.labels))
        if self.rule not in ("markers", "chosen", "hash"):
            raise ValueError(f"reward model '{self.name}': unknown rule '{self.rule}'")

    def reward(self, text: str, pair: str | None = None) -> float:
        """The reward of one input (a text, or a (text, pair) text pair)."""
        response = pair if pair is not None else response_of(text)
        if self.rule == "markers":
            found = MARKER_RE.findall(response)
            if not found:
                return self.default
            model, prompt = found[-1]
            return 1.0 if uniform(self.seed, model, prompt) < self.share.get(model, 0.0) else 0.0
        if self.rule == "chosen":
            h = response_hash(response)
            if h not in self.chosen:
                return 0.0
            return 1.0 if uniform(self.seed, h) < self.accuracy else -1.0
        return 4.0 * uniform(self.seed, self.name, text, pair) - 2.0

    def logits(self, text: str, pair: str | None = None) -> list[float]:
        """The head's outputs: the reward at ``reward_index``, decoys elsewhere."""
        r = self.reward(text, pair)
        return [r if i == self.reward_index else 10.0 + i - r for i in range(self.num_labels)]

    def label_names(self) -> list[str]:
        return list(self.labels) or [f"LABEL_{i}" for i in range(self.num_labels)]


def activate(values: list[float]) -> list[float]:
    """What the servers apply by default: a sigmoid for one output, a softmax for several."""
    if len(values) == 1:
        return [1.0 / (1.0 + math.exp(-values[0]))]
    top = max(values)
    exps = [math.exp(v - top) for v in values]
    return [e / sum(exps) for e in exps]


@dataclass
class RewardModels:
    scripts: dict[str, tuple[RewardScript, Failures, float | None]]
    tei: str | None

    @classmethod
    def from_scenario(cls, scenario: dict[str, Any]) -> RewardModels:
        spec = scenario.get("rewards") or {}
        scripts = {}
        for name, raw in (spec.get("models") or {}).items():
            raw = dict(raw)
            failures = Failures(**raw.pop("failures", {}))
            latency = raw.pop("latency", None)
            scripts[name] = (RewardScript(name=name, **raw), failures,
                             None if latency is None else float(latency))
        return cls(scripts, spec.get("tei") or next(iter(scripts), None))


async def route(server: ScriptedServer, method: str, path: str, body: bytes) -> Reply | None:
    """The reply when this module serves the request (a reward endpoint), else None."""
    tail = path[3:] if path.startswith("/v1/") else path
    if method != "POST" or tail not in PATHS:
        return None
    models: RewardModels | None = server.__dict__.get("_reward_models")
    if models is None:
        models = server.__dict__["_reward_models"] = RewardModels.from_scenario(server.scenario)
    try:
        req = json.loads(body)
    except ValueError:
        return 400, _error("body must be JSON"), {}
    if not isinstance(req, dict):
        return 400, _error("body must be a JSON object"), {}
    name = models.tei if tail == "/predict" else req.get("model")
    if name not in models.scripts:
        return 404, _error(f"model '{name}' does not exist"), {}
    script, failures, latency = models.scripts[name]
    key = f"{name}:{tail}:" + hashlib.sha256(body).hexdigest()
    with server._lock:
        server.attempts[key] += 1
        attempt = server.attempts[key]
        server.by_model[name]["requests"] += 1
    wait = server.default_latency if latency is None else latency
    if wait:
        await asyncio.sleep(wait)
    fault = failures.faults.pick(key, attempt) if isinstance(failures.faults, FaultMix) else None
    if fault is not None:
        from .server import _fault

        with server._lock:
            server.by_model[name]["errors"] += 1
            server.injected.append((fault, key))
        return _fault(fault, failures.faults, name, key)
    if (failures.dead or attempt <= failures.first
            or (failures.always and uniform(key, "always") < failures.always)
            or (failures.rate and uniform(key, attempt, "fail") < failures.rate)):
        with server._lock:
            server.by_model[name]["errors"] += 1
        extra = {"Retry-After": f"{failures.retry_after:g}"} if failures.retry_after else {}
        return failures.status, _error("scripted failure"), extra
    reply = (_predict(script, req) if tail == "/predict" else
             _classify(script, req) if tail == "/classify" else _pooling(script, req))
    if reply[0] == 200:
        with server._lock:
            server.completed[key] += 1
            server.by_model[name]["completed"] += 1
            server.by_model[name]["texts"] += reply[2].pop("_n", 0)
    return reply[0], reply[1], {}


def _texts(raw: Any) -> list[str] | None:
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and raw and all(isinstance(t, str) for t in raw):
        return list(raw)
    return None


def _classify(script: RewardScript, req: dict[str, Any]) -> tuple[int, Any, dict[str, Any]]:
    texts = _texts(req.get("input"))
    if texts is None:
        return 400, _error("'input' must be a string or a list of strings"), {}
    raw = req.get("use_activation") is False
    data = []
    for i, text in enumerate(texts):
        values = script.logits(text)
        probs = values if raw else activate(values)
        best = max(range(len(probs)), key=probs.__getitem__)
        data.append({"index": i, "label": script.label_names()[best], "probs": probs,
                     "num_classes": len(probs)})
    return 200, {"id": "classify-scripted", "object": "list", "model": req.get("model"),
                 "data": data, "usage": _usage(texts)}, {"_n": len(texts)}


def _pooling(script: RewardScript, req: dict[str, Any]) -> tuple[int, Any, dict[str, Any]]:
    texts = _texts(req.get("input"))
    if texts is None:
        return 400, _error("'input' must be a string or a list of strings"), {}
    raw = req.get("use_activation") is False
    data = []
    for i, text in enumerate(texts):
        values = script.logits(text)
        head = values if raw else activate(values)
        out: Any = head
        if script.token_level:  # one output per whitespace token; the last is the reward
            n = max(1, len(text.split()))
            rows = [[uniform(script.seed, text, t) for _ in head] for t in range(n - 1)]
            rows.append(head)
            out = [r[0] for r in rows] if len(head) == 1 else rows
        data.append({"index": i, "object": "pooling", "data": out})
    return 200, {"id": "pool-scripted", "object": "list", "model": req.get("model"),
                 "data": data, "usage": _usage(texts)}, {"_n": len(texts)}


def _predict(script: RewardScript, req: dict[str, Any]) -> tuple[int, Any, dict[str, Any]]:
    """TEI: a string or a pair is one input; a list of lists is a batch (TEI's own rule)."""
    inputs = req.get("inputs")
    single = isinstance(inputs, str) or (isinstance(inputs, list) and inputs
                                         and all(isinstance(x, str) for x in inputs))
    batch = [inputs] if single else inputs
    if not isinstance(batch, list) or not batch:
        return 422, {"error": "`inputs` cannot be empty", "error_type": "validation"}, {}
    out = []
    for seq in batch:
        seq = [seq] if isinstance(seq, str) else seq
        if not (isinstance(seq, list) and 1 <= len(seq) <= 2
                and all(isinstance(s, str) for s in seq)):
            return 422, {"error": "an input is a string or a pair of strings",
                         "error_type": "validation"}, {}
        values = script.logits(seq[0], seq[1] if len(seq) == 2 else None)
        scores = values if req.get("raw_scores") else activate(values)
        ranked = sorted(zip(scores, script.label_names(), strict=True), reverse=True)
        out.append([{"score": s, "label": lb} for s, lb in ranked])  # TEI: best first
    return 200, out[0] if single else out, {"_n": len(batch)}


def _usage(texts: list[str]) -> dict[str, int]:
    n = sum(len(t.split()) for t in texts)
    return {"prompt_tokens": n, "total_tokens": n, "completion_tokens": 0}


def _error(message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error",
                      "code": "invalid_request_error"}}
