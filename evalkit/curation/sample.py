"""``evalkit pool sample``: a smaller pool version whose topic mix is as even as the source
allows, optionally stratified by difficulty and preferring prompts that still separate
checkpoints. docs/curation.md, "Sampling".

The draw is an *order* of the whole pool, and a sample of n is its first n prompts:

- prompts are grouped into cells by the ``balance`` tag (one cell without it); prompts
  without that tag are left out (and counted);
- inside a cell, prompts are ordered at random (seeded) or, with ``prefer =
  "discriminative"``, by discrimination from stored comparisons, highest first — prompts
  never judged come after the measured unsaturated ones and before the saturated ones;
- with ``stratify``, a cell's order interleaves its strata (e.g. difficulty) so that every
  prefix keeps the cell's own mix (largest deficit first);
- cells take turns, one prompt each, in a seeded order of cells; a cell that runs out drops
  out. So every cell gets ⌊n/k⌋ or ⌈n/k⌉ prompts, except cells with fewer, which give all
  of theirs — the most even mix the source allows, exactly, and the same for the same seed.

The new version keeps the source's order of the chosen prompts.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy.engine import Engine

from ..errors import ConfigError
from ..pools import PoolPrompt

if TYPE_CHECKING:  # evalkit.stats costs a second to import: only when asked for
    from ..stats.discrimination import PromptDiscrimination

PREFER = ("random", "discriminative")
NONE = "(none)"


@dataclass(frozen=True)
class SampleSpec:
    n: int
    balance: str | None = None  # tag name (resolved: ``topic`` falls back to ``llm.topic``)
    stratify: str | None = None
    prefer: str = "random"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ConfigError(f"--n must be at least 1, got {self.n}")
        if self.prefer not in PREFER:
            raise ConfigError(f"--prefer: '{self.prefer}' is not one of {', '.join(PREFER)}")


@dataclass(frozen=True)
class Draw:
    """The chosen prompts (indices into the source, in source order), the full draw order
    (every eligible prompt), and the distributions."""

    chosen: tuple[int, ...]
    order: tuple[int, ...]
    balance_tag: str | None
    stratify_tag: str | None
    achieved: dict[str, int]
    available: dict[str, int]
    strata_achieved: dict[str, int] = field(default_factory=dict)
    strata_source: dict[str, int] = field(default_factory=dict)
    left_out: int = 0  # prompts without the balance tag


def resolve_tag(prompts: Sequence[PoolPrompt], name: str, what: str) -> str:
    """``name`` if the pool has that tag, else ``llm.name`` (a classifier's label)."""
    names = {k for p in prompts for k in p.tags}
    for candidate in (name, f"llm.{name}"):
        if candidate in names:
            return candidate
    raise ConfigError(f"{what}: the pool has no tag '{name}' (tags: "
                      f"{', '.join(sorted(names)) or 'none'}); annotate it first with "
                      "evalkit pool annotate, or name another tag")


def _interleave(items: list[int], strata: list[str]) -> list[int]:
    """``items`` (in their order) interleaved by stratum so every prefix keeps the mix."""
    groups: dict[str, list[int]] = {}
    for i, s in zip(items, strata, strict=True):
        groups.setdefault(s, []).append(i)
    total = len(items)
    taken = dict.fromkeys(groups, 0)
    names = sorted(groups, key=lambda s: (-len(groups[s]), s))
    out = []
    for t in range(total):
        best = max((s for s in names if taken[s] < len(groups[s])),
                   key=lambda s: (len(groups[s]) * (t + 1) / total - taken[s], len(groups[s])))
        out.append(groups[best][taken[best]])
        taken[best] += 1
    return out


def draw(prompts: Sequence[PoolPrompt], spec: SampleSpec,
         scores: Mapping[str, PromptDiscrimination] | None = None) -> Draw:
    """The balanced draw of ``spec.n`` prompts (module docstring)."""
    rng = np.random.default_rng(spec.seed)
    balance = resolve_tag(prompts, spec.balance, "--balance") if spec.balance else None
    stratify = resolve_tag(prompts, spec.stratify, "--stratify") if spec.stratify else None
    cells: dict[str, list[int]] = {}
    left_out = 0
    for i, p in enumerate(prompts):
        value = p.tags.get(balance) if balance else "all"
        if value is None:
            left_out += 1
            continue
        cells.setdefault(value, []).append(i)
    eligible = sum(len(v) for v in cells.values())
    if spec.n > eligible:
        what = f" with a '{balance}' tag" if balance else ""
        raise ConfigError(f"--n {spec.n} is more than the {eligible} prompts{what} in the "
                          "pool")
    noise = rng.random(len(prompts))
    if spec.prefer == "discriminative":
        if scores is None:
            raise ConfigError("--prefer discriminative needs stored comparisons on the pool")

        def key(i: int) -> tuple[int, float, float]:
            d = scores.get(prompts[i].prompt_hash)
            if d is None:
                return (1, 0.0, noise[i])
            return (2 if d.saturated else 0, -d.discrimination, noise[i])
    else:
        def key(i: int) -> tuple[int, float, float]:
            return (0, 0.0, noise[i])
    queues: dict[str, list[int]] = {}
    for value, members in cells.items():
        ordered = sorted(members, key=key)
        if stratify:
            ordered = _interleave(ordered, [prompts[i].tags.get(stratify, NONE)
                                            for i in ordered])
        queues[value] = ordered
    names = sorted(queues)
    turn = [names[i] for i in rng.permutation(len(names))]
    order: list[int] = []
    depth = 0
    while len(order) < eligible:
        for value in turn:
            if depth < len(queues[value]):
                order.append(queues[value][depth])
        depth += 1
    chosen = tuple(sorted(order[:spec.n]))
    achieved = Counter(prompts[i].tags.get(balance, "all") if balance else "all"
                       for i in chosen)
    out = Draw(chosen=chosen, order=tuple(order), balance_tag=balance, stratify_tag=stratify,
               achieved=dict(sorted(achieved.items())),
               available={v: len(m) for v, m in sorted(cells.items())}, left_out=left_out)
    if stratify:
        pick = Counter(prompts[i].tags.get(stratify, NONE) for i in chosen)
        src = Counter(prompts[i].tags.get(stratify, NONE) for i in order)
        out = replace(out, strata_achieved=dict(sorted(pick.items())),
                      strata_source=dict(sorted(src.items())))
    return out


# --------------------------------------------------------------------------- pipeline

@dataclass(frozen=True)
class SampleResult:
    pool: str
    source_version: str
    version: str
    created: bool
    spec: SampleSpec
    draw: Draw
    source_prompts: int
    precision: dict[str, Any] | None = None  # with prefer=discriminative: CI widths

    def to_dict(self) -> dict[str, Any]:
        from .versions import finite

        d = self.draw
        return finite({"pool": {"name": self.pool, "source_version": self.source_version,
                         "version": self.version, "created": self.created,
                         "prompts": len(d.chosen), "source_prompts": self.source_prompts},
                "n": self.spec.n, "seed": self.spec.seed, "prefer": self.spec.prefer,
                "balance": d.balance_tag, "stratify": d.stratify_tag,
                "achieved": d.achieved, "available": d.available,
                "strata_achieved": d.strata_achieved, "strata_source": d.strata_source,
                "left_out_untagged": d.left_out, "precision": self.precision})


def sample_pool(engine: Engine, name: str, spec: SampleSpec, *, version: str | None = None,
                into: str | None = None, judge: str | None = None) -> SampleResult:
    """Draw ``spec`` from pool ``name`` and store it as a new version of ``into`` (default:
    the same pool). With ``prefer = "discriminative"`` the report has the CI widths."""
    from ..catalog import resolve_pool
    from .versions import store_derived

    pool, prompts = resolve_pool(engine, name, version)
    report = None
    if spec.prefer == "discriminative":
        from ..stats.discrimination import PromptDiscrimination
        from .hardness import pool_hardness

        report = pool_hardness(engine, pool.name, version=pool.version, judge=judge)
    scores = None
    if report is not None:
        scores = {h.prompt_hash: PromptDiscrimination(h.prompt_hash, h.pairs, h.n,
                                                      h.decisive or 0.0,
                                                      h.discrimination or 0.0, h.saturated)
                  for h in report.prompts if h.measured}
    d = draw(prompts, spec, scores)
    chosen = [prompts[i] for i in d.chosen]
    params = {"n": spec.n, "balance": d.balance_tag, "stratify": d.stratify_tag,
              "prefer": spec.prefer, "seed": spec.seed,
              **({"judge": report.judge} if report else {})}
    stored, created = store_derived(engine, into or pool.name, chosen, pool, "sample", params,
                                    {"achieved": d.achieved, "available": d.available})
    precision = None
    if report is not None:
        precision = precision_report(report, prompts, d, spec)
    return SampleResult(pool=into or pool.name, source_version=pool.version,
                        version=stored.version, created=created, spec=spec, draw=d,
                        source_prompts=len(prompts), precision=precision)


def precision_report(report: Any, prompts: Sequence[PoolPrompt], d: Draw,
                     spec: SampleSpec) -> dict[str, Any]:
    """CI widths (mean over the stored pairs, decisive win rate) of the full pool, the
    sample, and a random balanced sample of the same size (same seed); and how many prompts
    of a discriminative, balanced order match the full pool's width.

    The sample's own width is measured on the comparisons used to choose it, so it is
    optimistic (prompts whose outcomes happened to follow the ranking look the most
    discriminative). The held-out figures are not: for each stored pair, prompts are chosen
    by the discrimination measured on the *other* pairs and the width is measured on that
    pair, then averaged — what the choice is worth for a comparison it has not seen (needs
    at least two stored pairs)."""
    from ..stats.discrimination import ci_widths, prompt_discrimination, without_pair

    counts = report.counts
    full_order = list(dict.fromkeys(p.prompt_hash for p in prompts))

    def width(hashes: Sequence[str]) -> tuple[float, float]:
        keys = list(dict.fromkeys(hashes))
        return ci_widths(counts, keys, sizes=[len(keys)]).at(len(keys))

    full_dec, full_half = width(full_order)
    s_dec, s_half = width([prompts[i].prompt_hash for i in d.chosen])
    rand = draw(prompts, replace(spec, prefer="random"))
    r_dec, r_half = width([prompts[i].prompt_hash for i in rand.chosen])
    pairs = counts.pair_i.size
    held_out = None
    needed = None
    if pairs >= 2:
        curves, fulls = [], []
        for q in range(pairs):
            scores = {x.key: x for x in prompt_discrimination(
                without_pair(counts, q), saturated_at=report.saturated_at)}
            order = list(dict.fromkeys(prompts[i].prompt_hash
                                       for i in draw(prompts, spec, scores).order))
            curves.append(ci_widths(counts, order, pairs=[q]).decisive)
            fulls.append(ci_widths(counts, full_order, sizes=[len(full_order)],
                                   pairs=[q]).decisive[0])
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # pairs without decisive verdicts
            mean_curve = np.nanmean(np.vstack(curves), axis=0)
            full_ho = float(np.nanmean(fulls))
        n_chosen = len(dict.fromkeys(prompts[i].prompt_hash for i in d.chosen))
        held_out = float(mean_curve[n_chosen - 1])
        ok = np.flatnonzero(mean_curve <= full_ho * (1 + 1e-9))
        needed = int(ok[0]) + 1 if ok.size else None
    else:
        curve = report.widths([prompts[i].prompt_hash for i in d.order])
        needed = curve.needed(full_dec)

    def ratio(x: float | None) -> float | None:
        if x is None or not np.isfinite(full_dec) or not full_dec:
            return None
        return x / full_dec

    return {"pairs": pairs, "judge": report.judge,
            "full": {"prompts": len(prompts), "ci_width_decisive": full_dec,
                     "ci_width_ties_half": full_half},
            "sample": {"prompts": len(d.chosen), "ci_width_decisive": s_dec,
                       "ratio_to_full": ratio(s_dec), "ci_width_ties_half": s_half,
                       "held_out_ci_width_decisive": held_out,
                       "held_out_ratio_to_full": ratio(held_out)},
            "random_sample": {"prompts": len(rand.chosen), "ci_width_decisive": r_dec,
                              "ratio_to_full": ratio(r_dec), "ci_width_ties_half": r_half},
            "needed_for_full_width": needed,
            "needed_method": "held out: prompts chosen on the other stored pairs, width "
                             "measured on each pair" if pairs >= 2 else
                             "in-sample (one stored pair: no held-out estimate; optimistic)",
            "method": "mean over stored pairs of the 95% CI width of the decisive win rate "
                      "(ties left out; Agresti-Coull at the effective sample size over "
                      "prompts); needed = fewest prompts of the balanced, most-discriminative-"
                      "first order whose width is at most the full pool's"}
