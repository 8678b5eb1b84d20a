"""``[reward_models.NAME]`` in ``evalkit.toml`` → a frozen ``RewardModelConfig``.

Three backends (docs/reward-models.md): ``hf`` (a local transformers
``AutoModelForSequenceClassification``, the ``hf`` extra), ``vllm`` (a vLLM pooling server:
``/classify`` or ``/pooling``) and ``tei`` (text-embeddings-inference ``/predict``). Every
problem is a one-line ``ConfigError``. ``identity()`` lists what changes a score (the model,
how its input is built, which logit is the reward) and leaves out what does not (where it is
served, concurrency, batch size, the judge's tie margin).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ..config import _ENDPOINT_KEYS, EndpointConfig, _endpoint, _typed
from ..errors import ConfigError
from ..hashing import content_hash

BACKENDS = ("hf", "vllm", "tei")
_COMMON = {"backend", "input", "chat_format", "tokenizer", "max_length", "batch_size",
           "tie_margin", "temperature"}
_ONLY = {"hf": {"path", "device", "dtype", "label_index"},
         "vllm": _ENDPOINT_KEYS | {"api", "token_level", "label_index"},
         "tei": _ENDPOINT_KEYS | {"label"}}
DTYPES = ("auto", "float32", "bfloat16", "float16")


@dataclass(frozen=True)
class RewardModelConfig:
    name: str
    backend: str  # "hf" | "vllm" | "tei"
    endpoint: EndpointConfig = field(default_factory=EndpointConfig)  # vllm, tei
    path: str | None = None  # hf: the model folder (or a hub name)
    input: str = "chat"  # "chat": the conversation with the answer; "pair": (question, answer)
    # how a conversation becomes text: "template" (the tokenizer's chat template) or "hh"
    # ("\n\nHuman: …\n\nAssistant: …", as in HH-RLHF)
    chat_format: str = "template"
    tokenizer: str | None = None  # vllm/tei with chat_format "template": whose template
    max_length: int | None = None  # tokens; longer inputs lose their oldest tokens
    label_index: int | None = None  # a multi-logit head: which logit is the reward (hf, vllm)
    label: str | None = None  # tei: the label whose raw score is the reward
    api: str = "classify"  # vllm: "classify" or "pooling"
    token_level: bool = False  # vllm pooling: one value per token, the last is the reward
    batch_size: int = 16  # texts per request (or per forward pass)
    device: str = "auto"  # hf: "auto" (cuda when there is one), "cpu", "cuda", "cuda:1" …
    dtype: str = "auto"  # hf: the weights' dtype ("auto": as saved)
    tie_margin: float = 0.0  # as a judge: |r_B - r_A| <= margin is a tie
    temperature: float | None = None  # as a judge: soft outcome sigmoid((r_B - r_A) / T)

    def identity(self) -> dict[str, Any]:
        """What determines a score: the cache key of every score includes it."""
        ident: dict[str, Any] = {"backend": self.backend, "name": self.name,
                                 "input": self.input, "max_length": self.max_length}
        if self.backend == "hf":
            ident.update(path=self.path, dtype=self.dtype, label_index=self.label_index)
        else:
            ident["model"] = self.endpoint.model
        if self.input == "chat":
            ident.update(chat_format=self.chat_format, tokenizer=self.tokenizer)
        if self.backend == "vllm":
            ident.update(api=self.api, token_level=self.token_level,
                         label_index=self.label_index)
        if self.backend == "tei":
            ident["label"] = self.label
        return ident

    @cached_property
    def spec_hash(self) -> str:
        return content_hash(self.identity(), 16)

    @property
    def urls(self) -> tuple[str, ...]:
        """The server roots requests go to (a trailing ``/v1`` is dropped: vLLM serves
        ``/classify`` and ``/pooling``, TEI ``/predict``, at the root)."""
        return tuple(_root(u) for u in self.endpoint.urls)


def _root(url: str) -> str:
    url = url.rstrip("/")
    return url[:-3] if url.endswith("/v1") else url


def parse_reward_model(name: str, raw: dict[str, Any], where: str = "reward_models"
                       ) -> RewardModelConfig:
    where = f"{where}.{name}"
    backend = raw.get("backend")
    if backend not in BACKENDS:
        shown = "missing" if backend is None else f"'{backend}' is unknown"
        raise ConfigError(f"{where}.backend: {shown} (hf, vllm or tei)")
    allowed = _COMMON | _ONLY[backend]
    unknown = sorted(set(raw) - allowed)
    if unknown:
        hint = ""
        if unknown[0] == "label_index" and backend == "tei":
            hint = "; tei answers labels, not positions: set label = NAME"
        raise ConfigError(f"{where}: unknown key '{unknown[0]}' for backend '{backend}' "
                          f"(allowed: {', '.join(sorted(allowed))}){hint}")
    values: dict[str, Any] = {"name": name, "backend": backend}
    for key, kind in (("path", str), ("input", str), ("chat_format", str), ("tokenizer", str),
                      ("label", str), ("api", str), ("device", str), ("dtype", str),
                      ("max_length", int), ("label_index", int), ("batch_size", int),
                      ("tie_margin", float), ("temperature", float), ("token_level", bool)):
        if key in raw:
            values[key] = _typed(where, raw[key], kind, key)
    if backend == "hf":
        if not values.get("path"):
            raise ConfigError(f"{where}: 'path' (the model folder or hub name) is required "
                              "for backend 'hf'")
    else:
        endpoint_raw = {k: raw[k] for k in _ENDPOINT_KEYS if k in raw}
        if not raw.get("base_url"):
            raise ConfigError(f"{where}: 'base_url' (the server, e.g. http://127.0.0.1:8000) "
                              f"is required for backend '{backend}'")
        if backend == "tei":  # TEI serves one model; the name only labels it
            endpoint_raw.setdefault("model", name)
        elif not raw.get("model"):
            raise ConfigError(f"{where}: 'model' (the served model name) is required for "
                              "backend 'vllm'")
        values["endpoint"] = _endpoint(where, endpoint_raw)
    if "tokenizer" in values and backend == "hf":
        raise ConfigError(f"{where}.tokenizer: backend 'hf' uses the model's own tokenizer "
                          f"({values['path']})")
    values.setdefault("chat_format", "template" if backend == "hf" or values.get("tokenizer")
                      else "hh")
    config = RewardModelConfig(**values)
    _check(where, config)
    return config


def _check(where: str, c: RewardModelConfig) -> None:
    if c.input not in ("chat", "pair"):
        raise ConfigError(f"{where}.input: '{c.input}' is not 'chat' or 'pair'")
    if c.chat_format not in ("template", "hh"):
        raise ConfigError(f"{where}.chat_format: '{c.chat_format}' is not 'template' or 'hh'")
    if c.input == "pair" and c.backend == "vllm":
        raise ConfigError(f"{where}.input: backend 'vllm' scores one text per input; use "
                          "input = 'chat'")
    if (c.backend != "hf" and c.input == "chat" and c.chat_format == "template"
            and not c.tokenizer):
        raise ConfigError(f"{where}: chat_format 'template' on a server needs tokenizer = "
                          "PATH (the reward model's tokenizer, whose chat template renders "
                          "the conversation); or set chat_format = 'hh'")
    if c.api not in ("classify", "pooling"):
        raise ConfigError(f"{where}.api: '{c.api}' is not 'classify' or 'pooling'")
    if c.token_level and c.api != "pooling":
        raise ConfigError(f"{where}.token_level: per-token rewards come from api = 'pooling'")
    if c.dtype not in DTYPES:
        raise ConfigError(f"{where}.dtype: '{c.dtype}' is not one of {', '.join(DTYPES)}")
    for key, value, low in (("max_length", c.max_length, 1), ("batch_size", c.batch_size, 1)):
        if value is not None and value < low:
            raise ConfigError(f"{where}.{key}: must be at least {low}, got {value}")
    if c.label_index is not None and c.label_index < 0:
        raise ConfigError(f"{where}.label_index: must be at least 0, got {c.label_index}")
    if c.tie_margin < 0:
        raise ConfigError(f"{where}.tie_margin: must be at least 0, got {c.tie_margin:g}")
    if c.temperature is not None and c.temperature <= 0:
        raise ConfigError(f"{where}.temperature: must be positive, got {c.temperature:g}")
    if c.temperature is not None and c.tie_margin > 0:
        raise ConfigError(f"{where}: tie_margin (hard outcome) and temperature (soft outcome "
                          "sigmoid(Δ/T)) exclude each other; set one")
