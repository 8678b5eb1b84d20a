"""Arena-Hard-Auto result files <-> ``ImportBundle``.

Formats, as checked in lmarena/arena-hard-auto:

* Current layout (the arena-hard-v0.1 data as the repository ships it now, and v2.0):
  ``data/<bench>/question.jsonl`` ``{"uid", "category", "cluster" (v0.1), "prompt"}``;
  ``model_answer/<model>.jsonl`` ``{"uid", "ans_id", "model", "messages": [..., {"role":
  "assistant", "content": {"answer": ...}}], "tstamp", "metadata"}`` (src/arenahard/
  gen_answer.py; data/arena-hard-v2.0/model_answer/sky-t1-32b.jsonl);
  ``model_judgment/<judge>/<model>.jsonl`` ``{"uid", "category", "judge", "model", "baseline",
  "games": [{"score", "judgment": {"answer": ...}, "prompt": [...]}, {...}]}``
  (src/arenahard/gen_judgment.py: round 1 shows the baseline as A and the model as B, round 2
  swaps them; a game is null when the judge call failed).
* Original 2024 layout: question ``{"question_id", "category", "cluster", "turns":
  [{"content"}]}``; answer ``{"question_id", "answer_id", "model_id", "choices": [{"index",
  "turns": [{"content"}]}], "tstamp", "conv_metadata"}`` (gen_answer.py); judgment
  ``{"question_id", "model", "judge", "games": [{"user_prompt", "judgment", "score"}, ...]}``
  (gen_judgment.py: game 1 baseline first, game 2 swapped). These judgments do not name the
  baseline (it is judge_config's ``baseline_model``, gpt-4-0314 for v0.1): pass ``baseline=``.
* Verdicts: ``"A>>B", "A>B", "A=B", "B>A", "B>>A"`` and the mirrored spellings ``"A<<B",
  "A<B", "B=A", "B<<A", "B<A"`` (show_result.py ``label_to_score``); null when none was parsed.

Mapping: prompt id = ``uid`` (or ``question_id``); the tag ``category`` is ``cluster`` when
present, else ``category``. A multi-turn question (original layout) maps turn 1 onto the
prompt and turn-1 answers onto ``outputs``; later turns stay in ``bundle.extra``. Each game of
a judgment record is one ``ImportedJudgment`` (game 1: baseline first; game 2: model first);
a verdict that is null or not one of the labels above is "invalid". Each record's fields that
have no column stay in ``extra`` as the record with those values set to null, so
``write_arena_hard`` gives back the same JSON objects.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
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
    _paths,
    _text,
    _user_text,
    _write_jsonl,
    _write_questions_and_answers,
)
from .bundle import ImportBundle, ImportedJudgment

__all__ = ["ArenaHardFiles", "read_arena_hard", "write_arena_hard"]


_SCORES: dict[str, tuple[str, int]] = {
    "A>>B": ("A", 2), "B<<A": ("A", 2), "A>B": ("A", 1), "B<A": ("A", 1),
    "A=B": ("tie", 0), "B=A": ("tie", 0),
    "B>A": ("B", 1), "A<B": ("B", 1), "B>>A": ("B", 2), "A<<B": ("B", 2),
}
_SCORE_TEXT = {("A", 2): "A>>B", ("A", 1): "A>B", ("tie", 0): "A=B", ("B", 1): "B>A",
               ("B", 2): "B>>A"}


# --------------------------------------------------------------------------- reading

def read_arena_hard(
    question_file: PathLike, answer_files: PathLike | Iterable[PathLike] = (),
    judgment_files: PathLike | Iterable[PathLike] = (), *, baseline: str | None = None,
    pool_name: str = "arena_hard",
) -> ImportBundle:
    """Read question.jsonl, model_answer/*.jsonl and model_judgment/<judge>/*.jsonl files.

    ``baseline`` names the baseline model of judgment records that do not carry one
    (original layout). Judgments must refer to questions and answers that were read.
    """
    reader = _Reader(baseline)
    for row, at in _jsonl(question_file):
        reader.add_question(row, at)
    if not reader.prompts:
        raise InputError("no questions found (the file is empty)", path=str(question_file))
    for path in _paths(answer_files):
        for row, at in _jsonl(path):
            reader.add_answer(row, at)
    for path in _paths(judgment_files):
        for row, at in _jsonl(path):
            reader.add_judgment(row, at)
    extra = {"int_ids": bool(reader.int_ids), "questions": reader.question_shapes,
             "answers": reader.answer_shapes}
    return ImportBundle(source="arena_hard", pool_name=pool_name,
                        prompts=list(reader.prompts.values()), outputs=reader.outputs,
                        judgments=reader.judgments, extra=extra)


def _turn_text(turn: Any, at: _At, field: str) -> tuple[str, Any]:
    """(text, shape) of a turn given as a string or as ``{"content": ...}``."""
    if isinstance(turn, str):
        return turn, None
    if isinstance(turn, dict):
        return _text(turn, "content", at, f"{field}.content"), {**turn, "content": None}
    raise at.error(field, f"wrong type: expected a string or an object, found {_kind(turn)}")


class _Reader:
    """Accumulates one import across its files."""

    def __init__(self, baseline: str | None) -> None:
        self.baseline = baseline
        self.prompts: dict[str, PoolPrompt] = {}
        self.outputs: dict[str, dict[str, str]] = {}
        self.judgments: list[ImportedJudgment] = []
        self.question_shapes: dict[str, dict[str, Any]] = {}
        self.answer_shapes: dict[str, dict[str, dict[str, Any]]] = {}
        self.int_ids: bool | None = None

    def question_id(self, row: dict[str, Any], at: _At) -> tuple[str, str, bool]:
        """(key, id, is_int) of a record's question id (``uid`` or ``question_id``)."""
        key = "uid" if "uid" in row or "question_id" not in row else "question_id"
        value = _get(row, key, at, key)
        if isinstance(value, int) and not isinstance(value, bool):
            return key, str(value), True
        if not isinstance(value, str) or not value.strip():
            raise at.error(key, f"wrong type: expected a non-empty string or an integer, "
                                f"found {_kind(value)}")
        return key, value, False

    def known_prompt(self, row: dict[str, Any], at: _At) -> tuple[str, PoolPrompt]:
        key, pid, _ = self.question_id(row, at)
        if pid not in self.prompts:
            raise at.error(key, f"unknown question id '{pid}': not in the question file")
        return key, self.prompts[pid]

    def add_question(self, row: dict[str, Any], at: _At) -> None:
        key, pid, is_int = self.question_id(row, at)
        if self.int_ids is None:
            self.int_ids = is_int
        elif self.int_ids != is_int:
            raise at.error(key, "question ids mix numbers and strings")
        if pid in self.prompts:
            raise at.error(key, f"duplicate question id '{pid}'")
        shape = {**row, key: None}
        if "prompt" in row:
            text = _text(row, "prompt", at, empty_ok=False)
            shape["prompt"] = None
        elif "turns" in row:
            turns = _list(row["turns"], at, "turns")
            text, first = _turn_text(turns[0], at, "turns[0]")
            shape["turns"] = [first, *turns[1:]]
        else:
            raise at.error("prompt", "missing field: need 'prompt' or 'turns'")
        tags: dict[str, str] = {}
        tag_key = "cluster" if "cluster" in row else "category" if "category" in row else None
        if tag_key is not None:
            tags["category"] = _text(row, tag_key, at)
            shape[tag_key] = None
        self.prompts[pid] = PoolPrompt(id=pid, messages=({"role": "user", "content": text},),
                                       tags=tags)
        self.question_shapes[pid] = shape

    def add_answer(self, row: dict[str, Any], at: _At) -> None:
        key, prompt = self.known_prompt(row, at)
        shape = {**row, key: None}
        if "messages" in row:
            model = _text(row, "model", at, empty_ok=False)
            shape["model"] = None
            output, shape["messages"] = _from_messages(row["messages"], prompt, at)
        elif "choices" in row:
            model = _text(row, "model_id", at, empty_ok=False)
            shape["model_id"] = None
            output, shape["choices"] = _from_choices(row["choices"], at)
        else:
            raise at.error("messages", "missing field: need 'messages' (current layout) or "
                                       "'choices' (original layout)")
        answers = self.outputs.setdefault(model, {})
        if prompt.id in answers:
            raise at.error(key, f"duplicate answer of model '{model}' to question '{prompt.id}'")
        answers[prompt.id] = output
        self.answer_shapes.setdefault(model, {})[prompt.id] = shape

    def add_judgment(self, row: dict[str, Any], at: _At) -> None:
        key, prompt = self.known_prompt(row, at)
        model = _text(row, "model", at, empty_ok=False)
        judge = _text(row, "judge", at, empty_ok=False)
        record = {**row, key: None, "model": None, "judge": None, "games": None}
        if "baseline" in row:
            base = _text(row, "baseline", at, empty_ok=False)
            record["baseline"] = None
        elif self.baseline is not None:
            base = self.baseline
        else:
            raise at.error("baseline", "missing field: this judgment does not name its "
                                       "baseline; pass baseline= (gpt-4-0314 for "
                                       "arena-hard-v0.1)")
        for name, field in ((base, "baseline"), (model, "model")):
            if prompt.id not in self.outputs.get(name, {}):
                raise at.error(field, f"no answer of '{name}' to question '{prompt.id}' among "
                                      "the answer files read")
        games = _list(_get(row, "games", at, "games"), at, "games")
        if len(games) > 2:
            raise at.error("games", f"expected 1 or 2 games, found {len(games)}")
        for number, game in enumerate(games, start=1):
            first, second = (base, model) if number == 1 else (model, base)
            label, strength, raw, fields = _game(game, at, f"games[{number - 1}]")
            self.judgments.append(ImportedJudgment(
                judge=judge, prompt_id=prompt.id, model_first=first, model_second=second,
                label=label, strength=strength, raw=raw,
                extra={"game": number, "record": copy.deepcopy(record), "fields": fields}))


def _from_messages(value: Any, prompt: PoolPrompt, at: _At) -> tuple[str, list[Any]]:
    """(answer text, shape) of a current-layout ``messages`` list."""
    messages = _list(value, at, "messages")
    last = _object(messages[-1], at, "messages[-1]")
    content = _get(last, "content", at, "messages[-1].content")
    if isinstance(content, dict):
        text = _text(content, "answer", at, "messages[-1].content.answer")
        last_shape = {**last, "content": {**content, "answer": None}}
    elif isinstance(content, str):
        text, last_shape = content, {**last, "content": None}
    else:
        raise at.error("messages[-1].content", f"wrong type: expected an object or a string, "
                                               f"found {_kind(content)}")
    head = messages[:-1]
    if head == list(prompt.messages):
        head = [None] * len(head)  # the prompt's own messages, restored by the writer
    return text, [*head, last_shape]


def _from_choices(value: Any, at: _At) -> tuple[str, list[Any]]:
    """(turn-1 answer text, shape) of an original-layout ``choices`` list."""
    choices = _list(value, at, "choices")
    choice = _object(choices[0], at, "choices[0]")
    turns = _list(_get(choice, "turns", at, "choices[0].turns"), at, "choices[0].turns")
    text, first = _turn_text(turns[0], at, "choices[0].turns[0]")
    return text, [{**choice, "turns": [first, *turns[1:]]}, *choices[1:]]


def _game(game: Any, at: _At, field: str) -> tuple[str, int, str | None, Any]:
    """(label, strength, raw judgment text, shape) of one game; a null game is invalid."""
    if game is None:
        return "invalid", 0, None, None
    game = _object(game, at, field)
    shape = dict(game)
    score = game.get("score")
    label, strength = _SCORES.get(score, ("invalid", 0)) if isinstance(score, str) else (
        "invalid", 0)
    if "score" in game and (score is None or _SCORE_TEXT.get((label, strength)) == score):
        shape["score"] = None  # restored from label and strength
    raw = None
    if "judgment" in game:
        judgment = game["judgment"]
        if isinstance(judgment, dict):
            raw = _text(judgment, "answer", at, f"{field}.judgment.answer")
            shape["judgment"] = {**judgment, "answer": None}
        elif isinstance(judgment, str) or judgment is None:
            raw, shape["judgment"] = judgment, None
        else:
            raise at.error(f"{field}.judgment", f"wrong type: expected a string or an object, "
                                                f"found {_kind(judgment)}")
    return label, strength, raw, shape


# --------------------------------------------------------------------------- writing

@dataclass(frozen=True)
class ArenaHardFiles:
    """The files ``write_arena_hard`` wrote, in the order ``read_arena_hard`` takes them."""

    question_file: Path
    answer_files: list[Path]
    judgment_files: list[Path]


def write_arena_hard(bundle: ImportBundle, out_dir: PathLike) -> ArenaHardFiles:
    """Write question.jsonl, model_answer/<model>.jsonl and model_judgment/<judge>/<model>.jsonl.

    A bundle read by ``read_arena_hard`` comes back in its own layout and field for field;
    other bundles are written in the current layout. Prompts must be single user turns.
    Judgments are written as records of two games when a judgment is followed by the same
    comparison in swapped order, else as one-game records.
    """
    out = Path(out_dir)
    own = bundle.source == "arena_hard"
    extra = bundle.extra if own else {}
    int_ids = bool(extra.get("int_ids", False))
    question_file, answer_files = _write_questions_and_answers(
        out, bundle, extra, int_ids, _question_row, _answer_row)

    by_file: dict[Path, list[dict[str, Any]]] = {}
    for judge, model, row in _judgment_rows(bundle.judgments, own, int_ids):
        path = out / "model_judgment" / _file_name(judge) / f"{_file_name(model)}.jsonl"
        by_file.setdefault(path, []).append(row)
    for path, rows in by_file.items():
        _write_jsonl(path, rows)
    return ArenaHardFiles(question_file, answer_files, list(by_file))


def _question_row(prompt: PoolPrompt, shape: dict[str, Any] | None,
                  int_ids: bool) -> dict[str, Any]:
    if shape is None:
        shape = {"uid": None, **({"category": None} if "category" in prompt.tags else {}),
                 "prompt": None}
    row = copy.deepcopy(shape)
    row["uid" if "uid" in row else "question_id"] = _id_value(prompt.id, int_ids)
    text = _user_text(prompt, "an Arena-Hard question")
    if "prompt" in row:
        row["prompt"] = text
    elif isinstance(row["turns"][0], dict):
        row["turns"][0]["content"] = text
    else:
        row["turns"][0] = text
    tag_key = "cluster" if "cluster" in row else "category" if "category" in row else None
    if tag_key is not None and "category" in prompt.tags:
        row[tag_key] = prompt.tags["category"]
    return row


def _answer_row(prompt: PoolPrompt, model: str, text: str, shape: dict[str, Any] | None,
                int_ids: bool) -> dict[str, Any]:
    if shape is None:
        shape = {"uid": None, "model": None,
                 "messages": [None] * len(prompt.messages)
                 + [{"role": "assistant", "content": {"answer": None}}]}
    row = copy.deepcopy(shape)
    row["uid" if "uid" in row else "question_id"] = _id_value(prompt.id, int_ids)
    if "messages" in row:
        row["model"] = model
        messages = row["messages"]
        for i, message in enumerate(messages[:-1]):
            if message is None:
                messages[i] = dict(prompt.messages[i])
        last = messages[-1]
        if isinstance(last["content"], dict):
            last["content"]["answer"] = text
        else:
            last["content"] = text
    else:
        row["model_id"] = model
        turns = row["choices"][0]["turns"]
        if isinstance(turns[0], dict):
            turns[0]["content"] = text
        else:
            turns[0] = text
    return row


def _game_number(j: ImportedJudgment) -> int | None:
    number = j.extra.get("game")
    return number if number in (1, 2) else None


def _swapped(j1: ImportedJudgment, j2: ImportedJudgment) -> bool:
    """Whether ``j2`` is the same comparison as ``j1`` with the order swapped (game 2)."""
    return (j1.judge == j2.judge and j1.prompt_id == j2.prompt_id
            and (j1.model_first, j1.model_second) == (j2.model_second, j2.model_first)
            and _game_number(j1) in (1, None) and _game_number(j2) in (2, None))


def _judgment_rows(judgments: list[ImportedJudgment], own: bool,
                   int_ids: bool) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(judge, judged model, record) per judgment record, pairing games 1 and 2."""
    i = 0
    while i < len(judgments):
        j = judgments[i]
        if i + 1 < len(judgments) and _swapped(j, judgments[i + 1]):
            games: list[ImportedJudgment | None] = [j, judgments[i + 1]]
            i += 2
        else:
            games = [None, j] if _game_number(j) == 2 else [j]
            i += 1
        lead = j
        baseline, model = ((lead.model_second, lead.model_first) if games[0] is None
                           else (lead.model_first, lead.model_second))
        record = lead.extra.get("record") if own else None
        if record is None:
            record = {"uid": None, "judge": None, "model": None, "baseline": None, "games": None}
        row = copy.deepcopy(record)
        row["uid" if "uid" in row else "question_id"] = _id_value(lead.prompt_id, int_ids)
        row["judge"], row["model"] = lead.judge, model
        if "baseline" in row:
            row["baseline"] = baseline
        row["games"] = [None if g is None else _game_row(g, own) for g in games]
        yield lead.judge, model, row


def _verdict(j: ImportedJudgment) -> tuple[str, int]:
    """Label and strength, read off the soft preference when there is no label."""
    if j.label in ("A", "B"):
        return j.label, min(max(j.strength, 1), 2)
    if j.label is not None:
        return j.label, 0
    if j.preference is None:
        return "invalid", 0
    if j.preference == 0.5:
        return "tie", 0
    return ("A" if j.preference < 0.5 else "B"), 1


def _game_row(j: ImportedJudgment, own: bool) -> dict[str, Any] | None:
    if own and "fields" in j.extra:
        if j.extra["fields"] is None:
            return None
        game = copy.deepcopy(j.extra["fields"])
    else:
        game = {"score": None, "judgment": None}
    if "score" in game and game["score"] is None:
        game["score"] = _SCORE_TEXT.get(_verdict(j))
    if "judgment" in game:
        if isinstance(game["judgment"], dict):
            game["judgment"]["answer"] = j.raw
        else:
            game["judgment"] = j.raw
    return game
