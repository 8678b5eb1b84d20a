"""What every backend returns: a ``Completion`` — a response or an error, never an exception."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Completion:
    text: str | None
    error: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency: float | None = None
    attempts: int = 1
    first_token_logprobs: dict[str, float] | None = None  # token -> logprob, when requested
    endpoint: str | None = None  # the base URL of the last attempt (credentials masked)

    @property
    def ok(self) -> bool:
        return self.error is None
