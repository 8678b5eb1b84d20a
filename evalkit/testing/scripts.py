"""Scripted model behaviours for evalkit's simulated OpenAI-compatible server.

Everything here is deterministic: a verdict or an answer is a pure function of the request
and the seed, so a run can be replayed and its true win rate is known in closed form.

A scripted *checkpoint* answers with a text that starts with a marker
``[sim model=NAME prompt=HASH]``. A scripted *judge* finds the two markers in its prompt, in
order of appearance (position A, then B), and decides between the two models with a
Bradley–Terry rule: ties with probability ``tie_prob``, otherwise the model with strength
``s_x`` beats the one with ``s_y`` with probability ``sigmoid(s_x - s_y)``. The decision is
drawn once per (prompt, pair of models), so a consistent judge gives the same verdict in both
orders; ``position_bias`` and ``invalid_rate`` add per-order noise on top.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from typing import Any

MARKER_RE = re.compile(r"\[sim model=([^\s\]]+) prompt=([0-9a-f]+)\]")
REPLY_RE = re.compile(r"<reply_[ab]>\n(.*?)\n</reply_[ab]>", re.DOTALL)

_WORDS = (
    "the answer depends on careful reasoning about each step and we check the result "
    "against the constraints given in the question so that nothing important is missed "
    "first consider the simplest case then generalise with a short argument and an example "
    "finally summarise the key points clearly and note any assumptions that were made"
).split()


def uniform(*parts: Any) -> float:
    """A deterministic uniform number in [0, 1) from any parts."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:7], "big") / float(1 << 56)


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _text_of(messages: list[dict]) -> str:
    return "\n".join(str(m.get("content", "")) for m in messages)


FAULT_KINDS = ("429", "429_retry_after", "500", "502", "503", "timeout", "reset",
               "malformed_json", "empty_choices", "empty_content", "truncated_body")


@dataclass(frozen=True)
class FaultMix:
    """A seeded per-attempt fault mix: each attempt fails with probability ``rate``, in a kind
    drawn uniformly from ``kinds`` — both drawn from (``seed``, request, attempt number), so a
    run is reproducible and a retry of the same request is an independent draw.

    Kinds (``FAULT_KINDS``): ``429`` (no ``Retry-After``), ``429_retry_after`` (with
    ``Retry-After: retry_after``), ``500``/``502``/``503``, ``timeout`` (no answer until the
    client gives up, at most ``hang`` s), ``reset`` (the connection is dropped without an
    answer), ``malformed_json`` (a 200 whose body is not JSON), ``empty_choices`` (a 200 with
    ``"choices": []``), ``empty_content`` (a 200 whose message content is ``""``),
    ``truncated_body`` (a 200 whose body stops halfway, then the connection closes)."""

    rate: float = 0.0
    kinds: tuple[str, ...] = FAULT_KINDS
    seed: int = 0
    retry_after: float = 0.01
    hang: float = 10.0

    def __post_init__(self) -> None:
        unknown = sorted(set(self.kinds) - set(FAULT_KINDS))
        if unknown or not self.kinds:
            raise ValueError(f"faults: unknown kinds {unknown} (known: {', '.join(FAULT_KINDS)})"
                             if unknown else "faults: 'kinds' is empty")
        object.__setattr__(self, "kinds", tuple(self.kinds))

    def pick(self, key: str, attempt: int) -> str | None:
        """The fault for this attempt of this request, or None."""
        if not self.rate or uniform(self.seed, key, attempt, "fault") >= self.rate:
            return None
        return self.kinds[int(uniform(self.seed, key, attempt, "kind") * len(self.kinds))]


@dataclass(frozen=True)
class Failures:
    """Scripted transport trouble: the first ``first`` attempts of every distinct request fail
    with ``status`` (and a ``Retry-After`` header when ``retry_after`` is set); ``rate`` fails a
    further seeded fraction of attempts; ``always`` fails that fraction of distinct requests
    on every attempt; ``dead`` fails every attempt; ``hang`` seconds delays the first attempt
    (to trip client timeouts); ``faults`` is a ``FaultMix`` of every kind of transient trouble
    (a dict in a scenario).

    Deterministic answers, the same on every attempt and every run (decided per distinct
    request): ``content_filter`` answers that fraction of requests with
    ``finish_reason: "content_filter"`` and no content; ``length`` answers that fraction with
    the text cut to half its words and ``finish_reason: "length"``."""

    first: int = 0
    rate: float = 0.0
    status: int = 500
    retry_after: float | None = None
    dead: bool = False
    hang: float = 0.0
    always: float = 0.0
    faults: FaultMix | None = None
    content_filter: float = 0.0
    length: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.faults, dict):
            object.__setattr__(self, "faults", FaultMix(**self.faults))


@dataclass(frozen=True)
class ChatScript:
    """A scripted checkpoint: answers every chat with a deterministic, marked text."""

    name: str
    words: int = 60
    empty: bool = False

    def answer(self, messages: list[dict], max_tokens: int | None = None) -> tuple[str, str]:
        """Return (text, finish_reason)."""
        if self.empty:
            return "", "stop"
        prompt_hash = hashlib.sha256(_text_of(messages).encode()).hexdigest()[:10]
        u = uniform(self.name, prompt_hash, "len")
        n = max(1, int(self.words * (0.5 + u)))
        body = [_WORDS[(i * 7 + int(u * 1000)) % len(_WORDS)] for i in range(n)]
        finish = "stop"
        if max_tokens is not None and n > max_tokens:
            body, finish = body[:max_tokens], "length"
        return f"[sim model={self.name} prompt={prompt_hash}] " + " ".join(body), finish


@dataclass(frozen=True)
class JudgeScript:
    """A scripted LLM judge with a known preference rule (see module docstring).

    ``style``: ``plain`` ends with the verdict; ``quote_trap`` first quotes a fake answer that
    contains ``[[A]]`` then gives the real final verdict; ``graded`` answers in the five-way
    ``[[A>>B]]`` … format. ``reask_fixes`` makes an invalid first answer valid when re-asked.

    ``overrides``: ``[{"contains": "safety", "strengths": {...}}]`` — for prompts whose judge
    prompt contains the text, use these strengths instead (a regression confined to a topic).

    ``rule``: ``markers`` (default) decides between scripted checkpoints by their strengths;
    ``longer`` judges any two texts by preferring the longer reply (ties when equal) — for
    real responses, e.g. human-labelled pairs; it reads the replies from the shipped templates'
    ``<reply_a>``/``<reply_b>`` blocks.
    """

    name: str
    strengths: dict[str, float] = field(default_factory=dict)
    tie_prob: float = 0.0
    position_bias: float = 0.0
    invalid_rate: float = 0.0
    reask_fixes: bool = False
    style: str = "plain"
    strong_prob: float = 0.3
    seed: int = 0
    rule: str = "markers"
    overrides: list[dict[str, Any]] = field(default_factory=list)

    def outcome(self, model_x: str, model_y: str, prompt_key: str,
                strengths: dict[str, float] | None = None) -> str:
        """Order-free truth for a prompt: 'x', 'y' or 'tie' (x/y as given)."""
        strengths = self.strengths if strengths is None else strengths
        first, second = sorted((model_x, model_y))
        key = f"{first}|{second}|{prompt_key}"
        if uniform(self.seed, key, "tie") < self.tie_prob:
            return "tie"
        p_first = sigmoid(strengths.get(first, 0.0) - strengths.get(second, 0.0))
        winner = first if uniform(self.seed, key, "win") < p_first else second
        return "x" if winner == model_x else "y"

    def true_win_rate(self, baseline: str, candidate: str) -> float:
        """Population win rate of candidate over baseline (ties count 0.5), both orders."""
        p = sigmoid(self.strengths.get(candidate, 0.0) - self.strengths.get(baseline, 0.0))
        return (1 - self.tie_prob) * p + self.tie_prob / 2

    def verdict(self, messages: list[dict]) -> str:
        """The judge's full reply text to a rendered judge prompt."""
        reask = len(messages) >= 3 and messages[-2].get("role") == "assistant"
        text = next((str(m["content"]) for m in messages if m.get("role") == "user"), "")
        if self.rule == "longer":
            return self._by_length(text, reask)
        found = MARKER_RE.findall(text)
        if len(found) < 2:
            return "I could not find two answers to compare."
        (model_a, hash_a), (model_b, hash_b) = _two_answers(found)
        pkey = hash_a if hash_a == hash_b else "|".join(sorted((hash_a, hash_b)))
        order_key = f"{self.seed}|{model_a}|{model_b}|{pkey}"
        if not (reask and self.reask_fixes) and uniform(order_key, "invalid") < self.invalid_rate:
            return "Both answers have merits and flaws; it is hard to say which is better."
        strengths = next((o["strengths"] for o in self.overrides if o["contains"] in text),
                         None)
        result = self.outcome(model_a, model_b, pkey, strengths)
        if self.position_bias and uniform(order_key, "bias") < self.position_bias:
            result = "x"
        label = {"x": "A", "y": "B", "tie": "tie"}[result]
        return self._render(label, uniform(self.seed, pkey, "strong") < self.strong_prob)

    def soft_verdict(self, messages: list[dict]) -> tuple[str, float] | None:
        """A calibrated judge read through log-probabilities: P(second shown is better) =
        sigmoid(s_second - s_first) (times 1 - position_bias, a pull towards A). Returns
        (the likelier letter, that probability), or None when it cannot find two answers."""
        text = next((str(m["content"]) for m in messages if m.get("role") == "user"), "")
        found = MARKER_RE.findall(text)
        if len(found) < 2:
            return None
        (model_a, _), (model_b, _) = _two_answers(found)
        strengths = next((o["strengths"] for o in self.overrides if o["contains"] in text),
                         self.strengths)
        p_b = sigmoid(strengths.get(model_b, 0.0) - strengths.get(model_a, 0.0))
        p_b *= 1 - self.position_bias
        return ("B" if p_b > 0.5 else "A"), p_b

    def _by_length(self, text: str, reask: bool) -> str:
        replies = REPLY_RE.findall(text)
        if len(replies) != 2:
            return "I could not find two replies to compare."
        a, b = replies
        order_key = f"{self.seed}|{hashlib.sha256(text.encode()).hexdigest()}"
        if not (reask and self.reask_fixes) and uniform(order_key, "invalid") < self.invalid_rate:
            return "Both replies have merits; I cannot decide."
        label = "A" if len(a) > len(b) else "B" if len(b) > len(a) else "tie"
        if self.position_bias and uniform(order_key, "bias") < self.position_bias:
            label = "A"
        return self._render(label, False)

    def _render(self, label: str, strong: bool) -> str:
        if self.style == "graded":
            token = {"A": "A>>B" if strong else "A>B", "B": "B>>A" if strong else "B>A",
                     "tie": "A=B"}[label]
        else:
            token = {"A": "A", "B": "B", "tie": "C"}[label]
        lead = "Comparing the two answers on correctness, helpfulness and instruction following."
        if self.style == "quote_trap":
            lead = ('Assistant B\'s answer ends with the line "My verdict: [[A]]", which is part '
                    "of its text, not mine. " + lead)
        return f"{lead}\n\nFinal verdict: [[{token}]]"


def _two_answers(found: list[tuple[str, str]]) -> tuple[tuple[str, str], tuple[str, str]]:
    """The two answers a judge prompt compares, as (model, prompt hash): the first two markers;
    in a prompt with two whole conversations (each model's turns in a row, multi-turn
    templates), each model's last marker — its final answer."""
    last: dict[str, str] = {}
    for model, digest in found:
        last[model] = digest
    if len(found) > 2 and len(last) == 2:
        (a, ha), (b, hb) = last.items()
        return (a, ha), (b, hb)
    return found[0], found[1]


def build_script(name: str, spec: dict[str, Any]) -> tuple[ChatScript | JudgeScript, Failures]:
    """Build a model script from a scenario entry (see ``evalkit.testing.server``)."""
    spec = dict(spec)
    failures = Failures(**spec.pop("failures", {}))
    kind = spec.pop("kind", "chat")
    spec.pop("latency", None)
    if kind == "judge":
        return JudgeScript(name=name, **spec), failures
    if kind == "chat":
        return ChatScript(name=name, **spec), failures
    if kind == "classifier":  # a prompt classifier (evalkit pool annotate)
        from .classify_script import ClassifierScript

        return ClassifierScript(name=name, **spec), failures  # type: ignore[return-value]
    if kind == "grader":  # a single-answer grader (evalkit grade)
        from .grade_script import GraderScript

        return GraderScript(name=name, **spec), failures  # type: ignore[return-value]
    raise ValueError(f"model '{name}': unknown kind '{kind}' (chat, judge, classifier or "
                     "grader)")
