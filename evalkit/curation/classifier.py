"""The prompt classifier's template and the reading of its answers.

A template is a TOML file (the shipped one is ``suites/classifiers/default.toml``) with
``name``, optional ``description`` and ``system``, and ``user`` holding the placeholders
``{prompt}`` (required), ``{topics}`` and ``{difficulties}``. Rendering replaces exactly these
names in one pass, so braces elsewhere — the JSON example, or braces inside a prompt — stay
verbatim. ``text_hash`` covers the text the classifier sees: editing the template changes
the classifier's identity and so the label cache key.

An answer must end with a JSON object ``{"topic", "difficulty", "quality", "reason",
"language"}`` (the last parsable object in the text that has a ``topic`` key; code fences
are fine). Topic and difficulty must be in the taxonomy (matched case-insensitively), quality
``ok`` or ``flawed``, language an ISO 639 code (``en``, ``pt-BR``). Anything else is an
unparsable answer with the reason — never a guess.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..hashing import content_hash
from ..resources import data_dir
from ..tomlfile import read_toml
from .taxonomy import QUALITIES, Taxonomy, fold

__all__ = ["ClassifierTemplate", "Labels", "available_classifier_templates",
           "load_classifier_template", "parse_labels"]

_PLACEHOLDERS = ("prompt", "topics", "difficulties")
_PLACEHOLDER_RE = re.compile(r"\{(" + "|".join(_PLACEHOLDERS) + r")\}")
_KEYS = {"name", "description", "system", "user"}
_LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$")
_ROLE = {"user": "User", "assistant": "Assistant", "system": "System"}


@dataclass(frozen=True)
class Labels:
    """What a classifier says about one prompt."""

    topic: str
    difficulty: str
    quality: str  # "ok" | "flawed"
    reason: str
    language: str


@dataclass(frozen=True)
class ClassifierTemplate:
    name: str
    user: str
    system: str = ""
    description: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        where = self.source or f"classifier template '{self.name}'"
        if "{prompt}" not in self.user:
            raise ConfigError(f"{where}: 'user' lacks the placeholder {{prompt}}")
        misplaced = _PLACEHOLDER_RE.search(self.system)
        if misplaced:
            raise ConfigError(f"{where}: 'system' contains {misplaced.group(0)}, which is "
                              "only filled in 'user'")

    @property
    def text_hash(self) -> str:
        return content_hash({"system": self.system, "user": self.user})

    @property
    def text(self) -> str:
        """The template as stored with a classifier spec (JSON of the texts)."""
        return json.dumps({"name": self.name, "system": self.system, "user": self.user},
                          sort_keys=True)

    def render(self, messages: Sequence[Mapping[str, Any]], taxonomy: Taxonomy
               ) -> list[dict[str, str]]:
        """Chat messages for the classifier: ``[system?, user]``."""
        values = {
            "prompt": render_conversation(messages),
            "topics": "\n".join(f"- {t.name}: {t.description}" if t.description
                                else f"- {t.name}" for t in taxonomy.topics),
            "difficulties": ", ".join(taxonomy.difficulties),
        }
        out = [{"role": "system", "content": self.system}] if self.system else []
        out.append({"role": "user", "content":
                    _PLACEHOLDER_RE.sub(lambda m: values[m.group(1)], self.user)})
        return out


def render_conversation(messages: Sequence[Mapping[str, Any]]) -> str:
    """A lone user message as is; otherwise labelled turns separated by blank lines."""
    if len(messages) == 1 and messages[0].get("role") == "user":
        return str(messages[0].get("content", ""))
    return "\n\n".join(f"### {_ROLE.get(str(m.get('role')), str(m.get('role')))}:\n"
                       f"{m.get('content', '')}" for m in messages)


def _folder() -> Path:
    try:
        return data_dir("suites") / "classifiers"
    except FileNotFoundError as err:
        raise ConfigError(str(err)) from None


def available_classifier_templates() -> list[str]:
    return sorted(p.stem for p in _folder().glob("*.toml"))


def load_classifier_template(name_or_path: str | os.PathLike[str] = "default"
                             ) -> ClassifierTemplate:
    """A shipped template by bare name, or a template file by path."""
    text = str(name_or_path)
    if text.endswith(".toml") or os.sep in text or "/" in text:
        path = Path(text).expanduser()
    else:
        path = _folder() / f"{text}.toml"
        if not path.is_file():
            raise ConfigError(f"{path}: unknown classifier template '{text}' (shipped: "
                              f"{', '.join(available_classifier_templates()) or 'none'})")
    data = read_toml(path, "classifier template")
    where = str(path)
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key '{unknown[0]}' (allowed: "
                          f"{', '.join(sorted(_KEYS))})")
    for key, value in data.items():
        if not isinstance(value, str):
            raise ConfigError(f"{where}: key '{key}' must be a string")
    if "user" not in data:
        raise ConfigError(f"{where}: missing key 'user'")
    return ClassifierTemplate(name=data.get("name") or path.stem, user=data["user"],
                              system=data.get("system", "").strip(),
                              description=data.get("description", ""), source=where)


# --------------------------------------------------------------------------- parsing

def _last_object(text: str) -> dict[str, Any] | None:
    """The last JSON object in ``text`` that has a ``topic`` key."""
    decoder = json.JSONDecoder()
    found = None
    i = text.find("{")
    while i >= 0:
        try:
            value, end = decoder.raw_decode(text, i)
        except ValueError:
            i = text.find("{", i + 1)
            continue
        if isinstance(value, dict) and "topic" in value:
            found = value
        i = text.find("{", end if isinstance(value, dict) else i + 1)
    return found


def parse_labels(text: str, taxonomy: Taxonomy) -> Labels | str:
    """The labels in a classifier's answer, or why they cannot be read (a string)."""
    data = _last_object(text or "")
    if data is None:
        return "no JSON object with a 'topic' key in the answer"
    keys = ("topic", "difficulty", "quality", "language")
    missing = [k for k in keys if k not in data]
    if missing:
        return f"the answer's JSON lacks '{missing[0]}'"
    for key in keys:
        if not isinstance(data[key], str) or not data[key].strip():
            return f"'{key}' is not a non-empty string"
    topic = taxonomy.topic(data["topic"])
    if topic is None:
        return f"topic '{_short(data['topic'])}' is not in taxonomy '{taxonomy.name}'"
    difficulty = taxonomy.difficulty(data["difficulty"])
    if difficulty is None:
        return (f"difficulty '{_short(data['difficulty'])}' is not one of "
                f"{', '.join(taxonomy.difficulties)}")
    quality = fold(data["quality"])
    if quality not in QUALITIES:
        return f"quality '{_short(data['quality'])}' is not ok or flawed"
    language = data["language"].strip().lower().replace("_", "-")
    if not _LANGUAGE_RE.match(language):
        return f"language '{_short(data['language'])}' is not an ISO 639 code (e.g. en)"
    reason = data.get("reason", "")
    if not isinstance(reason, str):
        return "'reason' is not a string"
    return Labels(topic=topic, difficulty=difficulty, quality=quality,
                  reason=" ".join(reason.split()), language=language)


def _short(value: str, limit: int = 60) -> str:
    value = " ".join(value.split())
    return value if len(value) <= limit else value[:limit - 1] + "…"
