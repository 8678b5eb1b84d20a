"""The style-controlled leaderboard (``evalkit leaderboard --style-control``): Bradley–Terry
with standardised style covariates fitted jointly (``stats.bt_style``), on the same stored
comparisons as the plain board, side by side with it.

Every valid comparison item is one battle: the candidate's score against the baseline, and the
style features of the two stored responses (``style_features``: length, markdown headers,
lists and bold; a multi-turn comparison's final answers). Features are computed once per
response; nothing is re-judged.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy.engine import Engine

from .errors import ConfigError
from .store import judging_queries


def style_battles(engine: Engine, sides: dict[str, tuple[str, str]],
                  tag: tuple[str, str] | None = None) -> Any:
    """``StyleBattles`` of the comparisons in ``sides`` (comparison id -> (baseline,
    candidate)); None when there is no valid item."""
    from .stats.bt_style import StyleBattles
    from .style_features import FEATURES, battle_features, counts_matrix

    rows = judging_queries.item_battles(engine, list(sides), tag)
    if not rows:
        return None
    keys = list(dict.fromkeys(k for r in rows for k in (r[3], r[4])))
    texts = judging_queries.response_texts(engine, keys)
    index = {k: i for i, k in enumerate(keys)}
    counts = counts_matrix([texts.get(k) for k in keys])
    base = counts[[index[r[3]] for r in rows]]
    cand = counts[[index[r[4]] for r in rows]]
    return StyleBattles.from_arrays([r[1] for r in rows], [sides[r[0]][0] for r in rows],
                                    [sides[r[0]][1] for r in rows], [r[2] for r in rows],
                                    battle_features(cand, base), FEATURES)


def style_board(engine: Engine, sides: dict[str, tuple[str, str]], *, rounds: int, seed: int,
                level: float, anchor: str | None, tag: tuple[str, str] | None = None
                ) -> dict[str, Any]:
    """The ``style_control`` block of the leaderboard JSON."""
    from .stats.bt_style import bootstrap_style_bt

    battles = style_battles(engine, sides, tag)
    if battles is None:
        raise ConfigError("no valid judged items to fit a style-controlled leaderboard on")
    result = bootstrap_style_bt(battles, rounds=rounds, seed=seed, level=level, anchor=anchor)
    fit = result.fit
    ratings: list[dict[str, Any]] = sorted(({"checkpoint": m, "rating": float(fit.ratings[i]),
                       "ci": [float(result.ci[i, 0]), float(result.ci[i, 1])],
                       "rank": int(result.ranks[i]), "component": int(fit.component[i]),
                       "mle": not bool(fit.on_prior[i])}
                      for i, m in enumerate(fit.models)),
                     key=lambda r: (r["component"], r["rank"], -r["rating"], r["checkpoint"]))
    spread = {name: _describe(battles.features[:, j])
              for j, name in enumerate(battles.names)}
    return {"ratings": ratings, "coefficients": result.coefficients(),
            "dropped": list(fit.dropped), "features": spread,
            "battles": battles.n, "prompts": result.n_clusters, "rounds": result.rounds,
            "seed": result.seed, "ci_level": result.level, "refit": result.refit,
            "degenerate_rounds": result.n_degenerate,
            "ci_method": "prompt-cluster bootstrap", "method": result.method,
            "notes": list(fit.notes),
            "feature_definitions": {
                "length": "(words_c - words_b) / (words_c + words_b)",
                "headers": "difference of markdown headers per 100 words",
                "lists": "difference of markdown list items per 100 words",
                "bold": "difference of bold spans per 100 words",
                "standardised": "each column divided by its root mean square over battles; "
                                "coef = log-odds per sd, points = rating points per sd"}}


def _describe(x: np.ndarray) -> dict[str, float]:
    return {"mean": float(x.mean()), "sd": float(np.sqrt(np.mean(x ** 2))),
            "nonzero": float(np.mean(x != 0))}


def merge(board: dict[str, Any], style: dict[str, Any]) -> None:
    """Put each checkpoint's style-controlled rating beside its plain one."""
    by_name = {r["checkpoint"]: r for r in style["ratings"]}
    for row in board["ratings"]:
        s = by_name.get(row["checkpoint"])
        row["style_rating"] = None if s is None else s["rating"]
        row["style_ci"] = None if s is None else s["ci"]
        row["style_rank"] = None if s is None else s["rank"]
    board["style_control"] = style
