"""Bradley–Terry ratings for many checkpoints from pairwise battles. Pure numpy, seeded.

Model: P(i beats j) = sigmoid(theta_i - theta_j). A tie counts as half a win for each side
(the logistic likelihood where a tie is two half-weight rows, y=1 and y=0), so a battle's
score s in {0, 0.5, 1} enters the likelihood as s wins and 1 - s losses.

Everything is fitted on *aggregated* counts, so the cost of a fit does not depend on the number
of battles. Ratings are on an Elo-like scale: ``rating = base + scale * theta / ln(10)``, so a
400-point gap means 10:1 odds, identified by an anchor model (rated exactly ``base``) or, by
default, by a mean rating of ``base``.

This module is the public face; the work is done in

- ``bt_counts``    — ``BattleCounts``, ``aggregate_battles`` and the per-prompt
  ``PromptCounts`` (``bt_encode``: fast encoding of battle rows);
- ``bt_fit``       — ``fit_bt`` (batched damped Newton, the prior used without a finite MLE),
  predictions; ``bt_graph``: connected components and the MLE-existence check;
- ``bt_bootstrap`` — bootstrap CIs over prompts (``bootstrap_bt_prompts``, the leaderboard's)
  or battles (``bootstrap_bt``), and ``rank_by_ci``;
- ``bt_reference`` — ``fit_bt_logistic_reference``, the slow per-battle logistic fit kept as
  the independent check for tests and the baseline for the benchmarks.
"""

from __future__ import annotations

from .bt_bootstrap import BTResult, ModelRating, bootstrap_bt, bootstrap_bt_prompts, rank_by_ci
from .bt_counts import BattleCounts, PromptCounts, aggregate_battles
from .bt_fit import BTFit, fit_bt, predicted_win_matrix, win_probability
from .bt_reference import fit_bt_logistic_reference

__all__ = [
    "BTFit",
    "BTResult",
    "BattleCounts",
    "ModelRating",
    "PromptCounts",
    "aggregate_battles",
    "bootstrap_bt",
    "bootstrap_bt_prompts",
    "fit_bt",
    "fit_bt_logistic_reference",
    "predicted_win_matrix",
    "rank_by_ci",
    "win_probability",
]
