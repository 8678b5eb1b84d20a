"""``evalkit.toml`` → frozen dataclasses. Every problem is a one-line ``ConfigError``.

Only identities matter for caching: ``CheckpointConfig.identity()`` and
``JudgeConfig.identity()`` list what changes a model's answers (the configured name, the
served model, system prompt, sampling, judge template) and leave out what does not (where it
is served, concurrency, timeouts, key names). See docs/caching.md.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .errors import ConfigError
from .gate.policy import GatePolicy, parse_gate
from .hashing import content_hash
from .redact import mask_userinfo, url_token
from .tomlfile import read_toml

if TYPE_CHECKING:
    from .grading.spec import GraderConfig
    from .reward.spec import RewardModelConfig

CONFIG_NAME = "evalkit.toml"
DEFAULT_STORE_URL = "sqlite:///evalkit.db"


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.0
    top_p: float | None = None
    max_tokens: int = 1024
    seed: int | None = None

    def request_params(self, sample: int = 0) -> dict[str, Any]:
        """The parameters sent to the endpoint; repeated samples shift the seed."""
        params: dict[str, Any] = {"temperature": self.temperature, "max_tokens": self.max_tokens}
        if self.top_p is not None:
            params["top_p"] = self.top_p
        if self.seed is not None:
            params["seed"] = self.seed + sample
        return params


@dataclass(frozen=True)
class EndpointConfig:
    """How to reach an OpenAI-compatible chat endpoint."""

    base_url: str = ""
    model: str = ""
    api_key_env: str | None = None
    max_concurrency: int = 64
    timeout: float = 120.0
    max_retries: int = 6
    retry_base: float = 0.5  # seconds: the first backoff's upper bound (full jitter, doubling)
    # replicas of the model (``base_url = [...]``); ``base_url`` is the first of them
    base_urls: tuple[str, ...] = ()
    # a token that came in base_url's user-info part (``https://user:TOKEN@host/v1``); the
    # URL above is kept without it, and it is sent as the Bearer key (never stored or shown)
    url_key: str | None = field(default=None, repr=False)

    @property
    def urls(self) -> tuple[str, ...]:
        """Every base URL requests may go to (one, or the replicas)."""
        return self.base_urls or ((self.base_url,) if self.base_url else ())

    def api_key(self, owner: str | None = None) -> str | None:
        """The key from the environment variable named by ``api_key_env`` or from the base
        URL's credentials (never stored)."""
        if self.url_key:
            return self.url_key
        if not self.api_key_env:
            return None
        key = os.environ.get(self.api_key_env)
        if not key:
            who = owner or self.model or "an endpoint"
            raise ConfigError(f"environment variable {self.api_key_env} is not set "
                              f"(named by api_key_env for {who})")
        return key


@dataclass(frozen=True)
class CheckpointConfig:
    name: str
    backend: str = "openai"
    endpoint: EndpointConfig = field(default_factory=EndpointConfig)
    sampling: Sampling = field(default_factory=Sampling)
    system_prompt: str | None = None
    samples: int = 1
    path: str | None = None  # replay file, or the model folder of backend "hf"
    # benchmarks (evalkit bench): the /v1 base of an OpenAI-compatible /v1/completions
    # endpoint for log-likelihood tasks, and the tokenizer lm-eval uses with it ("remote":
    # the server's own /tokenize, as vLLM serves it; else a Hugging Face tokenizer name)
    completions_url: str | None = None
    tokenizer: str | None = None

    def identity(self) -> dict[str, Any]:
        """What determines the answers: the cache key of every generation includes it."""
        if self.backend == "replay":
            return {"backend": "replay", "name": self.name}
        if self.backend == "hf":
            return {"backend": "hf", "name": self.name, "path": self.path}
        ident = {"backend": self.backend, "name": self.name, "model": self.endpoint.model,
                 "system_prompt": self.system_prompt, "sampling": asdict(self.sampling)}
        if self.tokenizer not in (None, "remote"):  # log-likelihoods depend on it
            ident["tokenizer"] = self.tokenizer
        return ident

    @cached_property
    def spec_hash(self) -> str:
        return content_hash(self.identity(), 16)


@dataclass(frozen=True)
class JudgeConfig:
    name: str
    backend: str = "openai"
    endpoint: EndpointConfig = field(default_factory=EndpointConfig)
    sampling: Sampling = field(default_factory=lambda: Sampling(max_tokens=2048))
    template: str = "pairwise"
    both_orders: bool = True
    reask_invalid: bool = True
    verdict: str = "text"  # "text": parse [[A]]/[[B]]; "logprobs": soft, from token logprobs
    # a judge panel (backend "panel"): member judge names and how their verdicts combine
    panel: tuple[str, ...] = ()
    rule: str = "majority"  # "majority" | "mean" | "unanimous" (evalkit/judging/panel.py)

    def identity(self, template_hash: str) -> dict[str, Any]:
        ident = {"backend": self.backend, "name": self.name, "model": self.endpoint.model,
                 "sampling": asdict(self.sampling),
                 "template": template_hash, "reask_invalid": self.reask_invalid}
        if self.verdict != "text":
            ident["verdict"] = self.verdict
        return ident


@dataclass(frozen=True)
class ClassifierConfig:
    """An LLM that labels pool prompts (``evalkit pool annotate``): topic from a taxonomy,
    difficulty, a quality flag with a reason, and the language."""

    name: str
    backend: str = "openai"
    endpoint: EndpointConfig = field(default_factory=EndpointConfig)
    sampling: Sampling = field(default_factory=lambda: Sampling(max_tokens=512))
    template: str = "default"  # a name in suites/classifiers/ or a path
    taxonomy: str | None = None  # a name in suites/taxonomies/ or a path (None: default)

    def identity(self, template_hash: str, taxonomy_hash: str) -> dict[str, Any]:
        """What decides the labels: the label cache key includes it."""
        return {"backend": self.backend, "name": self.name, "model": self.endpoint.model,
                "sampling": asdict(self.sampling), "template": template_hash,
                "taxonomy": taxonomy_hash}


@dataclass(frozen=True)
class Defaults:
    judge: str | None = None
    pool: str | None = None


@dataclass(frozen=True)
class Config:
    store_url: str = DEFAULT_STORE_URL
    checkpoints: dict[str, CheckpointConfig] = field(default_factory=dict)
    judges: dict[str, JudgeConfig] = field(default_factory=dict)
    defaults: Defaults = field(default_factory=Defaults)
    gate: GatePolicy = field(default_factory=GatePolicy)
    path: str | None = None
    classifiers: dict[str, ClassifierConfig] = field(default_factory=dict)
    reward_models: dict[str, RewardModelConfig] = field(default_factory=dict)
    watch: Any = None  # evalkit.watch.config.WatchConfig: [watch] (evalkit watch)
    graders: dict[str, GraderConfig] = field(default_factory=dict)  # [graders.NAME]
    pool_turns: dict[str, str] = field(default_factory=dict)  # [pools.NAME] turns = "self"

    def grader(self, name: str) -> GraderConfig:
        if name not in self.graders:
            known = ", ".join(sorted(self.graders)) or "none"
            raise ConfigError(f"{self.where}: no grader named '{name}' (known: {known}); "
                              "add a [graders.NAME] table")
        return self.graders[name]

    def reward_model(self, name: str) -> RewardModelConfig:
        if name not in self.reward_models:
            known = ", ".join(sorted(self.reward_models)) or "none"
            raise ConfigError(f"{self.where}: no reward model named '{name}' (known: "
                              f"{known}); add a [reward_models.NAME] table")
        return self.reward_models[name]

    def classifier(self, name: str) -> ClassifierConfig:
        if name not in self.classifiers:
            known = ", ".join(sorted(self.classifiers)) or "none"
            raise ConfigError(f"{self.where}: no classifier named '{name}' (known: {known}); "
                              "add a [classifiers.NAME] table")
        return self.classifiers[name]

    def checkpoint(self, name: str) -> CheckpointConfig:
        if name not in self.checkpoints:
            known = ", ".join(sorted(self.checkpoints)) or "none"
            raise ConfigError(f"{self.where}: no checkpoint named '{name}' (known: {known})")
        return self.checkpoints[name]

    def judge(self, name: str | None) -> JudgeConfig:
        name = name or self.defaults.judge or (next(iter(self.judges)) if len(self.judges) == 1
                                               else None)
        if name is None:
            raise ConfigError(f"{self.where}: no judge given; pass --judge or set "
                              "[defaults] judge")
        if name not in self.judges:
            known = ", ".join(sorted(self.judges)) or "none"
            raise ConfigError(f"{self.where}: no judge named '{name}' (known: {known})")
        return self.judges[name]

    @property
    def where(self) -> str:
        return self.path or CONFIG_NAME


# ---- parsing --------------------------------------------------------------------------------

_ENDPOINT_KEYS = {f.name for f in fields(EndpointConfig)} - {"url_key", "base_urls"}  # derived
_SAMPLING_KEYS = {f.name for f in fields(Sampling)}


def _check_keys(where: str, table: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key '{unknown[0]}' (allowed: "
                          f"{', '.join(sorted(allowed))})")


def _typed(where: str, value: Any, kind: type | tuple[type, ...], name: str) -> Any:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, float)):
        expected = getattr(kind, "__name__", str(kind))
        raise ConfigError(f"{where}.{name}: expected {expected}, got {type(value).__name__}")
    return value


def _sampling(where: str, raw: Any, default: Sampling) -> Sampling:
    if raw is None:
        return default
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}.sampling: expected a table")
    _check_keys(f"{where}.sampling", raw, _SAMPLING_KEYS)
    values = asdict(default)
    types: dict[str, type] = {"temperature": float, "top_p": float, "max_tokens": int,
                              "seed": int}
    for key, value in raw.items():
        values[key] = _typed(f"{where}.sampling", value, types[key], key)
    _check_sampling(f"{where}.sampling", values)
    return Sampling(**values)


def _check_sampling(where: str, values: dict[str, Any]) -> None:
    """Values an endpoint would reject (or silently clamp) are config errors."""
    temperature, top_p, max_tokens = values["temperature"], values["top_p"], values["max_tokens"]
    if not 0.0 <= temperature <= 2.0:
        raise ConfigError(f"{where}.temperature: {temperature:g} is out of range (0 to 2)")
    if top_p is not None and not 0.0 < top_p <= 1.0:
        raise ConfigError(f"{where}.top_p: {top_p:g} is out of range (above 0, at most 1)")
    if max_tokens < 1:
        raise ConfigError(f"{where}.max_tokens: must be at least 1, got {max_tokens}")


def _endpoint(where: str, raw: dict[str, Any]) -> EndpointConfig:
    types: dict[str, type] = {"base_url": str, "model": str, "api_key_env": str,
                              "max_concurrency": int, "timeout": float, "max_retries": int,
                              "retry_base": float}
    listed = raw.get("base_url")
    if isinstance(listed, list):  # replicas: the first is base_url, all are base_urls
        raw = {**raw, "base_url": listed[0] if listed else ""}
    values = {k: _typed(where, raw[k], types[k], k) for k in _ENDPOINT_KEYS if k in raw}
    if values.get("base_url"):
        values["base_url"], values["url_key"] = _base_url(where, values["base_url"],
                                                          values.get("api_key_env"))
    if isinstance(listed, list) and listed:
        values["base_urls"] = _replica_urls(where, listed, values.get("api_key_env"))
    ep = EndpointConfig(**values)
    if not ep.base_url:
        raise ConfigError(f"{where}: 'base_url' is required for backend 'openai'")
    if not ep.model:
        raise ConfigError(f"{where}: 'model' is required for backend 'openai'")
    if ep.max_concurrency < 1:
        raise ConfigError(f"{where}.max_concurrency: must be at least 1")
    if ep.timeout <= 0:
        raise ConfigError(f"{where}.timeout: must be positive")
    if ep.max_retries < 0:
        raise ConfigError(f"{where}.max_retries: must be at least 0")
    if ep.retry_base <= 0:
        raise ConfigError(f"{where}.retry_base: must be positive")
    return ep


def _replica_urls(where: str, urls: list[Any], api_key_env: str | None) -> tuple[str, ...]:
    """``base_url = [...]``: each entry checked like a single base URL; one key for all."""
    clean, tokens = [], set()
    for i, url in enumerate(urls):
        url = _typed(where, url, str, f"base_url[{i}]")
        url, token = _base_url(where, url, api_key_env)
        clean.append(url)
        tokens.add(token)
    if len(tokens) > 1:
        raise ConfigError(f"{where}.base_url: the replicas carry different credentials; give "
                          "one key for all (api_key_env)")
    if len(set(clean)) != len(clean):
        raise ConfigError(f"{where}.base_url: a replica is listed twice")
    return tuple(clean)


def _base_url(where: str, url: str, api_key_env: str | None) -> tuple[str, str | None]:
    """An http(s) URL with a host, without its credentials; and the token they held (sent as
    the Bearer key). Messages show the URL with its password masked."""
    shown, field_ = mask_userinfo(url), f"{where}.base_url"
    example = "e.g. http://127.0.0.1:8000/v1"
    if "://" not in url:
        raise ConfigError(f"{field_}: '{shown}' is not a URL: it needs a scheme and a host "
                          f"({example})")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (a non-numeric or out-of-range port raises here)
    except ValueError:
        raise ConfigError(f"{field_}: '{shown}' is not a valid URL (bad host or port; "
                          f"{example})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ConfigError(f"{field_}: '{shown}' must start with http:// or https://")
    if not parts.hostname or any(c.isspace() for c in url):
        raise ConfigError(f"{field_}: '{shown}' has no valid host ({example})")
    clean, token = url_token(url)
    if token and api_key_env:
        raise ConfigError(f"{field_}: '{shown}' carries credentials and api_key_env is set "
                          "too; give the key one way (drop the user:token@ part or "
                          "api_key_env)")
    return clean, token


def parse_checkpoint(name: str, raw: dict[str, Any], where: str = "checkpoints") -> (
        CheckpointConfig):
    where = f"{where}.{name}"
    backend = raw.get("backend", "openai")
    if backend == "replay":
        _check_keys(where, raw, {"backend", "path"})
        if not isinstance(raw.get("path"), str):
            raise ConfigError(f"{where}: 'path' (the replay file) is required for backend "
                              "'replay'")
        return CheckpointConfig(name=name, backend="replay", path=raw["path"])
    if backend == "hf":  # a local Hugging Face model, for benchmarks (the 'hf' extra)
        _check_keys(where, raw, {"backend", "path"})
        if not isinstance(raw.get("path"), str) or not raw["path"]:
            raise ConfigError(f"{where}: 'path' (the model folder or hub name) is required "
                              "for backend 'hf'")
        return CheckpointConfig(name=name, backend="hf", path=raw["path"])
    if backend != "openai":
        raise ConfigError(f"{where}.backend: unknown backend '{backend}' (openai, replay, hf)")
    _check_keys(where, raw, _ENDPOINT_KEYS | {"backend", "sampling", "system_prompt",
                                              "samples", "completions_url", "tokenizer"})
    samples = _typed(where, raw.get("samples", 1), int, "samples")
    if samples < 1:
        raise ConfigError(f"{where}.samples: must be at least 1")
    system = raw.get("system_prompt")
    if system is not None:
        _typed(where, system, str, "system_prompt")
    return CheckpointConfig(name=name, backend=backend, endpoint=_endpoint(where, raw),
                            sampling=_sampling(where, raw.get("sampling"), Sampling()),
                            system_prompt=system, samples=samples, **_bench_keys(where, raw))


def _bench_keys(where: str, raw: dict[str, Any]) -> dict[str, Any]:
    """``completions_url`` (an http(s) URL with a host, no credentials: the key is the
    checkpoint's) and ``tokenizer`` ("remote" by default when there is a completions URL)."""
    url = raw.get("completions_url")
    tokenizer = raw.get("tokenizer")
    if tokenizer is not None and (not isinstance(tokenizer, str) or not tokenizer):
        raise ConfigError(f"{where}.tokenizer: expected 'remote' or a Hugging Face tokenizer "
                          "name")
    if url is None:
        if tokenizer is not None:
            raise ConfigError(f"{where}.tokenizer: only used with completions_url (the "
                              "endpoint lm-eval scores log-likelihoods on)")
        return {}
    parts = urlsplit(url) if isinstance(url, str) else None
    if (parts is None or parts.scheme not in ("http", "https") or not parts.hostname
            or "@" in parts.netloc):
        raise ConfigError(f"{where}.completions_url: expected an http(s) URL with a host and "
                          "no credentials, e.g. http://127.0.0.1:8000/v1")
    return {"completions_url": url.rstrip("/"), "tokenizer": tokenizer or "remote"}


def parse_judge(name: str, raw: dict[str, Any], where: str = "judges") -> JudgeConfig:
    where = f"{where}.{name}"
    if "panel" in raw:  # a panel of judges (evalkit/judging/panel.py)
        from .judging.panel import parse_panel

        return parse_panel(name, raw, where)
    backend = raw.get("backend", "openai")
    if backend != "openai":
        raise ConfigError(f"{where}.backend: unknown judge backend '{backend}' (openai)")
    _check_keys(where, raw, _ENDPOINT_KEYS | {"backend", "sampling", "template",
                                              "both_orders", "reask_invalid", "verdict"})
    verdict = _typed(where, raw.get("verdict", "text"), str, "verdict")
    if verdict not in ("text", "logprobs"):
        raise ConfigError(f"{where}.verdict: '{verdict}' is not 'text' or 'logprobs'")
    return JudgeConfig(
        verdict=verdict,
        name=name, backend=backend, endpoint=_endpoint(where, raw),
        sampling=_sampling(where, raw.get("sampling"), Sampling(max_tokens=2048)),
        template=_typed(where, raw.get("template", "pairwise"), str, "template"),
        both_orders=_typed(where, raw.get("both_orders", True), bool, "both_orders"),
        reask_invalid=_typed(where, raw.get("reask_invalid", True), bool, "reask_invalid"),
    )


def parse_classifier(name: str, raw: dict[str, Any], where: str = "classifiers"
                     ) -> ClassifierConfig:
    where = f"{where}.{name}"
    backend = raw.get("backend", "openai")
    if backend != "openai":
        raise ConfigError(f"{where}.backend: unknown classifier backend '{backend}' (openai)")
    _check_keys(where, raw, _ENDPOINT_KEYS | {"backend", "sampling", "template", "taxonomy"})
    taxonomy = raw.get("taxonomy")
    if taxonomy is not None:
        _typed(where, taxonomy, str, "taxonomy")
    return ClassifierConfig(
        name=name, backend=backend, endpoint=_endpoint(where, raw),
        sampling=_sampling(where, raw.get("sampling"), Sampling(max_tokens=512)),
        template=_typed(where, raw.get("template", "default"), str, "template"),
        taxonomy=taxonomy)


def parse_config(data: dict[str, Any], path: str | None = None) -> Config:
    where = path or CONFIG_NAME
    _check_keys(where, data, {"store", "checkpoints", "judges", "defaults", "gate", "pools",
                             "classifiers", "reward_models", "watch", "graders"})
    store = _table(where, data, "store")
    _check_keys(f"{where}: store", store, {"url"})
    checkpoints = {n: parse_checkpoint(n, t, f"{where}: checkpoints")
                   for n, t in _tables(where, data, "checkpoints").items()}
    judges = {n: parse_judge(n, t, f"{where}: judges")
              for n, t in _tables(where, data, "judges").items()}
    classifiers = {n: parse_classifier(n, t, f"{where}: classifiers")
                   for n, t in _tables(where, data, "classifiers").items()}
    reward_models = _reward_models(where, data, path)
    graders, pool_turns = _judging_modes(where, data, judges)
    defaults = _table(where, data, "defaults")
    _check_keys(f"{where}: defaults", defaults, {"judge", "pool"})
    for key, value in defaults.items():
        _typed(f"{where}: defaults", value, str, key)
    url = _typed(f"{where}: store", store.get("url", DEFAULT_STORE_URL), str, "url")
    if path and url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        rel = url[len("sqlite:///"):]
        if rel and rel != ":memory:":
            url = "sqlite:///" + str(Path(path).resolve().parent / rel)
    if path:  # replay files, like the store, are found next to the config file
        base = Path(path).resolve().parent
        checkpoints = {n: replace(c, path=str(base / c.path))
                       if c.backend in ("replay", "hf") and c.path and _local(base, c)
                       else c for n, c in checkpoints.items()}
    gate = parse_gate(_table(where, data, "gate"), f"{where}: gate")
    watch = None
    if "watch" in data:  # imported only when configured (it imports this module)
        from .watch.config import parse_watch

        watch = parse_watch(data["watch"], where, Path(path).resolve().parent if path else None)
    return Config(store_url=url, checkpoints=checkpoints, judges=judges,
                  defaults=Defaults(**defaults), gate=gate, path=path,
                  classifiers=classifiers, reward_models=reward_models, watch=watch,
                  graders=graders, pool_turns=pool_turns)


def _judging_modes(where: str, data: dict[str, Any], judges: dict[str, JudgeConfig]
                   ) -> tuple[dict[str, GraderConfig], dict[str, str]]:
    """``[graders.NAME]`` (evalkit/grading/spec.py), ``[pools.NAME] turns`` and the panel
    members' checks (docs/judging-modes.md)."""
    if any(j.panel for j in judges.values()):  # judging.panel loads the store: only then
        from .judging.panel import check_members

        check_members(where, judges)
    graders: dict[str, GraderConfig] = {}
    tables = _tables(where, data, "graders")
    if tables:
        from .grading.spec import parse_grader

        graders = {n: parse_grader(n, t, f"{where}: graders") for n, t in tables.items()}
    turns: dict[str, str] = {}
    for name, table in _tables(where, data, "pools").items():
        _check_keys(f"{where}: pools.{name}", table, {"turns"})
        value = table.get("turns", "pool")
        if value not in ("pool", "self"):
            raise ConfigError(f"{where}: pools.{name}.turns: '{value}' is not 'pool' (earlier "
                              "assistant turns from the pool) or 'self' (each checkpoint "
                              "answers every user turn itself)")
        turns[name] = value
    return graders, turns


def _reward_models(where: str, data: dict[str, Any], path: str | None
                   ) -> dict[str, RewardModelConfig]:
    """``[reward_models.NAME]`` tables (evalkit/reward/spec.py); an hf model folder given
    relative to the config file is found next to it, like a replay file."""
    tables = _tables(where, data, "reward_models")
    if not tables:
        return {}
    from .reward.spec import parse_reward_model

    found = {n: parse_reward_model(n, t, f"{where}: reward_models") for n, t in tables.items()}
    base = Path(path).resolve().parent if path else None
    for n, rm in found.items():
        for key in ("path", "tokenizer"):
            value = getattr(rm, key)
            if base is not None and value and not Path(value).is_absolute() and (
                    base / value).exists():
                found[n] = rm = replace(rm, **{key: str(base / value)})
    return found


def _local(base: Path, c: CheckpointConfig) -> bool:
    """A relative path to resolve next to the config (an hf hub name stays as it is)."""
    assert c.path is not None
    if Path(c.path).is_absolute():
        return False
    return c.backend == "replay" or (base / c.path).exists()


def _table(where: str, data: dict[str, Any], key: str) -> dict[str, Any]:
    section = data.get(key, {})
    if not isinstance(section, dict):
        raise ConfigError(f"{where}: {key}: expected a table, got {type(section).__name__}")
    return section


def _tables(where: str, data: dict[str, Any], key: str) -> dict[str, dict[str, Any]]:
    section = _table(where, data, key)
    for name, table in section.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: {key}.{name}: expected a table")
    return section


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read ``path`` (or ``./evalkit.toml`` when present); no file gives an empty config."""
    if path is None:
        if not Path(CONFIG_NAME).exists():
            return Config()
        path = CONFIG_NAME
    p = Path(path)
    data = read_toml(p)
    return parse_config(data, str(p))
