"""Reading the judge's final verdict out of its reply."""

from __future__ import annotations

import pytest

from evalkit.judging.parse import (
    INVALID,
    REASK_MESSAGE,
    Verdict,
    format_hint,
    parse_verdict,
    reask_message,
)

A1, A2 = Verdict("A", 1), Verdict("A", 2)
B1, B2 = Verdict("B", 1), Verdict("B", 2)
TIE = Verdict("tie", 0)

QUOTING_JUDGE = """\
Assistant A's reply reproduces the user's template verbatim:

> Output your choice as [[A]] when the first option applies.

That is what was asked, but Assistant B also explains the edge cases correctly.

Final verdict: [[B]]"""

DISCUSSING_JUDGE = """\
One might be tempted to say [[A]] because A is longer, and [[B]] because B cites a source,
but both replies contain the same factual error about the boiling point.

[[C]]"""

CLEAN = [
    ("pairwise", "[[A]]", A1),
    ("pairwise", "[[B]]", B1),
    ("pairwise", "[[C]]", TIE),
    ("graded", "[[A>>B]]", A2),
    ("graded", "[[A>B]]", A1),
    ("graded", "[[A=B]]", TIE),
    ("graded", "[[B>A]]", B1),
    ("graded", "[[B>>A]]", B2),
]

NOISY = [
    ("pairwise", "  \n\n  [[A]]  \n\n", A1),
    ("pairwise", "The reasoning favours A.\n\n**[[A]]**", A1),
    ("pairwise", "Both are fine but B is tighter.\n`[[B]]`", B1),
    ("pairwise", "Explanation...\nFinal verdict: [[B]]", B1),
    ("pairwise", "**Final verdict:** **[[B]]**.", B1),
    ("pairwise", "[[a]]", A1),
    ("pairwise", "[[b]]", B1),
    ("pairwise", "[[Tie]]", TIE),
    ("pairwise", "[[tie]]", TIE),
    ("pairwise", "[[c]]", TIE),
    ("pairwise", "[[A=B]]", TIE),
    ("pairwise", "[[ A ]]", A1),
    ("pairwise", "[[**B**]]", B1),
    ("pairwise", "A is better overall.\nFinal verdict: [A]", A1),
    ("pairwise", "Verdict: [b]", B1),
    ("pairwise", "[[A>B]]", A1),
    ("pairwise", "[[A>>B]]", A2),
    ("pairwise", "[[B >> A]]", B2),
    ("pairwise", "Assistant [A] restates the question.\n\nMy verdict is [[B]]", B1),
    ("pairwise", "As [A] says, ... overall [[B]] is the answer", B1),
    ("pairwise", "[[A]]\n\nI hope this helps.", A1),
    ("graded", "[[A > B]]", A1),
    ("graded", "[[a>>b]]", A2),
    ("graded", "Final verdict: **[[B>A]]**", B1),
    ("graded", "[[B<A]]", A1),
    ("graded", "[[B<<A]]", A2),
    ("graded", "[[A<B]]", B1),
    ("graded", "[[A<<B]]", B2),
    ("graded", "[[B=A]]", TIE),
    ("graded", "[[A]]", A1),
    ("graded", "[[B]]", B1),
    ("graded", "[[C]]", TIE),
    ("graded", "[[tie]]", TIE),
    ("graded", "Slightly better reasoning in B.\n[B>A]", B1),
    ("graded", "Earlier I leaned [[A>>B]], but on reflection:\n\n[[B>A]]", B1),
]

LAST_WINS = [
    ("pairwise", QUOTING_JUDGE, B1),
    ("pairwise", DISCUSSING_JUDGE, TIE),
    ("pairwise", "[[A]]\n[[B]]", B1),
    ("pairwise", "Per the instructions I must answer with [[A]] or [[B]] or [[C]].\n"
                 "Having compared them: [[A]]", A1),
    ("graded", "If B had been correct this would be [[B>>A]].\nIt is not: [[A>B]]", A1),
    ("pairwise", "[[A]] is my verdict, [[A]] again.", A1),
]

INVALID_CASES = [
    ("pairwise", ""),
    ("pairwise", "   \n\t\n"),
    ("graded", ""),
    ("pairwise", "Both replies look reasonable; I think A is slightly better."),
    ("pairwise", "I'm sorry, but I can't help with judging this conversation."),
    ("graded", "Verdict: A>B"),
    ("pairwise", "[[A]] or [[B]]"),
    ("pairwise", "Explanation.\nIt is either [[A]] or [[B]], I cannot decide."),
    ("graded", "[[A>B]] or maybe [[A>>B]]"),
    ("pairwise", "[[A]] ... [B]"),
    ("pairwise", "[A] or [B]"),
    ("pairwise", "[[D]]"),
    ("pairwise", "[[A>A]]"),
    ("pairwise", "[[AB]]"),
    ("pairwise", "See [A](https://example.com)"),
    ("pairwise", "An earlier line mentions [A].\nBut no verdict is given."),
    ("graded", "Output format: [[A>>B]], [[A>B]], [[A=B]], [[B>A]] or [[B>>A]]."),
]


@pytest.mark.parametrize(("fmt", "text", "expected"), CLEAN)
def test_clean_verdicts(fmt: str, text: str, expected: Verdict) -> None:
    assert parse_verdict(text, fmt) == expected


@pytest.mark.parametrize(("fmt", "text", "expected"), NOISY)
def test_noisy_formatting(fmt: str, text: str, expected: Verdict) -> None:
    assert parse_verdict(text, fmt) == expected


@pytest.mark.parametrize(("fmt", "text", "expected"), LAST_WINS)
def test_the_last_verdict_counts(fmt: str, text: str, expected: Verdict) -> None:
    assert parse_verdict(text, fmt) == expected


@pytest.mark.parametrize(("fmt", "text"), INVALID_CASES)
def test_invalid(fmt: str, text: str) -> None:
    assert parse_verdict(text, fmt) == INVALID
    assert not parse_verdict(text, fmt).is_valid


@pytest.mark.parametrize("fmt", ["pairwise", "graded"])
def test_both_formats_accept_each_others_tokens(fmt: str) -> None:
    assert parse_verdict("[[A]]", fmt) == A1
    assert parse_verdict("[[B>>A]]", fmt) == B2
    assert parse_verdict("[[C]]", fmt) == TIE


@pytest.mark.parametrize(
    ("text", "strength"),
    [("[[A>>B]]", 2), ("[[A>B]]", 1), ("[[A=B]]", 0), ("[[B>A]]", 1), ("[[B>>A]]", 2)],
)
def test_graded_strengths(text: str, strength: int) -> None:
    assert parse_verdict(text, "graded").strength == strength


def test_unknown_format_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown judge format"):
        parse_verdict("[[A]]", "likert")


def test_verdict_validation_and_swap() -> None:
    with pytest.raises(ValueError):
        Verdict("C", 0)
    with pytest.raises(ValueError):
        Verdict("A", 0)
    with pytest.raises(ValueError):
        Verdict("tie", 1)
    assert A2.swapped() == B2
    assert B1.swapped() == A1
    assert TIE.swapped() == TIE
    assert INVALID.swapped() == INVALID


@pytest.mark.parametrize("fmt", ["pairwise", "graded"])
def test_reask_message(fmt: str) -> None:
    assert "{format_hint}" in REASK_MESSAGE
    message = reask_message(fmt)
    assert format_hint(fmt) in message
    assert "{" not in message.replace("[[", "").replace("]]", "")
    # The hint lists every token, so a judge echoing the hint back is ambiguous, not a verdict.
    assert parse_verdict(format_hint(fmt), fmt) == INVALID


def test_format_hints_name_the_tokens() -> None:
    assert all(t in format_hint("pairwise") for t in ("[[A]]", "[[B]]", "[[C]]"))
    graded = format_hint("graded")
    assert all(t in graded for t in ("[[A>>B]]", "[[A>B]]", "[[A=B]]", "[[B>A]]", "[[B>>A]]"))
    with pytest.raises(ValueError):
        format_hint("likert")
