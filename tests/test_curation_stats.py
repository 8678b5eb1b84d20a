"""``pool stats`` figures on a pool whose answers are known: counts per tag with their
source, entropy of the topic distribution, lengths, language mix (tag, else writing
system) and the duplicate rate."""

from __future__ import annotations

import math

import pytest

from evalkit.curation.pool_stats import entropy_bits, pool_stats, script_of
from evalkit.pools import PoolPrompt

TEXTS = ["Explain how vaccines train the immune system.",
         "Write a limerick about a cat who learned to code.",
         "What is the capital of Australia and why was it chosen?",
         "Résume les causes de la révolution française.",
         "用一句话解释什么是机器学习。",
         "Объясни, как работает двигатель внутреннего сгорания.",
         "How do I center a div with CSS grid?",
         "Give me three tips for a job interview at a bank."]


def prompt(i: int, text: str, **tags: str) -> PoolPrompt:
    return PoolPrompt(f"p{i}", ({"role": "user", "content": text},), tags)


def test_counts_entropy_lengths_languages_duplicates() -> None:
    topics = ["science", "writing", "trivia", "history"] * 2
    prompts = [prompt(i, t, topic=topics[i], **({"llm.quality": "ok"} if i < 5 else {}))
               for i, t in enumerate(TEXTS)]
    prompts.append(prompt(8, TEXTS[0].upper(), topic="science"))  # an exact duplicate
    s = pool_stats(prompts)
    by_name = {t.name: t for t in s.tags}
    assert by_name["topic"].source == "human" and by_name["llm.quality"].source == "classifier"
    assert by_name["llm.quality"].missing == 4 and by_name["topic"].values["science"] == 3
    p = [3 / 9, 2 / 9, 2 / 9, 2 / 9]
    h = -sum(x * math.log2(x) for x in p)
    assert s.diversity["tag"] == "topic" and s.diversity["topics"] == 4
    assert s.diversity["entropy_bits"] == pytest.approx(h, abs=1e-4)
    assert s.diversity["normalized_entropy"] == pytest.approx(h / 2, abs=1e-4)
    assert s.diversity["effective_topics"] == pytest.approx(2 ** h, abs=0.01)
    assert s.duplicate_rate == pytest.approx(1 / 9) and s.exact_duplicates == 1
    assert s.language_source.startswith("writing system")
    assert s.languages == {"Latin": 7, "Han": 1, "Cyrillic": 1}
    lengths = sorted(len(t) for t in [*TEXTS, TEXTS[0]])
    assert s.chars.quantiles["min"] == lengths[0] and s.chars.quantiles["max"] == lengths[-1]
    assert sum(s.chars.counts) == 9
    tagged = pool_stats([prompt(i, t, language="xx" if i else "en")
                         for i, t in enumerate(TEXTS)])
    assert tagged.language_source == "tag language" and tagged.languages == {"xx": 7, "en": 1}
    assert tagged.diversity == {"tag": None}


def test_entropy_and_scripts() -> None:
    assert entropy_bits([5, 5, 5, 5]) == pytest.approx(2.0)
    assert entropy_bits([7]) == 0 and entropy_bits([]) == 0
    assert script_of("こんにちは") == "Kana" and script_of("12345 !!") == "none"
