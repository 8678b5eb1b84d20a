"""Statistics for checkpoint comparisons. Pure numpy/scipy: no I/O, no database, every RNG
seeded. One module per topic; the public names are re-exported here."""

from .bootstrap import bca_ci, bootstrap_means, cluster_scores, percentile_ci, win_rate_summary
from .bradley_terry import (
    BattleCounts,
    BTFit,
    BTResult,
    aggregate_battles,
    bootstrap_bt,
    fit_bt,
    predicted_win_matrix,
    rank_by_ci,
    win_probability,
)
from .hypothesis import (
    benjamini_hochberg,
    holm,
    noninferiority,
    paired_test,
    regression_test,
    sign_test,
    superiority,
)
from .length import length_controlled_win_rate
from .power import min_detectable_difference, required_prompts
from .reliability import (
    agreement,
    first_position_win_rate,
    longer_response_win_rate,
    position_flip_rate,
)

__all__ = [
    "BTFit", "BTResult", "BattleCounts", "aggregate_battles", "agreement", "bca_ci",
    "benjamini_hochberg", "bootstrap_bt", "bootstrap_means", "cluster_scores", "fit_bt",
    "first_position_win_rate", "holm", "length_controlled_win_rate", "longer_response_win_rate",
    "min_detectable_difference", "noninferiority", "paired_test", "percentile_ci",
    "position_flip_rate", "predicted_win_matrix", "rank_by_ci", "regression_test", "required_prompts",
    "sign_test", "superiority", "win_probability", "win_rate_summary",
]
