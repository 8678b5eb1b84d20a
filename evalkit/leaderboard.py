"""The leaderboard: Bradley–Terry ratings of every checkpoint in a pool, from stored
comparisons (the latest one per pair), with bootstrap CIs, rank by CI, n, average length and
the pairwise win-rate matrix. Outcome counts are aggregated in SQL; nothing is re-judged."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from .errors import ConfigError
from .store import queries


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
                      anchor: str | None = None) -> dict[str, Any]:
    from .stats.bradley_terry import BattleCounts, bootstrap_bt

    judge = choose_judge(engine, pool, judge)
    comparisons = queries.latest_pair_comparisons(engine, pool, judge)
    counts = queries.outcome_counts(engine, [c["id"] for c in comparisons])
    rows = []
    pairs: list[dict[str, Any]] = []
    for c in comparisons:
        k = counts.get(c["id"])
        if not k or k["n"] == 0:
            continue
        rows.append((c["baseline"], c["candidate"], k["baseline_wins"], k["ties"],
                     k["candidate_wins"]))
        pairs.append({"baseline": c["baseline"], "candidate": c["candidate"],
                      "comparison_id": c["id"], **k})
    if not rows:
        raise ConfigError(f"pool '{pool}' has comparisons but no valid judgments yet")
    result = bootstrap_bt(BattleCounts.from_pairs(rows), rounds=rounds, seed=seed, level=level,
                          anchor=anchor)
    lengths = queries.average_lengths(engine, [p["comparison_id"] for p in pairs])
    ratings = [{"checkpoint": e.name, "rating": e.rating, "ci": list(e.ci), "rank": e.rank,
                "n": e.n, "ties": e.ties, "avg_length": lengths.get(e.name)}
               for e in result.leaderboard()]
    matrix: dict[str, dict[str, float | None]] = {r["checkpoint"]: {} for r in ratings}
    battles: dict[str, dict[str, float]] = {r["checkpoint"]: {} for r in ratings}
    for p in pairs:
        a, b = p["baseline"], p["candidate"]
        a_score = p["baseline_wins"] + 0.5 * p["ties"]
        matrix[a][b] = a_score / p["n"]
        matrix[b][a] = 1 - a_score / p["n"]
        battles[a][b] = battles[b][a] = p["n"]
    return {"pool": pool, "judge": judge, "ratings": ratings, "win_matrix": matrix,
            "battles": battles, "pairs": pairs,
            "method": f"Bradley–Terry MLE on aggregated outcomes (ties = half wins), "
                      f"{int(level * 100)}% bootstrap CI over {rounds} multinomial resamples "
                      "of battles; rank = 1 + number of checkpoints whose CI lies entirely "
                      "above", "scale": "400 points = 10:1 odds; "
                      + (f"anchor {anchor} = 1000" if anchor else "mean rating 1000")}
