"""A scripted prompt classifier for the simulated server (``{"kind": "classifier"}``).

It reads a request rendered with evalkit's classifier template (``suites/classifiers/``):
the prompt between ``<prompt>`` and ``</prompt>``, the topics from the ``<topics>`` block
(``- name: description`` lines) and the levels after ``Difficulty levels:``. It answers
like an LLM would: a sentence, then one JSON line with topic, difficulty, quality, reason and
language.

Scenario keys:

- ``labels``: ``{prompt text: {"topic", "difficulty", "quality", "reason", "language"}}``
  — known labels for known prompts (missing keys are filled by the rule below); a string
  value is sent back verbatim (to script unparsable answers);
- ``default``: what to answer for prompts not in ``labels`` (a labels object or a string);
  without it the ``rule`` decides;
- ``rule``: ``keywords`` (default) labels any prompt by itself: the topic whose name and
  description share the most words with the prompt (the name counts three times; none in
  common: ``other`` when the taxonomy has it), difficulty by length (under 15 words the
  first level, under 60 the middle one, else the last; in CJK text two characters count
  as a word), quality ``flawed`` under 3 words,
  language from the script (Latin ``en``, CJK ``zh``, Cyrillic ``ru``, Arabic ``ar``,
  Devanagari ``hi``); ``none`` answers every unknown prompt with an unparsable sentence.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

_PROMPT_RE = re.compile(r"<prompt>\n(.*)\n</prompt>", re.DOTALL)
_TOPICS_RE = re.compile(r"<topics>\n(.*?)\n</topics>", re.DOTALL)
_LEVELS_RE = re.compile(r"Difficulty levels: ([^\n]*)")
_WORD_RE = re.compile(r"[a-z][a-z0-9+#]{2,}")
_STOP = frozenset("""the and for with that this from are was were what which who how why when
where your you our their there then than them they have has had not but can could should would
will into about over under between also any all its it's give make write explain please
use using used one two new some such more most other each like just only very""".split())
_SCRIPTS = (("zh", 0x4E00, 0x9FFF), ("ja", 0x3040, 0x30FF), ("ko", 0xAC00, 0xD7AF),
            ("ru", 0x0400, 0x04FF), ("ar", 0x0600, 0x06FF), ("hi", 0x0900, 0x097F))


def _words(text: str) -> list[str]:
    return [w for w in _WORD_RE.findall(text.lower()) if w not in _STOP]


@dataclass(frozen=True)
class ClassifierScript:
    name: str
    labels: dict[str, Any] = field(default_factory=dict)
    default: dict[str, Any] | str | None = None
    rule: str = "keywords"

    def __post_init__(self) -> None:
        if self.rule not in ("keywords", "none"):
            raise ValueError(f"classifier '{self.name}': unknown rule '{self.rule}' "
                             "(keywords or none)")

    def answer(self, messages: list[dict], max_tokens: int | None = None) -> tuple[str, str]:
        text = next((str(m.get("content", "")) for m in reversed(messages)
                     if m.get("role") == "user"), "")
        found = _PROMPT_RE.search(text)
        if found is None:
            return "I cannot find a prompt to label.", "stop"
        prompt = found.group(1)
        topics = self._topics(text)
        listed = _LEVELS_RE.search(text)
        levels = [x.strip() for x in (listed.group(1) if listed else "").split(",")
                  if x.strip()] or ["easy", "medium", "hard"]
        known = self.labels.get(prompt.strip(), self.default)
        if isinstance(known, str):
            return known, "stop"
        if known is None and self.rule == "none":
            return "This prompt is hard to place; I would rather not say.", "stop"
        labels = {**self.by_rule(prompt, topics, levels), **(known or {})}
        return (f"The prompt is about {labels['topic']}.\n"
                + json.dumps(labels, ensure_ascii=False)), "stop"

    @staticmethod
    def _topics(text: str) -> list[tuple[str, str]]:
        block = _TOPICS_RE.search(text)
        out = []
        for line in (block.group(1).splitlines() if block else []):
            if line.startswith("- "):
                name, _, desc = line[2:].partition(": ")
                out.append((name.strip(), desc.strip()))
        return out

    @staticmethod
    def by_rule(prompt: str, topics: list[tuple[str, str]], levels: list[str]
                ) -> dict[str, str]:
        """The keyword rule's labels for one prompt (see the module docstring)."""
        words = _words(prompt)
        bag = set(words)
        best, best_score = None, 0
        for name, desc in topics:
            score = 3 * len(bag & set(_words(name))) + len(bag & set(_words(desc)))
            if score > best_score:
                best, best_score = name, score
        names = [n for n, _ in topics]
        if best is None:
            best = "other" if "other" in names else (names[0] if names else "other")
        # words; text without spaces between words (CJK) counts two characters as one word
        n = max(len(prompt.split()), sum(1 for ch in prompt if ord(ch) >= 0x2E80) // 2)
        level = levels[0] if n < 15 else levels[len(levels) // 2] if n < 60 else levels[-1]
        flawed = n < 3
        return {"topic": best, "difficulty": level, "quality": "flawed" if flawed else "ok",
                "reason": "Too short to be a request." if flawed
                else "A clear, self-contained request.",
                "language": _language(prompt)}


def _language(text: str) -> str:
    counts = {code: 0 for code, _, _ in _SCRIPTS}
    latin = 0
    for ch in text:
        o = ord(ch)
        if ch.isascii():
            latin += ch.isalpha()
            continue
        for code, lo, hi in _SCRIPTS:
            if lo <= o <= hi:
                counts[code] += 1
                break
    code, n = max(counts.items(), key=lambda kv: kv[1])
    return code if n > latin else "en"
