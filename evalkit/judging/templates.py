"""Judge prompt templates: TOML files under ``judges/`` (or a user's own file).

A template file holds::

    name = "pairwise"
    format = "pairwise"            # or "graded": decides which verdict tokens are asked for
    description = "..."            # optional
    system = '''...'''             # optional; the system message ("" = no system message)
    user = '''...'''               # the user message, with the placeholders below
    reference_block = '''...'''    # optional; holds {reference}, shown only with a reference
    conversation_turn = "..."      # optional; layout of an earlier turn: {role}, {content}
    final_turn = "..."             # optional; layout of the turn being answered

Placeholders in ``user``: ``{conversation}``, ``{answer_a}``, ``{answer_b}`` (all three
required) and ``{reference_block}``. A **multi-turn** template shows two whole conversations
instead (each checkpoint answered every user turn after its own earlier answers; evalkit/
turns.py): ``{conversation_a}`` and ``{conversation_b}`` (both required, and then none of the
three above), each laid out with ``conversation_turn`` and, for its final answer,
``final_turn``. Rendering replaces exactly these names, literally and in
one pass over the template text, so braces anywhere else (and placeholder-looking text inside
prompts, answers or references) are left verbatim. ``str.format`` is never used.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..hashing import content_hash
from ..resources import data_dir

__all__ = ["FORMATS", "JudgeTemplate", "available_templates", "load_template"]

FORMATS: tuple[str, ...] = ("graded", "pairwise")

DEFAULT_CONVERSATION_TURN = "### {role}:\n{content}"
DEFAULT_FINAL_TURN = "### {role} (last message, the one both replies answer):\n{content}"
DEFAULT_FINAL_ANSWER = "### {role} (final answer):\n{content}"  # multi-turn templates

_REQUIRED_KEYS: tuple[str, ...] = ("name", "format", "user")
_OPTIONAL_KEYS: tuple[str, ...] = (
    "description", "system", "reference_block", "conversation_turn", "final_turn",
)
_USER_PLACEHOLDERS: tuple[str, ...] = ("conversation", "answer_a", "answer_b", "reference_block",
                                       "conversation_a", "conversation_b")
_REQUIRED_USER_PLACEHOLDERS: tuple[str, ...] = ("conversation", "answer_a", "answer_b")
_MULTITURN_PLACEHOLDERS: tuple[str, ...] = ("conversation_a", "conversation_b")

_USER_RE = re.compile(r"\{(" + "|".join(_USER_PLACEHOLDERS) + r")\}")
_REFERENCE_RE = re.compile(r"\{(reference)\}")
_TURN_RE = re.compile(r"\{(role|content)\}")

_ROLE_LABELS: dict[str, str] = {"user": "User", "assistant": "Assistant", "system": "System"}


def _substitute(pattern: re.Pattern[str], template: str, values: Mapping[str, str]) -> str:
    """Replace ``{name}`` placeholders of ``template`` in one pass; inserted text is final."""
    return pattern.sub(lambda m: values[m.group(1)], template)


@dataclass(frozen=True)
class JudgeTemplate:
    """A judge prompt: a system message and a user message with placeholders.

    ``text_hash`` keys the judge's identity: it covers the format and every text field that
    reaches the judge model, so editing a template makes results under it a different judge.
    """

    name: str
    format: str
    system: str
    user: str
    reference_block: str = ""
    source: str = ""
    description: str = ""
    conversation_turn: str = DEFAULT_CONVERSATION_TURN
    final_turn: str = DEFAULT_FINAL_TURN

    def __post_init__(self) -> None:
        where = self.source or f"judge template '{self.name}'"

        def fail(problem: str) -> ConfigError:
            return ConfigError(f"{where}: {problem}".replace("\n", " "))

        if self.format not in FORMATS:
            raise fail(f"unknown format {self.format!r} (expected one of: {', '.join(FORMATS)})")
        required, banned = _REQUIRED_USER_PLACEHOLDERS, _MULTITURN_PLACEHOLDERS
        if self.multiturn:
            required, banned = banned, required
            if self.final_turn == DEFAULT_FINAL_TURN:  # the last message is an answer here
                object.__setattr__(self, "final_turn", DEFAULT_FINAL_ANSWER)
        for placeholder in required:
            if "{" + placeholder + "}" not in self.user:
                raise fail(f"'user' lacks the placeholder {{{placeholder}}}")
        for placeholder in banned:
            if "{" + placeholder + "}" in self.user:
                raise fail(f"'user' mixes {{{placeholder}}} with "
                           f"{{{required[0]}}}: a template shows one conversation with two "
                           "answers, or two whole conversations ({conversation_a}, "
                           "{conversation_b})")
        if self.reference_block and "{reference}" not in self.reference_block:
            raise fail("'reference_block' lacks the placeholder {reference}")
        if self.reference_block and "{reference_block}" not in self.user:
            raise fail("'reference_block' is set but 'user' lacks the placeholder "
                       "{reference_block}, so references would never be shown")
        for key in ("conversation_turn", "final_turn"):
            if "{content}" not in getattr(self, key):
                raise fail(f"{key!r} lacks the placeholder {{content}}")
        misplaced = _USER_RE.search(self.system)
        if misplaced:
            raise fail(f"'system' contains {misplaced.group(0)}, which is only filled in 'user'")

    @property
    def multiturn(self) -> bool:
        """True for a template that shows two whole conversations."""
        return "{conversation_a}" in self.user or "{conversation_b}" in self.user

    @property
    def text_hash(self) -> str:
        """Content hash of the format and all text the judge sees (not name/description/source)."""
        return content_hash({
            "format": self.format,
            "system": self.system,
            "user": self.user,
            "reference_block": self.reference_block,
            "conversation_turn": self.conversation_turn,
            "final_turn": self.final_turn,
        })

    def render_conversation(self, messages: Sequence[Mapping[str, Any]]) -> str:
        """The prompt as text: a lone user message as is, else labelled turns.

        Earlier turns use ``conversation_turn``; the last message (the one being answered)
        uses ``final_turn``. Turns are separated by a blank line.
        """
        if not messages:
            raise ValueError("cannot render a judge prompt for an empty conversation")
        contents = [_content_text(m, i) for i, m in enumerate(messages)]
        if len(messages) == 1 and messages[0].get("role") == "user":
            return contents[0]
        parts: list[str] = []
        last = len(messages) - 1
        for i, (message, content) in enumerate(zip(messages, contents, strict=True)):
            role = str(message.get("role", ""))
            label = _ROLE_LABELS.get(role, role.capitalize() or "Unknown")
            layout = self.final_turn if i == last else self.conversation_turn
            parts.append(_substitute(_TURN_RE, layout, {"role": label, "content": content}))
        return "\n\n".join(parts)

    def render_pair(self, conversation_a: Sequence[Mapping[str, Any]],
                    conversation_b: Sequence[Mapping[str, Any]],
                    reference: str | None) -> list[dict[str, str]]:
        """Chat messages for a multi-turn template: two whole conversations, each ending with
        its assistant's final answer (laid out with ``final_turn``)."""
        return self._messages({
            "conversation_a": self.render_conversation(conversation_a),
            "conversation_b": self.render_conversation(conversation_b),
            "reference_block": self._reference(reference)})

    def _reference(self, reference: str | None) -> str:
        if reference is not None and reference.strip() and self.reference_block:
            return _substitute(_REFERENCE_RE, self.reference_block, {"reference": reference})
        return ""

    def _messages(self, values: dict[str, str]) -> list[dict[str, str]]:
        values = {name: values.get(name, "") for name in _USER_PLACEHOLDERS}
        out: list[dict[str, str]] = []
        if self.system:
            out.append({"role": "system", "content": self.system})
        out.append({"role": "user", "content": _substitute(_USER_RE, self.user, values)})
        return out

    def render(
        self,
        messages: Sequence[Mapping[str, Any]],
        answer_a: str,
        answer_b: str,
        reference: str | None,
    ) -> list[dict[str, str]]:
        """OpenAI chat messages for the judge: ``[system?, user]`` (system omitted if empty).

        ``reference`` of ``None`` (or blank) renders ``{reference_block}`` as "".
        """
        if reference is not None and reference.strip() and self.reference_block:
            block = _substitute(_REFERENCE_RE, self.reference_block, {"reference": reference})
        else:
            block = ""
        values = {
            "conversation": self.render_conversation(messages),
            "answer_a": answer_a,
            "answer_b": answer_b,
            "reference_block": block,
        }
        out: list[dict[str, str]] = []
        if self.system:
            out.append({"role": "system", "content": self.system})
        out.append({"role": "user", "content": _substitute(_USER_RE, self.user, values)})
        return out


def _content_text(message: Mapping[str, Any], index: int) -> str:
    content = message.get("content")
    if not isinstance(content, str):
        raise ValueError(
            f"message {index} has content of type {type(content).__name__}; expected a string"
        )
    return content


def available_templates() -> list[str]:
    """Names of the shipped judge templates (file stems under ``judges/``), sorted; rubric
    templates for single-answer grading (``format = "score"``, judging/grading.py) are not
    judge templates."""
    from .grading import is_grader_file

    return sorted(p.stem for p in _judges_dir().glob("*.toml")
                  if p.is_file() and not is_grader_file(p))


def load_template(name_or_path: str) -> JudgeTemplate:
    """Load a shipped template by bare name, or a user's template file by path.

    Anything containing a path separator or ending in ``.toml`` is a path; anything else is
    looked up as ``judges/<name>.toml``. Every problem raises a one-line ``ConfigError`` that
    names the file.
    """
    if _looks_like_path(name_or_path):
        path = Path(name_or_path).expanduser()
        if not path.is_file():
            what = "is not a file" if path.exists() else "not found"
            raise ConfigError(f"{path}: judge template file {what}")
    else:
        folder = _judges_dir()
        path = folder / f"{name_or_path}.toml"
        if not name_or_path or not path.is_file():
            names = ", ".join(available_templates()) or "none"
            raise ConfigError(
                f"{path}: unknown judge template {name_or_path!r} (available: {names})"
            )
    return _parse_file(path)


def _looks_like_path(name_or_path: str) -> bool:
    seps = {"/", os.sep} | ({os.altsep} if os.altsep else set())
    return name_or_path.endswith(".toml") or any(s in name_or_path for s in seps)


def _judges_dir() -> Path:
    try:
        return data_dir("judges")
    except FileNotFoundError as err:
        raise ConfigError(str(err)) from None


def _parse_file(path: Path) -> JudgeTemplate:
    def fail(problem: str) -> ConfigError:
        return ConfigError(f"{path}: {problem}".replace("\n", " "))

    try:
        raw = path.read_bytes()
    except OSError as err:
        raise fail(f"cannot read judge template: {err.strerror or err}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise fail("judge template is not valid UTF-8") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise fail(f"invalid TOML: {err}") from None

    unknown = sorted(set(data) - set(_REQUIRED_KEYS) - set(_OPTIONAL_KEYS))
    if unknown:
        allowed = ", ".join(_REQUIRED_KEYS + _OPTIONAL_KEYS)
        raise fail(f"unknown key {unknown[0]!r} (allowed: {allowed})")
    for key in _REQUIRED_KEYS:
        if key not in data:
            raise fail(f"missing key {key!r}")
    for key, value in data.items():
        if not isinstance(value, str):
            raise fail(f"key {key!r} must be a string, not {type(value).__name__}")
    if not data["name"].strip():
        raise fail("key 'name' must not be empty")

    fields: dict[str, str] = {k: data[k] for k in _OPTIONAL_KEYS if k in data}
    return JudgeTemplate(
        name=data["name"],
        format=data["format"],
        system=fields.pop("system", ""),
        user=data["user"],
        source=str(path),
        **fields,
    )
