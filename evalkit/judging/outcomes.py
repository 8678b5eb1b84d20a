"""From two positional verdicts to one outcome for the candidate (MT-Bench rule).

Each order gives a signed strength for the candidate: +2/+1 win, 0 tie, −1/−2 loss. Orders
that agree in sign give a win (or loss) with the weaker of the two strengths; anything else —
a tie in either order, or opposite signs — is a tie. An unreadable verdict in either order makes
the prompt ``invalid``; a failed request makes it ``failed``. Neither is ever a win or a loss.
The raw verdicts stay in the store, so another rule can be applied later.
"""

from __future__ import annotations

from .parse import Verdict

SCORES = {"win": 1.0, "tie": 0.5, "loss": 0.0}


def candidate_signed(verdict: Verdict, candidate_first: bool) -> int | None:
    """The candidate's signed strength from one positional verdict; None if invalid."""
    if verdict.label == "invalid":
        return None
    if verdict.label == "tie":
        return 0
    candidate_won = (verdict.label == "A") == candidate_first
    return verdict.strength if candidate_won else -verdict.strength


def combine(signed: list[int | None]) -> tuple[str, int]:
    """Combine one or two signed strengths into (outcome, strength)."""
    if any(s is None for s in signed):
        return "invalid", 0
    values = [s for s in signed if s is not None]
    if all(s > 0 for s in values):
        return "win", min(values)
    if all(s < 0 for s in values):
        return "loss", min(-s for s in values)
    return "tie", 0
