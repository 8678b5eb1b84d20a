"""A local reward model: a transformers ``AutoModelForSequenceClassification`` (the ``hf``
extra: ``pip install 'evalkit[hf]'``; torch and transformers are imported here only).

* Chat reward models get the conversation through the tokenizer's chat template
  (``apply_chat_template(..., tokenize=False)``), tokenized with ``add_special_tokens=False``
  so the BOS the template writes is the only one; ``chat_format = "hh"`` renders an HH-RLHF
  transcript instead, tokenized with the tokenizer's special tokens.
* Question/answer reward models (``input = "pair"``) get a text pair.
* ``max_length`` truncation keeps the response: a chat text loses its oldest tokens
  (``truncation_side = "left"``); a pair loses the start of its question first
  (``only_first``), and only an answer longer than the budget by itself is cut too.
* Batches of ``batch_size`` texts, padded on the right, one forward pass at a time in a
  worker thread; the score is the raw logit (no sigmoid, no softmax). A head with several
  outputs needs ``label_index`` — it is never guessed.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from .reward_base import RewardInput, RewardScore, need_hf, pick_reward, render_hh

if TYPE_CHECKING:
    from ..reward.spec import RewardModelConfig


class HFRewardModel:
    def __init__(self, config: RewardModelConfig) -> None:
        need_hf(config, "torch", "transformers")
        self.config = config
        self.model: Any = None
        self.tokenizer: Any = None
        self.device = "cpu"
        self._inputs: set[str] = set()
        self._lock = asyncio.Lock()

    # ---- loading ------------------------------------------------------------------------
    def load(self) -> None:
        """Load the tokenizer and model once (a bad folder is a one-line ConfigError)."""
        if self.model is not None:
            return
        import torch
        import transformers
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        c = self.config
        assert c.path is not None  # required for backend hf (reward/spec.py)
        who = f"reward model '{c.name}' ({c.path})"
        major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
        dtype_key = "dtype" if (major, minor) >= (4, 56) else "torch_dtype"
        dtype = "auto" if c.dtype == "auto" else getattr(torch, c.dtype)
        try:
            tokenizer = AutoTokenizer.from_pretrained(c.path)
            model = AutoModelForSequenceClassification.from_pretrained(
                c.path, **{dtype_key: dtype})
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(f"{who}: cannot load it as a sequence-classification model: "
                              f"{' '.join(str(exc).split())[:240]}") from None
        labels = int(model.config.num_labels)
        if labels > 1 and c.label_index is None:
            raise ConfigError(f"{who}: its head has {labels} outputs; set label_index (which "
                              f"logit is the reward) in [reward_models.{c.name}]")
        if c.label_index is not None and c.label_index >= labels:
            raise ConfigError(f"{who}: label_index {c.label_index} but its head has "
                              f"{labels} output(s)")
        if c.input == "chat" and c.chat_format == "template" and not getattr(
                tokenizer, "chat_template", None):
            raise ConfigError(f"{who}: its tokenizer has no chat template; set chat_format = "
                              "'hh' or input = 'pair'")
        if tokenizer.pad_token is None:  # batches need padding; the pad is masked out
            tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
        if model.config.pad_token_id is None:
            model.config.pad_token_id = tokenizer.pad_token_id
        tokenizer.padding_side = "right"
        tokenizer.truncation_side = "left"
        device = c.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = device
        model.to(device)
        model.eval()
        self._inputs = set(inspect.signature(model.forward).parameters)
        self.tokenizer, self.model = tokenizer, model

    # ---- encoding -------------------------------------------------------------------------
    def texts(self, inputs: Sequence[RewardInput]) -> list[str]:
        """The texts of chat inputs, as the model reads them."""
        self.load()
        if self.config.chat_format == "hh":
            return [render_hh(i.messages, i.response) for i in inputs]
        return [str(self.tokenizer.apply_chat_template(i.conversation(), tokenize=False))
                for i in inputs]

    def encode(self, inputs: Sequence[RewardInput]) -> Any:
        """The padded batch for ``inputs`` (a ``BatchEncoding`` of tensors)."""
        self.load()
        c, tok = self.config, self.tokenizer
        common: dict[str, Any] = {"padding": True, "return_tensors": "pt"}
        if c.max_length is not None:
            common.update(truncation=True, max_length=c.max_length)
        if c.input == "pair":
            questions = [i.question() for i in inputs]
            answers = [i.response for i in inputs]
            if c.max_length is None:
                return tok(questions, answers, **common)
            try:
                return tok(questions, answers, **{**common, "truncation": "only_first"})
            except Exception:  # an answer longer than the budget: cut both, longest first
                return tok(questions, answers, **{**common, "truncation": "longest_first"})
        return tok(self.texts(inputs), add_special_tokens=c.chat_format == "hh", **common)

    def forward(self, inputs: Sequence[RewardInput]) -> list[float]:
        """Raw rewards of one batch (no activation)."""
        import torch

        enc = self.encode(inputs)
        batch = {k: v.to(self.device) for k, v in enc.items() if k in self._inputs}
        with torch.inference_mode():
            logits = self.model(**batch).logits.float().cpu()
        where = f"the model's head ({self.config.path})"
        return [pick_reward(row.tolist(), self.config, where) for row in logits]

    # ---- the backend protocol ---------------------------------------------------------------
    async def score(self, inputs: Sequence[RewardInput]) -> list[RewardScore]:
        async with self._lock:  # one forward pass at a time; the others queue
            await asyncio.to_thread(self.load)
            start = time.perf_counter()
            try:
                values = await asyncio.to_thread(self.forward, inputs)
            except ConfigError:
                raise
            except Exception as exc:  # e.g. out of memory: failed rows, retried next run
                why = " ".join(str(exc).split())[:240]
                error = f"forward pass failed: {type(exc).__name__}: {why}"
                return [RewardScore(None, error=error)] * len(inputs)
        took = time.perf_counter() - start
        return [RewardScore(v, latency=took) for v in values]

    async def aclose(self) -> None:
        return None
