"""MT-Bench (FastChat llm_judge) result files <-> ``ImportBundle``.

Formats, as checked in lm-sys/FastChat, fastchat/llm_judge:

* ``data/mt_bench/question.jsonl``: ``{"question_id", "category", "turns": [q1, q2],
  "reference": [r1, r2] (some questions)}``.
* ``model_answer/<model>.jsonl`` and ``reference_answer/gpt-4.jsonl``: ``{"question_id",
  "answer_id", "model_id", "choices": [{"index": 0, "turns": [a1, a2]}], "tstamp"}``.
* ``model_judgment/gpt-4_pair.jsonl`` (common.py ``play_a_match_pair``): ``{"question_id",
  "model_1", "model_2", "g1_winner", "g2_winner", "judge": [judge model, prompt name],
  "g1_user_prompt", "g1_judgment", "g2_user_prompt", "g2_judgment", "turn", "tstamp"}``.
  Game 1 shows model_1's answer as A, game 2 shows model_2's answer as A; winners are
  "model_1", "model_2", "tie" or "error" (``run_judge_pair``: "[[A]]"/"[[B]]"/"[[C]]",
  else error). ``turn`` is 1, or 2 for the multi-turn judge that sees both turns.

Mapping: a model's turn-2 context holds its own turn-1 answer, so only turn 1 is a prompt
shared by all models: prompt id = ``str(question_id)``, messages = turn 1, tag ``category``,
reference = turn 1 of the reference answer (``reference_file``, which FastChat's judge uses,
takes precedence over the question's own ``reference`` field); ``outputs`` hold turn-1
answers. Turn-1 pairwise records become two ``ImportedJudgment`` each (game 1: model_1
first; game 2: model_2 first; winner -> positional label; judge = the judge model, the prompt
name is in ``extra``). Turn-2 records are kept verbatim in ``bundle.extra["turn2_judgments"]``
only. All later turns (questions, answers, references) stay in ``bundle.extra`` as the source
records with the values held elsewhere set to null, so ``write_mt_bench`` reproduces the files.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..pools import PoolPrompt
from ._common import (
    PathLike,
    _At,
    _file_name,
    _get,
    _id_value,
    _jsonl,
    _kind,
    _list,
    _object,
    _optional_text,
    _paths,
    _prompt,
    _text,
    _user_text,
    _write_jsonl,
    _write_questions_and_answers,
)
from .arena_hard import _verdict
from .bundle import ImportBundle, ImportedJudgment

__all__ = ["MTBenchFiles", "read_mt_bench", "write_mt_bench"]


_WINNERS = ("model_1", "model_2", "tie", "error")
_RECORD_KEYS = ("question_id", "model_1", "model_2", "g1_winner", "g2_winner", "judge",
                "g1_user_prompt", "g1_judgment", "g2_user_prompt", "g2_judgment")
_IMPORTED_PROMPT = "imported"


# --------------------------------------------------------------------------- reading

def read_mt_bench(
    question_file: PathLike, answer_files: PathLike | Iterable[PathLike] = (),
    judgment_files: PathLike | Iterable[PathLike] = (), reference_file: PathLike | None = None,
    *, pool_name: str = "mt_bench",
) -> ImportBundle:
    """Read question.jsonl, model_answer/*.jsonl, pairwise judgment files and references."""
    reader = _Reader()
    for row, at in _jsonl(question_file):
        reader.add_question(row, at)
    if not reader.prompts:
        raise InputError("no questions found (the file is empty)", path=str(question_file))
    if reference_file is not None:
        for row, at in _jsonl(reference_file):
            reader.add_reference(row, at)
    reader.attach_references()
    for path in _paths(answer_files):
        for row, at in _jsonl(path):
            reader.add_answer(row, at)
    for path in _paths(judgment_files):
        for row, at in _jsonl(path):
            reader.add_judgment(row, at)
    extra: dict[str, Any] = {"int_ids": bool(reader.int_ids),
                             "questions": reader.question_shapes,
                             "answers": reader.answer_shapes,
                             "turn2_judgments": reader.turn2}
    if reference_file is not None:
        extra["reference_answers"] = reader.reference_shapes
    return ImportBundle(source="mt_bench", pool_name=pool_name,
                        prompts=list(reader.prompts.values()), outputs=reader.outputs,
                        judgments=reader.judgments, extra=extra)


def _strings(value: Any, at: _At, field: str) -> list[str]:
    """A non-empty array whose first item is a string (the turn evalkit keeps)."""
    items = _list(value, at, field)
    if not isinstance(items[0], str):
        raise at.error(f"{field}[0]", f"wrong type: expected a string, found {_kind(items[0])}")
    return items


def _question_id(row: dict[str, Any], at: _At) -> tuple[str, bool]:
    value = _get(row, "question_id", at, "question_id")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value), True
    if not isinstance(value, str) or not value.strip():
        raise at.error("question_id", f"wrong type: expected an integer or a non-empty string, "
                                      f"found {_kind(value)}")
    return value, False


class _Reader:
    """Accumulates one import across its files."""

    def __init__(self) -> None:
        self.prompts: dict[str, PoolPrompt] = {}
        self.outputs: dict[str, dict[str, str]] = {}
        self.judgments: list[ImportedJudgment] = []
        self.question_shapes: dict[str, dict[str, Any]] = {}
        self.answer_shapes: dict[str, dict[str, dict[str, Any]]] = {}
        self.reference_shapes: list[dict[str, Any]] = []
        self.file_references: dict[str, str] = {}
        self.turn2: list[dict[str, Any]] = []
        self.records_per_judge: dict[str, int] = {}
        self.int_ids: bool | None = None

    def known_prompt(self, row: dict[str, Any], at: _At) -> PoolPrompt:
        pid, _ = _question_id(row, at)
        if pid not in self.prompts:
            raise at.error("question_id", f"unknown question id {pid}: not in the question file")
        return self.prompts[pid]

    def add_question(self, row: dict[str, Any], at: _At) -> None:
        pid, is_int = _question_id(row, at)
        if self.int_ids is None:
            self.int_ids = is_int
        elif self.int_ids != is_int:
            raise at.error("question_id", "question ids mix numbers and strings")
        if pid in self.prompts:
            raise at.error("question_id", f"duplicate question id {pid}")
        turns = _strings(_get(row, "turns", at, "turns"), at, "turns")
        if not turns[0].strip():
            raise at.error("turns[0]", "empty string")
        shape = {**row, "question_id": None, "turns": [None, *turns[1:]]}
        tags: dict[str, str] = {}
        if "category" in row:
            tags["category"] = _text(row, "category", at)
            shape["category"] = None
        if row.get("reference") is not None:
            _strings(row["reference"], at, "reference")
        self.prompts[pid] = PoolPrompt(id=pid, messages=({"role": "user", "content": turns[0]},),
                                       tags=tags)
        self.question_shapes[pid] = shape

    def add_reference(self, row: dict[str, Any], at: _At) -> None:
        prompt = self.known_prompt(row, at)
        if prompt.id in self.file_references:
            raise at.error("question_id", f"duplicate reference answer to question {prompt.id}")
        text, choices = _turn_one(row, at)
        self.file_references[prompt.id] = text
        self.reference_shapes.append({**row, "choices": choices})

    def attach_references(self) -> None:
        """Reference = the reference file's turn 1, else the question's own ``reference``."""
        for pid, prompt in self.prompts.items():
            shape = self.question_shapes[pid]
            if pid in self.file_references:
                reference = self.file_references[pid]
            elif shape.get("reference") is not None:
                reference = shape["reference"][0]
                shape["reference"] = [None, *shape["reference"][1:]]
            else:
                continue
            self.prompts[pid] = dataclasses.replace(prompt, reference=reference)

    def add_answer(self, row: dict[str, Any], at: _At) -> None:
        prompt = self.known_prompt(row, at)
        model = _text(row, "model_id", at, empty_ok=False)
        text, choices = _turn_one(row, at)
        answers = self.outputs.setdefault(model, {})
        if prompt.id in answers:
            raise at.error("question_id", f"duplicate answer of model '{model}' to question "
                                          f"{prompt.id}")
        answers[prompt.id] = text
        self.answer_shapes.setdefault(model, {})[prompt.id] = {
            **row, "question_id": None, "model_id": None, "choices": choices}

    def add_judgment(self, row: dict[str, Any], at: _At) -> None:
        prompt = self.known_prompt(row, at)
        models = [_text(row, key, at, empty_ok=False) for key in ("model_1", "model_2")]
        winners = [_winner(row, key, at) for key in ("g1_winner", "g2_winner")]
        judge = _get(row, "judge", at, "judge")
        if (not isinstance(judge, list) or len(judge) != 2
                or not all(isinstance(part, str) for part in judge)):
            raise at.error("judge", "wrong type: expected [judge model, prompt name] (two "
                                    f"strings), found {json.dumps(judge)[:80]}")
        turn = _get(row, "turn", at, "turn")
        if turn not in (1, 2) or isinstance(turn, bool):
            raise at.error("turn", f"expected 1 or 2, found {json.dumps(turn)[:40]}")
        texts = [_optional_text(row, f"g{g}_{part}", at)
                 for g in (1, 2) for part in ("user_prompt", "judgment")]
        position = self.records_per_judge.get(judge[0], 0)
        self.records_per_judge[judge[0]] = position + 1
        if turn == 2:
            self.turn2.append({"judge": judge[0], "position": position, "record": row})
            return
        for model in models:
            if prompt.id not in self.outputs.get(model, {}):
                raise at.error("model_1" if model == models[0] else "model_2",
                               f"no answer of '{model}' to question {prompt.id} among the "
                               "answer files read")
        record = {k: v for k, v in row.items() if k not in _RECORD_KEYS}
        for game, (first, second) in ((1, models), (2, models[::-1])):
            label = _label(winners[game - 1], "model_1" if game == 1 else "model_2")
            extra = {"game": game, "judge_prompt": judge[1],
                     "user_prompt": texts[2 * game - 2], "record": dict(record)}
            self.judgments.append(ImportedJudgment(
                judge=judge[0], prompt_id=prompt.id, model_first=first, model_second=second,
                label=label, strength=1 if label in ("A", "B") else 0,
                raw=texts[2 * game - 1], extra=extra))


def _turn_one(row: dict[str, Any], at: _At) -> tuple[str, list[Any]]:
    """(turn-1 text, shape of ``choices`` with that text nulled) of an answer record."""
    choices = _list(_get(row, "choices", at, "choices"), at, "choices")
    choice = _object(choices[0], at, "choices[0]")
    turns = _strings(_get(choice, "turns", at, "choices[0].turns"), at, "choices[0].turns")
    return turns[0], [{**choice, "turns": [None, *turns[1:]]}, *choices[1:]]


def _winner(row: dict[str, Any], key: str, at: _At) -> str:
    value = _text(row, key, at)
    if value not in _WINNERS:
        raise at.error(key, f"unknown winner {value!r}: expected one of {', '.join(_WINNERS)}")
    return value


def _label(winner: str, shown_first: str) -> str:
    """Positional label of a winner for the game that showed ``shown_first`` as A."""
    if winner == "tie":
        return "tie"
    if winner == "error":
        return "invalid"
    return "A" if winner == shown_first else "B"


# --------------------------------------------------------------------------- writing

@dataclass(frozen=True)
class MTBenchFiles:
    """The files ``write_mt_bench`` wrote, in the order ``read_mt_bench`` takes them."""

    question_file: Path
    answer_files: list[Path]
    judgment_files: list[Path]
    reference_file: Path | None


def write_mt_bench(bundle: ImportBundle, out_dir: PathLike) -> MTBenchFiles:
    """Write question.jsonl, model_answer/<model>.jsonl, model_judgment/<judge>_pair.jsonl and,
    when the bundle came with one, reference_answer/<model>.jsonl.

    A bundle read by ``read_mt_bench`` comes back field for field (turn-2 records at their
    places). Judgments are written in pairs: each must be followed by the same comparison in
    swapped order; prompts must be single user turns.
    """
    out = Path(out_dir)
    own = bundle.source == "mt_bench"
    extra = bundle.extra if own else {}
    int_ids = bool(extra.get("int_ids", False))
    prompts = {p.id: p for p in bundle.prompts}

    question_file, answer_files = _write_questions_and_answers(
        out, bundle, extra, int_ids, _question_row, _answer_row)

    reference_file = None
    if extra.get("reference_answers"):
        shapes = extra["reference_answers"]
        rows = [_reference_row(prompts, shape) for shape in shapes]
        reference_file = (out / "reference_answer"
                          / f"{_file_name(str(shapes[0].get('model_id') or 'reference'))}.jsonl")
        _write_jsonl(reference_file, rows)

    judgment_files = []
    for judge, rows in _judgment_files(bundle, own, int_ids).items():
        path = out / "model_judgment" / f"{_file_name(judge)}_pair.jsonl"
        _write_jsonl(path, rows)
        judgment_files.append(path)
    return MTBenchFiles(question_file, answer_files, judgment_files, reference_file)


def _question_row(prompt: PoolPrompt, shape: dict[str, Any] | None,
                  int_ids: bool) -> dict[str, Any]:
    if shape is None:
        shape = {"question_id": None, **({"category": None} if "category" in prompt.tags else {}),
                 "turns": [None]}
        if prompt.reference is not None:
            shape["reference"] = [None]
    row = copy.deepcopy(shape)
    row["question_id"] = _id_value(prompt.id, int_ids)
    row["turns"][0] = _user_text(prompt, "an MT-Bench turn 1")
    if "category" in row and "category" in prompt.tags:
        row["category"] = prompt.tags["category"]
    reference = row.get("reference")
    if isinstance(reference, list) and reference and reference[0] is None:
        reference[0] = prompt.reference
    return row


def _answer_row(prompt: PoolPrompt, model: str, text: str, shape: dict[str, Any] | None,
                int_ids: bool) -> dict[str, Any]:
    if shape is None:
        shape = {"question_id": None, "model_id": None,
                 "choices": [{"index": 0, "turns": [None]}]}
    row = copy.deepcopy(shape)
    row["question_id"] = _id_value(prompt.id, int_ids)
    row["model_id"] = model
    row["choices"][0]["turns"][0] = text
    return row


def _reference_row(prompts: dict[str, PoolPrompt], shape: dict[str, Any]) -> dict[str, Any]:
    row = copy.deepcopy(shape)
    row["choices"][0]["turns"][0] = _prompt(prompts, str(row["question_id"])).reference
    return row


def _winner_of(j: ImportedJudgment, shown_first: str, shown_second: str) -> str:
    label, _ = _verdict(j)
    return {"A": shown_first, "B": shown_second, "tie": "tie"}.get(label, "error")


def _pair_row(g1: ImportedJudgment, g2: ImportedJudgment, own: bool,
              int_ids: bool) -> dict[str, Any]:
    e1, e2 = (g1.extra, g2.extra) if own else ({}, {})
    return {
        "question_id": _id_value(g1.prompt_id, int_ids),
        "model_1": g1.model_first, "model_2": g1.model_second,
        "g1_winner": _winner_of(g1, "model_1", "model_2"),
        "g2_winner": _winner_of(g2, "model_2", "model_1"),
        "judge": [g1.judge, e1.get("judge_prompt", _IMPORTED_PROMPT)],
        "g1_user_prompt": e1.get("user_prompt"), "g1_judgment": g1.raw,
        "g2_user_prompt": e2.get("user_prompt"), "g2_judgment": g2.raw,
        **e1.get("record", {"turn": 1}),
    }


def _game(j: ImportedJudgment) -> int | None:
    number = j.extra.get("game")
    return number if number in (1, 2) else None


def _judgment_files(bundle: ImportBundle, own: bool,
                    int_ids: bool) -> dict[str, list[dict[str, Any]]]:
    """Records per judge: judgments paired into turn-1 records, turn-2 records put back."""
    files: dict[str, list[dict[str, Any]]] = {}
    js = bundle.judgments
    for i in range(0, len(js), 2):
        g1 = js[i]
        g2 = js[i + 1] if i + 1 < len(js) else None
        if (g2 is None or _game(g1) == 2 or _game(g2) == 1 or g1.judge != g2.judge
                or g1.prompt_id != g2.prompt_id
                or (g1.model_first, g1.model_second) != (g2.model_second, g2.model_first)):
            raise InputError(
                f"judgment {i + 1} ({g1.judge} on prompt '{g1.prompt_id}', "
                f"{g1.model_first} first) is not followed by the same comparison in swapped "
                "order; MT-Bench pairwise records need both orders")
        files.setdefault(g1.judge, []).append(_pair_row(g1, g2, own, int_ids))
    turn2 = bundle.extra.get("turn2_judgments", []) if own else []
    for item in sorted(turn2, key=lambda t: t["position"]):
        rows = files.setdefault(item["judge"], [])
        rows.insert(min(item["position"], len(rows)), copy.deepcopy(item["record"]))
    return files
