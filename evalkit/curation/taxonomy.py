"""Topic taxonomies: the labels a classifier may give. A TOML file (shipped ones live in
``suites/taxonomies/``)::

    name = "default"
    description = "..."                       # optional
    difficulties = ["easy", "medium", "hard"]  # optional; this is the default
    [topics]
    math = "Arithmetic, algebra, calculus, proofs ..."
    "creative writing" = "Stories, poems ..."  # any name; quote it when it has spaces

Names are matched case-insensitively (and with whitespace collapsed) when a classifier's
answer is read or compared with human tags; the file's spelling is the one stored. The
``hash`` covers topics, descriptions and difficulties — what the classifier sees — so editing
a taxonomy makes new labels (docs/curation.md).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from ..errors import ConfigError
from ..hashing import content_hash
from ..resources import data_dir
from ..tomlfile import read_toml

__all__ = ["DEFAULT_DIFFICULTIES", "QUALITIES", "Taxonomy", "Topic", "available_taxonomies",
           "fold", "load_taxonomy"]

DEFAULT_DIFFICULTIES: tuple[str, ...] = ("easy", "medium", "hard")
QUALITIES: tuple[str, ...] = ("ok", "flawed")
_KEYS = {"name", "description", "difficulties", "topics"}


def fold(label: str) -> str:
    """The form labels are matched in: case folded, whitespace collapsed."""
    return " ".join(label.casefold().split())


@dataclass(frozen=True)
class Topic:
    name: str
    description: str = ""


@dataclass(frozen=True)
class Taxonomy:
    name: str
    topics: tuple[Topic, ...]
    difficulties: tuple[str, ...] = DEFAULT_DIFFICULTIES
    description: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        where = self.source or f"taxonomy '{self.name}'"
        if not self.topics:
            raise ConfigError(f"{where}: no topics")
        for what, names in (("topic", [t.name for t in self.topics]),
                            ("difficulty", list(self.difficulties))):
            seen: dict[str, str] = {}
            for name in names:
                if not name.strip():
                    raise ConfigError(f"{where}: an empty {what} name")
                if fold(name) in seen:
                    raise ConfigError(f"{where}: {what} '{name}' is listed twice (as "
                                      f"'{seen[fold(name)]}')")
                seen[fold(name)] = name
        if not self.difficulties:
            raise ConfigError(f"{where}: 'difficulties' is empty")

    @cached_property
    def hash(self) -> str:
        """Content hash of what a classifier is shown (not the name or source)."""
        return content_hash({"topics": [[t.name, t.description] for t in self.topics],
                             "difficulties": list(self.difficulties)}, 16)

    @cached_property
    def _topic_index(self) -> dict[str, str]:
        return {fold(t.name): t.name for t in self.topics}

    @cached_property
    def _difficulty_index(self) -> dict[str, str]:
        return {fold(d): d for d in self.difficulties}

    def topic(self, label: str) -> str | None:
        """The taxonomy's spelling of ``label``, or None when it is not a topic."""
        return self._topic_index.get(fold(label))

    def difficulty(self, label: str) -> str | None:
        return self._difficulty_index.get(fold(label))

    @classmethod
    def from_values(cls, name: str, values: Iterable[str],
                    difficulties: tuple[str, ...] = DEFAULT_DIFFICULTIES) -> Taxonomy:
        """A taxonomy whose topics are the given values (e.g. a pool's human tag values),
        without descriptions, in first-seen order."""
        topics: dict[str, Topic] = {}
        for value in values:
            topics.setdefault(fold(value), Topic(value))
        return cls(name=name, topics=tuple(topics.values()), difficulties=difficulties,
                   source=f"values of {name}")

    def to_toml(self) -> str:
        """The taxonomy as a TOML file (``load_taxonomy`` reads it back)."""
        import json

        def q(text: str) -> str:  # a JSON string is a TOML basic string
            return json.dumps(text, ensure_ascii=False)

        lines = [f"name = {q(self.name)}"]
        if self.description:
            lines.append(f"description = {q(self.description)}")
        lines.append("difficulties = [" + ", ".join(map(q, self.difficulties)) + "]")
        lines.append("\n[topics]")
        lines += [f"{q(t.name)} = {q(t.description)}" for t in self.topics]
        return "\n".join(lines) + "\n"


def _folder() -> Path:
    try:
        return data_dir("suites") / "taxonomies"
    except FileNotFoundError as err:
        raise ConfigError(str(err)) from None


def available_taxonomies() -> list[str]:
    return sorted(p.stem for p in _folder().glob("*.toml"))


def load_taxonomy(name_or_path: str | os.PathLike[str] | None = None) -> Taxonomy:
    """A shipped taxonomy by bare name (``default`` when None), or a TOML file by path."""
    text = "default" if name_or_path is None else str(name_or_path)
    if text.endswith(".toml") or os.sep in text or "/" in text:
        path = Path(text).expanduser()
    else:
        path = _folder() / f"{text}.toml"
        if not path.is_file():
            raise ConfigError(f"{path}: unknown taxonomy '{text}' (shipped: "
                              f"{', '.join(available_taxonomies()) or 'none'}; or give a "
                              "path to a .toml file)")
    data = read_toml(path, "taxonomy file")
    where = str(path)
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key '{unknown[0]}' (allowed: "
                          f"{', '.join(sorted(_KEYS))})")
    topics = data.get("topics")
    if not isinstance(topics, dict) or not topics:
        raise ConfigError(f"{where}: 'topics' must be a table of topic name = \"description\"")
    parsed = []
    for name, desc in topics.items():
        if not isinstance(desc, str):
            raise ConfigError(f"{where}: topics.{name}: expected a description string, got "
                              f"{type(desc).__name__}")
        parsed.append(Topic(str(name), desc.strip()))
    diffs = data.get("difficulties", list(DEFAULT_DIFFICULTIES))
    if not isinstance(diffs, list) or not all(isinstance(d, str) for d in diffs):
        raise ConfigError(f"{where}: 'difficulties' must be a list of strings")
    for key in ("name", "description"):
        if key in data and not isinstance(data[key], str):
            raise ConfigError(f"{where}: '{key}' must be a string")
    return Taxonomy(name=data.get("name") or path.stem, topics=tuple(parsed),
                    difficulties=tuple(diffs), description=data.get("description", ""),
                    source=where)
