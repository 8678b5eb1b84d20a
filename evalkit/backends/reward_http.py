"""Reward models behind a server: vLLM's pooling endpoints and text-embeddings-inference.

Both ride on ``ChatClient.send`` — the retries with backoff, ``Retry-After``, replicas with
least-outstanding balancing and circuit breakers, the per-request timeout and the concurrency
budget that chat completions use — and send ``batch_size`` texts per request. Requests
(docs/reward-models.md, "Request shapes"):

* vLLM ``POST /classify``: ``{"model", "input": [text, …], "use_activation": false}`` →
  ``{"data": [{"index", "label", "probs": [logit, …], "num_classes"}]}``; with
  ``use_activation: false`` the "probs" are the head's raw logits.
* vLLM ``POST /pooling``: ``{"model", "input": [text, …], "task": "classify",
  "use_activation": false}`` → ``{"data": [{"index", "data": [...]}]}``; a token-level
  reward model (``token_level = true``, task ``token_classify``) answers one value (or one
  row) per token and the last token's is the reward.
* TEI ``POST /predict``: ``{"inputs": [[text], …] or [[question, answer], …],
  "raw_scores": true, "truncate": true, "truncation_direction": "Left"}`` →
  ``[[{"score", "label"}, …], …]`` (without ``raw_scores`` TEI applies a sigmoid or a
  softmax; it sorts each input's labels by score, so a multi-label head is read by ``label``).

Text is rendered here (``chat_format``); with a chat template that already carries the BOS
token, vLLM is told ``add_special_tokens: false`` and TEI gets the text without that BOS (it
always adds its own), so there is never a double BOS. ``max_length`` truncates from the left
(vLLM ``truncate_prompt_tokens`` with ``truncation_side: "left"``), keeping the response.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from .balancer import BreakerPolicy
from .openai_chat import ChatClient
from .retry import RetryPolicy
from .reward_base import RewardInput, RewardScore, need_hf, pick_reward, render_hh

if TYPE_CHECKING:
    from ..reward.spec import RewardModelConfig


class _ServerRewardModel:
    path = ""

    def __init__(self, config: RewardModelConfig) -> None:
        self.config = config
        ep = config.endpoint
        self.client = ChatClient(list(config.urls), ep.model,
                                 api_key=ep.api_key(f"reward model '{config.name}'"),
                                 max_concurrency=ep.max_concurrency, timeout=ep.timeout,
                                 retry=RetryPolicy(max_retries=ep.max_retries,
                                                   base=ep.retry_base),
                                 breaker=BreakerPolicy())
        self._tokenizer: Any = None
        self.bos: str | None = None  # the BOS text a chat template puts first, if any
        if config.input == "chat" and config.chat_format == "template":
            need_hf(config, "transformers")
            from transformers import AutoTokenizer

            assert config.tokenizer is not None
            try:
                self._tokenizer = AutoTokenizer.from_pretrained(config.tokenizer)
            except (OSError, ValueError) as exc:
                raise ConfigError(f"reward model '{config.name}': cannot load tokenizer "
                                  f"'{config.tokenizer}': {' '.join(str(exc).split())[:200]}"
                                  ) from None
            if not getattr(self._tokenizer, "chat_template", None):
                raise ConfigError(f"reward model '{config.name}': tokenizer "
                                  f"'{config.tokenizer}' has no chat template; set "
                                  "chat_format = 'hh'")
            self.bos = getattr(self._tokenizer, "bos_token", None)

    @property
    def replicas(self) -> Any:
        return self.client.replicas

    def text(self, item: RewardInput) -> str:
        """The one text of a chat input."""
        if self.config.chat_format == "hh":
            return render_hh(item.messages, item.response)
        return str(self._tokenizer.apply_chat_template(item.conversation(), tokenize=False))

    def _bos_in_text(self) -> bool:
        return self.config.chat_format == "template" and bool(self.bos)

    async def score(self, inputs: Sequence[RewardInput]) -> list[RewardScore]:
        n = len(inputs)
        body = json.dumps(self.body(inputs)).encode()
        took: list[float] = []

        def parse(raw: bytes, latency: float, attempts: int) -> tuple[Any, str | None]:
            took.append(latency)
            try:
                return self.outputs(json.loads(raw), n), None
            except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
                shown = " ".join(raw[:200].decode("utf-8", "replace").split())
                return None, f"malformed response ({exc}): {shown or 'empty body'}"

        outputs, error, attempts, shown = await self.client.send(self.path, body, parse)
        if outputs is None:
            return [RewardScore(None, error=error, attempts=attempts, endpoint=shown)] * n
        where = f"the answer of {shown}{self.path}"
        latency = took[-1] if took else None
        return [RewardScore(self.pick(o, where), latency=latency, attempts=attempts,
                            endpoint=shown) for o in outputs]

    def body(self, inputs: Sequence[RewardInput]) -> dict[str, Any]:
        raise NotImplementedError

    def outputs(self, data: Any, n: int) -> list[Any]:
        raise NotImplementedError

    def pick(self, output: Any, where: str) -> float:
        raise NotImplementedError

    async def aclose(self) -> None:
        await self.client.aclose()


class VLLMRewardModel(_ServerRewardModel):
    """A vLLM pooling server (``vllm serve MODEL --runner pooling``): ``/classify`` or
    ``/pooling``."""

    def __init__(self, config: RewardModelConfig) -> None:
        super().__init__(config)
        self.path = "/" + config.api

    def body(self, inputs: Sequence[RewardInput]) -> dict[str, Any]:
        c = self.config
        body: dict[str, Any] = {"model": c.endpoint.model,
                                "input": [self.text(i) for i in inputs],
                                "use_activation": False}
        if c.api == "pooling":
            body["task"] = "token_classify" if c.token_level else "classify"
        if self._bos_in_text():
            body["add_special_tokens"] = False
        if c.max_length is not None:
            body.update(truncate_prompt_tokens=c.max_length, truncation_side="left")
        return body

    def outputs(self, data: Any, n: int) -> list[Any]:
        rows = sorted(data["data"], key=lambda r: int(r["index"]))
        if [int(r["index"]) for r in rows] != list(range(n)):
            raise ValueError(f"expected {n} results indexed 0..{n - 1}")
        key = "probs" if self.config.api == "classify" else "data"
        out = []
        for r in rows:
            values = r[key]
            if not isinstance(values, list) or not values:
                raise ValueError(f"'{key}' is not a non-empty list")
            out.append(values)
        return out

    def pick(self, output: Any, where: str) -> float:
        if isinstance(output[0], list):  # one row per token: the last token's row
            return pick_reward(output[-1], self.config, where + " (last token)")
        if self.config.token_level:  # one value per token: the last one
            return float(output[-1])
        return pick_reward(output, self.config, where)


class TEIRewardModel(_ServerRewardModel):
    """text-embeddings-inference serving a sequence-classification model: ``/predict``."""

    path = "/predict"

    def body(self, inputs: Sequence[RewardInput]) -> dict[str, Any]:
        if self.config.input == "pair":
            batch = [[i.question(), i.response] for i in inputs]
        else:
            texts = [self.text(i) for i in inputs]
            if self._bos_in_text():  # TEI adds its own BOS
                texts = [t[len(self.bos or ""):] if t.startswith(self.bos or "\0") else t
                         for t in texts]
            batch = [[t] for t in texts]  # a list of lists is always a batch to TEI
        return {"inputs": batch, "raw_scores": True, "truncate": True,
                "truncation_direction": "Left"}

    def outputs(self, data: Any, n: int) -> list[Any]:
        if not isinstance(data, list) or len(data) != n:
            raise ValueError(f"expected a list of {n} predictions")
        out = []
        for preds in data:
            if not isinstance(preds, list) or not preds:
                raise ValueError("a prediction is not a non-empty list")
            out.append({str(p["label"]): float(p["score"]) for p in preds})
        return out

    def pick(self, output: Any, where: str) -> float:
        label = self.config.label
        if label is not None:
            if label not in output:
                raise ConfigError(f"reward model '{self.config.name}': label '{label}' is not "
                                  f"among the labels of {where} ({', '.join(sorted(output))})")
            return output[label]
        if len(output) != 1:
            raise ConfigError(f"reward model '{self.config.name}': {where} has "
                              f"{len(output)} labels ({', '.join(sorted(output))}); set "
                              f"label = NAME (the reward) in [reward_models.{self.config.name}]")
        return next(iter(output.values()))
