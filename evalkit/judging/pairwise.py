"""Pairwise LLM judging: one judge call per order, cached by content, re-asked once if the
verdict cannot be read."""

from __future__ import annotations

from dataclasses import dataclass

from ..backends.base import Completion
from ..backends.openai_chat import ChatClient
from ..backends.retry import RetryPolicy
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


class PairwiseJudge:
    def __init__(self, config: JudgeConfig, template: JudgeTemplate | None = None) -> None:
        self.config = config
        self.template = template or load_template(config.template)
        self.identity = config.identity(self.template.text_hash)
        self.spec_hash = content_hash(self.identity, 16)
        ep = config.endpoint
        self.client = ChatClient(ep.base_url, ep.model,
                                 api_key=ep.api_key(f"judge '{config.name}'"),
                                 max_concurrency=ep.max_concurrency, timeout=ep.timeout,
                                 retry=RetryPolicy(max_retries=ep.max_retries))

    def key(self, prompt: PoolPrompt, first: str, second: str) -> str:
        """Cache key of one judgment: judge identity, prompt, reference and the two texts in
        the order shown."""
        return judgment_key(self.spec_hash, prompt, first, second)

    async def judge(self, prompt: PoolPrompt, first: str, second: str) -> JudgeCall:
        messages = self.template.render(prompt.messages, first, second, prompt.reference)
        params = self.config.sampling.request_params()
        done = await self.client.chat(messages, **params)
        if not done.ok:
            return JudgeCall(None, None, error=done.error, latency=done.latency)
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

    async def aclose(self) -> None:
        await self.client.aclose()


def _add(a: int | None, b: int | None) -> int | None:
    return None if a is None and b is None else (a or 0) + (b or 0)


def _call(verdict: Verdict, done: Completion) -> JudgeCall:
    return JudgeCall(verdict, done.text, latency=done.latency,
                     prompt_tokens=done.prompt_tokens, completion_tokens=done.completion_tokens)
