"""Human preference pairs for ``evalkit rm-eval``, read from three formats (JSON lists or
JSONL, optionally gzip-compressed); bad input is one ``InputError`` naming file, line and
field.

* HH-RLHF: ``{"chosen": TRANSCRIPT, "rejected": TRANSCRIPT}`` where a transcript is a
  dialogue of ``\\n\\nHuman: …`` / ``\\n\\nAssistant: …`` turns ending with the assistant's
  answer; the turns before it are the prompt (each side keeps its own, for the few pairs
  whose histories differ; the real files hold a few dialogues with two assistant turns in a
  row, kept as they are).
* LLMBar-style: ``{"input", "output_1", "output_2", "label"}`` with ``label`` 1 or 2 naming
  the better output.
* Plain: ``{"prompt", "chosen", "rejected"}`` (RewardBench's columns).

A row may carry ``subset``; otherwise the subset is the file's name without its suffixes
(``helpful-base-test.jsonl.gz`` → ``helpful-base-test``).
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError

_TURN = re.compile(r"\n\n(Human|Assistant):[ \t]?")
_ROLE = {"Human": "user", "Assistant": "assistant"}


@dataclass(frozen=True)
class Side:
    """One side of a pair: the conversation so far and the answer to score."""

    messages: tuple[dict[str, str], ...]
    response: str


@dataclass(frozen=True)
class PreferencePair:
    subset: str
    item_id: str
    chosen: Side
    rejected: Side


def subset_name(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".jsonl", ".json"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name


def parse_transcript(text: str) -> Side:
    """An HH-RLHF transcript → (messages before the last assistant turn, that turn)."""
    pieces = _TURN.split(text)
    head, rest = pieces[0], pieces[1:]
    turns = [(_ROLE[rest[i]], rest[i + 1]) for i in range(0, len(rest), 2)]
    if not turns or turns[-1][0] != "assistant":
        raise ValueError("does not end with an '\\n\\nAssistant:' turn")
    if head.strip():
        raise ValueError("text before the first '\\n\\nHuman:' turn")
    messages = tuple({"role": role, "content": content} for role, content in turns[:-1])
    if not any(m["role"] == "user" for m in messages):
        raise ValueError("no '\\n\\nHuman:' turn before the answer")
    return Side(messages, turns[-1][1])


def _rows(path: Path) -> list[tuple[int, Any]]:
    if not path.is_file():
        raise InputError("pairs file not found", path=str(path))
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise InputError(f"not a valid gzip file: {exc}", path=str(path)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad_line = raw[:exc.start].count(b"\n") + 1
        raise InputError(f"not valid UTF-8 at byte offset {exc.start}", path=str(path),
                         line=bad_line) from None
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"bad JSON: {exc.msg}", path=str(path), line=exc.lineno) from None
        return list(enumerate(data, 1))
    rows = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append((lineno, json.loads(line)))
        except json.JSONDecodeError as exc:
            raise InputError(f"bad JSON: {exc.msg}", path=str(path), line=lineno) from None
    return rows


def _text(path: Path, line: int, row: dict[str, Any], field: str) -> str:
    if field not in row:
        raise InputError("missing field", path=str(path), line=line, field=field)
    value = row[field]
    if not isinstance(value, str):
        raise InputError(f"expected a string, got {type(value).__name__}", path=str(path),
                         line=line, field=field)
    return value


def _pair(path: Path, line: int, row: Any, subset: str) -> PreferencePair:
    where = str(path)
    if not isinstance(row, dict):
        raise InputError("expected a JSON object", path=where, line=line)
    sub = row.get("subset", subset)
    sub = sub if isinstance(sub, str) and sub else subset
    item = f"{subset}-{line}"
    if "output_1" in row or "label" in row:
        question = _text(path, line, row, "input")
        one, two = _text(path, line, row, "output_1"), _text(path, line, row, "output_2")
        if row.get("label") not in (1, 2):
            raise InputError(f"expected 1 or 2, got {row.get('label')!r}", path=where,
                             line=line, field="label")
        msgs = ({"role": "user", "content": question},)
        better, worse = (one, two) if row["label"] == 1 else (two, one)
        return PreferencePair(sub, item, Side(msgs, better), Side(msgs, worse))
    chosen, rejected = _text(path, line, row, "chosen"), _text(path, line, row, "rejected")
    if "prompt" in row:
        msgs = ({"role": "user", "content": _text(path, line, row, "prompt")},)
        return PreferencePair(sub, item, Side(msgs, chosen), Side(msgs, rejected))
    sides = []
    for field, text in (("chosen", chosen), ("rejected", rejected)):
        try:
            sides.append(parse_transcript(text))
        except ValueError as exc:
            raise InputError(f"not an HH-RLHF transcript: {exc}", path=where, line=line,
                             field=field) from None
    return PreferencePair(sub, item, sides[0], sides[1])


def read_pairs(paths: list[str | Path], limit: int | None = None) -> list[PreferencePair]:
    """Every pair of every file (the first ``limit`` of each, when given)."""
    if not paths:
        raise InputError("no pairs file given (--pairs FILE)")
    out: list[PreferencePair] = []
    for raw in paths:
        path = Path(raw)
        subset = subset_name(path)
        rows = _rows(path)
        if not rows:
            raise InputError("no preference pairs in the file", path=str(path))
        for line, row in rows[:limit] if limit else rows:
            out.append(_pair(path, line, row, subset))
    return out


def pairs_hash(pairs: list[PreferencePair]) -> str:
    from ..hashing import content_hash

    return content_hash([[p.subset, list(p.chosen.messages), p.chosen.response,
                          list(p.rejected.messages), p.rejected.response] for p in pairs])
