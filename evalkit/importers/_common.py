"""Helpers the importers share: located errors, JSON-lines reading and writing, names."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..pools import PoolPrompt

PathLike = str | os.PathLike[str]


class _At:
    """A line of a file, to build located errors."""

    def __init__(self, path: str, line: int | None) -> None:
        self.path, self.line = path, line

    def error(self, field: str | None, message: str) -> InputError:
        return InputError(message, path=self.path, line=self.line, field=field)


def _paths(value: PathLike | Iterable[PathLike]) -> list[PathLike]:
    return [value] if isinstance(value, (str, os.PathLike)) else list(value)


def _jsonl(path: PathLike) -> Iterator[tuple[dict[str, Any], _At]]:
    """The objects of a JSON-lines file with their location; blank lines are skipped."""
    src = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError as err:
        raise InputError("file not found", path=src) from err
    except OSError as err:
        raise InputError(f"cannot read file: {err.strerror or err}", path=src) from err
    for number, raw in enumerate(data.split(b"\n"), start=1):
        at = _At(src, number)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise at.error(None, f"not valid UTF-8 at byte {err.start} of the line") from err
        text = text.lstrip("\ufeff") if number == 1 else text
        if not text.strip():
            continue
        try:
            row = json.loads(text)
        except json.JSONDecodeError as err:
            raise at.error(None, f"invalid JSON: {err.msg} at column {err.colno}") from err
        if not isinstance(row, dict):
            raise at.error(None, f"expected a JSON object (one per line), found {_kind(row)}")
        yield row, at


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    names = {dict: "object", list: "array", str: "string", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def _file_name(name: str) -> str:
    """A model or judge name as one path component."""
    return name.replace("/", "_").replace("\\", "_") or "_"


def _id_value(pid: str, int_ids: bool) -> str | int:
    return int(pid) if int_ids else pid


def _get(obj: dict[str, Any], key: str, at: _At, field: str) -> Any:
    if key not in obj:
        raise at.error(field, "missing field")
    return obj[key]


def _text(obj: dict[str, Any], key: str, at: _At, field: str | None = None, *,
          empty_ok: bool = True) -> str:
    field = field or key
    value = _get(obj, key, at, field)
    if not isinstance(value, str):
        raise at.error(field, f"wrong type: expected a string, found {_kind(value)}")
    if not empty_ok and not value.strip():
        raise at.error(field, "empty string")
    return value


def _object(value: Any, at: _At, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise at.error(field, f"wrong type: expected an object, found {_kind(value)}")
    return value


def _list(value: Any, at: _At, field: str) -> list[Any]:
    if not isinstance(value, list):
        raise at.error(field, f"wrong type: expected an array, found {_kind(value)}")
    if not value:
        raise at.error(field, "empty array")
    return value


def _optional_text(obj: dict[str, Any], key: str, at: _At) -> str | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise at.error(key, f"wrong type: expected a string or null, found {_kind(value)}")
    return value


def _prompt(prompts: dict[str, PoolPrompt], pid: str) -> PoolPrompt:
    if pid not in prompts:
        raise InputError(f"prompt id '{pid}' has outputs, references or judgments but is not "
                         "among the bundle's prompts")
    return prompts[pid]


def _user_text(prompt: PoolPrompt, what: str) -> str:
    """The text of a single-user-turn prompt; ``what`` names the format's unit in the error."""
    if len(prompt.messages) != 1 or prompt.messages[0].get("role") != "user":
        raise InputError(f"prompt '{prompt.id}' has {len(prompt.messages)} messages; {what} "
                         "is a single user turn", field="messages")
    return prompt.messages[0]["content"]


def _write_questions_and_answers(out: Path, bundle: Any, extra: dict[str, Any], int_ids: bool,
                                 question_row: Any, answer_row: Any) -> tuple[Path, list[Path]]:
    """question.jsonl and model_answer/<model>.jsonl, as Arena-Hard and MT-Bench lay them out;
    ``question_row`` / ``answer_row`` build one record in the format's shape."""
    prompts = {p.id: p for p in bundle.prompts}
    question_file = out / "question.jsonl"
    _write_jsonl(question_file, [
        question_row(p, extra.get("questions", {}).get(p.id), int_ids) for p in bundle.prompts])
    answer_files = []
    for model, answers in bundle.outputs.items():
        shapes = extra.get("answers", {}).get(model, {})
        rows = [answer_row(_prompt(prompts, pid), model, text, shapes.get(pid), int_ids)
                for pid, text in answers.items()]
        path = out / "model_answer" / f"{_file_name(model)}.jsonl"
        _write_jsonl(path, rows)
        answer_files.append(path)
    return question_file, answer_files
