"""Prompt pools: read, validate and version prompt files (no database here)."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from .errors import InputError
from .hashing import content_hash


@dataclass(frozen=True)
class PoolPrompt:
    """One prompt of a pool.

    ``messages`` is the chat so far as ``({"role": ..., "content": ...}, ...)``; it ends with a
    user turn (multi-turn prompts carry earlier user/assistant turns). ``tags`` maps a tag name
    (e.g. ``category``) to a string value.
    """

    id: str
    messages: tuple[dict, ...]
    tags: dict[str, str] = field(default_factory=dict)
    reference: str | None = None

    @cached_property
    def prompt_hash(self) -> str:
        """Content key of the prompt: the messages alone (ids and tags are pool metadata)."""
        return content_hash({"messages": list(self.messages)})


# --------------------------------------------------------------------------- reading

Row = dict[str, Any]
Rows = Iterable[tuple[int, Row]]

_SUFFIXES = {".jsonl": "jsonl", ".json": "jsonl", ".csv": "csv", ".parquet": "parquet"}
_FORMATS = ("jsonl", "csv", "parquet", "hf")
_ROLES = ("system", "user", "assistant")
_CSV_FIELD_LIMIT = 2**31 - 1


@dataclass(frozen=True)
class FieldMap:
    """Which columns of a row hold the id, the prompt (or chat), system, reference and tags.

    ``id=None`` derives the id from the content (first 12 hex chars of ``prompt_hash``).
    A row must have exactly one of ``prompt`` / ``messages``. A ``tags`` column holding an
    object adds its entries as tags, besides the columns named in ``tags``.
    """

    id: str | None = "id"
    prompt: str = "prompt"
    messages: str = "messages"
    system: str | None = None
    reference: str | None = "reference"
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class _At:
    """Where a row came from, to build located errors."""

    path: str
    line: int
    unit: str = "line"

    def error(self, field: str | None, message: str) -> InputError:
        return InputError(message, path=self.path, line=self.line, field=field)


def read_pool(
    path: str | os.PathLike[str], mapping: FieldMap | None = None, *,
    fmt: str | None = None, split: str | None = None,
) -> list[PoolPrompt]:
    """Read and validate a whole pool; raise InputError on the first bad row (no partial result).

    ``fmt`` is one of jsonl, csv, parquet, hf (a ``datasets`` directory from ``save_to_disk``);
    by default it follows the suffix. ``split`` picks the split of a saved DatasetDict.
    """
    src, file = str(path), Path(path)
    if not file.exists():
        raise InputError("file not found", path=src)
    kind = fmt if fmt is not None else _detect_format(file, src)
    if split is not None and kind != "hf":
        raise InputError(f"a split ({split!r}) only applies to a saved datasets dataset (a "
                         f"folder), not to a {kind} file", path=src)
    mapping = mapping if mapping is not None else FieldMap()
    rows = _read_rows(file, src, kind, mapping, split)
    unit = "line" if kind in ("jsonl", "csv") else "row"
    prompts = _build_pool(rows, src, mapping, unit)
    if not prompts:
        raise InputError("empty pool: no prompts found", path=src)
    return prompts


def pool_version(prompts: Sequence[PoolPrompt]) -> str:
    """Content hash (16 hex chars) of ids, messages, tags and references, in file order."""
    canonical = [
        [p.id, list(p.messages), sorted(p.tags.items()), p.reference] for p in prompts
    ]
    return content_hash(canonical, length=16)


def tag_names(prompts: Iterable[PoolPrompt]) -> list[str]:
    """Sorted union of the tag names used by ``prompts``."""
    names: set[str] = set()
    for prompt in prompts:
        names.update(prompt.tags)
    return sorted(names)


def _detect_format(file: Path, src: str) -> str:
    """The format implied by a directory (hf) or the file suffix."""
    if file.is_dir():
        return "hf"
    kind = _SUFFIXES.get(file.suffix.lower())
    if kind is None:
        shown = repr(file.suffix) if file.suffix else "(none)"
        raise InputError(
            f"unknown pool file suffix {shown}: expected .jsonl, .json, .csv, .parquet "
            "or a directory saved with datasets' save_to_disk", path=src,
        )
    return kind


def _read_rows(file: Path, src: str, kind: str, mapping: FieldMap, split: str | None) -> Rows:
    """(line or row number, row) pairs of the file in format ``kind``."""
    if kind == "jsonl":
        return _jsonl_rows(_read_bytes(file, src), src)
    if kind == "csv":
        return _csv_rows(_read_bytes(file, src), src, _csv_json_columns(mapping))
    if kind == "parquet":
        return _parquet_rows(file, src)
    if kind == "hf":
        return _hf_rows(file, src, split)
    raise InputError(f"unknown pool format {kind!r}: expected one of {', '.join(_FORMATS)}", path=src)


def _read_bytes(file: Path, src: str) -> bytes:
    try:
        return file.read_bytes()
    except OSError as err:
        raise InputError(f"cannot read file: {err.strerror or err}", path=src) from err


def _utf8_error(err: UnicodeDecodeError, offset: int) -> str:
    return f"not valid UTF-8 at byte offset {offset + err.start}"


# --------------------------------------------------------------------------- JSONL

def _jsonl_rows(data: bytes, src: str) -> Rows:
    """Objects of a JSON-lines file; blank lines are skipped."""
    rows: list[tuple[int, Row]] = []
    offset = 0
    for number, raw in enumerate(data.split(b"\n"), start=1):
        at = _At(src, number)
        text = _jsonl_text(raw, offset, at)
        offset += len(raw) + 1
        if text.strip():
            rows.append((number, _jsonl_object(text, at)))
    return rows


def _jsonl_text(raw: bytes, offset: int, at: _At) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise at.error(None, _utf8_error(err, offset)) from err
    return text.lstrip("\ufeff") if at.line == 1 else text


def _jsonl_object(text: str, at: _At) -> Row:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise at.error(None, f"invalid JSON: {err.msg} at column {err.colno}") from err
    if not isinstance(value, dict):
        raise at.error(None, f"expected a JSON object (one per line), found {_json_type(value)}")
    return value


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number" if isinstance(value, (int, float)) else type(value).__name__)


# --------------------------------------------------------------------------- CSV

def _csv_json_columns(mapping: FieldMap) -> frozenset[str]:
    """CSV columns holding JSON text: the chat column and a ``tags`` object column."""
    columns = {mapping.messages}
    if "tags" not in mapping.tags:
        columns.add("tags")
    return frozenset(columns)


def _csv_rows(data: bytes, src: str, json_columns: frozenset[str]) -> Rows:
    """Rows of a CSV file keyed by the header, numbered by their first physical line."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise InputError(_utf8_error(err, 0), path=src, line=line) from err
    previous = csv.field_size_limit(_CSV_FIELD_LIMIT)
    try:
        return _csv_records(text.lstrip("\ufeff"), src, json_columns)
    finally:
        csv.field_size_limit(previous)


def _csv_records(text: str, src: str, json_columns: frozenset[str]) -> Rows:
    """Strict RFC 4180: a quote that never closes, text after a closing quote, a row with
    more or fewer cells than the header, or a NUL character are located errors."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    rows: list[tuple[int, Row]] = []
    next_line = 1
    while True:
        at = _At(src, next_line)
        try:
            cells = next(reader)
        except StopIteration:
            return rows
        except csv.Error as err:
            raise _csv_quote_error(text, header, at, str(err)) from None
        next_line = reader.line_num + 1
        if not any(cells):
            continue
        if header is None:
            header = _csv_header(cells, at)
        else:
            rows.append((at.line, _csv_row(header, cells, json_columns, at)))


def _csv_quote_error(text: str, header: list[str] | None, at: _At, reason: str) -> InputError:
    """Locate a quoting error: the record's line and the column whose quote went wrong."""
    lines = io.StringIO(text, newline="").readlines()  # the lines csv counts
    record = "".join(lines[at.line - 1:])
    column, end_line, unterminated = _scan_quotes(record)
    field = _csv_column(header, column)
    if unterminated:
        return at.error(field, "unterminated quote: the quoted cell opened here never closes "
                        "(it runs to the end of the file); close it or double the quote "
                        '("") inside the cell')
    later = f" (the quoted cell runs on to line {at.line + end_line})" if end_line else ""
    return at.error(field, f"malformed CSV: text after a closing quote{later}; a quote "
                    'inside a cell must be doubled ("") and a quoted cell must end at its '
                    f"closing quote ({reason})")


def _scan_quotes(record: str) -> tuple[int, int, bool]:
    """(column, lines into the record, unterminated) of the first bad quote in ``record``."""
    column, newlines, i, n = 0, 0, 0, len(record)
    while i < n:
        if record[i] == '"':  # a quoted cell: find its closing quote
            i += 1
            while True:
                j = record.find('"', i)
                if j < 0:
                    return column, newlines, True
                newlines += record.count("\n", i, j)
                if record.startswith('""', j):
                    i = j + 2
                    continue
                i = j + 1
                break
            if i < n and record[i] not in ",\r\n":
                return column, newlines, False
        while i < n and record[i] not in ",\r\n":  # an unquoted cell (or what follows)
            i += 1
        if i >= n or record[i] in "\r\n":
            return column, newlines, False  # the record ended without a bad quote
        column, i = column + 1, i + 1
    return column, newlines, False


def _csv_column(header: list[str] | None, index: int) -> str:
    """A column's name for messages: its header name, else its 1-based number."""
    if header is not None and index < len(header) and header[index]:
        return header[index]
    return f"column {index + 1}"


def _csv_header(cells: list[str], at: _At) -> list[str]:
    seen: set[str] = set()
    for index, name in enumerate(cells):
        if "\0" in name:
            raise at.error(_csv_column(None, index), "NUL character in the CSV header")
        if name in seen:
            raise at.error(name, "duplicate column in the CSV header")
        seen.add(name)
    return cells


def _csv_row(header: list[str], cells: list[str], json_columns: frozenset[str], at: _At) -> Row:
    if len(cells) < len(header):
        raise at.error(_csv_column(header, len(cells)), f"missing cell: the row has "
                       f"{len(cells)} cells but the header has {len(header)} columns")
    if len(cells) > len(header):
        raise at.error(_csv_column(header, len(header)), f"extra cell: the row has "
                       f"{len(cells)} cells but the header has {len(header)} columns")
    row: Row = {}
    for name, cell in zip(header, cells, strict=True):
        if "\0" in cell:
            raise at.error(name, "NUL character in the cell (is this a binary file?)")
        row[name] = _csv_cell(name, cell, json_columns, at)
    return row


def _csv_cell(name: str, cell: str, json_columns: frozenset[str], at: _At) -> Any:
    """An empty cell is null; JSON columns are parsed."""
    if cell == "":
        return None
    if name not in json_columns:
        return cell
    try:
        return json.loads(cell)
    except json.JSONDecodeError as err:
        raise at.error(name, f"invalid JSON in CSV cell: {err.msg} at column {err.colno}") from err


# --------------------------------------------------------------------------- Parquet / datasets

def _parquet_rows(file: Path, src: str) -> Rows:
    """Rows of a Parquet file, numbered from 1."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(file)
    except (OSError, pa.ArrowException) as err:
        raise InputError(f"cannot read Parquet file: {err}", path=src) from err
    return enumerate(table.to_pylist(), start=1)


def _hf_rows(file: Path, src: str, split: str | None) -> Rows:
    """Rows of a dataset saved with ``save_to_disk`` (a DatasetDict needs ``split``)."""
    import datasets

    try:
        loaded = datasets.load_from_disk(str(file))
    except (OSError, ValueError) as err:
        raise InputError(f"cannot load a saved datasets dataset: {err}", path=src) from err
    if isinstance(loaded, datasets.DatasetDict):
        loaded = _pick_split(loaded, split, src)
    return enumerate(loaded.to_list(), start=1)


def _pick_split(splits: Mapping[str, Any], split: str | None, src: str) -> Any:
    names = ", ".join(sorted(splits))
    if split is None:
        raise InputError(f"dataset has several splits ({names}); choose one with split=", path=src)
    if split not in splits:
        raise InputError(f"no split {split!r}; the dataset has: {names}", path=src)
    return splits[split]


# --------------------------------------------------------------------------- validation

def _build_pool(rows: Rows, src: str, mapping: FieldMap, unit: str) -> list[PoolPrompt]:
    """Validate every row and check ids are unique."""
    prompts: list[PoolPrompt] = []
    first_seen: dict[str, int] = {}
    for line, row in rows:
        at = _At(src, line, unit)
        prompt = _parse_row(row, mapping, at)
        earlier = first_seen.setdefault(prompt.id, line)
        if earlier != line:
            raise _duplicate_error(prompt.id, earlier, row, mapping, at)
        prompts.append(prompt)
    return prompts


def _duplicate_error(pid: str, earlier: int, row: Row, mapping: FieldMap, at: _At) -> InputError:
    if mapping.id is not None:
        return at.error(mapping.id, f"duplicate id {pid!r}: first used at {at.unit} {earlier}")
    source = mapping.prompt if _value(row, mapping.prompt) is not None else mapping.messages
    return at.error(
        source, f"duplicate prompt (auto id {pid!r}): same messages as {at.unit} {earlier}"
    )


def _parse_row(row: Row, mapping: FieldMap, at: _At) -> PoolPrompt:
    """One validated PoolPrompt from a row."""
    messages = _row_messages(row, mapping, at)
    tags = _row_tags(row, mapping, at)
    reference = _optional_text(row, mapping.reference, at)
    if mapping.id is None:
        prompt = PoolPrompt(id="", messages=messages, tags=tags, reference=reference)
        return replace(prompt, id=prompt.prompt_hash[:12])
    return PoolPrompt(id=_row_id(row, mapping.id, at), messages=messages, tags=tags,
                      reference=reference)


def _is_null(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _value(row: Row, column: str | None) -> Any:
    """The row's value in ``column``; absent, null and NaN all give None."""
    if column is None:
        return None
    value = row.get(column)
    return None if _is_null(value) else value


def _wrong_type(field: str, expected: str, value: Any, at: _At) -> InputError:
    return at.error(field, f"wrong type: expected {expected}, found {type(value).__name__}")


def _text(value: Any, field: str, what: str, at: _At) -> str:
    """``value`` as a non-blank string, else a located error."""
    if not isinstance(value, str):
        raise _wrong_type(field, "a string", value, at)
    if not value.strip():
        raise at.error(field, f"empty {what}")
    return value


def _row_id(row: Row, column: str, at: _At) -> str:
    value = _value(row, column)
    if value is None:
        raise at.error(column, "missing field")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise _wrong_type(column, "a string or int", value, at)
    return _text(value, column, "id", at)


def _optional_text(row: Row, column: str | None, at: _At) -> str | None:
    value = _value(row, column)
    if value is None or column is None:
        return None
    if not isinstance(value, str):
        raise _wrong_type(column, "a string", value, at)
    return value


# --------------------------------------------------------------------------- messages

def _row_messages(row: Row, mapping: FieldMap, at: _At) -> tuple[dict, ...]:
    """The chat of a row: from its prompt or messages field, after the optional system prompt."""
    prompt, chat = _value(row, mapping.prompt), _value(row, mapping.messages)
    if prompt is not None and chat is not None:
        raise at.error(mapping.prompt, f"both '{mapping.prompt}' and '{mapping.messages}' are "
                                       "set: give exactly one")
    if prompt is None and chat is None:
        raise at.error(mapping.prompt, f"missing field: need '{mapping.prompt}' or "
                                       f"'{mapping.messages}'")
    head = _system_turn(row, mapping.system, at)
    if prompt is not None:
        return head + ({"role": "user", "content": _text(prompt, mapping.prompt, "prompt", at)},)
    return head + _chat(chat, mapping.messages, at)


def _system_turn(row: Row, column: str | None, at: _At) -> tuple[dict, ...]:
    value = _value(row, column)
    if value is None or column is None:
        return ()
    return ({"role": "system", "content": _text(value, column, "system prompt", at)},)


def _chat(value: Any, field: str, at: _At) -> tuple[dict, ...]:
    """A validated chat: alternating user/assistant turns (system anywhere), ending with user."""
    if not isinstance(value, (list, tuple)):
        raise _wrong_type(field, "a list of {role, content} objects", value, at)
    if not value:
        raise at.error(field, "empty message list")
    turns = tuple(_turn(item, f"{field}[{i}]", at) for i, item in enumerate(value))
    _check_order(turns, field, at)
    return turns


def _turn(item: Any, where: str, at: _At) -> dict:
    """One message as a plain ``{"role", "content"}`` dict."""
    if not isinstance(item, dict):
        raise _wrong_type(where, "an object with role and content", item, at)
    role, content = item.get("role"), item.get("content")
    if role is None:
        raise at.error(f"{where}.role", "missing field")
    if not isinstance(role, str):
        raise _wrong_type(f"{where}.role", "a string", role, at)
    if role not in _ROLES:
        raise at.error(f"{where}.role", f"unknown role {role!r}: expected system, user or assistant")
    if content is None:
        raise at.error(f"{where}.content", "missing field")
    return {"role": role, "content": _text(content, f"{where}.content", "content", at)}


def _check_order(turns: tuple[dict, ...], field: str, at: _At) -> None:
    expected = "user"
    for i, turn in enumerate(turns):
        if turn["role"] == "system":
            continue
        if turn["role"] != expected:
            raise at.error(f"{field}[{i}].role", f"expected role '{expected}', found "
                           f"'{turn['role']}': turns must alternate user/assistant, starting with user")
        expected = "assistant" if expected == "user" else "user"
    last = turns[-1]["role"]
    if last != "user":
        raise at.error(f"{field}[{len(turns) - 1}].role",
                       f"the chat must end with a 'user' turn, found '{last}'")


# --------------------------------------------------------------------------- tags

def _row_tags(row: Row, mapping: FieldMap, at: _At) -> dict[str, str]:
    """Tags from a ``tags`` object column plus the columns named in ``mapping.tags``."""
    tags: dict[str, str] = {}
    bag = _value(row, "tags")
    if bag is not None and "tags" not in mapping.tags:
        if not isinstance(bag, dict):
            raise _wrong_type("tags", "an object of tag name -> value", bag, at)
        for name, value in bag.items():
            _add_tag(tags, str(name), value, f"tags.{name}", at)
    for column in mapping.tags:
        _add_tag(tags, column, row.get(column), column, at)
    return tags


def _add_tag(tags: dict[str, str], name: str, value: Any, field: str, at: _At) -> None:
    text = _tag_text(value, field, at)
    if text is None:
        return
    if tags.get(name, text) != text:
        raise at.error(field, f"tag '{name}' has two values: {tags[name]!r} and {text!r}")
    tags[name] = text


def _tag_text(value: Any, field: str, at: _At) -> str | None:
    """A tag value as a string (bool as true/false); None for null."""
    if _is_null(value):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise _wrong_type(field, "a string, number or bool", value, at)
