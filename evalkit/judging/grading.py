"""Single-answer grading: a rubric template, a strict score parser, and the grader that asks
(and re-asks once) for an absolute score of one response (docs/judging-modes.md).

A rubric template is a TOML file in ``judges/`` (or a path) with ``format = "score"``::

    name = "rubric_1to10"
    format = "score"
    min_score = 1                 # the scale
    max_score = 10
    integer = true                # only whole numbers are scores
    rubric = '''...'''            # what each part of the scale means
    system = '''...'''            # may use {rubric}, {min_score}, {max_score}
    user = '''...'''              # {conversation} and {answer} required; {reference_block},
                                  # {rubric}, {min_score}, {max_score} optional
    reference_block = '''...'''   # holds {reference}; shown only when the pool has one
    conversation_turn = "..."     # layout of each message of {conversation}: {role}, {content}

The score is read strictly (``parse_score``): the LAST double-bracketed token of the reply,
``[[7]]``, must be a plain number on the scale (a whole number when ``integer``) and the only
number in double brackets on its line. ``[[7/10]]``, ``[[11]]`` on a 1–10 scale, ``[[7.5]]`` on
an integer scale, ``Rating: 7`` without brackets, or two different scores on the verdict line
are invalid — never rounded, clipped or guessed. An invalid reply is re-asked once
(``reask_invalid``); if it is still invalid the grade is stored as invalid, with both replies.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..backends.checkpoints import client_for
from ..errors import ConfigError
from ..hashing import content_hash
from ..pools import PoolPrompt
from .templates import _ROLE_LABELS, _TURN_RE, _judges_dir, _looks_like_path

FORMAT = "score"
_KEYS_REQUIRED = ("name", "format", "user", "min_score", "max_score")
_KEYS_OPTIONAL = ("description", "system", "rubric", "reference_block", "conversation_turn",
                  "integer")
_FILL = re.compile(r"\{(conversation|answer|reference_block|rubric|min_score|max_score)\}")
_TOKEN = re.compile(r"\[\[([^\[\]\n]*)\]\]")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
REASK = ("I could not read a score in your reply ({problem}). Please restate only your final "
         "rating, on a single line and with no other text, as [[N]] where N is {kind} from "
         "{lo} to {hi}.")


@dataclass(frozen=True)
class GraderTemplate:
    name: str
    user: str
    min_score: float
    max_score: float
    integer: bool = True
    system: str = ""
    rubric: str = ""
    reference_block: str = ""
    conversation_turn: str = "### {role}:\n{content}"
    description: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        where = self.source or f"grader template '{self.name}'"
        for placeholder in ("conversation", "answer"):
            if "{" + placeholder + "}" not in self.user:
                raise ConfigError(f"{where}: 'user' lacks the placeholder {{{placeholder}}}")
        if not self.min_score < self.max_score:
            raise ConfigError(f"{where}: min_score must be below max_score")
        if self.reference_block and "{reference}" not in self.reference_block:
            raise ConfigError(f"{where}: 'reference_block' lacks the placeholder {{reference}}")
        if "{content}" not in self.conversation_turn:
            raise ConfigError(f"{where}: 'conversation_turn' lacks the placeholder {{content}}")

    @property
    def text_hash(self) -> str:
        """Everything that reaches the grader model, and the scale: the grader's identity."""
        return content_hash({"format": FORMAT, "system": self.system, "user": self.user,
                             "rubric": self.rubric, "reference_block": self.reference_block,
                             "conversation_turn": self.conversation_turn,
                             "scale": [self.min_score, self.max_score, self.integer]})

    def render(self, conversation: list[dict[str, Any]], answer: str,
               reference: str | None) -> list[dict[str, str]]:
        """``conversation``: the messages up to the user turn being answered."""
        turns = [self._turn(m) for m in conversation]
        block = ""
        if reference is not None and reference.strip() and self.reference_block:
            block = self.reference_block.replace("{reference}", reference)
        scale = {"rubric": self.rubric, "min_score": f"{self.min_score:g}",
                 "max_score": f"{self.max_score:g}"}
        values = {"conversation": "\n\n".join(turns), "answer": answer,
                  "reference_block": block, **scale}
        out = []
        if self.system:
            out.append({"role": "system", "content": _FILL.sub(
                lambda x: scale.get(x.group(1), x.group(0)), self.system)})
        out.append({"role": "user", "content": _FILL.sub(lambda x: values[x.group(1)],
                                                         self.user)})
        return out

    def _turn(self, message: dict[str, Any]) -> str:
        role = str(message.get("role", ""))
        values = {"role": _ROLE_LABELS.get(role, role.capitalize()),
                  "content": str(message["content"])}
        return _TURN_RE.sub(lambda x: values[x.group(1)], self.conversation_turn)

    def reask(self, problem: str) -> str:
        kind = "a whole number" if self.integer else "a number"
        return (REASK.replace("{problem}", problem).replace("{kind}", kind)
                .replace("{lo}", f"{self.min_score:g}").replace("{hi}", f"{self.max_score:g}"))


@dataclass(frozen=True)
class ParsedScore:
    score: float | None
    problem: str | None = None  # why the reply holds no valid score

    @property
    def valid(self) -> bool:
        return self.score is not None


def parse_score(text: str | None, lo: float, hi: float, integer: bool = True) -> ParsedScore:
    """The score in a grader's reply, read strictly (see the module docstring)."""
    if not text or not text.strip():
        return ParsedScore(None, "empty reply")
    found: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines()):
        found += [(number, m.group(1).strip()) for m in _TOKEN.finditer(line)]
    if not found:
        return ParsedScore(None, "no [[score]] in the reply")
    last, body = found[-1]
    if not _NUMBER.fullmatch(body):
        return ParsedScore(None, f"[[{body}]] is not a number")
    value = float(body)
    others = {b for n, b in found if n == last and _NUMBER.fullmatch(b) and float(b) != value}
    if others:
        return ParsedScore(None, "two different scores on the verdict line")
    if integer and not value.is_integer():
        return ParsedScore(None, f"{body} is not a whole number")
    if not lo <= value <= hi:
        return ParsedScore(None, f"{body} is outside the scale {lo:g} to {hi:g}")
    return ParsedScore(value)


def available_graders() -> list[str]:
    return sorted(p.stem for p in _judges_dir().glob("*.toml") if is_grader_file(p))


def is_grader_file(path: Path) -> bool:
    """True for a rubric template (``format = "score"``)."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8")).get("format") == FORMAT
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False


def load_grader_template(name_or_path: str) -> GraderTemplate:
    """A shipped rubric by name (``judges/NAME.toml``) or a file by path; one-line errors."""
    if _looks_like_path(name_or_path):
        path = Path(name_or_path).expanduser()
    else:
        path = _judges_dir() / f"{name_or_path}.toml"
        if not name_or_path or not path.is_file() or not is_grader_file(path):
            names = ", ".join(available_graders()) or "none"
            raise ConfigError(f"{path}: unknown grader template {name_or_path!r} (available: "
                              f"{names})")
    if not path.is_file():
        raise ConfigError(f"{path}: grader template file not found")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read grader template: {err}") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: invalid TOML: {err}".replace("\n", " ")) from None
    unknown = sorted(set(data) - set(_KEYS_REQUIRED) - set(_KEYS_OPTIONAL))
    if unknown:
        raise ConfigError(f"{path}: unknown key {unknown[0]!r} (allowed: "
                          f"{', '.join(_KEYS_REQUIRED + _KEYS_OPTIONAL)})")
    for key in _KEYS_REQUIRED:
        if key not in data:
            raise ConfigError(f"{path}: missing key {key!r}")
    if data["format"] != FORMAT:
        raise ConfigError(f"{path}: format must be '{FORMAT}' for a grader template")
    for key in ("min_score", "max_score"):
        if isinstance(data[key], bool) or not isinstance(data[key], int | float):
            raise ConfigError(f"{path}: {key} must be a number")
    if not isinstance(data.get("integer", True), bool):
        raise ConfigError(f"{path}: integer must be true or false")
    texts = {k: data[k] for k in ("name", "user", "system", "rubric", "reference_block",
                                  "conversation_turn", "description") if k in data}
    for key, value in texts.items():
        if not isinstance(value, str):
            raise ConfigError(f"{path}: key {key!r} must be a string")
    return GraderTemplate(min_score=float(data["min_score"]), max_score=float(data["max_score"]),
                          integer=data.get("integer", True), source=str(path), **texts)


# --------------------------------------------------------------------------- the grader

@dataclass(frozen=True)
class GradeCall:
    """One grade: a valid score, or an unreadable reply (``problem``), or a failed request."""

    score: float | None
    raw_output: str | None
    problem: str | None = None
    error: str | None = None
    reasked: bool = False
    latency: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    endpoint: str | None = None


def grade_key(grader_spec: str, prompt: PoolPrompt, response: str) -> str:
    """Grader identity, prompt, reference and response: a grade's content key."""
    return content_hash([grader_spec, prompt.prompt_hash, prompt.reference,
                         content_hash(response)])


class Grader:
    def __init__(self, config: Any, template: GraderTemplate | None = None) -> None:
        self.config = config
        self.template = template or load_grader_template(config.template)
        self.identity = config.identity(self.template.text_hash)
        self.spec_hash = content_hash(self.identity, 16)
        self.client = client_for(config.endpoint, f"grader '{config.name}'")
        self.failed_at: dict[str, str] = {}

    def key(self, prompt: PoolPrompt, response: str) -> str:
        return grade_key(self.spec_hash, prompt, response)

    async def grade(self, prompt: PoolPrompt, response: str) -> GradeCall:
        from ..turns import conversation

        chat = conversation(prompt, response)
        messages = self.template.render(chat[:-1], chat[-1]["content"], prompt.reference)
        params = self.config.sampling.request_params()
        t = self.template
        done = await self.client.chat(messages, **params)
        if not done.ok:
            if done.endpoint is not None:
                self.failed_at[self.key(prompt, response)] = done.endpoint
            return GradeCall(None, None, error=done.error, latency=done.latency,
                             endpoint=done.endpoint)
        parsed = parse_score(done.text, t.min_score, t.max_score, t.integer)
        if parsed.valid or not self.config.reask_invalid:
            return GradeCall(parsed.score, done.text, parsed.problem, latency=done.latency,
                             prompt_tokens=done.prompt_tokens,
                             completion_tokens=done.completion_tokens)
        again = await self.client.chat([*messages, {"role": "assistant", "content": done.text
                                                    or ""},
                                        {"role": "user", "content": t.reask(
                                            parsed.problem or "no score")}], **params)
        if not again.ok:
            return GradeCall(None, done.text, parsed.problem, latency=done.latency)
        second = parse_score(again.text, t.min_score, t.max_score, t.integer)
        return GradeCall(second.score, f"{done.text}\n\n--- re-asked ---\n\n{again.text}",
                         second.problem, reasked=True,
                         latency=(done.latency or 0) + (again.latency or 0),
                         prompt_tokens=_add(done.prompt_tokens, again.prompt_tokens),
                         completion_tokens=_add(done.completion_tokens,
                                                again.completion_tokens))

    async def aclose(self) -> None:
        await self.client.aclose()


def _add(a: int | None, b: int | None) -> int | None:
    return None if a is None and b is None else (a or 0) + (b or 0)
