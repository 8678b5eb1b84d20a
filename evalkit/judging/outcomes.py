"""From the positional verdicts of one prompt to one outcome for the candidate.

Hard verdicts (MT-Bench rule): each order gives the candidate a signed strength (+2/+1 win,
0 tie, −1/−2 loss). Orders that agree in sign give a win (or loss) with the weaker strength;
anything else — a tie in either order, or opposite signs — is a tie.

Soft verdicts (a preference probability, e.g. AlpacaEval's weighted annotator or a judge read
through log-probabilities) are kept unrounded: the prompt's score is the mean of the
candidate's per-order scores, and its outcome is win/tie/loss by which side of 0.5 it falls.

An unreadable verdict in any order makes the prompt ``invalid``; a failed request makes it
``failed``. Neither is ever a win or a loss. The raw verdicts stay in the store, so another
rule can be applied later.
"""

from __future__ import annotations

from dataclasses import dataclass

from .parse import Verdict

SCORES = {"win": 1.0, "tie": 0.5, "loss": 0.0}


@dataclass(frozen=True)
class OrderVerdict:
    """One judgment as the candidate sees it."""

    verdict: Verdict
    candidate_first: bool
    preference: float | None = None  # P(second shown is better)

    @property
    def signed(self) -> int | None:
        return candidate_signed(self.verdict, self.candidate_first)

    @property
    def score(self) -> float | None:
        if self.preference is not None:
            return 1.0 - self.preference if self.candidate_first else self.preference
        signed = self.signed
        return None if signed is None else (0.5 if signed == 0 else float(signed > 0))


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


def prompt_outcome(orders: list[OrderVerdict]) -> tuple[str, int, float | None]:
    """(outcome, strength, score) of one prompt from its judged orders."""
    if any(o.preference is not None for o in orders):
        scores = [o.score for o in orders]
        if any(s is None for s in scores):
            return "invalid", 0, None
        score = sum(s for s in scores if s is not None) / len(scores)
        outcome = "win" if score > 0.5 else "loss" if score < 0.5 else "tie"
        return outcome, 0, score
    outcome, strength = combine([o.signed for o in orders])
    return outcome, strength, SCORES.get(outcome)
