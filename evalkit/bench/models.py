"""How a checkpoint answers lm-eval: which lm-eval model serves which request kind.

- ``backend = "openai"``: generation through the chat endpoint (lm-eval's
  ``local-chat-completions``, chat template applied by the server); log-likelihood only with a
  ``completions_url`` (``local-completions`` on ``/v1/completions`` with ``echo`` and
  ``logprobs``, lm-eval sums the continuation's ``token_logprobs``). Its tokenizer is the
  server's own by default (``tokenizer = "remote"``: ``/tokenizer_info``, ``/tokenize``,
  ``/detokenize`` as vLLM serves them with ``--enable-tokenizer-info-endpoint``), so nothing is
  downloaded. A chat endpoint cannot score a continuation: lm-eval raises for log-likelihood
  there, so evalkit says so before it starts.
- ``backend = "hf"``: a local Hugging Face model (``path``) for everything, with the ``hf``
  extra (torch, transformers, accelerate) installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.util import find_spec
from typing import Any

from ..config import CheckpointConfig
from ..errors import ConfigError

LOGLIKELIHOOD_TYPES = ("multiple_choice", "loglikelihood", "loglikelihood_rolling")


@dataclass(frozen=True)
class Modes:
    """The lm-eval model mode for generation and for log-likelihood (None: cannot)."""

    checkpoint: str
    generate: str | None
    loglikelihood: str | None

    def for_output(self, output_type: str | None) -> str | None:
        if output_type in LOGLIKELIHOOD_TYPES:
            return self.loglikelihood
        return self.generate

    def why_not(self, output_type: str | None) -> str:
        return (f"{output_type} needs log-likelihoods, which a chat endpoint cannot give; set "
                f"completions_url (an OpenAI-compatible /v1 with /v1/completions) in "
                f"[checkpoints.{self.checkpoint}]")


def modes_for(ckpt: CheckpointConfig) -> Modes:
    if ckpt.backend == "hf":
        return Modes(ckpt.name, "hf", "hf")
    if ckpt.backend == "openai":
        return Modes(ckpt.name, "chat", "completions" if ckpt.completions_url else None)
    raise ConfigError(f"checkpoint '{ckpt.name}' (backend {ckpt.backend}) has no model to "
                      "run benchmarks on; use backend 'openai' (an endpoint) or 'hf' (a local "
                      "model)")


def _auth(ckpt: CheckpointConfig) -> tuple[str | None, dict[str, str]]:
    key = ckpt.endpoint.api_key(ckpt.name)
    return key, ({"Authorization": f"Bearer {key}"} if key else {"User-Agent": "evalkit"})


def _common(ckpt: CheckpointConfig) -> dict[str, Any]:
    ep = ckpt.endpoint
    return {"model": ep.model, "num_concurrent": max(1, ep.max_concurrency),
            "max_retries": ep.max_retries + 1, "timeout": max(1, int(ep.timeout))}


def make_lm(ckpt: CheckpointConfig, mode: str) -> Any:
    """The lm-eval model of ``mode`` for ``ckpt`` (built on first need: see cache.CachedLM)."""
    from lm_eval.api.registry import get_model

    if mode == "chat":
        key, header = _auth(ckpt)
        return get_model("local-chat-completions")(
            base_url=ckpt.endpoint.urls[0].rstrip("/") + "/chat/completions",
            tokenizer_backend=None, tokenized_requests=False, header=header,
            **_common(ckpt))
    if mode == "completions":
        assert ckpt.completions_url is not None
        key, header = _auth(ckpt)
        tokenizer = ckpt.tokenizer or "remote"
        extra: dict[str, Any] = {"tokenizer_backend": "remote"}
        if tokenizer != "remote":
            _need("transformers", f"tokenizer = '{tokenizer}' of checkpoint '{ckpt.name}'")
            extra = {"tokenizer_backend": "huggingface", "tokenizer": tokenizer}
        return get_model("local-completions")(
            base_url=ckpt.completions_url + "/completions", auth_token=key, header=header,
            **extra, **_common(ckpt))
    if mode == "hf":
        for module in ("torch", "transformers", "accelerate"):  # lm-eval's hf model
            _need(module, f"backend 'hf' of checkpoint '{ckpt.name}'")
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
        return get_model("hf")(pretrained=ckpt.path, device=device, batch_size=8)
    raise ValueError(f"unknown mode {mode!r}")


def _need(module: str, who: str) -> None:
    if find_spec(module) is None:
        raise ConfigError(f"{who} needs the Python module '{module}' (pip install "
                          "'evalkit[hf]')")
