"""The leaderboard: Bradley–Terry ratings of every checkpoint in a pool, from stored
comparisons (the latest one per pair), with bootstrap CIs, rank by CI, n, average length and
the pairwise win-rate matrix. Outcome counts are aggregated in SQL; nothing is re-judged.

CIs come from a **prompt-cluster bootstrap** by default (``ci="prompts"``): a prompt — by
prompt hash, across every pair and pool version it was judged in, with all its samples and
both orders — is resampled as one unit, because outcomes on one prompt are correlated. The
per-(comparison, prompt) counts are aggregated in SQL (``queries.prompt_outcome_counts``).
``ci="battles"`` is the older bootstrap over independent battles.

A comparison graph that is not connected (A–B and C–D compared, nothing linking them) is rated
per connected component: each rating and rank is relative to its component only, and every
rating says which component it is in. A component without a finite maximum-likelihood
estimate (a checkpoint that lost every battle) is rated with a small documented prior and
flagged (``mle: false``); see ``evalkit.stats.bt_fit``.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy.engine import Engine

from .errors import ConfigError
from .store import queries

RANK_NOTE = ("rank = 1 + number of checkpoints in the same component whose CI lies entirely "
             "above")


def choose_judge(engine: Engine, pool: str, judge: str | None) -> str:
    comparisons = queries.latest_pair_comparisons(engine, pool, None)
    judges: dict[str, int] = {}
    for c in comparisons:
        judges[c["judge"]] = judges.get(c["judge"], 0) + 1
    if not judges:
        raise ConfigError(f"no comparisons stored for pool '{pool}'; run "
                          f"`evalkit compare A B --pool {pool}` first")
    if judge is not None:
        if judge not in judges:
            raise ConfigError(f"no comparisons for pool '{pool}' with judge '{judge}' "
                              f"(judges with comparisons: {', '.join(sorted(judges))})")
        return judge
    return max(sorted(judges), key=lambda j: judges[j])


def build_leaderboard(engine: Engine, pool: str, judge: str | None = None, *,
                      rounds: int = 200, seed: int = 0, level: float = 0.95,
                      anchor: str | None = None, ci: Literal["prompts", "battles"] = "prompts",
                      tag: tuple[str, str] | None = None,
                      style_control: bool = False) -> dict[str, Any]:
    """The leaderboard as a JSON-ready dict (the ``evalkit leaderboard --json`` contract).

    ``tag=(name, value)`` rates on the prompts with that tag value only (the dashboard's tag
    filter). ``style_control`` adds the ratings fitted jointly with style covariates beside
    the plain ones, and the style coefficients (``leaderboard_style``). Raises ConfigError
    when there is nothing to rate."""
    from .stats.bradley_terry import BattleCounts, PromptCounts, bootstrap_bt, bootstrap_bt_prompts

    if ci not in ("prompts", "battles"):
        raise ConfigError(f"unknown CI method '{ci}' (use 'prompts' or 'battles')")
    judge = choose_judge(engine, pool, judge)
    comparisons = queries.latest_pair_comparisons(engine, pool, judge)
    ids = [c["id"] for c in comparisons]
    if tag is None:
        counts = queries.outcome_counts(engine, ids)
    else:
        from .store import dashboard_queries

        counts = dashboard_queries.tag_outcome_counts(engine, ids, tag[0], tag[1])
    pairs: list[dict[str, Any]] = []
    sides: dict[str, tuple[str, str]] = {}
    for c in comparisons:
        k = counts.get(c["id"])
        if not k or k["n"] == 0:
            continue
        pairs.append({"baseline": c["baseline"], "candidate": c["candidate"],
                      "comparison_id": c["id"], **k})
        sides[c["id"]] = (c["baseline"], c["candidate"])
    if not pairs:
        where = "" if tag is None else f" on prompts with {tag[0]} = {tag[1]}"
        raise ConfigError(f"pool '{pool}' has comparisons but no valid judgments{where} yet")
    if anchor is not None and anchor not in {s for pair in sides.values() for s in pair}:
        raise ConfigError(f"anchor '{anchor}' has no valid comparisons in pool '{pool}' with "
                          f"judge '{judge}'")
    if ci == "prompts":
        per_prompt = queries.prompt_outcome_counts(engine, list(sides), tag)
        result = bootstrap_bt_prompts(PromptCounts.from_rows(
            (r.prompt_hash, *sides[r.comparison_id], r.baseline_wins, r.ties, r.candidate_wins)
            for r in per_prompt), rounds=rounds, seed=seed, level=level, anchor=anchor)
    else:
        result = bootstrap_bt(BattleCounts.from_pairs(
            (p["baseline"], p["candidate"], p["baseline_wins"], p["ties"], p["candidate_wins"])
            for p in pairs), rounds=rounds, seed=seed, level=level, anchor=anchor)
    lengths = queries.average_lengths(engine, list(sides))
    board = {"pool": pool, "judge": judge, **_board(result, pairs, lengths),
             "method": f"{result.method}; {RANK_NOTE}",
             "scale": "400 points = 10:1 odds; "
                      + (f"anchor {anchor} = 1000" if anchor else "mean rating 1000")
                      + (" (each component separately)" if result.fit.n_components > 1 else "")}
    if style_control:
        from .leaderboard_style import merge, style_board

        merge(board, style_board(engine, sides, rounds=rounds, seed=seed, level=level,
                                 anchor=anchor, tag=tag))
    return board


def _board(result: Any, pairs: list[dict[str, Any]],
           lengths: dict[str, float]) -> dict[str, Any]:
    """Ratings, components, the win matrix and battle counts from a ``BTResult``."""
    ratings = [{"checkpoint": e.name, "rating": e.rating, "ci": list(e.ci), "rank": e.rank,
                "n": e.n, "ties": e.ties, "avg_length": lengths.get(e.name),
                "component": e.component, "mle": e.mle}
               for e in result.leaderboard()]
    matrix: dict[str, dict[str, float | None]] = {r["checkpoint"]: {} for r in ratings}
    battles: dict[str, dict[str, float]] = {r["checkpoint"]: {} for r in ratings}
    for p in pairs:
        a, b = p["baseline"], p["candidate"]
        a_score = p["baseline_wins"] + 0.5 * p["ties"]
        matrix[a][b] = a_score / p["n"]
        matrix[b][a] = 1 - a_score / p["n"]
        battles[a][b] = battles[b][a] = p["n"]
    fit = result.fit
    components = []
    for label, names in enumerate(fit.components(), start=1):
        inside = set(names)
        components.append({
            "component": label, "checkpoints": sorted(names, key=lambda m: -fit.rating(m)),
            "pairs": sum(1 for p in pairs if p["baseline"] in inside),
            "mle": not any(fit.on_prior[fit.models.index(m)] for m in names),
            "degenerate_rounds": result.degenerate_by_component[label - 1]})
    return {"ratings": ratings, "components": components, "win_matrix": matrix,
            "battles": battles, "pairs": pairs, "ci_method": result.ci_method,
            "ci_level": result.level, "rounds": result.rounds, "seed": result.seed,
            "prompts": result.n_clusters, "degenerate_rounds": result.n_degenerate,
            "notes": list(fit.notes)}
