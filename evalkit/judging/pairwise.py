"""Pairwise LLM judging: one judge call per order, cached by content, re-asked once if the
verdict cannot be read."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..backends.base import Completion
from ..backends.checkpoints import client_for
from ..backends.stored import judgment_key
from ..config import JudgeConfig
from ..hashing import content_hash
from ..pools import PoolPrompt
from .parse import Verdict, parse_verdict, reask_message
from .templates import JudgeTemplate, load_template


@dataclass(frozen=True)
class JudgeCall:
    """The result of judging (prompt, first, second): a verdict about positions, or an error."""

    verdict: Verdict | None
    raw_output: str | None
    error: str | None = None
    reasked: bool = False
    latency: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    preference: float | None = None  # soft verdict: P(second shown is better)
    endpoint: str | None = None  # where a failed call failed (base URL, credentials masked)


class PairwiseJudge:
    def __init__(self, config: JudgeConfig, template: JudgeTemplate | None = None) -> None:
        self.config = config
        self.template = template or load_template(config.template)
        self.identity = config.identity(self.template.text_hash)
        self.spec_hash = content_hash(self.identity, 16)
        self.client = client_for(config.endpoint, f"judge '{config.name}'")
        self.failed_at: dict[str, str] = {}  # key of a failed judgment -> where it failed

    def key(self, prompt: PoolPrompt, first: str, second: str) -> str:
        """Cache key of one judgment: judge identity, prompt, reference and the two texts in
        the order shown."""
        return judgment_key(self.spec_hash, prompt, first, second)

    async def judge(self, prompt: PoolPrompt, first: str, second: str) -> JudgeCall:
        if self.template.multiturn:  # two whole conversations (evalkit/turns.py)
            from ..turns import conversation

            messages = self.template.render_pair(conversation(prompt, first),
                                                 conversation(prompt, second), prompt.reference)
        else:
            messages = self.template.render(prompt.messages, first, second, prompt.reference)
        params = self.config.sampling.request_params()
        if self.config.verdict == "logprobs":
            return self._noted(await self._soft(messages, params), prompt, first, second)
        done = await self.client.chat(messages, **params)
        if not done.ok:
            return self._noted(JudgeCall(None, None, error=done.error, latency=done.latency,
                                         endpoint=done.endpoint), prompt, first, second)
        verdict = parse_verdict(done.text or "", self.template.format)
        if verdict.is_valid or not self.config.reask_invalid:
            return _call(verdict, done)
        retry_messages = [*messages, {"role": "assistant", "content": done.text or ""},
                          {"role": "user", "content": reask_message(self.template.format)}]
        again = await self.client.chat(retry_messages, **params)
        if not again.ok:
            return _call(verdict, done)
        second_verdict = parse_verdict(again.text or "", self.template.format)
        raw = f"{done.text}\n\n--- re-asked ---\n\n{again.text}"
        return JudgeCall(second_verdict, raw, reasked=True,
                         latency=(done.latency or 0) + (again.latency or 0),
                         prompt_tokens=_add(done.prompt_tokens, again.prompt_tokens),
                         completion_tokens=_add(done.completion_tokens,
                                                again.completion_tokens))

    async def _soft(self, messages: list[dict[str, str]], params: dict) -> JudgeCall:
        """A soft verdict from the log-probabilities of the judge's one-token answer."""
        done = await self.client.chat(messages, **{**params, "max_tokens": 1, "logprobs": True,
                                                    "top_logprobs": 10})
        if not done.ok:
            return JudgeCall(None, None, error=done.error, latency=done.latency,
                             endpoint=done.endpoint)
        pref = preference_from_logprobs(done.first_token_logprobs or {})
        if pref is None:
            verdict = Verdict("invalid", 0)
        else:
            verdict = (Verdict("B", 1) if pref > 0.5 else Verdict("A", 1) if pref < 0.5
                       else Verdict("tie", 0))
        call = _call(verdict, done)
        return JudgeCall(call.verdict, call.raw_output, latency=call.latency,
                         prompt_tokens=call.prompt_tokens,
                         completion_tokens=call.completion_tokens, preference=pref)

    def _noted(self, call: JudgeCall, prompt: PoolPrompt, first: str, second: str
               ) -> JudgeCall:
        """Remember where a failed judgment failed (for the run's failure report)."""
        if call.error is not None and call.endpoint is not None:
            self.failed_at[self.key(prompt, first, second)] = call.endpoint
        return call

    async def aclose(self) -> None:
        await self.client.aclose()


def preference_from_logprobs(logprobs: dict[str, float]) -> float | None:
    """P(B) / (P(A) + P(B)) over the first token's alternatives ("A", " A", "a" … count as A);
    None when neither letter is among them."""
    mass = {"A": 0.0, "B": 0.0}
    for token, lp in logprobs.items():
        letter = token.strip().strip("[]*").upper()
        if letter in mass:
            mass[letter] += math.exp(lp)
    total = mass["A"] + mass["B"]
    return None if total <= 0 else mass["B"] / total


def _add(a: int | None, b: int | None) -> int | None:
    return None if a is None and b is None else (a or 0) + (b or 0)


def _call(verdict: Verdict, done: Completion) -> JudgeCall:
    return JudgeCall(verdict, done.text, latency=done.latency,
                     prompt_tokens=done.prompt_tokens, completion_tokens=done.completion_tokens)
