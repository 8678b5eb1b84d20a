"""Read the judge's final verdict out of its free-text reply.

The verdict is the LAST bracketed verdict token in the reply: judges often quote an answer that
contains ``[[A]]`` or discuss ``[[B]]`` before concluding. Accepted tokens (case-insensitive,
spaces, ``*``, ``_`` and backticks allowed inside the brackets, any markdown around them):

    [[A]]  [[B]]                        a win (strength 1)
    [[C]]  [[tie]]  [[draw]]  [[A=B]]   a tie
    [[A>B]]  [[B<A]]  [[B>A]]  [[A<B]]  a win (strength 1)
    [[A>>B]] [[B<<A]] [[B>>A]] [[A<<B]] a strong win (strength 2)

Both formats accept every token; ``fmt`` only picks the wording of ``format_hint``. Single
brackets (``[A]``) count only on the final non-empty line and only when such a token is the
last verdict on that line (so ``[A]``-style citations elsewhere are ignored). If the line that
holds the final verdict also holds a different verdict (``[[A]] or [[B]]``) the reply is
ambiguous and the verdict is ``invalid``, as is a reply with no verdict at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "FORMAT_HINTS",
    "INVALID",
    "LABELS",
    "REASK_MESSAGE",
    "Verdict",
    "format_hint",
    "parse_verdict",
    "reask_message",
]

LABELS: tuple[str, ...] = ("A", "B", "tie", "invalid")


@dataclass(frozen=True)
class Verdict:
    """A judge's decision: ``label`` is "A", "B", "tie" or "invalid".

    ``strength`` is 2 for a clear win (``>>``), 1 for a plain win, 0 for a tie or invalid.
    """

    label: str
    strength: int

    def __post_init__(self) -> None:
        if self.label not in LABELS:
            raise ValueError(f"unknown verdict label {self.label!r}; expected one of {LABELS}")
        allowed = (1, 2) if self.label in ("A", "B") else (0,)
        if self.strength not in allowed:
            raise ValueError(f"verdict {self.label!r} cannot have strength {self.strength}")

    @property
    def is_valid(self) -> bool:
        return self.label != "invalid"

    def swapped(self) -> Verdict:
        """The same verdict with A and B exchanged (for the judge call that saw B first)."""
        if self.label == "A":
            return Verdict("B", self.strength)
        if self.label == "B":
            return Verdict("A", self.strength)
        return self


INVALID = Verdict("invalid", 0)
TIE = Verdict("tie", 0)

FORMAT_HINTS: dict[str, str] = {
    "pairwise": "[[A]] if Assistant A is better, [[B]] if Assistant B is better, "
                "or [[C]] for a tie",
    "graded": "[[A>>B]] (A clearly better), [[A>B]] (A somewhat better), [[A=B]] (tie), "
              "[[B>A]] (B somewhat better) or [[B>>A]] (B clearly better)",
}

REASK_MESSAGE = (
    "I could not find a final verdict in your reply. Please restate only your final verdict "
    "from the comparison above, on a single line and with no other text: {format_hint}."
)


def format_hint(fmt: str) -> str:
    """The verdict tokens a judge of format ``fmt`` must answer with, as a short phrase."""
    try:
        return FORMAT_HINTS[fmt]
    except KeyError:
        raise ValueError(
            f"unknown judge format {fmt!r}; expected one of: {', '.join(sorted(FORMAT_HINTS))}"
        ) from None


def reask_message(fmt: str) -> str:
    """``REASK_MESSAGE`` with the hint for ``fmt`` filled in (literal replacement)."""
    return REASK_MESSAGE.replace("{format_hint}", format_hint(fmt))


# Noise allowed inside the brackets: spaces/tabs, markdown emphasis and backticks.
_NOISE = r"[ \t*_`]*"
_BODY = (
    r"(?P<body>"
    r"[ab][ \t]*(?:>>|<<|>|<|=)[ \t]*[ab]"  # graded comparison
    r"|tie|draw|[abc]"  # plain label
    r")"
)
_DOUBLE_RE = re.compile(r"\[\[" + _NOISE + _BODY + _NOISE + r"\]\]", re.IGNORECASE)
# A single-bracket token must not be part of [[...]] and must not be a markdown link "[A](...)".
_SINGLE_RE = re.compile(
    r"(?<!\[)\[" + _NOISE + _BODY + _NOISE + r"\](?![\](])", re.IGNORECASE
)
_COMPARISON_RE = re.compile(r"([ab])[ \t]*(>>|<<|>|<|=)[ \t]*([ab])")


def _interpret(body: str) -> Verdict | None:
    """The verdict a token body stands for; ``None`` for nonsense such as ``A>A``."""
    body = body.lower()
    if body in ("c", "tie", "draw"):
        return TIE
    if body in ("a", "b"):
        return Verdict(body.upper(), 1)
    m = _COMPARISON_RE.fullmatch(body)
    if m is None:
        return None
    left, op, right = m.groups()
    if left == right:
        return None
    if op == "=":
        return TIE
    # Normalise "<"/"<<" to the winner-first form: "A<B" means "B>A".
    winner = left if op.startswith(">") else right
    return Verdict(winner.upper(), len(op))


def parse_verdict(text: str, fmt: str) -> Verdict:
    """The judge's final verdict in ``text`` (``fmt``: "pairwise" or "graded").

    Returns ``INVALID`` for empty text, text without a verdict token, or a final verdict line
    that holds two different verdicts.
    """
    format_hint(fmt)  # validates fmt
    if not text or not text.strip():
        return INVALID
    lines = text.splitlines()
    last_line = max(i for i, line in enumerate(lines) if line.strip())

    # (line index, column, verdict) of every token that counts
    tokens: list[tuple[int, int, Verdict]] = []
    for i, line in enumerate(lines):
        line_tokens = _tokens(_DOUBLE_RE, line, i)
        if i == last_line:
            singles = _tokens(_SINGLE_RE, line, i)
            if singles and (not line_tokens or singles[-1][1] > line_tokens[-1][1]):
                line_tokens = sorted(line_tokens + singles, key=lambda t: t[1])
        tokens.extend(line_tokens)
    if not tokens:
        return INVALID
    final_line, _, final = tokens[-1]
    if any(v != final for i, _, v in tokens if i == final_line):
        return INVALID
    return final


def _tokens(pattern: re.Pattern[str], line: str, index: int) -> list[tuple[int, int, Verdict]]:
    found: list[tuple[int, int, Verdict]] = []
    for m in pattern.finditer(line):
        verdict = _interpret(m.group("body"))
        if verdict is not None:
            found.append((index, m.start(), verdict))
    return found
