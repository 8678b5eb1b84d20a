"""Multi-turn conversations answered turn by turn, each checkpoint conditioned on its own
earlier answers (MT-Bench style; docs/judging-modes.md).

A pool prompt may hold several user turns. In ``pool`` mode (the default, as before) the
checkpoint answers the last user turn given the pool's earlier assistant turns. In ``self``
mode it answers the first user turn, then the second given *its own* first answer, and so on;
the pool's assistant turns are not used. A prompt whose user turns have no assistant turns
between them (MT-Bench questions, ``evalkit import mt-bench``) has nothing to condition on but
the checkpoint's own answers, so it is always answered turn by turn.

* **Cache keys.** Turn k is an ordinary generation request: the system and user messages up to
  user turn k, each earlier user turn followed by the checkpoint's own answer. Its key is the
  checkpoint's key for exactly that conversation — hash(checkpoint spec, hash of the
  conversation so far including its own answers, sample) — so each turn is cached on its own,
  a run that stopped after turn 1 resumes at turn 2 without asking turn 1 again, and a
  single-turn prompt keeps the key it always had (cached results stay valid).
* **What the judge gets.** A checkpoint's "response" to a turn-by-turn prompt is all its
  answers, encoded by ``encode``; the judgment key hashes it, so a judgment depends on every
  turn of both conversations. Only a judge that reads conversations can judge them: a
  template with ``{conversation_a}`` and ``{conversation_b}`` (``judges/pairwise_multiturn``),
  an imported judge, or a panel of such judges (``judge_reads_turns``).
* The comparison item records the final turn's generation (its key and text), so length
  control, the style-controlled leaderboard and the dashboard see the final answers.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from .errors import ConfigError
from .pools import PoolPrompt

MODES = ("pool", "self")
_MARK = "\x00evalkit-turns\x00"  # never in a model's answer: NUL does not occur in text


def user_turns(prompt: PoolPrompt) -> int:
    return sum(1 for m in prompt.messages if m["role"] == "user")


def has_pool_answers(prompt: PoolPrompt) -> bool:
    """True when an assistant turn precedes every user turn after the first."""
    previous = None
    for m in prompt.messages:
        if m["role"] == "system":
            continue
        if m["role"] == "user" and previous == "user":
            return False
        previous = m["role"]
    return True


def runs_turn_by_turn(prompt: PoolPrompt, mode: str) -> bool:
    return user_turns(prompt) > 1 and (mode == "self" or not has_pool_answers(prompt))


def turn_prompt(prompt: PoolPrompt, answers: Sequence[str]) -> PoolPrompt:
    """The request of user turn ``len(answers) + 1``: the pool's system and user messages up to
    that turn, each earlier user turn followed by the checkpoint's own answer."""
    out: list[dict] = []
    k = 0
    for m in prompt.messages:
        if m["role"] == "assistant":
            continue
        out.append({"role": m["role"], "content": m["content"]})
        if m["role"] == "user":
            if k == len(answers):
                break
            out.append({"role": "assistant", "content": answers[k]})
            k += 1
    return PoolPrompt(id=prompt.id, messages=tuple(out), tags=prompt.tags,
                      reference=prompt.reference)


def encode(answers: Sequence[str]) -> str:
    """A checkpoint's answers to every turn as one string (one answer: the answer itself)."""
    if len(answers) == 1:
        return answers[0]
    return _MARK + json.dumps(list(answers), ensure_ascii=False)


def decode(response: str) -> tuple[str, ...]:
    """The answers ``encode`` put into ``response`` (a plain answer: one)."""
    if response.startswith(_MARK):
        try:
            answers = json.loads(response[len(_MARK):])
        except ValueError:
            return (response,)
        if isinstance(answers, list) and all(isinstance(a, str) for a in answers):
            return tuple(answers)
    return (response,)


def conversation(prompt: PoolPrompt, response: str) -> list[dict[str, str]]:
    """The whole conversation a checkpoint had, ending with its final answer: its own earlier
    answers for a turn-by-turn response, else the pool's messages."""
    answers = decode(response)
    if len(answers) > 1:
        head = list(turn_prompt(prompt, answers[:-1]).messages)
    else:
        head = [dict(m) for m in prompt.messages]
    return [*head, {"role": "assistant", "content": answers[-1]}]


def final_answer(response: str) -> str:
    return decode(response)[-1]


def judge_reads_turns(judge: Any) -> bool:
    """Can this judge judge two conversations that differ before their final turn?"""
    if getattr(judge, "stored_only", False):
        return True
    flag = getattr(judge, "reads_turns", None)
    if flag is not None:
        return bool(flag)
    return bool(getattr(getattr(judge, "template", None), "multiturn", False))


class TurnGenerator:
    """A ``Generator`` that answers turn-by-turn prompts turn by turn (every other prompt as
    the wrapped one does). ``cache`` and ``counts`` are the wrapped generator's."""

    def __init__(self, inner: Any, mode: str) -> None:
        self.inner, self.mode = inner, mode
        self.backend, self.cache, self.counts = inner.backend, inner.cache, inner.counts

    def applies(self, prompt: PoolPrompt) -> bool:
        return runs_turn_by_turn(prompt, self.mode)

    def cached(self, prompt: PoolPrompt, sample: int, key: str | None = None
               ) -> dict[str, Any] | None:
        if not self.applies(prompt):
            return self.inner.cached(prompt, sample, key)
        answers: list[str] = []
        row: dict[str, Any] = {}
        for _ in range(user_turns(prompt)):
            row = self.cache.get(self.backend.key(turn_prompt(prompt, answers), sample)) or {}
            if row.get("error") is not None or row.get("response") is None:
                return None
            answers.append(row["response"])
        self.counts["cached"] += len(answers)
        return {"key": row["key"], "response": encode(answers), "error": None}

    async def get(self, prompt: PoolPrompt, sample: int,
                  known: dict[str, Any] | None = None) -> dict[str, Any]:
        if known is not None:
            return known
        if not self.applies(prompt):
            return await self.inner.get(prompt, sample)
        answers: list[str] = []
        row: dict[str, Any] = {}
        for _ in range(user_turns(prompt)):
            row = await self.inner.get(turn_prompt(prompt, answers), sample)
            if row.get("error") is not None or row.get("response") is None:
                return {"key": row["key"], "response": None,
                        "error": row.get("error") or "empty response"}
            answers.append(row["response"])
        return {"key": row["key"], "response": encode(answers), "error": None}


def preload(engine: Any, gens: Sequence[TurnGenerator], prompts: Sequence[PoolPrompt],
            samples: int) -> None:
    """Load the stored turns of ``prompts`` turn by turn (each turn's key needs the answer
    before it), so a rerun reads them in a few queries instead of one claim per turn."""
    from .backends.stored import StoredCheckpoint
    from .store import cache as cached
    from .store import queries

    for gen in gens:
        open_: list[tuple[PoolPrompt, int, list[str]]] = [
            (p, s, []) for p in prompts if gen.applies(p) for s in range(samples)]
        while open_:
            turns = [(p, s, a, turn_prompt(p, a)) for p, s, a in open_]
            backend = gen.backend
            if isinstance(backend, StoredCheckpoint) and backend.by_id is None:
                backend.by_prompt.update(queries.generations_by_prompt(
                    engine, backend.config.spec_hash, [t.prompt_hash for *_, t in turns]))
            keys = [backend.key(t, s) for _, s, _, t in turns]
            rows = cached.generation_texts(engine, [k for k in keys if k not in gen.cache])
            gen.cache.update(rows)
            open_ = []
            for (p, s, a, _), key in zip(turns, keys, strict=True):
                row = gen.cache.get(key)
                if row is not None and row.get("error") is None and len(a) + 1 < user_turns(p):
                    open_.append((p, s, [*a, row["response"]]))


async def prepare_turns(comparer: Any) -> dict[str, Any] | None:
    """Wrap a ``Comparer``'s generators when some of its prompts run turn by turn; None when
    none does. Checks the judge and the checkpoints can take part."""
    from .backends.checkpoints import ReplayCheckpoint

    mode = comparer.options.turns or "pool"
    multi = [p for p in comparer.prompts if runs_turn_by_turn(p, mode)]
    if not multi:
        return None
    judge = comparer.judge
    if not judge_reads_turns(judge):
        template = getattr(getattr(judge, "template", None), "name", "?")
        raise ConfigError(
            f"judge '{judge.config.name}' (template '{template}') shows one conversation, but "
            f"{len(multi)} prompt(s) are answered turn by turn, each checkpoint after its own "
            "earlier answers: use a template with {conversation_a} and {conversation_b} (e.g. "
            'template = "pairwise_multiturn"), or --turns pool')
    for backend in (comparer.baseline, comparer.candidate):
        if isinstance(backend, ReplayCheckpoint):
            raise ConfigError(f"checkpoint '{backend.config.name}' replays one response per "
                              "prompt; it cannot answer turn by turn (use --turns pool)")
    comparer.gen_a = TurnGenerator(comparer.gen_a, mode)
    comparer.gen_b = TurnGenerator(comparer.gen_b, mode)
    await asyncio.to_thread(preload, comparer.engine, [comparer.gen_a, comparer.gen_b], multi,
                            comparer.options.samples)
    return {"mode": "self", "option": mode, "turn_by_turn_prompts": len(multi),
            "max_user_turns": max(user_turns(p) for p in multi)}
