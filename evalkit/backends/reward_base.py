"""What a reward-model backend takes and returns, and how a conversation becomes its input.

A backend scores one batch: ``await backend.score([RewardInput, …])`` returns one
``RewardScore`` per input, in order — a raw score (no sigmoid, no softmax) or an error, never
an exception for endpoint trouble (a configuration problem, such as a multi-logit head with
no ``label_index``, raises ``ConfigError``). Backends: ``reward_hf.HFRewardModel`` (local
transformers), ``reward_http.VLLMRewardModel`` and ``reward_http.TEIRewardModel``
(servers, on the chat client's retry, balancing and timeout machinery).

Inputs (docs/reward-models.md):

* ``input = "chat"``: the prompt's conversation with the response as the last assistant
  turn, rendered by the tokenizer's chat template (``chat_format = "template"``) or as an
  HH-RLHF transcript (``"hh"``: ``\\n\\nHuman: …\\n\\nAssistant: …``);
* ``input = "pair"``: a text pair (question, answer) — the question is the prompt (its
  earlier turns as an HH transcript) and the answer the response.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..reward.spec import RewardModelConfig

_HH_ROLES = {"user": "Human", "assistant": "Assistant"}


@dataclass(frozen=True)
class RewardInput:
    """One thing to score: a prompt (messages ending with a user turn) and a response."""

    messages: tuple[dict[str, Any], ...]
    response: str

    def conversation(self) -> list[dict[str, Any]]:
        return [*({"role": m["role"], "content": m["content"]} for m in self.messages),
                {"role": "assistant", "content": self.response}]

    def question(self) -> str:
        """The question of a text pair: a single user turn as it is; a longer conversation
        (or one with a system turn) as an HH transcript of its turns."""
        if len(self.messages) == 1 and self.messages[0].get("role") == "user":
            return str(self.messages[0]["content"])
        return render_hh(self.messages).lstrip("\n")


@dataclass(frozen=True)
class RewardScore:
    """A raw score, or why there is none."""

    score: float | None
    error: str | None = None
    latency: float | None = None  # seconds of the request (or forward pass) that scored it
    attempts: int = 1
    endpoint: str | None = None  # the base URL of the last attempt (credentials masked)

    @property
    def ok(self) -> bool:
        return self.error is None


class RewardBackend(Protocol):
    config: RewardModelConfig

    async def score(self, inputs: Sequence[RewardInput]) -> list[RewardScore]: ...

    async def aclose(self) -> None: ...


def render_hh(messages: Sequence[dict[str, Any]], response: str | None = None) -> str:
    """``\\n\\nHuman: …\\n\\nAssistant: …`` (HH-RLHF's transcript format); a system turn
    comes first as plain text; with ``response`` the transcript ends with it."""
    parts = []
    for m in messages:
        role = _HH_ROLES.get(str(m.get("role")))
        content = str(m.get("content", ""))
        parts.append(content if role is None else f"\n\n{role}: {content}")
    if response is not None:
        parts.append(f"\n\nAssistant: {response}")
    return "".join(parts)


def pick_reward(values: Sequence[float], config: RewardModelConfig, where: str) -> float:
    """The reward among a head's outputs: the only one, or the configured ``label_index``;
    a multi-logit head without one is a configuration error (never guessed)."""
    if config.label_index is not None:
        if config.label_index >= len(values):
            raise ConfigError(f"reward model '{config.name}': label_index {config.label_index}"
                              f" but {where} has {len(values)} output(s)")
        return float(values[config.label_index])
    if len(values) != 1:
        raise ConfigError(f"reward model '{config.name}': {where} has {len(values)} outputs; "
                          "set label_index (which logit is the reward) in "
                          f"[reward_models.{config.name}]")
    return float(values[0])


def need_hf(config: RewardModelConfig, *modules: str) -> None:
    """One line naming the extra when torch or transformers is missing."""
    from importlib.util import find_spec

    for module in modules:
        if find_spec(module) is None:
            raise ConfigError(f"reward model '{config.name}' (backend {config.backend}) needs "
                              f"{module}: pip install 'evalkit[hf]'")


def make_reward_backend(config: RewardModelConfig) -> RewardBackend:
    """The backend of a configured reward model (heavy imports happen here, not before)."""
    if config.backend == "hf":
        from .reward_hf import HFRewardModel

        return HFRewardModel(config)
    from .reward_http import TEIRewardModel, VLLMRewardModel

    if config.backend == "vllm":
        return VLLMRewardModel(config)
    return TEIRewardModel(config)
