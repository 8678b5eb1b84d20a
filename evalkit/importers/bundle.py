"""The common shape every importer produces (and every exporter consumes).

An ``ImportBundle`` is format-neutral: prompts (as pool prompts), each model's responses by
prompt id, and judgments. Storing a bundle and reading it back must give an equal bundle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import InputError
from ..pools import PoolPrompt


@dataclass(frozen=True)
class ImportedJudgment:
    """One verdict of a judge on (prompt, model shown first, model shown second).

    ``label`` is positional ("A" = the first shown, "B", "tie", "invalid") or None when the
    source gives only a soft preference. ``preference`` is the probability that the SECOND
    shown response is better, in [0, 1] (0.5 = tie); None when the source gives a hard label
    only. ``strength`` is 2 for a strong win ("A>>B"), 1 for a plain win, 0 otherwise.
    ``extra`` keeps source fields that have no column (kept verbatim for round trips).
    """

    judge: str
    prompt_id: str
    model_first: str
    model_second: str
    label: str | None
    strength: int = 0
    preference: float | None = None
    raw: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ImportBundle:
    source: str                                   # "alpaca_eval" | "arena_hard" | "mt_bench"
    pool_name: str
    prompts: list[PoolPrompt]
    outputs: dict[str, dict[str, str]]            # model -> prompt id -> response text
    judgments: list[ImportedJudgment] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def answer(self, model: str, prompt_id: str) -> str:
        """The model's output for a prompt; a judgment naming a missing one is bad input."""
        text = self.outputs.get(model, {}).get(prompt_id)
        if text is None:
            raise InputError(f"a judgment refers to model '{model}' on prompt '{prompt_id}', "
                             "which has no output in the imported files")
        return text
