"""A reward model as a pairwise judge: ``evalkit compare A B --judge rm:NAME``.

Each response is scored once (``evalkit/reward/scorer.py``: a ``score`` row per
(reward model, prompt, response), shared with ``evalkit score`` and ``rm-eval``); the verdict
on (prompt, first, second) comes from the difference ``Δ = r(second) − r(first)``:

* hard (default): ``|Δ| <= tie_margin`` is a tie, else the higher reward wins (strength 1);
* soft (``temperature = T``): the preference ``P(second is better) = sigmoid(Δ / T)`` is kept
  unrounded, as a logprob judge's is, and the prompt's score is that probability for the
  candidate.

A reward model sees each response alone, so the order cannot matter: one order per prompt
is judged (``both_orders`` is false) and the verdict is stored as a ``judgment`` row with the
two rewards in ``raw_output``. Outcomes, statistics, storage, the leaderboard, the dashboard
and the gate then treat it like any judge. The judge's identity is the reward model's plus
the outcome rule, so changing the margin re-judges from the stored scores without scoring
anything again.
"""

from __future__ import annotations

import asyncio
import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine

from ..backends.stored import judgment_key
from ..config import EndpointConfig, JudgeConfig
from ..hashing import content_hash
from ..pools import PoolPrompt
from .pairwise import JudgeCall
from .parse import Verdict

if TYPE_CHECKING:
    from ..reward.scorer import Scorer
    from ..reward.spec import RewardModelConfig

PREFIX = "rm:"


@dataclass(frozen=True)
class RewardTemplate:
    """What ``Comparer`` records as the judge's template: the outcome rule, in words."""

    name: str
    user: str
    system: str = ""
    reference_block: str = ""


def outcome_rule(rm: RewardModelConfig) -> str:
    if rm.temperature is not None:
        return f"soft: P(second better) = sigmoid((r_second - r_first) / {rm.temperature:g})"
    return f"hard: |r_second - r_first| <= {rm.tie_margin:g} is a tie, else the higher wins"


def verdict_of(delta: float, rm: RewardModelConfig) -> tuple[Verdict, float | None]:
    """(positional verdict, soft preference or None) from ``Δ = r(second) − r(first)``."""
    if rm.temperature is not None:
        pref = 1.0 / (1.0 + math.exp(-max(-700.0, min(700.0, delta / rm.temperature))))
        label = "B" if pref > 0.5 else "A" if pref < 0.5 else "tie"
        return Verdict(label, 0 if label == "tie" else 1), pref
    if abs(delta) <= rm.tie_margin:
        return Verdict("tie", 0), None
    return Verdict("B" if delta > 0 else "A", 1), None


def judge_identity(rm: RewardModelConfig) -> dict[str, Any]:
    """The RM judge's identity: the reward model's, plus the outcome rule."""
    return {"backend": "rm", "name": rm.name, "reward_model": rm.spec_hash,
            "tie_margin": rm.tie_margin, "temperature": rm.temperature}


def judge_spec_hash(rm: RewardModelConfig) -> str:
    return content_hash(judge_identity(rm), 16)


class RewardJudge:
    """``rm:NAME``: the judge whose verdicts are reward differences."""

    stored_only = False

    def __init__(self, engine: Engine, rm: RewardModelConfig, scorer: Scorer | None = None
                 ) -> None:
        from ..backends.reward_base import make_reward_backend
        from ..reward.scorer import Scorer

        self.rm = rm
        endpoint = rm.endpoint if rm.backend != "hf" else EndpointConfig(
            max_concurrency=max(8, rm.batch_size))
        self.config = JudgeConfig(name=PREFIX + rm.name, backend="rm", endpoint=endpoint,
                                  both_orders=False, reask_invalid=False)
        self.template = RewardTemplate(name=f"reward model {rm.name}", user=outcome_rule(rm))
        self.identity = judge_identity(rm)
        self.spec_hash = content_hash(self.identity, 16)
        self.scorer = scorer or Scorer(engine, make_reward_backend(rm))
        self.failed_at: dict[str, str] = {}  # judgment key -> where its scoring failed

    def key(self, prompt: PoolPrompt, first: str, second: str) -> str:
        return judgment_key(self.spec_hash, prompt, first, second)

    async def judge(self, prompt: PoolPrompt, first: str, second: str) -> JudgeCall:
        a, b = await asyncio.gather(self.scorer.score(prompt, first),
                                    self.scorer.score(prompt, second))
        if a.error is not None or b.error is not None:
            failed = a if a.error is not None else b
            where = self.scorer.failed_at.get(failed.key)
            if where is not None:
                self.failed_at[self.key(prompt, first, second)] = where
            return JudgeCall(None, None, error=failed.error, endpoint=where)
        assert a.score is not None and b.score is not None
        delta = b.score - a.score
        verdict, pref = verdict_of(delta, self.rm)
        raw = json.dumps({"reward_first": a.score, "reward_second": b.score, "delta": delta})
        return JudgeCall(verdict, raw, preference=pref)

    async def aclose(self) -> None:
        await self.scorer.aclose()


def rewards_of(raw_output: str | None) -> tuple[float, float] | None:
    """(reward of the first shown, of the second) from a stored RM judgment."""
    if not raw_output:
        return None
    try:
        data = json.loads(raw_output)
        return float(data["reward_first"]), float(data["reward_second"])
    except (ValueError, KeyError, TypeError):
        return None
