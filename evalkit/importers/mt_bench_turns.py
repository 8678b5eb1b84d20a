"""MT-Bench as multi-turn conversations: from a bundle ``read_mt_bench`` made, the questions with
all their turns, each model's answers to every turn (each conditioned on its own earlier
answers, as FastChat generated them) and the multi-turn pairwise judgments (``"turn": 2``
records, which judge both whole conversations).

``read_mt_bench`` keeps turn 1 as the pool (its judgments analysed as before) and every later
turn verbatim in ``bundle.extra``; this module reads them from there, so the files are read
once and the turn-1 import and its round trip are unchanged. Pure: no store.

A question becomes a prompt whose user turns follow each other with no assistant turn between
them: nothing to condition on but the checkpoint's own answers, so ``compare`` answers it turn
by turn (evalkit/turns.py). Its reference is the reference answers of every turn, labelled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..pools import PoolPrompt
from .bundle import ImportBundle, ImportedJudgment
from .mt_bench import _label

__all__ = ["TurnsBundle", "turns_bundle"]


@dataclass(frozen=True)
class TurnsBundle:
    pool_name: str
    prompts: list[PoolPrompt]
    answers: dict[str, dict[str, tuple[str, ...]]]  # model -> prompt id -> one answer a turn
    judgments: list[ImportedJudgment] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)  # why something was left out


def _later(shape: dict[str, Any] | None, key: str) -> list[Any]:
    return list((shape or {}).get(key) or [])[1:]


def turns_bundle(bundle: ImportBundle, pool_name: str) -> TurnsBundle | None:
    """The multi-turn part of an MT-Bench bundle; None when no question has a second turn."""
    extra = bundle.extra
    questions = extra.get("questions", {})
    skipped: dict[str, int] = {}
    prompts: dict[str, PoolPrompt] = {}
    refs_file = {str(r.get("question_id")): r for r in extra.get("reference_answers", [])}
    for p in bundle.prompts:
        later = _later(questions.get(p.id), "turns")
        if not later:
            continue
        if not all(isinstance(t, str) and t.strip() for t in later):
            skipped["questions with a non-text turn"] = skipped.get(
                "questions with a non-text turn", 0) + 1
            continue
        turns = [p.messages[0]["content"], *later]
        prompts[p.id] = PoolPrompt(
            id=p.id, messages=tuple({"role": "user", "content": t} for t in turns),
            tags=dict(p.tags), reference=_reference(p, questions.get(p.id), refs_file))
    if not prompts:
        return None
    answers: dict[str, dict[str, tuple[str, ...]]] = {}
    for model, by_id in bundle.outputs.items():
        shapes = extra.get("answers", {}).get(model, {})
        for pid, first in by_id.items():
            if pid not in prompts:
                continue
            later = _later((shapes.get(pid) or {}).get("choices", [{}])[0], "turns")
            want = len(prompts[pid].messages) - 1
            if len(later) < want or not all(isinstance(t, str) for t in later[:want]):
                skipped["answers without every turn"] = skipped.get(
                    "answers without every turn", 0) + 1
                continue
            answers.setdefault(model, {})[pid] = (first, *later[:want])
    judgments: list[ImportedJudgment] = []
    for item in extra.get("turn2_judgments", []):
        rec = item["record"]
        pid = str(rec.get("question_id"))
        models = [rec.get("model_1"), rec.get("model_2")]
        if pid not in prompts or not all(pid in answers.get(str(m), {}) for m in models):
            skipped["turn-2 judgments without both conversations"] = skipped.get(
                "turn-2 judgments without both conversations", 0) + 1
            continue
        for game, (first, second) in ((1, models), (2, models[::-1])):
            label = _label(str(rec.get(f"g{game}_winner")), "model_1" if game == 1
                           else "model_2")
            judgments.append(ImportedJudgment(
                judge=item["judge"], prompt_id=pid, model_first=str(first),
                model_second=str(second), label=label,
                strength=1 if label in ("A", "B") else 0, raw=rec.get(f"g{game}_judgment"),
                extra={"game": game, "turn": rec.get("turn"),
                       "judge_prompt": (rec.get("judge") or [None, None])[1]}))
    return TurnsBundle(pool_name, list(prompts.values()), answers, judgments, skipped)


def _reference(prompt: PoolPrompt, question: dict[str, Any] | None,
               refs_file: dict[str, dict[str, Any]]) -> str | None:
    """Every turn's reference answer, labelled; None when there is none."""
    if prompt.reference is None:
        return None
    if prompt.id in refs_file:
        later = _later(refs_file[prompt.id].get("choices", [{}])[0], "turns")
    else:
        later = _later(question, "reference")
    turns = [prompt.reference, *[t for t in later if isinstance(t, str)]]
    if len(turns) == 1:
        return turns[0]
    return "\n\n".join(f"Turn {i}: {t}" for i, t in enumerate(turns, start=1))
