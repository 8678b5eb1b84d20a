"""Judge panels: ``[judges.NAME] panel = ["j1", "j2", …]`` with ``rule = "majority" | "mean" |
"unanimous"`` — several judges (LLM judges, a reward model ``rm:NAME``, imported judges) whose
verdicts are combined into one per order (docs/judging-modes.md).

* Each member judges (prompt, first, second) as it would alone, and its judgment is stored
  under its **own** spec, so a member's verdicts are shared with runs that use it alone, and a
  panel whose rule changes re-combines stored verdicts without asking anyone again.
* The panel's judgment (its spec: the members' specs and the rule) holds the combined verdict;
  its ``raw_output`` lists the member verdicts it combined.
* Rules, on the members' positional verdicts of one order:
  ``majority``: the label (A, B or tie) given by more than half of the members, else a tie
  (a win keeps the weakest strength among the members that gave it);
  ``mean``: the mean of the members' soft preferences P(second shown is better) — a hard
  verdict counts as 1 (B), 0 (A) or 0.5 (tie) — kept unrounded, like a log-probability judge's;
  ``unanimous``: the members' common label when they all agree, else a tie.
  A member whose verdict is unreadable makes the panel's verdict invalid; a member whose
  request failed makes the panel's judgment a failed request (retried next run) — never a
  silent vote less.
* The comparison summary gets ``panel``: each member's own result on the same items (win rate
  with its CI) and, for every pair of members, their agreement on the per-item outcome
  (win/tie/loss for the candidate): the share of agreeing items and Cohen's kappa.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from sqlalchemy.engine import Engine

from ..backends.stored import judgment_key
from ..config import EndpointConfig, JudgeConfig, _check_keys, _typed
from ..errors import ConfigError
from ..hashing import content_hash
from ..pools import PoolPrompt
from .pairwise import JudgeCall
from .parse import INVALID, TIE, Verdict

RULES = ("majority", "mean", "unanimous")
_PREF = {"A": 0.0, "B": 1.0, "tie": 0.5}


# --------------------------------------------------------------------------- config

def parse_panel(name: str, raw: dict[str, Any], where: str) -> JudgeConfig:
    """A ``[judges.NAME]`` table with ``panel``: members, ``rule``, ``both_orders``."""
    _check_keys(where, raw, {"panel", "rule", "both_orders"})
    members = raw["panel"]
    if (not isinstance(members, list) or len(members) < 2
            or not all(isinstance(m, str) and m.strip() for m in members)):
        raise ConfigError(f"{where}.panel: expected a list of at least two judge names")
    if len(set(members)) != len(members):
        raise ConfigError(f"{where}.panel: a judge is listed twice")
    if name in members:
        raise ConfigError(f"{where}.panel: a panel cannot contain itself")
    rule = _typed(where, raw.get("rule", "majority"), str, "rule")
    if rule not in RULES:
        raise ConfigError(f"{where}.rule: '{rule}' is not one of {', '.join(RULES)}")
    return JudgeConfig(name=name, backend="panel", endpoint=EndpointConfig(),
                       both_orders=_typed(where, raw.get("both_orders", True), bool,
                                          "both_orders"),
                       reask_invalid=False, panel=tuple(members), rule=rule)


def check_members(where: str, judges: dict[str, JudgeConfig]) -> None:
    """Panels do not nest (a member that is itself a panel is an error)."""
    for name, cfg in judges.items():
        for member in cfg.panel:
            if member in judges and judges[member].panel:
                raise ConfigError(f"{where}: judges.{name}.panel: '{member}' is itself a "
                                  "panel; list its members instead")


# --------------------------------------------------------------------------- combining

@dataclass(frozen=True)
class MemberVerdict:
    """One member's judgment of one order, as the panel combined it."""

    judge: str
    spec: str
    key: str
    verdict: str | None  # "A" | "B" | "tie" | "invalid"; None when the request failed
    strength: int = 0
    preference: float | None = None
    error: str | None = None


def combine(members: Sequence[MemberVerdict], rule: str) -> tuple[Verdict, float | None]:
    """The panel's positional verdict (and soft preference, for ``mean``) of one order."""
    if rule not in RULES:
        raise ValueError(f"unknown panel rule {rule!r}")
    labels = [m.verdict for m in members]
    if any(label not in ("A", "B", "tie") for label in labels):
        return INVALID, None
    if rule == "mean":
        prefs = [m.preference if m.preference is not None else _PREF[str(m.verdict)]
                 for m in members]
        pref = sum(prefs) / len(prefs)
        label = "B" if pref > 0.5 else "A" if pref < 0.5 else "tie"
        return (TIE if label == "tie" else Verdict(label, 1)), pref
    if rule == "unanimous":
        chosen = labels[0] if len(set(labels)) == 1 else None
    else:
        top, n = Counter(labels).most_common(1)[0]
        chosen = top if 2 * n > len(labels) else None
    if chosen is None or chosen == "tie":
        return TIE, None
    return Verdict(chosen, min(m.strength or 1 for m in members if m.verdict == chosen)), None


# --------------------------------------------------------------------------- the judge

@dataclass(frozen=True)
class PanelTemplate:
    """What ``Comparer`` records as the panel's template: its members and rule, in words."""

    name: str
    user: str
    system: str = ""
    reference_block: str = ""


class PanelJudge:
    """A judge whose verdicts combine its members' (see the module docstring)."""

    stored_only = False

    def __init__(self, engine: Engine, config: JudgeConfig, members: Sequence[Any]) -> None:
        from ..claims import Claims
        from ..singleflight import SingleFlight
        from ..store.writer import BatchWriter

        if len(members) < 2:
            raise ConfigError(f"judge '{config.name}': a panel needs at least two members")
        slots = sum(m.config.endpoint.max_concurrency * max(1, len(m.config.endpoint.urls))
                    for m in members)
        self.config = replace(config, endpoint=EndpointConfig(max_concurrency=max(1, slots)))
        self.members = list(members)
        self.engine = engine
        self.identity = {"backend": "panel", "name": config.name, "rule": config.rule,
                         "members": [m.spec_hash for m in self.members]}
        self.spec_hash = content_hash(self.identity, 16)
        names = ", ".join(m.config.name for m in self.members)
        self.template = PanelTemplate(name=f"panel ({config.rule} of {names})",
                                      user=f"panel of {names}; rule {config.rule}")
        self.claims = Claims(engine)
        self.writer = BatchWriter(engine, owner=str(self.claims.owner))
        self.cache: dict[str, dict[str, Any]] = {}  # member judgments by key (slim)
        self._flight: SingleFlight[dict[str, Any]] = SingleFlight()
        self.counts: Counter[str] = Counter()  # member judgments: cached / judged / failed
        self.failed_at: dict[str, str] = {}
        self._prepared = False

    @property
    def reads_turns(self) -> bool:
        from ..turns import judge_reads_turns

        return all(judge_reads_turns(m) for m in self.members)

    def key(self, prompt: PoolPrompt, first: str, second: str) -> str:
        return judgment_key(self.spec_hash, prompt, first, second)

    async def prepare(self, prompt_hashes: Sequence[str]) -> None:
        """Register the members' specs and load their stored judgments on these prompts."""
        from ..store import cache as cached
        from ..store import queries

        def load() -> dict[str, dict[str, Any]]:
            found: dict[str, dict[str, Any]] = {}
            for m in self.members:
                t = m.template
                queries.save_judge_spec(self.engine, m.config.name, m.spec_hash, m.identity,
                                        json.dumps({"system": t.system, "user": t.user,
                                                    "reference_block": t.reference_block}))
                found.update(cached.judgment_verdicts(self.engine, m.spec_hash,
                                                      list(prompt_hashes)))
            return found

        self.cache.update(await asyncio.to_thread(load))
        self._prepared = True

    async def judge(self, prompt: PoolPrompt, first: str, second: str) -> JudgeCall:
        if not self._prepared:
            await self.prepare([prompt.prompt_hash])
        verdicts = await asyncio.gather(*(self._member(m, prompt, first, second)
                                          for m in self.members))
        raw = json.dumps({"rule": self.config.rule,
                          "members": [asdict(v) for v in verdicts]})
        failed = next((v for v in verdicts if v.error is not None), None)
        if failed is not None:
            where = self.failed_at.get(failed.key)
            if where is not None:
                self.failed_at[self.key(prompt, first, second)] = where
            return JudgeCall(None, raw, error=f"panel member {failed.judge}: {failed.error}",
                             endpoint=where)
        verdict, pref = combine(verdicts, self.config.rule)
        return JudgeCall(verdict, raw, preference=pref)

    async def _member(self, member: Any, prompt: PoolPrompt, first: str, second: str
                      ) -> MemberVerdict:
        key = member.key(prompt, first, second)
        row = self.cache.get(key)
        if row is not None and row["verdict"] is not None:
            self.counts["cached"] += 1
        else:
            row = await self._flight.do(key, lambda: self._call(member, key, prompt, first,
                                                                second))
        return MemberVerdict(judge=member.config.name, spec=member.spec_hash, key=key,
                             verdict=row["verdict"], strength=row.get("strength") or 0,
                             preference=row.get("preference"), error=row.get("error"))

    async def _call(self, member: Any, key: str, prompt: PoolPrompt, first: str,
                    second: str) -> dict[str, Any]:
        from ..store import cache as cached
        from ..store.models import Judgment

        stored_only = getattr(member, "stored_only", False)
        if not stored_only:
            stored = await self.claims.claim("judgment", key)
            if stored is not None:  # another process judged it meanwhile
                self.cache[key] = slim = cached.slim_judgment(stored)
                self.counts["cached"] += 1
                return slim
        try:
            call = await member.judge(prompt, first, second)
        except BaseException:
            if not stored_only:
                self.writer.release(key)
            raise
        # a member is asked by text; the panel's own judgment row names the generations
        row = {"key": key, "judge_spec": member.spec_hash, "prompt_hash": prompt.prompt_hash,
               "gen_first": "", "gen_second": "",
               "verdict": call.verdict.label if call.verdict else None,
               "strength": call.verdict.strength if call.verdict else 0,
               "preference": getattr(call, "preference", None), "raw_output": call.raw_output,
               "error": call.error, "reasked": call.reasked, "latency": call.latency,
               "prompt_tokens": call.prompt_tokens, "completion_tokens": call.completion_tokens}
        slim = cached.slim_judgment(row)
        if call.error is not None:
            self.counts["failed"] += 1
            if call.endpoint is not None:
                self.failed_at[key] = call.endpoint
        else:
            self.counts["judged"] += 1
            self.cache[key] = slim
        if not stored_only:
            self.writer.add(Judgment, row, release=key)
        return slim

    def summary(self, items: Sequence[dict[str, Any]], level: float = 0.95) -> dict[str, Any]:
        """Each member's result on the comparison's items and the members' agreement."""
        from ..store import judging_queries
        from .panel_stats import panel_summary

        keys = [it.get(f) for it in items for f in ("judgment_cand_first",
                                                    "judgment_base_first")]
        members = judging_queries.panel_members(self.engine, [k for k in keys if k])
        names = [m.config.name for m in self.members]
        return {"rule": self.config.rule, "requests": dict(self.counts),
                **panel_summary(items, members, names, level)}

    async def aclose(self) -> None:
        try:
            await self.writer.flush()
            await self.claims.aclose()
        finally:
            for m in self.members:
                await m.aclose()
