"""A scripted single-answer grader for evalkit's simulated server (``"kind": "grader"``).

It finds the marker ``[sim model=NAME prompt=HASH]`` of the reply it is asked to grade (the
last marker in its prompt: earlier ones belong to the conversation) and answers
``Rating: [[N]]`` with a known score: ``scores[NAME]`` plus a deterministic offset in
``[-spread, spread]`` per (model, prompt hash), rounded and kept on the scale. A seeded
fraction ``malformed_rate`` of answers gets a malformed rating instead (out of range, a
fraction, no brackets, a decimal, or two scores) — the same on a re-ask unless
``reask_fixes``. ``score_of`` gives the truth a test compares with.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .scripts import MARKER_RE, uniform

MALFORMED = ("Rating: [[11]]", "Rating: [[7/10]]", "Rating: 7", "Rating: [[7.5]]",
             "Rating: [[6]] or [[7]]")


@dataclass(frozen=True)
class GraderScript:
    name: str
    scores: dict[str, float] = field(default_factory=dict)
    spread: int = 0
    malformed_rate: float = 0.0
    reask_fixes: bool = False
    lo: int = 1
    hi: int = 10
    seed: int = 0

    def score_of(self, model: str, prompt_hash: str) -> int:
        """The score this grader gives the answer of ``model`` marked with ``prompt_hash``."""
        offset = int(uniform(self.seed, model, prompt_hash, "offset") * (2 * self.spread + 1))
        value = round(self.scores.get(model, (self.lo + self.hi) / 2) + offset - self.spread)
        return int(min(self.hi, max(self.lo, value)))

    def malformed(self, model: str, prompt_hash: str) -> str | None:
        """The malformed reply this answer gets (None: a valid one)."""
        if uniform(self.seed, model, prompt_hash, "bad") >= self.malformed_rate:
            return None
        pick = int(uniform(self.seed, model, prompt_hash, "kind") * len(MALFORMED))
        return MALFORMED[pick]

    def answer(self, messages: list[dict], max_tokens: int | None = None) -> tuple[str, str]:
        reask = len(messages) >= 3 and messages[-2].get("role") == "assistant"
        text = next((str(m["content"]) for m in messages if m.get("role") == "user"), "")
        found = MARKER_RE.findall(text)
        if not found:
            return "I cannot find a reply to grade.", "stop"
        model, digest = found[-1]
        bad = self.malformed(model, digest)
        if bad is not None and not (reask and self.reask_fixes):
            return f"The reply is partly useful.\n\n{bad}", "stop"
        return (f"The reply addresses the request.\n\nRating: [[{self.score_of(model, digest)}]]",
                "stop")
