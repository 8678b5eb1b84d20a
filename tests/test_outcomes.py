"""Two positional verdicts → one outcome for the candidate."""

from __future__ import annotations

import pytest

from evalkit.judging.outcomes import candidate_signed, combine
from evalkit.judging.parse import Verdict

A, B, TIE, BAD = Verdict("A", 1), Verdict("B", 1), Verdict("tie", 0), Verdict("invalid", 0)
A2, B2 = Verdict("A", 2), Verdict("B", 2)


@pytest.mark.parametrize(("cand_first", "base_first", "expected"), [
    (A, B, ("win", 1)),      # candidate preferred in both orders
    (B, A, ("loss", 1)),     # baseline preferred in both orders
    (A, A, ("tie", 0)),      # position A always wins: orders disagree → tie
    (B, B, ("tie", 0)),
    (TIE, TIE, ("tie", 0)),
    (A, TIE, ("tie", 0)),    # a win in one order and a tie in the other → tie (MT-Bench)
    (A2, B2, ("win", 2)),    # strong in both orders keeps its strength
    (A2, B, ("win", 1)),     # the weaker strength counts
    (B2, A2, ("loss", 2)),
    (BAD, B, ("invalid", 0)),
    (A, BAD, ("invalid", 0)),
])
def test_combine_both_orders(cand_first: Verdict, base_first: Verdict,
                             expected: tuple[str, int]) -> None:
    signed = [candidate_signed(cand_first, True), candidate_signed(base_first, False)]
    assert combine(signed) == expected


def test_single_order() -> None:
    assert combine([candidate_signed(B, False)]) == ("win", 1)
    assert combine([candidate_signed(TIE, True)]) == ("tie", 0)
