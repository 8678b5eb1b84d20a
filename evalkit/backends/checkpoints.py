"""How a checkpoint answers a pool prompt: an OpenAI-compatible endpoint, or a replay file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol

from ..config import CheckpointConfig, EndpointConfig
from ..errors import InputError
from ..hashing import content_hash
from ..pools import PoolPrompt
from .base import Completion
from .openai_chat import ChatClient
from .retry import RetryPolicy
from .stored import text_generation_key


class CheckpointBackend(Protocol):
    config: CheckpointConfig

    def key(self, prompt: PoolPrompt, sample: int) -> str: ...

    async def answer(self, prompt: PoolPrompt, sample: int) -> Completion: ...

    async def aclose(self) -> None: ...


class OpenAICheckpoint:
    def __init__(self, config: CheckpointConfig) -> None:
        self.config = config
        self.client = client_for(config.endpoint, f"checkpoint '{config.name}'")
        self.failed_at: dict[str, str] = {}  # key of a failed request -> where it failed

    def key(self, prompt: PoolPrompt, sample: int) -> str:
        return content_hash([self.config.spec_hash, prompt.prompt_hash, sample])

    async def answer(self, prompt: PoolPrompt, sample: int) -> Completion:
        messages = list(prompt.messages)
        if self.config.system_prompt and messages[0]["role"] != "system":
            messages = [{"role": "system", "content": self.config.system_prompt}, *messages]
        done = await self.client.chat(messages, **self.config.sampling.request_params(sample))
        if done.error is not None and done.endpoint is not None:
            self.failed_at[self.key(prompt, sample)] = done.endpoint
        return done

    async def aclose(self) -> None:
        await self.client.aclose()


class ReplayCheckpoint:
    """Responses made elsewhere: JSONL ``{"id": …, "response": …}`` per line, or a JSON list of
    such objects, or a JSON object mapping id → response."""

    def __init__(self, config: CheckpointConfig) -> None:
        self.config = config
        self.responses = load_replay(Path(config.path or ""))

    def key(self, prompt: PoolPrompt, sample: int) -> str:
        return text_generation_key(self.config.spec_hash, prompt.prompt_hash, sample,
                                   self.responses.get(prompt.id))

    async def answer(self, prompt: PoolPrompt, sample: int) -> Completion:
        text = self.responses.get(prompt.id)
        if text is None:
            return Completion(text=None, error=f"{self.config.path}: no response for prompt "
                              f"id '{prompt.id}'")
        return Completion(text=text, finish_reason="replay", latency=0.0)

    async def aclose(self) -> None:
        return None


def load_replay(path: Path) -> dict[str, str]:
    if not path.is_file():
        raise InputError("replay file not found", path=str(path))
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise InputError(f"not valid UTF-8 at byte offset {exc.start}", path=str(path),
                         line=line) from None
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"bad JSON: {exc.msg}", path=str(path), line=exc.lineno) from None
        if isinstance(data, dict):
            items = [{"id": k, "response": v} for k, v in data.items()]
        elif isinstance(data, list):
            items = data
        else:
            raise InputError("expected a JSON list or object", path=str(path))
        return _collect(path, list(enumerate(items, 1)))
    rows = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append((lineno, json.loads(line)))
        except json.JSONDecodeError as exc:
            raise InputError(f"bad JSON: {exc.msg}", path=str(path), line=lineno) from None
    return _collect(path, rows)


def _collect(path: Path, rows: list[tuple[int, object]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for lineno, row in rows:
        if not isinstance(row, dict):
            raise InputError("expected a JSON object", path=str(path), line=lineno)
        for field in ("id", "response"):
            if field not in row:
                raise InputError("missing field", path=str(path), line=lineno, field=field)
        if not isinstance(row["id"], (str, int)) or isinstance(row["id"], bool):
            raise InputError(f"expected a string, got {type(row['id']).__name__}",
                             path=str(path), line=lineno, field="id")
        if not isinstance(row["response"], str):
            raise InputError(f"expected a string, got {type(row['response']).__name__}",
                             path=str(path), line=lineno, field="response")
        key = str(row["id"])
        if key in out:
            raise InputError(f"duplicate id '{key}'", path=str(path), line=lineno, field="id")
        out[key] = row["response"]
    return out


def client_for(ep: EndpointConfig, owner: str) -> ChatClient:
    """The chat client of a configured endpoint (one base URL or several replicas)."""
    return ChatClient(ep.urls, ep.model, api_key=ep.api_key(owner),
                      max_concurrency=ep.max_concurrency, timeout=ep.timeout,
                      retry=RetryPolicy(max_retries=ep.max_retries, base=ep.retry_base))


def make_checkpoint(config: CheckpointConfig) -> CheckpointBackend:
    if config.backend == "replay":
        return ReplayCheckpoint(config)
    return OpenAICheckpoint(config)
