"""Style features of a response, for the style-controlled leaderboard (docs/judging-modes.md).

Per response: its length in words (whitespace-separated tokens, code included) and three
markdown counts — headers (``#`` … ``######`` at the start of a line), list items (``1.``,
``-``, ``*``, ``+`` at the start of a line) and bold spans (``**…**`` or ``__…__`` on one
line) — counted after fenced code blocks are removed, so code does not count as formatting.

Per battle (candidate minus baseline), as the style-controlled fit uses them:

* ``length``: the normalised length difference ``(w_c − w_b) / (w_c + w_b)`` in [−1, 1]
  (0 when both are empty), as Chatbot Arena's style control normalises it;
* ``headers``, ``lists``, ``bold``: the difference of the *densities* — counts per 100 words —
  so a longer answer with the same share of formatting differs in length only, and the
  length coefficient is not split across four collinear columns.

The fit standardises each column (``stats.bt_style``). Pure: text in, numbers out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

FEATURES: tuple[str, ...] = ("length", "headers", "lists", "bold")

_CODE = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)
_HEADER = re.compile(r"^ {0,3}#{1,6}[ \t]+\S", re.MULTILINE)
_LIST = re.compile(r"^[ \t]*(?:\d{1,9}[.)]|[-*+])[ \t]+\S", re.MULTILINE)
_BOLD = re.compile(r"\*\*[^*\n]+\*\*|__[^_\n]+__")


@dataclass(frozen=True)
class StyleCounts:
    """What the style of one response is measured by."""

    words: int
    headers: int
    lists: int
    bold: int


def style_counts(text: str | None) -> StyleCounts:
    """Words, markdown headers, list items and bold spans of ``text`` (None counts as empty)."""
    if not text:
        return StyleCounts(0, 0, 0, 0)
    prose = _CODE.sub("\n", text)
    return StyleCounts(words=len(text.split()), headers=len(_HEADER.findall(prose)),
                       lists=len(_LIST.findall(prose)), bold=len(_BOLD.findall(prose)))


def counts_matrix(texts: list[str | None]) -> np.ndarray:
    """(n, 4) array: words, headers, lists, bold per text."""
    out = np.zeros((len(texts), 4))
    for i, text in enumerate(texts):
        c = style_counts(text)
        out[i] = (c.words, c.headers, c.lists, c.bold)
    return out


def battle_features(candidate: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """(n, 4) feature differences, candidate minus baseline, from two ``counts_matrix``
    results (row i of each: the two responses of battle i). Antisymmetric: swapping the two
    sides negates every feature."""
    c = np.asarray(candidate, dtype=float).reshape(-1, 4)
    b = np.asarray(baseline, dtype=float).reshape(-1, 4)
    total = c[:, 0] + b[:, 0]
    length = np.divide(c[:, 0] - b[:, 0], total, out=np.zeros_like(total), where=total > 0)

    def density(x: np.ndarray) -> np.ndarray:
        words = np.maximum(x[:, 0], 1.0)
        return 100.0 * x[:, 1:] / words[:, None]

    return np.column_stack([length, density(c) - density(b)])
