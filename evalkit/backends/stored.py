"""Checkpoints and judges whose answers already sit in the store (imported results).

They make no requests: a stored answer is returned, a missing one is a failed row with a clear
error, never a loss.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from ..config import CheckpointConfig, EndpointConfig, JudgeConfig
from ..hashing import content_hash
from ..pools import PoolPrompt
from .base import Completion


def text_generation_key(spec_hash: str, prompt_hash: str, sample: int, text: str | None) -> str:
    """Key of a generation made elsewhere (replay file, import): the text is part of it, so
    editing one response re-judges only that prompt."""
    return content_hash([spec_hash, prompt_hash, sample,
                         None if text is None else content_hash(text)])


def imported_checkpoint_config(name: str) -> CheckpointConfig:
    return CheckpointConfig(name=name, backend="imported")


def imported_judge_config(name: str) -> JudgeConfig:
    return JudgeConfig(name=name, backend="imported", endpoint=EndpointConfig(),
                       both_orders=True, reask_invalid=False)


class StoredCheckpoint:
    """An imported checkpoint: answers are the stored generations, by prompt."""

    def __init__(self, config: CheckpointConfig,
                 by_prompt: dict[tuple[str, int], dict[str, Any]],
                 by_id: dict[str, str] | None = None) -> None:
        self.config = config
        self.by_prompt = by_prompt  # (prompt_hash, sample) -> generation row
        self.by_id = by_id  # prompt id -> text, when one pool repeats a prompt's messages

    @classmethod
    def from_texts(cls, name: str, texts: dict[str, str]) -> StoredCheckpoint:
        """Answers given per prompt id (a labelled-pairs file can pair one question with
        different answers; the id, not the message text, tells them apart)."""
        return cls(imported_checkpoint_config(name), {}, texts)

    @classmethod
    def load(cls, engine: Engine, name: str, prompt_hashes: list[str]) -> StoredCheckpoint:
        from ..store import queries

        config = imported_checkpoint_config(name)
        return cls(config, queries.generations_by_prompt(engine, config.spec_hash,
                                                         prompt_hashes))

    def key(self, prompt: PoolPrompt, sample: int) -> str:
        if self.by_id is not None:
            return text_generation_key(self.config.spec_hash, prompt.prompt_hash, sample,
                                       self.by_id.get(prompt.id))
        row = self.by_prompt.get((prompt.prompt_hash, sample))
        if row is not None:
            return row["key"]
        return text_generation_key(self.config.spec_hash, prompt.prompt_hash, sample, None)

    async def answer(self, prompt: PoolPrompt, sample: int) -> Completion:
        if self.by_id is not None:
            row = {"response": self.by_id.get(prompt.id), "finish_reason": "imported"}
        else:
            row = self.by_prompt.get((prompt.prompt_hash, sample))
        if row is None or row.get("response") is None:
            return Completion(text=None, error=f"imported checkpoint '{self.config.name}' has "
                              f"no response for prompt '{prompt.id}'")
        return Completion(text=row["response"], finish_reason=row.get("finish_reason"))

    async def aclose(self) -> None:
        return None


class StoredTemplate:
    name = "imported"
    system = user = reference_block = ""


class StoredJudge:
    """An imported judge: verdicts are the stored judgments; nothing is ever requested."""

    stored_only = True

    def __init__(self, name: str) -> None:
        self.config = imported_judge_config(name)
        self.template = StoredTemplate()
        self.identity = {"backend": "imported", "name": name}
        self.spec_hash = content_hash(self.identity, 16)

    def key(self, prompt: PoolPrompt, first: str, second: str) -> str:
        return judgment_key(self.spec_hash, prompt, first, second)

    async def judge(self, prompt: PoolPrompt, first: str, second: str) -> Any:
        from ..judging.pairwise import JudgeCall

        return JudgeCall(None, None, error=f"imported judge '{self.config.name}' has no "
                         f"verdict for prompt '{prompt.id}' and this pair of responses")

    async def aclose(self) -> None:
        return None


def judgment_key(judge_spec: str, prompt: PoolPrompt, first: str, second: str) -> str:
    """Key of one judgment: judge identity, prompt, reference and the two texts in order."""
    return content_hash([judge_spec, prompt.prompt_hash, prompt.reference,
                         content_hash(first), content_hash(second)])
